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
 */
public record BrokerConfig(
    InetSocketAddress listen,
    Path dataDir,
    boolean autoCreateTopics,
    Duration drainTimeout,
    int ioThreads,
    int writerThreads,
    int maxCallsPerConnection) {

  public static final String DEFAULT_LISTEN = "127.0.0.1:7070";

  public BrokerConfig {
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
  }

  /** Defaults, listening on {@code listen}. */
  public static BrokerConfig defaults(String listen) {
    return new BrokerConfig(parseAddress(listen), null, false, Duration.ofSeconds(10), 0, 0, 1000);
  }

  public BrokerConfig withDataDir(Path dir) {
    return new BrokerConfig(listen, dir, autoCreateTopics, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection);
  }

  public BrokerConfig withAutoCreateTopics(boolean on) {
    return new BrokerConfig(listen, dataDir, on, drainTimeout, ioThreads, writerThreads, maxCallsPerConnection);
  }

  public BrokerConfig withDrainTimeout(Duration d) {
    return new BrokerConfig(listen, dataDir, autoCreateTopics, d, ioThreads, writerThreads, maxCallsPerConnection);
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
        + " max-calls-per-connection=" + maxCallsPerConnection;
  }
}
