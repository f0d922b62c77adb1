package io.herald.broker.security;

import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A broker's security at run time, made from its {@link SecurityConfig}: the TLS credentials of the
 * client port, the authentication interceptor, the ACL and the audit log. Its files (certificate,
 * key, CA, tokens, JWKS, ACL) are checked every {@code reloadInterval} on the broker's timer and
 * swapped in when they change; a file that does not load at start stops the broker with a message
 * naming it, one that breaks later is logged and the last good one kept.
 *
 * <p>Owned by the broker, which closes it after its server (the file checks stop; the timer is the
 * broker's).
 */
public final class Security implements AutoCloseable {
  private final SecurityConfig config;
  private final AuditLog audit;
  private final TlsFiles tls;
  private final Authentication authentication;
  private final Access access;
  private final List<AutoCloseable> reloads;
  /** The token this broker presents to the others, or null. */
  private final io.grpc.CallCredentials peerToken;

  private Security(SecurityConfig config, AuditLog audit, TlsFiles tls, Authentication authentication, Access access,
      List<AutoCloseable> reloads, io.grpc.CallCredentials peerToken) {
    this.peerToken = peerToken;
    this.config = config;
    this.audit = audit;
    this.tls = tls;
    this.authentication = authentication;
    this.access = access;
    this.reloads = reloads;
  }

  /**
   * Loads every file of {@code config}.
   *
   * @throws IllegalArgumentException naming a file that does not load, and why
   */
  public static Security start(SecurityConfig config, ScheduledExecutorService timer) {
    List<AutoCloseable> opened = new ArrayList<>();
    AuditLog audit;
    try {
      audit = config.auditLog() == null ? AuditLog.toBrokerLog() : AuditLog.toFile(config.auditLog());
    } catch (IOException e) {
      throw new IllegalArgumentException("--audit-log " + config.auditLog() + " cannot be opened for appending: " + e.getMessage(), e);
    }
    opened.add(audit);
    try {
      TlsFiles tls = null;
      if (config.tls()) {
        tls = TlsFiles.open(config, timer);
        opened.add(tls);
      }
      Authentication authentication = null;
      if (config.authenticates()) {
        Authentication.Verifier tokens = null;
        if (config.auth().contains("token")) {
          ReloadingFile<TokenFile> file = ReloadingFile.open(config.authTokens(), TokenFile::parse, timer, config.reloadInterval());
          opened.add(file);
          tokens = credential -> file.current().authenticate(credential)
              .orElseThrow(() -> new Authentication.Refused("unknown token: it is not in the broker's token file"
                  + " (a new one needs its line added there; 'herald token new' prints both)"));
        }
        Authentication.Verifier jwts = null;
        if (config.auth().contains("jwt")) {
          ReloadingFile<JwtAuthenticator> file = ReloadingFile.open(config.jwks(),
              (text, source) -> JwtAuthenticator.parse(text, source, config.jwtIssuer(), config.jwtAudience()), timer,
              config.reloadInterval());
          opened.add(file);
          jwts = credential -> {
            try {
              return file.current().authenticate(credential);
            } catch (AuthenticationException e) {
              throw new Authentication.Refused(e.getMessage());
            }
          };
        }
        authentication = new Authentication(tokens, jwts, config.auth().contains("mtls"), audit);
      }
      Access access;
      if (config.acl() != null) {
        ReloadingFile<Acl> file = ReloadingFile.open(config.acl(), Acl::parse, timer, config.reloadInterval());
        opened.add(file);
        java.util.concurrent.atomic.AtomicLong version = new java.util.concurrent.atomic.AtomicLong(1);
        file.onReload(acl -> version.incrementAndGet());
        access = Access.withPolicy(new Access.Policy() {
          @Override
          public boolean allows(Principal p, String topic, Permission permission) {
            return file.current().allows(p, topic, permission);
          }

          @Override
          public boolean anyGrant(Principal p, String topic) {
            return file.current().anyGrant(p, topic);
          }

          @Override
          public long version() {
            return version.get();
          }
        }, audit);
      } else {
        access = Access.open(audit);
      }
      io.grpc.CallCredentials peerToken = null;
      if (config.peerToken() != null) {
        ReloadingFile<String> file = ReloadingFile.open(config.peerToken(), (text, source) -> {
          String t = text.strip();
          if (t.isEmpty() || t.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException(source + " must hold one token (one line, no spaces)");
          }
          return t;
        }, timer, config.reloadInterval());
        opened.add(file);
        peerToken = new BearerToken(file::current);
      }
      return new Security(config, audit, tls, authentication, access, opened, peerToken);
    } catch (RuntimeException e) {
      closeAll(opened);
      throw e;
    }
  }

  /**
   * How this broker reaches the others (forwarding, hand-over, relays): TLS with its own certificate
   * and the peer CA when the cluster uses TLS, plaintext otherwise; with {@code --peer-token-file}
   * every call carries that token.
   */
  public io.grpc.ChannelCredentials peerChannelCredentials() {
    io.grpc.ChannelCredentials base = tls == null || tls.peerTrustManager() == null ? io.grpc.InsecureChannelCredentials.create()
        : io.grpc.TlsChannelCredentials.newBuilder().keyManager(tls.keyManager()).trustManager(tls.peerTrustManager()).build();
    return peerToken == null ? base : io.grpc.CompositeChannelCredentials.create(base, peerToken);
  }

  /**
   * Raft's TLS (mutual: only brokers with a certificate from the peer CA join the metadata group),
   * from the same files as the client port; null without TLS. Ratis reads the files at start only:
   * a rotated certificate reaches Raft at the broker's next restart.
   */
  public static org.apache.ratis.grpc.GrpcTlsConfig raftTls(SecurityConfig config) {
    if (!config.tls() || config.peerTlsCa() == null) {
      return null;
    }
    return new org.apache.ratis.grpc.GrpcTlsConfig(config.tlsKey().toFile(), config.tlsCert().toFile(), config.peerTlsCa().toFile(), true);
  }

  /** The client port's TLS credentials, or null for plaintext. */
  public ServerCredentials credentials() {
    return tls == null ? null : tls.credentials();
  }

  /** The authentication interceptor, or null when {@code --auth none}. */
  public ServerInterceptor authentication() {
    return authentication;
  }

  /** The ACL checks (everything allowed without {@code --acl}). */
  public Access access() {
    return access;
  }

  public AuditLog audit() {
    return audit;
  }

  public SecurityConfig config() {
    return config;
  }

  @Override
  public void close() {
    closeAll(reloads);
  }

  /** Puts {@code authorization: Bearer <token>} on every call; the token is read at each call (it may be rotated). */
  private static final class BearerToken extends io.grpc.CallCredentials {
    private final java.util.function.Supplier<String> token;

    BearerToken(java.util.function.Supplier<String> token) {
      this.token = token;
    }

    @Override
    public void applyRequestMetadata(RequestInfo info, java.util.concurrent.Executor executor, MetadataApplier applier) {
      io.grpc.Metadata m = new io.grpc.Metadata();
      m.put(Authentication.AUTHORIZATION, "Bearer " + token.get());
      applier.apply(m);
    }

    @Override
    public String toString() {
      return "BearerToken(redacted)";
    }
  }

  private static void closeAll(List<AutoCloseable> items) {
    for (int i = items.size() - 1; i >= 0; i--) {
      try {
        items.get(i).close();
      } catch (Exception e) {
        org.slf4j.LoggerFactory.getLogger(Security.class).warn("closing {}: {}", items.get(i), e.toString());
      }
    }
  }
}
