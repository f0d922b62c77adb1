package io.herald.broker.cluster;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.broker.transport.TransportThreads;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * This broker's forwarding links: one {@link PeerLink} (one channel, one {@code Forward} stream)
 * per peer address, made on first use and kept until {@link #close()}, whatever the number of
 * topics and publishers that forward through it.
 *
 * <p>Threads: one, {@code herald-peer-connect-timer}, which gives up streams that did not connect
 * in time; {@link #close()} stops it. Each link's sender runs on {@code writers}; responses run on the
 * channels' event loops, with a direct executor: the broker's I/O loops with {@link
 * #plaintext(java.util.function.Function) plaintext(serverFactory::channelBuilder)} (what the
 * broker should use), gRPC's shared ones with {@link #plaintext()}.
 *
 * <p>Memory: per peer at most {@code maxInFlightBatches}/{@code maxInFlightBytes} in the window
 * plus {@code maxWaitingBatches}/{@code maxWaitingBytes} in the line (defaults 256 / 16 MiB and
 * 1,024 / 32 MiB: 48 MiB of event bytes per peer at worst, already held as received publishes).
 *
 * <p>Thread-safe.
 */
public final class PeerLinks implements AutoCloseable {

  /** Opens the channel to a peer ({@code host:port}). */
  @FunctionalInterface
  public interface ChannelFactory {
    ManagedChannel open(String address);
  }

  /**
   * A link's bounds and backoff.
   *
   * @param maxInFlightBatches batches a link holds in its window (queued to send or unanswered)
   * @param maxInFlightBytes event bytes in the window (an empty window takes any one batch)
   * @param maxWaitingBatches batches waiting for window room, per link; beyond it LINE_FULL
   * @param maxWaitingBytes event bytes waiting, per link (an empty line takes any one batch)
   * @param initialBackoff wait after a stream fails before the next offer reconnects
   * @param maxBackoff the most the backoff doubles to while reconnections keep failing
   * @param connectTimeout how long a new stream may wait for the peer's address and a connection
   *     before it is given up (its batches fail with UNAVAILABLE): a stream waits for a peer that is
   *     still being resolved or connected to rather than failing on the channel's last failure
   */
  public record Options(int maxInFlightBatches, long maxInFlightBytes, int maxWaitingBatches, long maxWaitingBytes,
      Duration initialBackoff, Duration maxBackoff, Duration connectTimeout) {
    /**
     * Default {@value}: a quarter of it (one topic's share, {@code PeerLink#perTopicCap}) keeps a busy
     * topic's round trip full on a loaded machine; the bytes bound memory.
     */
    public static final int DEFAULT_MAX_IN_FLIGHT_BATCHES = 1024;
    /** Default {@value} (32 MiB): eight maximum-size publishes; a quarter per topic. */
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 32 * TopicSettings.MIB;
    /** Default {@value}: a waiting batch stops its publish stream, so this is about the number of publish streams (and unary calls) that may wait at once. */
    public static final int DEFAULT_MAX_WAITING_BATCHES = 1024;
    /** Default {@value} (32 MiB). */
    public static final long DEFAULT_MAX_WAITING_BYTES = 32 * TopicSettings.MIB;
    /** Default 100 ms. */
    public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(100);
    /** Default 5 s: a lost owner is retried at least this often while publishes arrive for it. */
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(5);
    /**
     * Default 5 s: far above a lookup and a connect between live brokers; a peer that is down is
     * normally marked down by the metadata before it (which fails the stream at once).
     */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

    public static final Options DEFAULTS = new Options(DEFAULT_MAX_IN_FLIGHT_BATCHES, DEFAULT_MAX_IN_FLIGHT_BYTES,
        DEFAULT_MAX_WAITING_BATCHES, DEFAULT_MAX_WAITING_BYTES, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF,
        DEFAULT_CONNECT_TIMEOUT);

    public Options {
      if (maxInFlightBatches < 1) {
        throw new IllegalArgumentException("maxInFlightBatches must be at least 1; was " + maxInFlightBatches);
      }
      if (maxInFlightBytes < 1) {
        throw new IllegalArgumentException("maxInFlightBytes must be at least 1; was " + maxInFlightBytes);
      }
      if (maxWaitingBatches < 1) {
        throw new IllegalArgumentException("maxWaitingBatches must be at least 1; was " + maxWaitingBatches);
      }
      if (maxWaitingBytes < 1) {
        throw new IllegalArgumentException("maxWaitingBytes must be at least 1; was " + maxWaitingBytes);
      }
      if (initialBackoff == null || initialBackoff.isNegative() || initialBackoff.isZero()) {
        throw new IllegalArgumentException("initialBackoff must be positive; was " + initialBackoff);
      }
      if (maxBackoff == null || maxBackoff.compareTo(initialBackoff) < 0) {
        throw new IllegalArgumentException("maxBackoff must be at least initialBackoff " + initialBackoff + "; was " + maxBackoff);
      }
      if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()) {
        throw new IllegalArgumentException("connectTimeout must be positive; was " + connectTimeout);
      }
    }

    public Options withWindow(int batches, long bytes) {
      return new Options(batches, bytes, maxWaitingBatches, maxWaitingBytes, initialBackoff, maxBackoff, connectTimeout);
    }

    public Options withLine(int batches, long bytes) {
      return new Options(maxInFlightBatches, maxInFlightBytes, batches, bytes, initialBackoff, maxBackoff, connectTimeout);
    }

    public Options withBackoff(Duration initial, Duration max) {
      return new Options(maxInFlightBatches, maxInFlightBytes, maxWaitingBatches, maxWaitingBytes, initial, max, connectTimeout);
    }

    public Options withConnectTimeout(Duration timeout) {
      return new Options(maxInFlightBatches, maxInFlightBytes, maxWaitingBatches, maxWaitingBytes, initialBackoff, maxBackoff, timeout);
    }
  }

  /**
   * Plaintext channels on gRPC's shared Netty event loops, with keepalive (a ping every 30 s while
   * a stream is open; the broker permits one every 10 s), so that a peer that stops answering
   * fails the stream, and its batches, within about 40 s.
   */
  public static ChannelFactory plaintext() {
    return plaintext(NettyChannelBuilder::forTarget);
  }

  /**
   * The same on channels from {@code builders}, e.g. the broker's {@code
   * ServerFactory::channelBuilder}, which shares its event loops ({@code herald-netty-io-*}): then
   * close the links before those event loops.
   */
  public static ChannelFactory plaintext(java.util.function.Function<String, NettyChannelBuilder> builders) {
    return withKeepAlive(address -> builders.apply(address).usePlaintext());
  }

  /**
   * Channels from {@code builders} as they come (e.g. built with TLS credentials and a token:
   * {@code a -> serverFactory.channelBuilder(a, credentials)}), with the same keepalive.
   */
  public static ChannelFactory withKeepAlive(java.util.function.Function<String, NettyChannelBuilder> builders) {
    return address -> builders.apply(address)
        .keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveTimeout(10, TimeUnit.SECONDS)
        .build();
  }

  private final String nodeId;
  private final ChannelFactory channels;
  private final Executor writers;
  private final Options options;
  private final ConcurrentHashMap<String, PeerLink> links = new ConcurrentHashMap<>();
  /** Gives up streams not connected within {@code connectTimeout}; one daemon thread, shut down by {@link #close()}. */
  private final ScheduledThreadPoolExecutor timer;
  private volatile boolean closed;
  private volatile boolean accepting = true;

  /**
   * @param nodeId this broker's node id, sent to each peer when a stream opens
   * @param channels opens a peer's channel (e.g. {@link #plaintext()}); the links shut them down
   * @param writers runs the links' senders (the broker's writer pool); tasks never block
   */
  public PeerLinks(String nodeId, ChannelFactory channels, Executor writers, Options options) {
    this.nodeId = nodeId;
    this.channels = channels;
    this.writers = writers;
    this.options = options;
    this.timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "herald-peer-connect-timer");
      t.setDaemon(true);
      return t;
    });
    timer.setRemoveOnCancelPolicy(true);
  }

  /**
   * The link to {@code address}, made (with its channel; no connection yet) on first use.
   *
   * @throws StatusRuntimeException UNAVAILABLE SHUTTING_DOWN once closed
   */
  public PeerLink link(String address) {
    PeerLink l = links.get(address);
    if (l == null) {
      if (closed) {
        throw shuttingDown();
      }
      l = links.computeIfAbsent(address, a -> new PeerLink(nodeId, a, channels.open(a), writers, timer, options));
      if (closed) {
        close(l); // close() ran meanwhile and may have missed it
        throw shuttingDown();
      }
      if (!accepting) {
        l.stopAccepting(); // stopAccepting() ran meanwhile and may have missed it
      }
    }
    return l;
  }

  private static StatusRuntimeException shuttingDown() {
    return Errors.shuttingDown("broker is shutting down; reconnect (to another broker) and retry");
  }

  /** Takes {@code batch} out of whichever link's line it waits in: true if it was waiting. */
  boolean withdraw(PublishBatch batch) {
    for (PeerLink l : links.values()) {
      if (l.withdraw(batch)) {
        return true;
      }
    }
    return false;
  }

  /** The links, one per peer address used so far. */
  public List<PeerLink> links() {
    return new ArrayList<>(links.values());
  }

  /** Open outbound forward streams (at most one per peer): for {@code herald_forward_streams}. */
  public int openStreams() {
    int n = 0;
    for (PeerLink l : links.values()) {
      n += l.streamOpen() ? 1 : 0;
    }
    return n;
  }

  /** Batches in every link's window: for {@code herald_forward_inflight_batches}. */
  public long inFlightBatches() {
    long n = 0;
    for (PeerLink l : links.values()) {
      n += l.inFlightBatches();
    }
    return n;
  }

  /** Event bytes in every link's window: for {@code herald_forward_inflight_bytes}. */
  public long inFlightBytes() {
    long n = 0;
    for (PeerLink l : links.values()) {
      n += l.inFlightBytes();
    }
    return n;
  }

  /** Batches waiting for window room on every link. */
  public long waitingBatches() {
    long n = 0;
    for (PeerLink l : links.values()) {
      n += l.waitingBatches();
    }
    return n;
  }

  /**
   * The metadata marked the peer at {@code address} down: its link fails what it holds with
   * UNAVAILABLE OWNER_UNAVAILABLE (retryable) at once instead of waiting for TCP or keepalive to
   * notice (see {@link PeerLink#peerDown()}). Never blocks; nothing happens without a link to it.
   */
  public void peerDown(String address) {
    PeerLink l = links.get(address);
    if (l != null) {
      l.peerDown();
    }
  }

  /** The metadata has the peer at {@code address} up again: its link, if backing off, reconnects at the next offer. */
  public void peerUp(String address) {
    PeerLink l = links.get(address);
    if (l != null) {
      l.peerUp();
    }
  }

  /**
   * The first step of a graceful stop: links refuse new publishes (UNAVAILABLE SHUTTING_DOWN) and
   * keep sending and answering what they hold; {@link #awaitDrained} waits for that, {@link #close}
   * ends it.
   */
  public void stopAccepting() {
    accepting = false;
    for (PeerLink l : links.values()) {
      l.stopAccepting();
    }
  }

  /**
   * Waits until every link's window and line are empty (answered, failed or withdrawn), at most
   * until {@code deadlineNanos} ({@link System#nanoTime()}); false if some batch is still held then.
   * Blocks: never on a transport thread.
   */
  public boolean awaitDrained(long deadlineNanos) throws InterruptedException {
    TransportThreads.checkMayBlock("waiting for the peer links to drain");
    for (PeerLink l : links.values()) {
      if (!l.awaitDrained(deadlineNanos)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Closes every link (their batches fail with UNAVAILABLE SHUTTING_DOWN) and shuts their channels
   * down, waiting up to 5 s for them. Idempotent. Blocks: never call it on a transport thread.
   */
  @Override
  public void close() {
    TransportThreads.checkMayBlock("closing the peer links");
    closed = true;
    for (PeerLink l : links.values()) {
      close(l);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    for (PeerLink l : links.values()) {
      try {
        if (!l.channel().awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          l.channel().shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        l.channel().shutdownNow();
      }
    }
    timer.shutdownNow(); // the links are closed: their connect checks would find nothing to do
  }

  private static void close(PeerLink l) {
    l.close(shuttingDown());
    l.channel().shutdown();
  }
}
