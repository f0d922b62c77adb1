package io.herald.client;

import java.time.Duration;

/**
 * How a publisher groups events into one message to the broker: a batch is sent when it holds
 * {@code maxEvents} events or {@code maxBytes} bytes, or {@code linger} after its first event,
 * whichever comes first. With a zero linger an event goes out at once if the stream has room, and
 * what piles up while it has none goes out together. Immutable; "with" methods return a copy.
 */
public final class Batching {
  /** Default events per batch: {@value}. */
  public static final int DEFAULT_MAX_EVENTS = 500;
  /** Default bytes per batch: {@value} (1 MiB; the broker accepts messages up to 4 MiB). */
  public static final long DEFAULT_MAX_BYTES = 1L << 20;
  /** Default linger in milliseconds: {@value}. */
  public static final long DEFAULT_LINGER_MILLIS = 2;
  /** Largest allowed batch: {@value} events (the broker's limit per publish). */
  public static final int MAX_EVENTS_LIMIT = 10_000;
  /** Largest allowed batch bytes: {@value} (below gRPC's 4 MiB message limit). */
  public static final long MAX_BYTES_LIMIT = 3L << 20;

  private static final Batching DEFAULTS = new Batching(DEFAULT_MAX_EVENTS, DEFAULT_MAX_BYTES, Duration.ofMillis(DEFAULT_LINGER_MILLIS));

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
    if (linger.isNegative() || linger.compareTo(Duration.ofSeconds(10)) > 0) {
      throw new IllegalArgumentException("batch linger must be 0..10s; got " + linger);
    }
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
    this.linger = linger;
  }

  /** 500 events, 1 MiB, 2 ms. */
  public static Batching defaults() {
    return DEFAULTS;
  }

  /** No batching: every event is sent on its own, at once. */
  public static Batching none() {
    return new Batching(1, MAX_BYTES_LIMIT, Duration.ZERO);
  }

  /**
   * No added latency: an event is sent at once when the stream has room, and events published
   * while it has none are sent together as soon as it does (up to {@code maxEvents}/{@code maxBytes}).
   */
  public static Batching immediate() {
    return new Batching(DEFAULT_MAX_EVENTS, DEFAULT_MAX_BYTES, Duration.ZERO);
  }

  public static Batching maxEvents(int maxEvents) {
    return DEFAULTS.withMaxEvents(maxEvents);
  }

  public Batching withMaxEvents(int n) {
    return new Batching(n, maxBytes, linger);
  }

  public Batching maxBytes(long n) {
    return new Batching(maxEvents, n, linger);
  }

  public Batching linger(Duration d) {
    return new Batching(maxEvents, maxBytes, d);
  }

  public int maxEvents() {
    return maxEvents;
  }

  public long maxBytes() {
    return maxBytes;
  }

  public Duration linger() {
    return linger;
  }

  @Override
  public String toString() {
    return "Batching{maxEvents=" + maxEvents + ", maxBytes=" + maxBytes + ", linger=" + linger + "}";
  }
}
