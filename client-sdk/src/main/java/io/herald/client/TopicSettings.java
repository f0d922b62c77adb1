package io.herald.client;

import java.time.Duration;
import java.util.Optional;

/**
 * A topic's configuration. In {@link AdminClient#createTopic} unset values take the broker's
 * defaults; in {@link AdminClient#updateTopic} only set values change; the broker's answers have
 * every value set. Immutable; build with {@link #builder()}. The broker checks ranges and says what
 * is wrong ({@link ErrorCode#INVALID_ARGUMENT}); each setter states its default and range, and the
 * constants below name them (the same values as {@code herald/v1/topic.proto}).
 */
public final class TopicSettings {
  /** Default subscriber buffer, events: {@value}. */
  public static final int DEFAULT_SUBSCRIBER_BUFFER_MAX_EVENTS = 10_000;
  /** Default subscriber buffer, bytes: {@value} (16 MiB). */
  public static final long DEFAULT_SUBSCRIBER_BUFFER_MAX_BYTES = 16L << 20;
  /** Default inbox bound, events: {@value}. */
  public static final int DEFAULT_INBOX_MAX_EVENTS = 10_000;
  /** Default inbox bound, bytes: {@value} (16 MiB). */
  public static final long DEFAULT_INBOX_MAX_BYTES = 16L << 20;
  /** Default largest event, bytes: {@value} (1 MiB). */
  public static final int DEFAULT_MAX_EVENT_BYTES = 1 << 20;
  /** Default max block, seconds: {@value}. */
  public static final long DEFAULT_MAX_BLOCK_SECONDS = 30;
  /** Default retention, events: {@value}. */
  public static final int DEFAULT_RETENTION_MAX_EVENTS = 10_000;
  /** Default retention, bytes: {@value} (64 MiB). */
  public static final long DEFAULT_RETENTION_MAX_BYTES = 64L << 20;
  /** Default retention, age in seconds: {@value} (1 h). */
  public static final long DEFAULT_RETENTION_MAX_AGE_SECONDS = 3_600;
  /** Default dedup window, seconds: {@value} (2 min). */
  public static final long DEFAULT_DEDUP_WINDOW_SECONDS = 120;
  /** Default dedup ids remembered: {@value}. */
  public static final int DEFAULT_DEDUP_MAX_IDS = 100_000;

  /** Largest subscriber buffer or inbox, events: {@value} (the least is 1). */
  public static final int MAX_BUFFER_EVENTS = 1_000_000;
  /** Smallest subscriber buffer or inbox, bytes: {@value} (1 KiB). */
  public static final long MIN_BUFFER_BYTES = 1L << 10;
  /** Largest subscriber buffer or inbox, bytes: {@value} (1 GiB). */
  public static final long MAX_BUFFER_BYTES = 1L << 30;
  /** Largest max event size, bytes: {@value} (3 MiB; the least is 1). */
  public static final int MAX_EVENT_BYTES_LIMIT = 3 << 20;
  /** Longest max block, seconds: {@value} (1 h; the least is 0). */
  public static final long MAX_BLOCK_LIMIT_SECONDS = 3_600;
  /** Largest retention, events: {@value} (the least is 0). */
  public static final int MAX_RETENTION_EVENTS = 10_000_000;
  /** Largest retention, bytes: {@value} (16 GiB; the least is 0). */
  public static final long MAX_RETENTION_BYTES = 16L << 30;
  /** Longest retention age, seconds: {@value} (7 days; the least is 0). */
  public static final long MAX_RETENTION_AGE_SECONDS = 7 * 24 * 3_600;
  /** Longest dedup window, seconds: {@value} (24 h; 0 turns dedup off). */
  public static final long MAX_DEDUP_WINDOW_SECONDS = 24 * 3_600;
  /** Most dedup ids: {@value} (0 turns dedup off). */
  public static final int MAX_DEDUP_MAX_IDS = 10_000_000;

  /** What a publish does when the topic's inbox is full. */
  public enum PublishOverflow {
    /** Backpressure: the publisher is slowed (default). */
    BLOCK,
    /** Shed load: the batch is refused with RESOURCE_EXHAUSTED (the SDK retries it with backoff). */
    REJECT
  }

  private final OverflowPolicy defaultPolicy;
  private final Integer subscriberBufferMaxEvents;
  private final Long subscriberBufferMaxBytes;
  private final Integer inboxMaxEvents;
  private final Long inboxMaxBytes;
  private final PublishOverflow publishOverflow;
  private final Integer maxEventBytes;
  private final Duration maxBlock;
  private final Integer retentionMaxEvents;
  private final Long retentionMaxBytes;
  private final Duration retentionMaxAge;
  private final Duration dedupWindow;
  private final Integer dedupMaxIds;

  private TopicSettings(Builder b) {
    defaultPolicy = b.defaultPolicy;
    subscriberBufferMaxEvents = b.subscriberBufferMaxEvents;
    subscriberBufferMaxBytes = b.subscriberBufferMaxBytes;
    inboxMaxEvents = b.inboxMaxEvents;
    inboxMaxBytes = b.inboxMaxBytes;
    publishOverflow = b.publishOverflow;
    maxEventBytes = b.maxEventBytes;
    maxBlock = b.maxBlock;
    retentionMaxEvents = b.retentionMaxEvents;
    retentionMaxBytes = b.retentionMaxBytes;
    retentionMaxAge = b.retentionMaxAge;
    dedupWindow = b.dedupWindow;
    dedupMaxIds = b.dedupMaxIds;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** All broker defaults. */
  public static TopicSettings defaults() {
    return new Builder().build();
  }

  public Optional<OverflowPolicy> defaultPolicy() { return Optional.ofNullable(defaultPolicy); }
  public Optional<Integer> subscriberBufferMaxEvents() { return Optional.ofNullable(subscriberBufferMaxEvents); }
  public Optional<Long> subscriberBufferMaxBytes() { return Optional.ofNullable(subscriberBufferMaxBytes); }
  public Optional<Integer> inboxMaxEvents() { return Optional.ofNullable(inboxMaxEvents); }
  public Optional<Long> inboxMaxBytes() { return Optional.ofNullable(inboxMaxBytes); }
  public Optional<PublishOverflow> publishOverflow() { return Optional.ofNullable(publishOverflow); }
  public Optional<Integer> maxEventBytes() { return Optional.ofNullable(maxEventBytes); }
  public Optional<Duration> maxBlock() { return Optional.ofNullable(maxBlock); }
  public Optional<Integer> retentionMaxEvents() { return Optional.ofNullable(retentionMaxEvents); }
  public Optional<Long> retentionMaxBytes() { return Optional.ofNullable(retentionMaxBytes); }
  public Optional<Duration> retentionMaxAge() { return Optional.ofNullable(retentionMaxAge); }
  public Optional<Duration> dedupWindow() { return Optional.ofNullable(dedupWindow); }
  public Optional<Integer> dedupMaxIds() { return Optional.ofNullable(dedupMaxIds); }

  @Override
  public String toString() {
    return "TopicSettings{policy=" + defaultPolicy + ", subscriberBuffer=" + subscriberBufferMaxEvents + "/" + subscriberBufferMaxBytes
        + ", inbox=" + inboxMaxEvents + "/" + inboxMaxBytes + ", publishOverflow=" + publishOverflow + ", maxEventBytes=" + maxEventBytes
        + ", maxBlock=" + maxBlock + ", retention=" + retentionMaxEvents + "/" + retentionMaxBytes + "/" + retentionMaxAge
        + ", dedup=" + dedupWindow + "/" + dedupMaxIds + "}";
  }

  /** Builds {@link TopicSettings}; unset values stay unset. Not thread-safe. */
  public static final class Builder {
    private OverflowPolicy defaultPolicy;
    private Integer subscriberBufferMaxEvents;
    private Long subscriberBufferMaxBytes;
    private Integer inboxMaxEvents;
    private Long inboxMaxBytes;
    private PublishOverflow publishOverflow;
    private Integer maxEventBytes;
    private Duration maxBlock;
    private Integer retentionMaxEvents;
    private Long retentionMaxBytes;
    private Duration retentionMaxAge;
    private Duration dedupWindow;
    private Integer dedupMaxIds;

    private Builder() { }

    /**
     * Policy of subscriptions that choose none ({@link OverflowPolicy#TOPIC_DEFAULT}): DROP_OLDEST,
     * DROP_NEWEST or BLOCK; default DROP_OLDEST.
     */
    public Builder defaultPolicy(OverflowPolicy p) {
      if (p == OverflowPolicy.TOPIC_DEFAULT) {
        throw new IllegalArgumentException("a topic's default policy must be DROP_OLDEST, DROP_NEWEST or BLOCK");
      }
      defaultPolicy = p;
      return this;
    }

    /**
     * Default and largest subscriber buffer on the broker (a subscription may ask for less):
     * see {@link #subscriberBufferMaxEvents} and {@link #subscriberBufferMaxBytes}.
     */
    public Builder subscriberBuffer(int maxEvents, long maxBytes) {
      subscriberBufferMaxEvents = maxEvents;
      subscriberBufferMaxBytes = maxBytes;
      return this;
    }

    /**
     * Default and largest subscriber buffer in events: 1..{@value TopicSettings#MAX_BUFFER_EVENTS};
     * default {@value TopicSettings#DEFAULT_SUBSCRIBER_BUFFER_MAX_EVENTS}. Memory: per subscriber.
     */
    public Builder subscriberBufferMaxEvents(int n) { subscriberBufferMaxEvents = n; return this; }

    /**
     * Default and largest subscriber buffer in bytes:
     * {@value TopicSettings#MIN_BUFFER_BYTES}..{@value TopicSettings#MAX_BUFFER_BYTES}; default
     * {@value TopicSettings#DEFAULT_SUBSCRIBER_BUFFER_MAX_BYTES} (16 MiB). Memory: per subscriber.
     */
    public Builder subscriberBufferMaxBytes(long n) { subscriberBufferMaxBytes = n; return this; }

    /** Bound of accepted, not yet sequenced events: see {@link #inboxMaxEvents} and {@link #inboxMaxBytes}. */
    public Builder inbox(int maxEvents, long maxBytes) {
      inboxMaxEvents = maxEvents;
      inboxMaxBytes = maxBytes;
      return this;
    }

    /**
     * Inbox bound in events: 1..{@value TopicSettings#MAX_BUFFER_EVENTS}; default
     * {@value TopicSettings#DEFAULT_INBOX_MAX_EVENTS}.
     */
    public Builder inboxMaxEvents(int n) { inboxMaxEvents = n; return this; }

    /**
     * Inbox bound in bytes: {@value TopicSettings#MIN_BUFFER_BYTES}..{@value TopicSettings#MAX_BUFFER_BYTES};
     * default {@value TopicSettings#DEFAULT_INBOX_MAX_BYTES} (16 MiB).
     */
    public Builder inboxMaxBytes(long n) { inboxMaxBytes = n; return this; }

    /** What a publish does when the inbox is full; default {@link PublishOverflow#BLOCK}. */
    public Builder publishOverflow(PublishOverflow p) { publishOverflow = p; return this; }

    /**
     * Largest serialised event accepted: 1..{@value TopicSettings#MAX_EVENT_BYTES_LIMIT} (3 MiB);
     * default {@value TopicSettings#DEFAULT_MAX_EVENT_BYTES} (1 MiB).
     */
    public Builder maxEventBytes(int n) { maxEventBytes = n; return this; }

    /**
     * How long a BLOCK subscriber may hold the topic back before it is evicted as a slow consumer:
     * 0..{@value TopicSettings#MAX_BLOCK_LIMIT_SECONDS} s; default
     * {@value TopicSettings#DEFAULT_MAX_BLOCK_SECONDS} s.
     */
    public Builder maxBlock(Duration d) { maxBlock = d; return this; }

    /**
     * History kept for EARLIEST / SEQUENCE starts and resumes, trimmed by whichever limit is reached
     * first: see {@link #retentionMaxEvents}, {@link #retentionMaxBytes}, {@link #retentionMaxAge}.
     */
    public Builder retention(int maxEvents, long maxBytes, Duration maxAge) {
      retentionMaxEvents = maxEvents;
      retentionMaxBytes = maxBytes;
      retentionMaxAge = maxAge;
      return this;
    }

    /**
     * Retained events: 0..{@value TopicSettings#MAX_RETENTION_EVENTS} (0 keeps none); default
     * {@value TopicSettings#DEFAULT_RETENTION_MAX_EVENTS}.
     */
    public Builder retentionMaxEvents(int n) { retentionMaxEvents = n; return this; }

    /**
     * Retained bytes: 0..{@value TopicSettings#MAX_RETENTION_BYTES} (16 GiB; 0 keeps none); default
     * {@value TopicSettings#DEFAULT_RETENTION_MAX_BYTES} (64 MiB).
     */
    public Builder retentionMaxBytes(long n) { retentionMaxBytes = n; return this; }

    /**
     * Oldest retained event's age: 0..{@value TopicSettings#MAX_RETENTION_AGE_SECONDS} s (7 days; 0 keeps
     * none); default {@value TopicSettings#DEFAULT_RETENTION_MAX_AGE_SECONDS} s (1 h).
     */
    public Builder retentionMaxAge(Duration d) { retentionMaxAge = d; return this; }

    /** Dedup of publisher ids: see {@link #dedupWindow} and {@link #dedupMaxIds}; either 0 turns it off. */
    public Builder dedup(Duration window, int maxIds) {
      dedupWindow = window;
      dedupMaxIds = maxIds;
      return this;
    }

    /**
     * How long an event id is remembered, so that a retried publish is acknowledged and not
     * delivered twice: 0..{@value TopicSettings#MAX_DEDUP_WINDOW_SECONDS} s (0 turns dedup off);
     * default {@value TopicSettings#DEFAULT_DEDUP_WINDOW_SECONDS} s.
     */
    public Builder dedupWindow(Duration d) { dedupWindow = d; return this; }

    /**
     * How many ids the dedup window remembers at most: 0..{@value TopicSettings#MAX_DEDUP_MAX_IDS}
     * (0 turns dedup off); default {@value TopicSettings#DEFAULT_DEDUP_MAX_IDS}.
     */
    public Builder dedupMaxIds(int n) { dedupMaxIds = n; return this; }

    public TopicSettings build() {
      return new TopicSettings(this);
    }
  }
}
