package io.herald.client;

import java.time.Duration;
import java.util.Optional;

/**
 * A topic's configuration. In {@link AdminClient#createTopic} unset values take the broker's
 * defaults; in {@link AdminClient#updateTopic} only set values change; the broker's answers have
 * every value set. Immutable; build with {@link #builder()}. The broker checks ranges and says what
 * is wrong ({@link ErrorCode#INVALID_ARGUMENT}).
 */
public final class TopicSettings {
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

    /** Policy of subscriptions that choose none (TOPIC_DEFAULT is not allowed here). */
    public Builder defaultPolicy(OverflowPolicy p) {
      if (p == OverflowPolicy.TOPIC_DEFAULT) {
        throw new IllegalArgumentException("a topic's default policy must be DROP_OLDEST, DROP_NEWEST or BLOCK");
      }
      defaultPolicy = p;
      return this;
    }

    /** Default and maximum subscriber buffer (broker side). */
    public Builder subscriberBuffer(int maxEvents, long maxBytes) {
      subscriberBufferMaxEvents = maxEvents;
      subscriberBufferMaxBytes = maxBytes;
      return this;
    }

    public Builder subscriberBufferMaxEvents(int n) { subscriberBufferMaxEvents = n; return this; }
    public Builder subscriberBufferMaxBytes(long n) { subscriberBufferMaxBytes = n; return this; }

    /** Bound of accepted, not yet sequenced events. */
    public Builder inbox(int maxEvents, long maxBytes) {
      inboxMaxEvents = maxEvents;
      inboxMaxBytes = maxBytes;
      return this;
    }

    public Builder inboxMaxEvents(int n) { inboxMaxEvents = n; return this; }
    public Builder inboxMaxBytes(long n) { inboxMaxBytes = n; return this; }
    public Builder publishOverflow(PublishOverflow p) { publishOverflow = p; return this; }
    public Builder maxEventBytes(int n) { maxEventBytes = n; return this; }

    /** How long a BLOCK subscriber may hold the topic back before it is evicted. */
    public Builder maxBlock(Duration d) { maxBlock = d; return this; }

    /** History kept for EARLIEST / SEQUENCE starts and resumes; each may be 0. */
    public Builder retention(int maxEvents, long maxBytes, Duration maxAge) {
      retentionMaxEvents = maxEvents;
      retentionMaxBytes = maxBytes;
      retentionMaxAge = maxAge;
      return this;
    }

    public Builder retentionMaxEvents(int n) { retentionMaxEvents = n; return this; }
    public Builder retentionMaxBytes(long n) { retentionMaxBytes = n; return this; }
    public Builder retentionMaxAge(Duration d) { retentionMaxAge = d; return this; }

    /** Dedup of publisher ids: for how long, and how many ids at most (0 turns it off). */
    public Builder dedup(Duration window, int maxIds) {
      dedupWindow = window;
      dedupMaxIds = maxIds;
      return this;
    }

    public Builder dedupWindow(Duration d) { dedupWindow = d; return this; }
    public Builder dedupMaxIds(int n) { dedupMaxIds = n; return this; }

    public TopicSettings build() {
      return new TopicSettings(this);
    }
  }
}
