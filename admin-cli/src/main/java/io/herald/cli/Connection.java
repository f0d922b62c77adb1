package io.herald.cli;

import io.herald.client.ErrorCode;
import io.herald.client.HeraldClient;
import io.herald.client.HeraldException;
import io.herald.client.Tls;
import io.herald.client.internal.AdminClientImpl;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The global options: where the broker is, how to reach it securely, how long to wait, how to
 * print. Declared once, on the {@code herald} command, and inherited by every subcommand, so they
 * may be given before the subcommand ({@code herald --server h:7070 topic list}), between its
 * words, or after it; given twice, the last one wins. {@code --server} beats {@code HERALD_SERVER}
 * beats {@code 127.0.0.1:7070}.
 *
 * <p>The bearer token comes from {@code --token}, else {@code --token-file}, else the environment
 * variable {@value #TOKEN_ENV}. It is never printed: it has no picocli default (so {@code --help}
 * cannot show it), and errors name only where it came from.
 */
public final class Connection {
  public enum Format { table, text, json }

  /** The environment variable with the bearer token: {@value}. */
  static final String TOKEN_ENV = "HERALD_TOKEN";

  @Option(names = {"-s", "--server"}, paramLabel = "HOST:PORT", defaultValue = "${env:HERALD_SERVER:-127.0.0.1:7070}", scope = ScopeType.INHERIT,
      description = "Broker address (env HERALD_SERVER, default ${DEFAULT-VALUE}).")
  String server;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s", converter = Durations.class, scope = ScopeType.INHERIT,
      description = "How long to wait for the broker (default ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = {"-o", "--output"}, defaultValue = "table", scope = ScopeType.INHERIT,
      description = "table (or text) for people, json (the proto3 JSON of the API response) for scripts. Default ${DEFAULT-VALUE}.")
  Format output;

  @Option(names = "--tls", scope = ScopeType.INHERIT,
      description = "Connect with TLS, trusting the JVM's certificate authorities (--tls-ca and --tls-cert imply TLS).")
  boolean tls;

  @Option(names = "--tls-ca", paramLabel = "FILE", scope = ScopeType.INHERIT, defaultValue = "${env:HERALD_TLS_CA}",
      description = "Connect with TLS, trusting the CA certificates in this PEM file (a private CA) (env HERALD_TLS_CA).")
  Path tlsCa;

  @Option(names = "--tls-cert", paramLabel = "FILE", scope = ScopeType.INHERIT,
      description = "Present this client certificate chain (PEM) for mutual TLS; needs --tls-key; implies TLS.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", scope = ScopeType.INHERIT,
      description = "The client certificate's private key, unencrypted PKCS#8 PEM (-----BEGIN PRIVATE KEY-----).")
  Path tlsKey;

  @Option(names = "--token-file", paramLabel = "FILE", scope = ScopeType.INHERIT,
      description = "Send the bearer token (or JWT) in this file (env " + TOKEN_ENV + " holds one instead).")
  Path tokenFile;

  @Option(names = "--token", paramLabel = "TOKEN", scope = ScopeType.INHERIT,
      description = "Send this bearer token. Visible in the process list and shell history: prefer env " + TOKEN_ENV + " or --token-file.")
  String token;

  @Option(names = "--allow-plaintext-token", scope = ScopeType.INHERIT,
      description = "Send the token without TLS to a broker that is not on loopback (anyone on the path can read it).")
  boolean allowPlaintextToken;

  /** The process environment (tests pass their own); set by {@link Main#commandLine}. */
  Map<String, String> env = Map.of();
  /** Where the warning about {@code --token} goes; set by {@link Main#commandLine}. */
  PrintWriter err;
  private boolean warned;

  /** The global options as parsed for the command line that {@code spec} belongs to. */
  static Connection of(CommandSpec spec) {
    return ((Main) spec.root().userObject()).connection;
  }

  /**
   * A client for {@code --server} with the TLS and credential options. A bad option (a missing
   * file, a key that does not load, a token without TLS to another host) is a HeraldException
   * INVALID_ARGUMENT, so it reaches the user as it is (exit code 2), whatever catches it.
   */
  HeraldClient client() {
    return build(HeraldClient.builder().endpoints(server).name("herald-cli").callTimeout(timeout).tls(tlsSettings()));
  }

  /** Builds {@code b} with the credential options; errors as {@link #client()}. */
  HeraldClient build(HeraldClient.Builder b) {
    try {
      return withCredentials(b).build();
    } catch (IllegalStateException e) {
      // the SDK's refusal to send a credential in clear to another host
      throw invalid("refusing to send the token without TLS to a broker that is not on loopback: add --tls (or --tls-ca FILE), or,"
          + " on a network you trust, --allow-plaintext-token", e);
    } catch (IllegalArgumentException e) {
      throw invalid(e.getMessage(), e);
    }
  }

  /** The TLS options as the SDK's settings (plaintext when none is given). */
  Tls tlsSettings() {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw invalid("--tls-cert and --tls-key go together: the client certificate chain and its PKCS#8 key", null);
    }
    try {
      Tls t = tlsCa != null ? Tls.trustCertificates(tlsCa) : tls || tlsCert != null ? Tls.systemTrust() : Tls.plaintext();
      return tlsCert == null ? t : t.withClientCertificate(tlsCert, tlsKey);
    } catch (IllegalArgumentException e) {
      throw invalid(e.getMessage(), e);
    }
  }

  /** {@code b} with the bearer token of {@code --token}, {@code --token-file} or {@value #TOKEN_ENV}, if any. */
  HeraldClient.Builder withCredentials(HeraldClient.Builder b) {
    if (token != null && tokenFile != null) {
      throw invalid("give --token or --token-file, not both", null);
    }
    try {
      if (token != null) {
        warnOnce();
        b.token(token);
      } else if (tokenFile != null) {
        b.tokenFile(tokenFile);
      } else {
        String fromEnv = env.get(TOKEN_ENV);
        if (fromEnv != null && !fromEnv.isBlank()) {
          b.token(fromEnv);
        }
      }
    } catch (IllegalArgumentException e) {
      // the SDK's message never holds the token; say where it came from
      throw invalid((token != null ? "--token: " : tokenFile != null ? "--token-file: " : TOKEN_ENV + ": ") + e.getMessage(), e);
    }
    return b.allowCredentialsOverPlaintext(allowPlaintextToken);
  }

  private void warnOnce() {
    if (!warned && err != null) {
      warned = true;
      err.println("herald: warning: a token given with --token is visible in the process list and the shell history;"
          + " prefer " + TOKEN_ENV + " or --token-file");
      err.flush();
    }
  }

  private static HeraldException invalid(String message, Throwable cause) {
    return new HeraldException(ErrorCode.INVALID_ARGUMENT, message, false, cause);
  }

  /** Whether a credential is configured (for messages). */
  boolean hasCredential() {
    String fromEnv = env.get(TOKEN_ENV);
    return token != null || tokenFile != null || fromEnv != null && !fromEnv.isBlank();
  }

  static TopicAdminServiceGrpc.TopicAdminServiceBlockingStub admin(HeraldClient client) {
    return ((AdminClientImpl) client.admin()).rawStub();
  }

  boolean json() {
    return output == Format.json;
  }
}
