package io.herald.client;

import io.herald.client.internal.ClientCore;
import io.herald.client.internal.PublisherImpl;
import java.time.Duration;
import java.util.Objects;

/**
 * Configures a {@link Publisher}. Obtained from {@link HeraldClient#publisher(String)}; not
 * thread-safe; {@link #create()} may be called more than once (each call makes a new publisher with
 * its own stream).
 */
public final class PublisherBuilder {
  /** Default bound of events accepted and not yet acknowledged: {@value}. */
  public static final long DEFAULT_MAX_PENDING_EVENTS = 10_000;
  /** Default bound of bytes accepted and not yet acknowledged: {@value} (64 MiB). */
  public static final long DEFAULT_MAX_PENDING_BYTES = 64L << 20;
  /** Default time {@code publish} blocks on a full buffer, in seconds: {@value}. */
  public static final long DEFAULT_MAX_BLOCK_SECONDS = 10;
  /** Default batches on the wire awaiting their acks: {@value}. */
  public static final int DEFAULT_MAX_IN_FLIGHT_BATCHES = 16;

  private final ClientCore core;
  private final String topic;
  private Batching batching = Batching.defaults();
  private long maxPendingEvents = DEFAULT_MAX_PENDING_EVENTS;
  private long maxPendingBytes = DEFAULT_MAX_PENDING_BYTES;
  private WhenFull whenFull = WhenFull.blockUpTo(Duration.ofSeconds(DEFAULT_MAX_BLOCK_SECONDS));
  private RetrySettings retry;
  private int maxInFlightBatches = DEFAULT_MAX_IN_FLIGHT_BATCHES;

  PublisherBuilder(ClientCore core, String topic) {
    this.core = core;
    this.topic = Objects.requireNonNull(topic, "topic");
    this.retry = core.retry();
  }

  /** How events are grouped into messages; default {@link Batching#defaults()}. */
  public PublisherBuilder batching(Batching batching) {
    this.batching = Objects.requireNonNull(batching, "batching");
    return this;
  }

  /**
   * Bounds what the publisher holds: events accepted by {@code publish} and not yet acknowledged
   * by the broker. Memory cost is about {@code maxBytes} plus ~100 bytes per event. Defaults
   * {@value #DEFAULT_MAX_PENDING_EVENTS} events and 64 MiB.
   */
  public PublisherBuilder maxPending(long maxEvents, long maxBytes) {
    if (maxEvents < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("maxPending must be positive; got " + maxEvents + " events, " + maxBytes + " bytes");
    }
    this.maxPendingEvents = maxEvents;
    this.maxPendingBytes = maxBytes;
    return this;
  }

  /** What {@code publish} does when the pending buffer is full; default block up to 10 s. */
  public PublisherBuilder whenFull(WhenFull whenFull) {
    this.whenFull = Objects.requireNonNull(whenFull, "whenFull");
    return this;
  }

  /** Backoff for reconnects and retries; default the client's ({@link RetrySettings#DEFAULT}). */
  public PublisherBuilder retry(RetrySettings retry) {
    this.retry = Objects.requireNonNull(retry, "retry");
    return this;
  }

  /** Batches sent and awaiting acks (default {@value #DEFAULT_MAX_IN_FLIGHT_BATCHES}). */
  public PublisherBuilder maxInFlightBatches(int n) {
    if (n < 1 || n > 1024) {
      throw new IllegalArgumentException("maxInFlightBatches must be 1..1024; got " + n);
    }
    this.maxInFlightBatches = n;
    return this;
  }

  /**
   * Creates the publisher; its stream opens at once and reconnects by itself. Throws
   * {@link HeraldException.ClosedException} if the client is closed or closing; a publisher this
   * returns is closed by {@link HeraldClient#close()}.
   */
  public Publisher create() {
    PublisherImpl p = core.register(new PublisherImpl(core, topic, batching, maxPendingEvents, maxPendingBytes, whenFull, retry,
        maxInFlightBatches));
    p.start();
    return p;
  }
}
