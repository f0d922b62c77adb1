package io.herald.broker.config;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A broker's effective configuration. Immutable; validated on construction with messages that
 * name the setting, its flag and its environment variable.
 *
 * @param listen gRPC listen address ({@code --listen}, {@code HERALD_LISTEN})
 * @param dataDir where topic metadata is kept, or null for memory only ({@code --data-dir}, {@code HERALD_DATA_DIR})
 * @param autoCreateTopics create unknown topics on first publish/subscribe ({@code --auto-create-topics})
 * @param drainTimeout how long graceful shutdown drains buffers before forcing ({@code --drain-timeout})
 * @param ioThreads Netty event loop threads (0: one per core)
 * @param writerThreads subscription/publish writer pool threads (0: one per core)
 * @param maxCallsPerConnection concurrent calls one connection may hold open
 * @param httpListen HTTP address of /metrics, /healthz, /readyz ({@code --http-listen}); null: off
 * @param metricsTopicLabels topics that get their own series ({@code --metrics-topic-labels})
 * @param metricsTopSubscriptions subscriptions (deepest buffers) that get their own series
 * @param logFormat {@code text} or {@code json} ({@code --log-format})
 * @param cluster the Raft metadata group this broker belongs to ({@code --peers}); null for a
 *     standalone broker, which is a group of one ({@link Cluster#standalone})
 * @param subscribeInitTimeout how long a Subscribe stream may go without its init frame before it is
 *     ended with INVALID_ARGUMENT ({@code --subscribe-init-timeout}, {@code HERALD_SUBSCRIBE_INIT_TIMEOUT})
 * @param security TLS, authentication, ACL and audit ({@code --tls-*}, {@code --auth*}, {@code --acl},
 *     {@code --audit-log}); {@link io.herald.broker.security.SecurityConfig#NONE} by default
 * @param limits what one connection may hold and for how long ({@link ConnectionLimits#DEFAULTS} by default)
 */
public record BrokerConfig(
    InetSocketAddress listen,
    Path dataDir,
    boolean autoCreateTopics,
    Duration drainTimeout,
    int ioThreads,
    int writerThreads,
    int maxCallsPerConnection,
    InetSocketAddress httpListen,
    int metricsTopicLabels,
    int metricsTopSubscriptions,
    String logFormat,
    Cluster cluster,
    Duration subscribeInitTimeout,
    io.herald.broker.security.SecurityConfig security,
    ConnectionLimits limits) {

  /** Default {@code --subscribe-init-timeout}: a client sends init right after opening the stream. */
  public static final Duration DEFAULT_SUBSCRIBE_INIT_TIMEOUT = Duration.ofSeconds(5);

  /**
   * A broker's place in the metadata Raft group.
   *
   * @param nodeId this node's id ({@code --node-id}, {@code HERALD_NODE_ID}): a voter when among
   *     {@code peers}, else a non-voting member (a Raft listener), which needs {@code raftListen}
   * @param raftListen where this node's Raft server binds ({@code --raft-listen}); null: its entry in {@code peers}
   * @param peers every voter's id and Raft {@code host:port}, this node's included ({@code --peers}, {@code HERALD_PEERS})
   * @param electionTimeout the minimum Raft election timeout; the maximum is twice it ({@code --raft-election-timeout})
   * @param advertise the gRPC address clients and other nodes use for this node ({@code --advertise},
   *     {@code HERALD_ADVERTISE}); null: the listen address
   * @param livenessTimeout a node not heard from for this long is lost: its topics move to other
   *     nodes ({@code --liveness-timeout}, {@code HERALD_LIVENESS_TIMEOUT}); more than twice the
   *     election timeout
   * @param listener a non-voting member ({@code --listener}): not among {@code peers}, added to the
   *     group as a Raft listener; needs {@code raftListen}
   * @param raftAdvertise the Raft {@code host:port} the voters use for a non-voting member
   *     ({@code --raft-advertise}); null: {@code raftListen}, which must then not be a wildcard
   */
  public record Cluster(String nodeId, String raftListen, java.util.Map<String, String> peers, Duration electionTimeout,
      String advertise, Duration livenessTimeout, boolean listener, String raftAdvertise) {
    public Cluster(String nodeId, String raftListen, java.util.Map<String, String> peers, Duration electionTimeout) {
      this(nodeId, raftListen, peers, electionTimeout, null, DEFAULT_LIVENESS_TIMEOUT, false, null);
    }

    public Cluster {
      if (nodeId == null || nodeId.isBlank()) {
        throw new IllegalArgumentException("--node-id (HERALD_NODE_ID) is required with --peers; it names this node among the peers "
            + peers.keySet());
      }
      if (!listener && !peers.containsKey(nodeId)) {
        throw new IllegalArgumentException("--node-id " + nodeId + " is not among --peers " + peers.keySet()
            + ": list every voter, this node included; a node that joins without a vote needs --listener (with --raft-listen"
            + " and, if that binds a wildcard address, --raft-advertise)");
      }
      if (listener && peers.containsKey(nodeId)) {
        throw new IllegalArgumentException("--listener: node " + nodeId + " is a voter in --peers " + peers.keySet()
            + "; a non-voting member must not be listed there (drop --listener to start it as a voter)");
      }
      if (listener && raftListen == null) {
        throw new IllegalArgumentException("--listener needs --raft-listen: where this node's Raft server binds (the voters send it the log)");
      }
      if (raftListen != null) {
        parseAddress(raftListen);
      }
      if (raftAdvertise != null && !listener) {
        throw new IllegalArgumentException("--raft-advertise is for a non-voting member (--listener); a voter's Raft address is its --peers entry");
      }
      if (listener) {
        String reach = raftAdvertise != null ? raftAdvertise : raftListen;
        var a = parseAddress(reach);
        if (a.getPort() == 0 || a.getAddress() != null && a.getAddress().isAnyLocalAddress() || a.getHostString().isBlank()) {
          throw new IllegalArgumentException((raftAdvertise != null ? "--raft-advertise " : "--raft-listen ") + reach
              + " is not an address the voters can reach" + (raftAdvertise != null ? "" : " (it binds every interface)")
              + "; give --raft-advertise HOST:PORT with this node's reachable host and fixed Raft port");
        }
      }
      if (electionTimeout == null || electionTimeout.toMillis() < 50 || electionTimeout.compareTo(Duration.ofMinutes(1)) > 0) {
        throw new IllegalArgumentException("--raft-election-timeout (HERALD_RAFT_ELECTION_TIMEOUT) must be between 50ms and 1m; got "
            + electionTimeout);
      }
      if (advertise != null) {
        if (parseAddress(advertise).getPort() == 0) {
          throw new IllegalArgumentException("--advertise (HERALD_ADVERTISE) needs a fixed port; got " + advertise);
        }
      }
      if (livenessTimeout == null || livenessTimeout.compareTo(electionTimeout.multipliedBy(2)) <= 0
          || livenessTimeout.compareTo(Duration.ofMinutes(10)) > 0) {
        throw new IllegalArgumentException("--liveness-timeout (HERALD_LIVENESS_TIMEOUT) must be more than twice --raft-election-timeout ("
            + electionTimeout + ") and at most 10m; got " + livenessTimeout);
      }
      peers = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(peers));
    }

    /**
     * A standalone broker: a Raft group of one, node {@code nodeId} (null: {@value #DEFAULT_NODE_ID}),
     * its Raft server on {@code raftListen} (null: a free loopback port).
     */
    public static Cluster standalone(String nodeId, String raftListen) {
      String id = nodeId == null || nodeId.isBlank() ? DEFAULT_NODE_ID : nodeId;
      String raft = raftListen == null || raftListen.isBlank() ? "127.0.0.1:" + freePort() : raftListen;
      // alone, it elects itself after one timeout at start and no peer can make it flap: a short one
      return new Cluster(id, null, java.util.Map.of(id, raft), STANDALONE_ELECTION_TIMEOUT);
    }

    public Cluster withAdvertise(String address) {
      return new Cluster(nodeId, raftListen, peers, electionTimeout, address, livenessTimeout, listener, raftAdvertise);
    }

    public Cluster withLivenessTimeout(Duration d) {
      return new Cluster(nodeId, raftListen, peers, electionTimeout, advertise, d, listener, raftAdvertise);
    }

    /** A non-voting member reached by the voters at {@code raftAdvertise} (null: {@code raftListen}). */
    public Cluster asListener(String raftAdvertise) {
      return new Cluster(nodeId, raftListen, peers, electionTimeout, advertise, livenessTimeout, true, raftAdvertise);
    }

    /** The Raft address the voters use for this node. */
    public String raftAddress() {
      return listener ? (raftAdvertise != null ? raftAdvertise : raftListen) : peers.get(nodeId);
    }

    private static int freePort() {
      try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("no free loopback port for the Raft server: " + e.getMessage(), e);
      }
    }

    /** A group of one's election timeout: it only delays the start (by one timeout). */
    public static final Duration STANDALONE_ELECTION_TIMEOUT = Duration.ofMillis(150);

    /** The node id of a standalone broker without {@code --node-id}. */
    public static final String DEFAULT_NODE_ID = "n1";

    /**
     * The default liveness timeout: an owner killed is replaced within about this plus an election
     * (owner killed to new owner accepting: under 10 s on a loaded 2-core machine).
     */
    public static final Duration DEFAULT_LIVENESS_TIMEOUT = Duration.ofSeconds(5);

    /** The default election timeout: 1 s to 2 s, stable on a CPU-starved 2-core machine (150-300 ms flapped). */
    public static final Duration DEFAULT_ELECTION_TIMEOUT = Duration.ofSeconds(1);
  }

  public static final String DEFAULT_LISTEN = "127.0.0.1:7070";

  /** Without security settings: {@link io.herald.broker.security.SecurityConfig#NONE}. */
  public BrokerConfig(InetSocketAddress listen, Path dataDir, boolean autoCreateTopics, Duration drainTimeout, int ioThreads,
      int writerThreads, int maxCallsPerConnection, InetSocketAddress httpListen, int metricsTopicLabels, int metricsTopSubscriptions,
      String logFormat, Cluster cluster, Duration subscribeInitTimeout) {
    this(listen, dataDir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection, httpListen, metricsTopicLabels,
        metricsTopSubscriptions, logFormat, cluster, subscribeInitTimeout, io.herald.broker.security.SecurityConfig.NONE,
        ConnectionLimits.DEFAULTS);
  }

  public BrokerConfig {
    security = security == null ? io.herald.broker.security.SecurityConfig.NONE : security;
    limits = limits == null ? ConnectionLimits.DEFAULTS : limits;
    if (listen == null) {
      throw new IllegalArgumentException("--listen (HERALD_LISTEN) is required");
    }
    if (drainTimeout == null || drainTimeout.isNegative() || drainTimeout.compareTo(Duration.ofMinutes(10)) > 0) {
      throw new IllegalArgumentException("--drain-timeout (HERALD_DRAIN_TIMEOUT) must be between 0s and 10m; got " + drainTimeout);
    }
    if (ioThreads < 0 || ioThreads > 256) {
      throw new IllegalArgumentException("--io-threads (HERALD_IO_THREADS) must be between 0 (one per core) and 256; got " + ioThreads);
    }
    if (writerThreads < 0 || writerThreads > 256) {
      throw new IllegalArgumentException("--writer-threads (HERALD_WRITER_THREADS) must be between 0 (one per core) and 256; got " + writerThreads);
    }
    if (maxCallsPerConnection < 1) {
      throw new IllegalArgumentException("--max-calls-per-connection must be at least 1; got " + maxCallsPerConnection);
    }
    if (metricsTopicLabels < 0 || metricsTopicLabels > 10_000) {
      throw new IllegalArgumentException("--metrics-topic-labels must be between 0 and 10000; got " + metricsTopicLabels);
    }
    if (metricsTopSubscriptions < 0 || metricsTopSubscriptions > 1_000) {
      throw new IllegalArgumentException("--metrics-top-subscriptions must be between 0 and 1000; got " + metricsTopSubscriptions);
    }
    if (!"text".equals(logFormat) && !"json".equals(logFormat)) {
      throw new IllegalArgumentException("--log-format (HERALD_LOG_FORMAT) must be text or json; got " + logFormat);
    }
    if (subscribeInitTimeout == null || subscribeInitTimeout.compareTo(Duration.ofMillis(1)) < 0
        || subscribeInitTimeout.compareTo(Duration.ofMinutes(10)) > 0) {
      throw new IllegalArgumentException("--subscribe-init-timeout (HERALD_SUBSCRIBE_INIT_TIMEOUT) must be between 1ms and 10m; got "
          + subscribeInitTimeout);
    }
    if (cluster != null && (cluster.peers().size() > 1 || cluster.listener())) {
      security.checkForCluster();
    }
  }

  /** Defaults, listening on {@code listen}. */
  /** Defaults, listening on {@code listen}, HTTP endpoint off (tests); {@code Main} sets it from flags. */
  public static BrokerConfig defaults(String listen) {
    return new BrokerConfig(parseAddress(listen), null, false, Duration.ofSeconds(10), 0, 0, 1000, null, 100, 20, "text", null,
        DEFAULT_SUBSCRIBE_INIT_TIMEOUT);
  }

  public BrokerConfig withDataDir(Path dir) {
    return new BrokerConfig(listen, dir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, metricsTopSubscriptions, logFormat, cluster, subscribeInitTimeout, security, limits);
  }

  public BrokerConfig withAutoCreateTopics(boolean on) {
    return new BrokerConfig(listen, dataDir, on, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, metricsTopSubscriptions, logFormat, cluster, subscribeInitTimeout, security, limits);
  }

  public BrokerConfig withDrainTimeout(Duration d) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, d, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, metricsTopSubscriptions, logFormat, cluster, subscribeInitTimeout, security, limits);
  }

  public BrokerConfig withHttpListen(String address) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        address == null ? null : parseAddress(address), metricsTopicLabels, metricsTopSubscriptions, logFormat, cluster, subscribeInitTimeout, security, limits);
  }

  public BrokerConfig withMetricsTopSubscriptions(int n) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, n, logFormat, cluster, subscribeInitTimeout, security, limits);
  }

  public BrokerConfig withCluster(Cluster c) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, metricsTopSubscriptions, logFormat, c, subscribeInitTimeout, security, limits);
  }

  public BrokerConfig withSubscribeInitTimeout(Duration d) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, metricsTopSubscriptions, logFormat, cluster, d, security, limits);
  }

  public BrokerConfig withSecurity(io.herald.broker.security.SecurityConfig sec) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, metricsTopSubscriptions, logFormat, cluster, subscribeInitTimeout, sec, limits);
  }

  public BrokerConfig withLimits(ConnectionLimits l) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection,
        httpListen, metricsTopicLabels, metricsTopSubscriptions, logFormat, cluster, subscribeInitTimeout, security, l);
  }

  public int effectiveIoThreads() {
    return ioThreads == 0 ? Runtime.getRuntime().availableProcessors() : ioThreads;
  }

  public int effectiveWriterThreads() {
    return writerThreads == 0 ? Runtime.getRuntime().availableProcessors() : writerThreads;
  }

  /** Parses {@code host:port} or {@code [v6]:port}; port 0 picks a free port. */
  public static InetSocketAddress parseAddress(String s) {
    if (s == null || s.isBlank()) {
      throw new IllegalArgumentException("listen address is empty; use host:port, e.g. " + DEFAULT_LISTEN);
    }
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException("listen address '" + s + "' is not host:port, e.g. " + DEFAULT_LISTEN + " or 0.0.0.0:7070");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("listen address '" + s + "' has a port that is not a number");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("listen address '" + s + "' has port " + port + " outside 0-65535");
    }
    return new InetSocketAddress(host, port);
  }

  /** One line for the start log. */
  public String describe() {
    return "listen=" + listen.getHostString() + ":" + listen.getPort()
        + " data-dir=" + (dataDir == null ? "(none: metadata in memory)" : dataDir)
        + " auto-create-topics=" + autoCreateTopics
        + " drain-timeout=" + drainTimeout
        + " io-threads=" + effectiveIoThreads()
        + " writer-threads=" + effectiveWriterThreads()
        + " max-calls-per-connection=" + maxCallsPerConnection
        + " http-listen=" + (httpListen == null ? "(off)" : httpListen.getHostString() + ":" + httpListen.getPort())
        + " metrics-topic-labels=" + metricsTopicLabels
        + " metrics-top-subscriptions=" + metricsTopSubscriptions
        + " log-format=" + logFormat
        + " security=[" + security.describe() + "]"
        + " connections=[" + limits.describe() + "]"
        + (cluster == null ? " metadata=local" : " metadata=raft node-id=" + cluster.nodeId() + " peers=" + cluster.peers()
            + (cluster.raftListen() == null ? "" : " raft-listen=" + cluster.raftListen())
            + " raft-election-timeout=" + cluster.electionTimeout())
        + " subscribe-init-timeout=" + subscribeInitTimeout;
  }
}
