package io.herald.broker.security;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * A broker's transport security, authentication and authorization settings. Everything off by
 * default ({@link #NONE}): a laptop broker on loopback needs none of it; each is one flag away.
 * Immutable; validated on construction with messages that name the flags.
 *
 * @param tlsCert the server certificate chain, PEM ({@code --tls-cert}); null: plaintext
 * @param tlsKey its private key, PKCS#8 PEM ({@code --tls-key})
 * @param tlsClientCa CA certificates (PEM) that client certificates must chain to ({@code --tls-client-ca})
 * @param clientAuth whether a client certificate is asked for ({@code --tls-client-auth}: none, optional, require)
 * @param reloadInterval how often the certificate, key, CA, tokens and ACL files are checked for changes
 *     ({@code --security-reload-interval}); a changed file is used for new connections and calls, a
 *     bad one is logged and the last good one kept
 * @param auth the accepted credentials ({@code --auth}: token, jwt, mtls); empty: none, every call is anonymous
 * @param authTokens the token file ({@code --auth-tokens}): {@code PRINCIPAL sha256:HEX [GROUP,...]} lines
 * @param jwks the JSON Web Key Set JWTs must be signed with ({@code --auth-jwks})
 * @param jwtIssuer the {@code iss} a JWT must carry ({@code --auth-jwt-issuer}); null: any
 * @param jwtAudience an {@code aud} a JWT must carry ({@code --auth-jwt-audience}); null: any
 * @param acl the ACL file ({@code --acl}); null: every authenticated principal may do everything
 * @param auditLog where audit lines go ({@code --audit-log}); null: the broker log (logger {@code herald.audit})
 * @param peerTlsCa in a cluster with TLS: the CA the other brokers' certificates chain to ({@code --peer-tls-ca}),
 *     for the broker-to-broker links (which present this broker's own certificate) and for Raft (mutual TLS)
 * @param peerToken in a cluster with {@code --auth}: the file holding the token this broker presents to
 *     the others ({@code --peer-token-file}); its line in the token files has the group {@code herald-peers}
 */
public record SecurityConfig(Path tlsCert, Path tlsKey, Path tlsClientCa, ClientAuth clientAuth, Duration reloadInterval,
    Set<String> auth, Path authTokens, Path jwks, String jwtIssuer, String jwtAudience, Path acl, Path auditLog, Path peerTlsCa,
    Path peerToken) {

  /** Whether the TLS handshake asks for a client certificate. */
  public enum ClientAuth {
    /** No client certificate asked for. */
    NONE,
    /** Asked for; a client without one may still connect (and authenticate otherwise). */
    OPTIONAL,
    /** Required: a client without a certificate the CA signed fails the handshake. */
    REQUIRE;

    /** Parses {@code none}, {@code optional}, {@code require}. */
    public static ClientAuth parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--tls-client-auth must be none, optional or require; was '" + s + "'", e);
      }
    }
  }

  /** The accepted values of {@code --auth} besides {@code none}. */
  public static final Set<String> METHODS = Set.of("token", "jwt", "mtls");
  /** Default {@code --security-reload-interval}. */
  public static final Duration DEFAULT_RELOAD_INTERVAL = Duration.ofSeconds(10);
  /** Plaintext, no authentication, no ACL. */
  public static final SecurityConfig NONE = new SecurityConfig(null, null, null, ClientAuth.NONE, DEFAULT_RELOAD_INTERVAL, Set.of(),
      null, null, null, null, null, null);

  /** Without the cluster settings ({@code peerTlsCa}, {@code peerToken}): a standalone broker's. */
  public SecurityConfig(Path tlsCert, Path tlsKey, Path tlsClientCa, ClientAuth clientAuth, Duration reloadInterval, Set<String> auth,
      Path authTokens, Path jwks, String jwtIssuer, String jwtAudience, Path acl, Path auditLog) {
    this(tlsCert, tlsKey, tlsClientCa, clientAuth, reloadInterval, auth, authTokens, jwks, jwtIssuer, jwtAudience, acl, auditLog, null, null);
  }

  public SecurityConfig {
    clientAuth = clientAuth == null ? ClientAuth.NONE : clientAuth;
    reloadInterval = reloadInterval == null ? DEFAULT_RELOAD_INTERVAL : reloadInterval;
    auth = Set.copyOf(auth == null ? Set.of() : auth);
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together: give both (the certificate chain and its PKCS#8 key,"
          + " PEM) or neither");
    }
    if (tlsClientCa != null && tlsCert == null) {
      throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for in a TLS"
          + " handshake");
    }
    if (clientAuth != ClientAuth.NONE && tlsClientCa == null) {
      throw new IllegalArgumentException("--tls-client-auth " + clientAuth.name().toLowerCase(Locale.ROOT)
          + " needs --tls-client-ca: the CA client certificates must chain to");
    }
    if (tlsClientCa != null && clientAuth == ClientAuth.NONE) {
      throw new IllegalArgumentException("--tls-client-ca is given but --tls-client-auth is none: set it to optional or require");
    }
    if (reloadInterval.isNegative() || reloadInterval.isZero()) {
      throw new IllegalArgumentException("--security-reload-interval must be positive; was " + reloadInterval);
    }
    for (String m : auth) {
      if (!METHODS.contains(m)) {
        throw new IllegalArgumentException("--auth: unknown method '" + m + "'; use none, or a comma-separated set of " + new TreeSet<>(METHODS));
      }
    }
    if (auth.contains("token") != (authTokens != null)) {
      throw new IllegalArgumentException(auth.contains("token")
          ? "--auth token needs --auth-tokens FILE (lines 'PRINCIPAL sha256:HEX [GROUP,...]'; 'herald token new' makes one)"
          : "--auth-tokens is given but --auth does not include token");
    }
    if (auth.contains("jwt") != (jwks != null)) {
      throw new IllegalArgumentException(auth.contains("jwt") ? "--auth jwt needs --auth-jwks FILE (the JSON Web Key Set JWTs are signed with)"
          : "--auth-jwks is given but --auth does not include jwt");
    }
    if ((jwtIssuer != null || jwtAudience != null) && !auth.contains("jwt")) {
      throw new IllegalArgumentException("--auth-jwt-issuer and --auth-jwt-audience need --auth jwt");
    }
    if (auth.contains("mtls") && clientAuth == ClientAuth.NONE) {
      throw new IllegalArgumentException("--auth mtls needs TLS with client certificates: --tls-cert, --tls-key, --tls-client-ca and"
          + " --tls-client-auth optional|require");
    }
    if (peerTlsCa != null && tlsCert == null) {
      throw new IllegalArgumentException("--peer-tls-ca needs --tls-cert and --tls-key: brokers reach each other with TLS only when"
          + " they serve it");
    }
    if (peerToken != null && !auth.contains("token")) {
      throw new IllegalArgumentException("--peer-token-file needs --auth including token: the other brokers check it against their"
          + " --auth-tokens file");
    }
    if (acl != null && auth.isEmpty()) {
      throw new IllegalArgumentException("--acl needs --auth (token, jwt or mtls): an ACL grants principals, and without"
          + " authentication every caller is anonymous");
    }
  }

  /**
   * Parses {@code --auth}: {@code none} or a comma-separated set of token, jwt, mtls.
   *
   * @throws IllegalArgumentException naming the bad value
   */
  public static Set<String> parseAuth(String s) {
    if (s == null || s.isBlank() || "none".equalsIgnoreCase(s.trim())) {
      return Set.of();
    }
    Set<String> out = new TreeSet<>();
    for (String part : s.split(",", -1)) {
      String m = part.trim().toLowerCase(Locale.ROOT);
      if (!METHODS.contains(m)) {
        throw new IllegalArgumentException("--auth: unknown method '" + part.trim() + "'; use none, or a comma-separated set of "
            + new TreeSet<>(METHODS));
      }
      out.add(m);
    }
    return out;
  }

  /**
   * Checks the settings a cluster of several brokers needs.
   *
   * @throws IllegalArgumentException naming the missing flag
   */
  public void checkForCluster() {
    if (tls() && peerTlsCa == null) {
      throw new IllegalArgumentException("with TLS and --peers, --peer-tls-ca FILE is required: the CA the other brokers'"
          + " certificates chain to (forwarding, relays and Raft use TLS between brokers; each broker presents its --tls-cert)");
    }
    if (authenticates() && !tls()) {
      throw new IllegalArgumentException("with --auth and --peers, TLS is required (--tls-cert, --tls-key, --peer-tls-ca): the brokers"
          + " present their peer token to each other, and that token may do everything; it must not cross the network in the clear");
    }
    if (authenticates() && peerToken == null) {
      throw new IllegalArgumentException("with --auth and --peers, --peer-token-file FILE is required (and --auth must include token):"
          + " the token this broker presents to the others, whose line in their --auth-tokens files has the group herald-peers");
    }
  }

  /** True when the client port speaks TLS. */
  public boolean tls() {
    return tlsCert != null;
  }

  /** True when calls must carry a credential. */
  public boolean authenticates() {
    return !auth.isEmpty();
  }

  /** One line for the startup log; no secrets (the files hold none). */
  public String describe() {
    return "tls=" + (tls() ? "on (client certificates: " + clientAuth.name().toLowerCase(Locale.ROOT) + ")" : "off")
        + ", auth=" + (auth.isEmpty() ? "none" : String.join(",", new TreeSet<>(auth)))
        + ", acl=" + (acl == null ? "off" : acl)
        + ", audit=" + (auditLog == null ? "broker log" : auditLog)
        + (peerTlsCa == null ? "" : ", peer-tls-ca=" + peerTlsCa)
        + (peerToken == null ? "" : ", peer-token-file=" + peerToken);
  }
}
