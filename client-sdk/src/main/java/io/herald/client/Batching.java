package io.herald.client;

import java.time.Duration;
import java.util.Objects;

/**
 * How a publisher groups events into one message to the broker: a batch is sent when it holds
 * {@code maxEvents} events or {@code maxBytes} bytes, or {@code linger} after its first event,
 * whichever comes first. A batch never holds more than {@code maxBytes} bytes of serialised events:
 * an event that would take it past the bound goes into the next batch (an event larger than the
 * bound goes alone), so no batch passes the broker's 4 MiB message limit. With a zero linger an event goes out at once if the stream has room, and
 * what piles up while it has none goes out together.
 *
 * <p>Start from one of the three starting points and change what you need; each setter returns a
 * copy with that one value changed, so {@code Batching.immediate().maxEvents(100)} keeps the zero
 * linger. There is no static setter to call by mistake through an instance.
 *
 * <pre>{@code
 * Batching.defaults().maxEvents(100).linger(Duration.ofMillis(5))
 * }</pre>
 *
 * <p>Memory: a batch holds its events until the broker acknowledges it, within the publisher's
 * pending bound ({@link PublisherBuilder#maxPending}). Immutable and thread-safe.
 */
public final class Batching {
  /** Default events per batch: {@value}. */
  public static final int DEFAULT_MAX_EVENTS = 500;
  /** Default bytes per batch: {@value} (1 MiB). */
  public static final long DEFAULT_MAX_BYTES = 1L << 20;
  /** Default linger in milliseconds: {@value}. */
  public static final long DEFAULT_LINGER_MILLIS = 2;
  /** Largest allowed batch: {@value} events (the broker's limit per publish). */
  public static final int MAX_EVENTS_LIMIT = 10_000;
  /**
   * Largest allowed batch bytes, and largest event the SDK sends: {@value} (3 MiB; a message must
   * stay under gRPC's 4 MiB limit with its framing).
   */
  public static final long MAX_BYTES_LIMIT = 3L << 20;
  /** Longest allowed linger in seconds: {@value}. */
  public static final long MAX_LINGER_SECONDS = 10;

  private static final Batching DEFAULTS = new Batching(DEFAULT_MAX_EVENTS, DEFAULT_MAX_BYTES, Duration.ofMillis(DEFAULT_LINGER_MILLIS));
  private static final Batching IMMEDIATE = new Batching(DEFAULT_MAX_EVENTS, DEFAULT_MAX_BYTES, Duration.ZERO);
  private static final Batching NONE = new Batching(1, MAX_BYTES_LIMIT, Duration.ZERO);

  private final int maxEvents;
  private final long maxBytes;
  private final Duration linger;

  private Batching(int maxEvents, long maxBytes, Duration linger) {
    if (maxEvents < 1 || maxEvents > MAX_EVENTS_LIMIT) {
      throw new IllegalArgumentException("batch maxEvents must be 1.." + MAX_EVENTS_LIMIT + "; got " + maxEvents);
    }
    if (maxBytes < 1 || maxBytes > MAX_BYTES_LIMIT) {
      throw new IllegalArgumentException("batch maxBytes must be 1.." + MAX_BYTES_LIMIT + "; got " + maxBytes);
    }
    Objects.requireNonNull(linger, "linger");
    if (linger.isNegative() || linger.compareTo(Duration.ofSeconds(MAX_LINGER_SECONDS)) > 0) {
      throw new IllegalArgumentException("batch linger must be 0.." + MAX_LINGER_SECONDS + "s; got " + linger);
    }
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
    this.linger = linger;
  }

  /**
   * {@value #DEFAULT_MAX_EVENTS} events, {@value #DEFAULT_MAX_BYTES} bytes, {@value #DEFAULT_LINGER_MILLIS} ms
   * linger: throughput for a small latency.
   */
  public static Batching defaults() {
    return DEFAULTS;
  }

  /**
   * No added latency: an event is sent at once when the stream has room, and events published
   * while it has none are sent together as soon as it does (up to {@value #DEFAULT_MAX_EVENTS}
   * events / {@value #DEFAULT_MAX_BYTES} bytes). Zero linger.
   */
  public static Batching immediate() {
    return IMMEDIATE;
  }

  /** No batching: every event is a message of its own, sent at once (1 event, zero linger). */
  public static Batching none() {
    return NONE;
  }

  /** A copy with at most {@code maxEvents} events per batch: 1..{@value #MAX_EVENTS_LIMIT}. */
  public Batching maxEvents(int maxEvents) {
    return new Batching(maxEvents, maxBytes, linger);
  }

  /**
   * A copy whose batches hold at most {@code maxBytes} bytes of serialised events, sent as soon as
   * they reach it; an event that would pass it starts the next batch: 1..{@value #MAX_BYTES_LIMIT}.
   */
  public Batching maxBytes(long maxBytes) {
    return new Batching(maxEvents, maxBytes, linger);
  }

  /**
   * A copy whose batches wait at most {@code linger} after their first event:
   * 0..{@value #MAX_LINGER_SECONDS} s. Keep it well below the publisher's total timeout
   * ({@link RetrySettings#totalTimeout()}), which counts from a batch's first event.
   */
  public Batching linger(Duration linger) {
    return new Batching(maxEvents, maxBytes, linger);
  }

  /** Events per batch at most. */
  public int maxEvents() {
    return maxEvents;
  }

  /** Bytes at which a batch is sent. */
  public long maxBytes() {
    return maxBytes;
  }

  /** The longest a batch waits for more events. */
  public Duration linger() {
    return linger;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Batching b && b.maxEvents == maxEvents && b.maxBytes == maxBytes && b.linger.equals(linger);
  }

  @Override
  public int hashCode() {
    return Objects.hash(maxEvents, maxBytes, linger);
  }

  @Override
  public String toString() {
    return "Batching{maxEvents=" + maxEvents + ", maxBytes=" + maxBytes + ", linger=" + linger + "}";
  }
}
