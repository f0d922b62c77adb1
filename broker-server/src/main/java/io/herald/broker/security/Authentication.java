package io.herald.broker.security;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusRuntimeException;
import io.herald.broker.transport.Errors;
import io.herald.broker.transport.PeerInterceptor;
import io.herald.proto.v1.ErrorReason;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Authenticates every call ({@code --auth}) and puts the caller's {@link Principal} in the call's
 * {@link Context} ({@link Access#PRINCIPAL}), with its address ({@link PeerInterceptor#PEER}).
 *
 * <ul>
 *   <li>A {@code authorization: Bearer <value>} entry: a JWT (three dot-separated parts) when
 *       {@code jwt} is accepted, else a token when {@code token} is accepted.
 *   <li>Without one: the TLS client certificate's subject CN when {@code mtls} is accepted.
 *   <li>Otherwise, or when the credential does not verify: UNAUTHENTICATED (reason
 *       UNAUTHENTICATED, metadata {@code methods}), with an audit line. The message says what was
 *       wrong and never echoes the credential.
 * </ul>
 *
 * <p>The gRPC health service is open (probes carry no credentials). Broker-to-broker calls
 * ({@value #PEER_SERVICE}) need a principal in the group {@value #PEER_GROUP}: a client's
 * credential does not let it forward events around the ACL.
 *
 * <p>Thread-safe; runs on the transport thread that starts the call and never blocks (the token
 * and key sets are in memory, reloaded by their files' pollers).
 */
public final class Authentication implements ServerInterceptor {
  /** The service of broker-to-broker calls. */
  public static final String PEER_SERVICE = "herald.cluster.v1.PeerService";
  /** The group whose principals may call {@value #PEER_SERVICE}. */
  public static final String PEER_GROUP = "herald-peers";
  private static final String HEALTH_SERVICE = "grpc.health.v1.Health";
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** Checks one presented credential. */
  @FunctionalInterface
  public interface Verifier {
    /**
     * @return the principal the credential proves
     * @throws Refused with a message a person can act on, never containing the credential
     */
    Principal verify(String credential) throws Refused;
  }

  /** A credential that does not verify. */
  public static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;

    public Refused(String message) {
      super(message, null, false, false);
    }
  }

  private final Verifier tokens;
  private final Verifier jwts;
  private final boolean mtls;
  private final String methods;
  private final AuditLog audit;

  /**
   * @param tokens checks tokens, or null when {@code token} is not accepted
   * @param jwts checks JWTs, or null when {@code jwt} is not accepted
   * @param mtls whether a client certificate's CN authenticates
   */
  public Authentication(Verifier tokens, Verifier jwts, boolean mtls, AuditLog audit) {
    if (tokens == null && jwts == null && !mtls) {
      throw new IllegalArgumentException("no authentication method");
    }
    this.tokens = tokens;
    this.jwts = jwts;
    this.mtls = mtls;
    Set<String> m = new TreeSet<>();
    if (tokens != null) {
      m.add("token");
    }
    if (jwts != null) {
      m.add("jwt");
    }
    if (mtls) {
      m.add("mtls");
    }
    this.methods = String.join(",", m);
    this.audit = audit;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    SocketAddress addr = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    String peer = addr == null ? "unknown" : addr.toString();
    if (HEALTH_SERVICE.equals(service)) {
      return next.startCall(call, headers);
    }
    String operation = call.getMethodDescriptor().getBareMethodName();
    Principal p;
    try {
      p = authenticate(headers, call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
    } catch (Refused e) {
      audit.record(null, peer, operation, null, "unauthenticated", e.getMessage());
      StatusRuntimeException s = Errors.error(ErrorReason.ERROR_REASON_UNAUTHENTICATED, e.getMessage(), "methods", methods);
      call.close(s.getStatus(), s.getTrailers());
      return new ServerCall.Listener<>() { };
    }
    if (PEER_SERVICE.equals(service) && !isPeer(p)) {
      audit.record(p, peer, operation, null, "denied", "not in group " + PEER_GROUP);
      StatusRuntimeException s = Errors.error(ErrorReason.ERROR_REASON_PERMISSION_DENIED, "principal '" + p.name()
          + "' may not make broker-to-broker calls: that needs a principal in the group '" + PEER_GROUP + "'",
          "principal", p.name(), "service", service, "permission", "peer");
      call.close(s.getStatus(), s.getTrailers());
      return new ServerCall.Listener<>() { };
    }
    Context ctx = Context.current().withValues(Access.PRINCIPAL, p, PeerInterceptor.PEER, peer);
    return Contexts.interceptCall(ctx, call, headers, next);
  }

  /**
   * Whether {@code p} is another broker: a token principal (from this broker's own token file) of the
   * group {@value #PEER_GROUP}. A JWT's groups claim does not count: an identity provider that lets
   * users pick their groups must not make them brokers.
   */
  public static boolean isPeer(Principal p) {
    return "token".equals(p.method()) && p.groups().contains(PEER_GROUP);
  }

  /** The principal the call's credential proves. */
  Principal authenticate(Metadata headers, SSLSession tls) throws Refused {
    Iterable<String> values = headers.getAll(AUTHORIZATION);
    if (values != null) {
      String bearer = null;
      for (String v : values) {
        if (bearer != null) {
          throw new Refused("more than one authorization entry: send one 'authorization: Bearer <credential>'");
        }
        bearer = v;
      }
      String credential = bearerValue(bearer);
      boolean jwtShaped = credential.chars().filter(c -> c == '.').count() == 2;
      if (jwts != null && (jwtShaped || tokens == null)) {
        return jwts.verify(credential);
      }
      if (tokens != null) {
        return tokens.verify(credential);
      }
      throw new Refused("this broker does not take bearer credentials (--auth " + methods + "): present a client certificate");
    }
    if (mtls) {
      return certificatePrincipal(tls);
    }
    throw new Refused("no credential: send 'authorization: Bearer <" + (tokens != null ? "token" : "JWT") + ">' (this broker accepts "
        + methods + ")");
  }

  private String bearerValue(String header) throws Refused {
    String h = header.trim();
    if (h.length() < 7 || !h.substring(0, 7).toLowerCase(Locale.ROOT).equals("bearer ")) {
      throw new Refused("the authorization entry must read 'Bearer <credential>'");
    }
    String v = h.substring(7).trim();
    if (v.isEmpty()) {
      throw new Refused("the authorization entry holds no credential after 'Bearer '");
    }
    return v;
  }

  private Principal certificatePrincipal(SSLSession tls) throws Refused {
    if (tls == null) {
      throw new Refused("no credential: this connection is not TLS, and the broker accepts " + methods);
    }
    Certificate[] chain;
    try {
      chain = tls.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      throw new Refused("no credential: no client certificate on this connection and no 'authorization: Bearer' entry (this broker"
          + " accepts " + methods + ")");
    }
    if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
      throw new Refused("the client certificate is not an X.509 certificate");
    }
    String cn = commonName(leaf);
    if (cn == null || cn.isBlank()) {
      throw new Refused("the client certificate's subject has no CN: the CN names the principal");
    }
    return new Principal(cn, Set.of(), "mtls");
  }

  /** The subject's CN (the most specific one if several), or null. */
  static String commonName(X509Certificate cert) {
    try {
      String cn = null;
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if ("CN".equalsIgnoreCase(rdn.getType())) {
          cn = String.valueOf(rdn.getValue()); // RDNs come least specific first
        }
      }
      return cn;
    } catch (InvalidNameException e) {
      return null;
    }
  }
}
