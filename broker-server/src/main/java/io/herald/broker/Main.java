package io.herald.broker;

import io.herald.broker.config.BrokerConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * {@code herald-broker}: starts one broker and serves until SIGINT/SIGTERM. The first signal shuts
 * down gracefully (drain up to {@code --drain-timeout}); a second one forces it at once.
 * Every flag has an environment variable with the {@code HERALD_} prefix; flags win.
 */
@Command(name = "herald-broker", mixinStandardHelpOptions = true, version = "herald-broker 0.1.0",
    description = {"Runs a Herald broker node.",
        "Each setting comes from its flag, else its HERALD_ environment variable, else the --config file, else the default."},
    footer = {"", "Examples:",
        "  herald-broker                                  # 127.0.0.1:7070, metadata in memory",
        "  herald-broker --listen 0.0.0.0:7070 --data-dir /var/lib/herald",
        "  HERALD_LISTEN=127.0.0.1:7171 herald-broker --auto-create-topics",
        "  herald-broker --config herald.yaml     # keys are the flag names: listen: 0.0.0.0:7070"})
public final class Main implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(Main.class);

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:7070",
      description = "gRPC listen address (env HERALD_LISTEN, default ${DEFAULT-VALUE}).")
  String listen;

  @Option(names = "--data-dir", paramLabel = "DIR", 
      description = "Directory for topic metadata; topics survive restarts (env HERALD_DATA_DIR; default: none, metadata in memory).")
  Path dataDir;

  @Option(names = "--auto-create-topics", negatable = true, defaultValue = "false", fallbackValue = "true",
      description = "Create unknown topics on first publish or subscribe (env HERALD_AUTO_CREATE_TOPICS, default ${DEFAULT-VALUE}).")
  boolean autoCreate;

  @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "10s",
      converter = DurationConverter.class,
      description = "How long a graceful shutdown drains buffers, e.g. 10s, 500ms, 1m (env HERALD_DRAIN_TIMEOUT, default ${DEFAULT-VALUE}).")
  Duration drainTimeout;

  @Option(names = "--io-threads", defaultValue = "0",
      description = "Netty event loop threads; 0 = one per core (env HERALD_IO_THREADS).")
  int ioThreads;

  @Option(names = "--writer-threads", defaultValue = "0",
      description = "Writer pool threads; 0 = one per core (env HERALD_WRITER_THREADS).")
  int writerThreads;

  @Option(names = "--http-listen", paramLabel = "HOST:PORT|off", defaultValue = "127.0.0.1:7071",
      description = "HTTP address of /metrics, /healthz and /readyz, or 'off' (env HERALD_HTTP_LISTEN, default ${DEFAULT-VALUE}).")
  String httpListen;

  @Option(names = "--metrics-topic-labels", defaultValue = "100",
      description = "Topics that get their own metric series, the first created (env HERALD_METRICS_TOPIC_LABELS, default ${DEFAULT-VALUE}).")
  int metricsTopicLabels;

  @Option(names = "--metrics-top-subscriptions", defaultValue = "20",
      description = "Subscriptions with the deepest buffers that get their own series (env HERALD_METRICS_TOP_SUBSCRIPTIONS, default ${DEFAULT-VALUE}).")
  int metricsTopSubscriptions;

  @Option(names = "--log-format", defaultValue = "text", description = "text or json (env HERALD_LOG_FORMAT, default ${DEFAULT-VALUE}).")
  String logFormat;

  @Option(names = "--config", paramLabel = "FILE", description = "A .yaml or .properties file of settings (env HERALD_CONFIG); flags and environment win.")
  Path configFile;

  @Option(names = "--subscribe-init-timeout", paramLabel = "DURATION", defaultValue = "5s",
      converter = DurationConverter.class,
      description = "How long a Subscribe stream may go without its init frame before it is ended with INVALID_ARGUMENT,"
          + " 1ms..10m (env HERALD_SUBSCRIBE_INIT_TIMEOUT, default ${DEFAULT-VALUE}).")
  Duration subscribeInitTimeout;

  @Option(names = "--max-calls-per-connection", defaultValue = "1000",
      description = "Concurrent calls one client connection may hold (env HERALD_MAX_CALLS_PER_CONNECTION, default ${DEFAULT-VALUE}).")
  int maxCalls;

  @Option(names = "--node-id", paramLabel = "ID",
      description = "This node's id among --peers (env HERALD_NODE_ID); required with --peers; default n1 for a standalone broker.")
  String nodeId;

  @Option(names = "--peers", paramLabel = "ID=HOST:PORT,...",
      description = {"Voters of the metadata Raft group, this node included, e.g. n1=127.0.0.1:7072,n2=127.0.0.1:7172,n3=127.0.0.1:7272"
          + " (env HERALD_PEERS). Without it the broker is a cluster of one (the same Raft code path)."})
  String peers;

  @Option(names = "--raft-listen", paramLabel = "HOST:PORT",
      description = "Where this node's Raft server binds (env HERALD_RAFT_LISTEN; default: this node's address in --peers;"
          + " standalone: the --listen port + 2 on its host, or a free loopback port).")
  String raftListen;

  @Option(names = "--listener", defaultValue = "false", fallbackValue = "true",
      description = "Join as a non-voting member (a Raft listener): not among --peers, serves clients and owns topics, does not vote"
          + " (env HERALD_LISTENER=true). Needs --raft-listen.")
  boolean listener;

  @Option(names = "--raft-advertise", paramLabel = "HOST:PORT",
      description = "With --listener: the Raft address the voters use for this node (env HERALD_RAFT_ADVERTISE; default: --raft-listen,"
          + " which must then not be a wildcard like 0.0.0.0).")
  String raftAdvertise;

  @Option(names = "--advertise", paramLabel = "HOST:PORT",
      description = "The gRPC address clients and other nodes use for this node (env HERALD_ADVERTISE; default: --listen).")
  String advertise;

  @Option(names = "--liveness-timeout", paramLabel = "DURATION", defaultValue = "5s", converter = DurationConverter.class,
      description = "A node not heard from for this long is lost and its topics move to other nodes; more than twice"
          + " --raft-election-timeout (env HERALD_LIVENESS_TIMEOUT, default ${DEFAULT-VALUE}).")
  Duration livenessTimeout;

  @Option(names = "--raft-election-timeout", paramLabel = "DURATION", defaultValue = "1s", converter = DurationConverter.class,
      description = "Minimum Raft election timeout; the maximum is twice it (env HERALD_RAFT_ELECTION_TIMEOUT, default ${DEFAULT-VALUE},"
          + " which holds on a loaded 2-core machine).")
  Duration raftElectionTimeout;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "Serve TLS on --listen with this PEM certificate chain (env HERALD_TLS_CERT); needs --tls-key. Reloaded when it changes.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE",
      description = "The certificate's private key, PKCS#8 PEM (env HERALD_TLS_KEY). Reloaded when it changes.")
  Path tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "FILE",
      description = "PEM CA certificates that client certificates must chain to (env HERALD_TLS_CLIENT_CA); needs --tls-client-auth.")
  Path tlsClientCa;

  @Option(names = "--tls-client-auth", paramLabel = "none|optional|require", defaultValue = "none",
      description = "Ask TLS clients for a certificate: none, optional, or require (env HERALD_TLS_CLIENT_AUTH, default ${DEFAULT-VALUE}).")
  String tlsClientAuth;

  @Option(names = "--security-reload-interval", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
      description = "How often the TLS, token, JWKS and ACL files are checked for changes (env HERALD_SECURITY_RELOAD_INTERVAL,"
          + " default ${DEFAULT-VALUE}).")
  Duration securityReloadInterval;

  @Option(names = "--auth", paramLabel = "none|token,jwt,mtls", defaultValue = "none",
      description = "Credentials every call must carry: none, or a comma-separated set of token, jwt, mtls (env HERALD_AUTH,"
          + " default ${DEFAULT-VALUE}). Clients send a token or JWT as 'authorization: Bearer <value>'.")
  String auth;

  @Option(names = "--auth-tokens", paramLabel = "FILE",
      description = "With --auth token: lines 'PRINCIPAL sha256:HEX [GROUP,...]' ('herald token new' prints one) (env HERALD_AUTH_TOKENS).")
  Path authTokens;

  @Option(names = "--auth-jwks", paramLabel = "FILE",
      description = "With --auth jwt: the JSON Web Key Set JWTs must be signed with (env HERALD_AUTH_JWKS).")
  Path authJwks;

  @Option(names = "--auth-jwt-issuer", paramLabel = "ISS", description = "With --auth jwt: the iss JWTs must carry (env HERALD_AUTH_JWT_ISSUER).")
  String jwtIssuer;

  @Option(names = "--auth-jwt-audience", paramLabel = "AUD",
      description = "With --auth jwt: an aud JWTs must carry (env HERALD_AUTH_JWT_AUDIENCE).")
  String jwtAudience;

  @Option(names = "--acl", paramLabel = "FILE",
      description = "YAML grants of publish, subscribe, admin on topic globs to principals or groups; deny by default once given;"
          + " reloaded when it changes (env HERALD_ACL). Needs --auth.")
  Path acl;

  @Option(names = "--audit-log", paramLabel = "FILE",
      description = "Append a JSON line per admin operation and per refusal here (env HERALD_AUDIT_LOG; default: the broker log,"
          + " logger herald.audit).")
  Path auditLog;

  @Option(names = "--peer-tls-ca", paramLabel = "FILE",
      description = "With TLS and --peers: the CA the other brokers' certificates chain to; brokers reach each other (forwarding,"
          + " relays, Raft) over TLS presenting their --tls-cert (env HERALD_PEER_TLS_CA).")
  Path peerTlsCa;

  @Option(names = "--peer-token-file", paramLabel = "FILE",
      description = "With --auth and --peers: the token this broker presents to the others; its line in their --auth-tokens has"
          + " the group herald-peers (env HERALD_PEER_TOKEN_FILE).")
  Path peerTokenFile;

  @Option(names = "--handshake-timeout", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
      description = "Close a connection that has not finished its TLS handshake / HTTP/2 preface by then (env HERALD_HANDSHAKE_TIMEOUT,"
          + " default ${DEFAULT-VALUE}).")
  Duration handshakeTimeout;

  @Option(names = "--max-connection-idle", paramLabel = "DURATION|never", defaultValue = "30m",
      description = "Close (GOAWAY) a connection with no call for this long (env HERALD_MAX_CONNECTION_IDLE, default ${DEFAULT-VALUE}).")
  String maxConnectionIdle;

  @Option(names = "--max-connection-age", paramLabel = "DURATION|never", defaultValue = "never",
      description = "Send GOAWAY to connections older than this, so clients spread over nodes (env HERALD_MAX_CONNECTION_AGE,"
          + " default ${DEFAULT-VALUE}).")
  String maxConnectionAge;

  @Option(names = "--max-connection-age-grace", paramLabel = "DURATION", defaultValue = "5m", converter = DurationConverter.class,
      description = "How long calls may go on after that GOAWAY (env HERALD_MAX_CONNECTION_AGE_GRACE, default ${DEFAULT-VALUE}).")
  Duration maxConnectionAgeGrace;

  @Option(names = "--permit-keepalive-time", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
      description = "The most frequent keepalive ping a client may send; more frequent ones end its connection"
          + " (env HERALD_PERMIT_KEEPALIVE_TIME, default ${DEFAULT-VALUE}).")
  Duration permitKeepAliveTime;

  @Option(names = "--max-rst-per-window", paramLabel = "N", defaultValue = "1000",
      description = "Stream resets a client may send per 10 s before its connection is ended (HTTP/2 rapid reset); 0: no limit"
          + " (env HERALD_MAX_RST_PER_WINDOW, default ${DEFAULT-VALUE}).")
  int maxRstPerWindow;

  @Override
  public Integer call() throws Exception {
    BrokerConfig config;
    try {
      config = new BrokerConfig(BrokerConfig.parseAddress(listen), dataDir, autoCreate, drainTimeout, ioThreads, writerThreads, maxCalls,
          "off".equalsIgnoreCase(httpListen) ? null : BrokerConfig.parseAddress(httpListen), metricsTopicLabels, metricsTopSubscriptions,
          logFormat, null, subscribeInitTimeout);
      String adv = advertise == null || advertise.isBlank() ? null : advertise;
      String raft = raftListen == null || raftListen.isBlank() ? null : raftListen;
      BrokerConfig.Cluster cluster;
      if (peers != null && !peers.isBlank()) {
        cluster = new BrokerConfig.Cluster(nodeId, raft, io.herald.broker.metadata.RaftMetadataStore.parsePeers(peers), raftElectionTimeout,
            null, BrokerConfig.Cluster.DEFAULT_LIVENESS_TIMEOUT, listener, raftAdvertise == null || raftAdvertise.isBlank() ? null : raftAdvertise);
      } else if (listener || raftAdvertise != null && !raftAdvertise.isBlank()) {
        throw new IllegalArgumentException((listener ? "--listener" : "--raft-advertise") + " needs --peers: the voters this node joins");
      } else {
        if (raft == null && config.listen().getPort() != 0) {
          raft = config.listen().getHostString() + ":" + (config.listen().getPort() + 2);
        }
        cluster = BrokerConfig.Cluster.standalone(nodeId, raft);
      }
      config = config.withCluster(cluster.withAdvertise(adv).withLivenessTimeout(livenessTimeout));
      config = config.withSecurity(new io.herald.broker.security.SecurityConfig(tlsCert, tlsKey, tlsClientCa,
          io.herald.broker.security.SecurityConfig.ClientAuth.parse(tlsClientAuth), securityReloadInterval,
          io.herald.broker.security.SecurityConfig.parseAuth(auth), authTokens, authJwks, blankToNull(jwtIssuer), blankToNull(jwtAudience),
          acl, auditLog, peerTlsCa, peerTokenFile));
      config = config.withLimits(new io.herald.broker.config.ConnectionLimits(handshakeTimeout,
          durationOrNever("--max-connection-idle", maxConnectionIdle), durationOrNever("--max-connection-age", maxConnectionAge),
          maxConnectionAgeGrace, permitKeepAliveTime, maxRstPerWindow, Duration.ofSeconds(10)));
      Logging.apply(logFormat);
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("herald-broker: " + e.getMessage());
      spec.commandLine().getErr().flush();
      return 2;
    }
    Broker broker;
    try {
      broker = Broker.start(config);
    } catch (Exception e) {
      spec.commandLine().getErr().println("herald-broker: " + e.getMessage());
      spec.commandLine().getErr().flush();
      return 1;
    }
    AtomicInteger signals = new AtomicInteger();
    SignalHandler handler = sig -> {
      if (signals.incrementAndGet() == 1) {
        log.info("SIG{} received: shutting down gracefully (send it again to force)", sig.getName());
        Thread.ofPlatform().name("herald-shutdown").start(broker::close);
      } else {
        log.warn("SIG{} received again: forcing shutdown", sig.getName());
        Thread.ofPlatform().name("herald-shutdown-now").start(broker::closeNow);
      }
    };
    Signal.handle(new Signal("INT"), handler);
    Signal.handle(new Signal("TERM"), handler);
    broker.awaitClosed();
    return 0;
  }

  /** A duration, or null for {@code never}. */
  private static Duration durationOrNever(String flag, String value) {
    if ("never".equalsIgnoreCase(value.trim())) {
      return null;
    }
    try {
      return new DurationConverter().convert(value);
    } catch (CommandLine.TypeConversionException e) {
      throw new IllegalArgumentException(flag + ": " + e.getMessage() + ", or never", e);
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  /** Parses 10s, 500ms, 2m, 1h, or ISO-8601 (PT10S). */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String s) {
      String v = s.trim().toLowerCase(java.util.Locale.ROOT);
      try {
        if (v.startsWith("pt") || v.startsWith("p")) {
          return Duration.parse(s.trim().toUpperCase(java.util.Locale.ROOT));
        }
        if (v.endsWith("ms")) {
          return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
        }
        long n = Long.parseLong(v.substring(0, v.length() - 1));
        return switch (v.charAt(v.length() - 1)) {
          case 's' -> Duration.ofSeconds(n);
          case 'm' -> Duration.ofMinutes(n);
          case 'h' -> Duration.ofHours(n);
          default -> throw new NumberFormatException();
        };
      } catch (RuntimeException e) {
        throw new CommandLine.TypeConversionException("'" + s + "' is not a duration; use e.g. 500ms, 10s, 2m, 1h");
      }
    }
  }

  /** The command line with the layered defaults (environment, then config file). */
  static CommandLine commandLine(String[] args, java.util.Map<String, String> env) {
    CommandLine cl = new CommandLine(new Main());
    LayeredDefaults defaults = new LayeredDefaults(cl, args, env);
    cl.setDefaultValueProvider(defaults);
    // a bad value says where it came from: the flag, HERALD_X, or the config file
    cl.setParameterExceptionHandler((ex, a) -> {
      String where = ex.getArgSpec() == null ? null : defaults.sourceOf(ex.getArgSpec(), a);
      ex.getCommandLine().getErr().println("herald-broker: " + ex.getMessage() + (where == null ? "" : " (set in " + where + ")"));
      ex.getCommandLine().getErr().println("Try 'herald-broker --help' for the settings and their ranges.");
      ex.getCommandLine().getErr().flush();
      return 2;
    });
    return cl;
  }

  public static void main(String[] args) {
    // peers are named by DNS (herald-1, a Kubernetes service): a restarted peer may come back at a
    // new address, so a lookup is cached 5 s, not for the JVM's lifetime (before any lookup)
    if (java.security.Security.getProperty("networkaddress.cache.ttl") == null) {
      java.security.Security.setProperty("networkaddress.cache.ttl", "5");
    }
    int code;
    try {
      code = commandLine(args, System.getenv()).execute(args);
    } catch (IllegalArgumentException e) {
      System.err.println("herald-broker: " + e.getMessage());
      code = 2;
    }
    System.exit(code);
  }
}
