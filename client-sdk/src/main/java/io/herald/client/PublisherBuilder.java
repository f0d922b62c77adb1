package io.herald.client;

import io.herald.client.internal.ClientCore;
import io.herald.client.internal.PublisherImpl;
import java.time.Duration;
import java.util.Objects;

/**
 * Configures a {@link Publisher}. Obtained from {@link HeraldClient#publisher(String)}; not
 * thread-safe; {@link #create()} may be called more than once (each call makes a new publisher with
 * its own stream).
 *
 * <p>Bounds follow one rule: a bound you pass is a bound (at least 1, within the range its setter
 * states); a bound you leave out takes its default. No setter takes 0 to mean "none" or "default";
 * a publisher is always bounded.
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
  /** Most batches on the wire awaiting their acks: {@value}. */
  public static final int MAX_IN_FLIGHT_BATCHES_LIMIT = 1024;

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

  /**
   * How events are grouped into messages; default {@link Batching#defaults()} ({@value Batching#DEFAULT_MAX_EVENTS}
   * events, {@value Batching#DEFAULT_MAX_BYTES} bytes, {@value Batching#DEFAULT_LINGER_MILLIS} ms).
   */
  public PublisherBuilder batching(Batching batching) {
    this.batching = Objects.requireNonNull(batching, "batching");
    return this;
  }

  /**
   * Bounds what the publisher holds in events: events accepted by {@code publish} and not yet
   * acknowledged by the broker; the byte bound stays {@value #DEFAULT_MAX_PENDING_BYTES} (64 MiB).
   * {@code maxEvents} &gt;= 1; default {@value #DEFAULT_MAX_PENDING_EVENTS}. Memory cost: the
   * events' bytes plus ~100 bytes per event.
   */
  public PublisherBuilder maxPending(long maxEvents) {
    return maxPending(maxEvents, DEFAULT_MAX_PENDING_BYTES);
  }

  /**
   * Bounds what the publisher holds in events and in bytes (serialised events), whichever is
   * reached first: see {@link #maxPending(long)}. {@code maxBytes} &gt;= 1; default
   * {@value #DEFAULT_MAX_PENDING_BYTES} (64 MiB). Memory cost: about {@code maxBytes} plus ~100
   * bytes per event. An event larger than {@code maxBytes} is still accepted when nothing else is
   * pending, so that it cannot be refused for ever.
   */
  public PublisherBuilder maxPending(long maxEvents, long maxBytes) {
    if (maxEvents < 1) {
      throw new IllegalArgumentException("maxPending events must be >= 1; got " + maxEvents);
    }
    if (maxBytes < 1) {
      throw new IllegalArgumentException("maxPending bytes must be >= 1 (a publisher is always bounded); got " + maxBytes
          + " (for the default " + DEFAULT_MAX_PENDING_BYTES + ", use maxPending(" + maxEvents + "))");
    }
    this.maxPendingEvents = maxEvents;
    this.maxPendingBytes = maxBytes;
    return this;
  }

  /**
   * What {@code publish} does when the pending buffer is full; default
   * {@code WhenFull.blockUpTo(}{@value #DEFAULT_MAX_BLOCK_SECONDS} s{@code )}.
   */
  public PublisherBuilder whenFull(WhenFull whenFull) {
    this.whenFull = Objects.requireNonNull(whenFull, "whenFull");
    return this;
  }

  /**
   * Backoff for reconnects and retries, and the total timeout that bounds every publish; default
   * the client's ({@link HeraldClient.Builder#retry}, itself {@link RetrySettings#DEFAULT} unless set).
   */
  public PublisherBuilder retry(RetrySettings retry) {
    this.retry = Objects.requireNonNull(retry, "retry");
    return this;
  }

  /**
   * Batches sent and awaiting acks: 1..{@value #MAX_IN_FLIGHT_BATCHES_LIMIT}; default
   * {@value #DEFAULT_MAX_IN_FLIGHT_BATCHES}. More hides more round-trip latency; the broker reads at
   * most 32 unanswered batches per stream.
   */
  public PublisherBuilder maxInFlightBatches(int n) {
    if (n < 1 || n > MAX_IN_FLIGHT_BATCHES_LIMIT) {
      throw new IllegalArgumentException("maxInFlightBatches must be 1.." + MAX_IN_FLIGHT_BATCHES_LIMIT + "; got " + n);
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
