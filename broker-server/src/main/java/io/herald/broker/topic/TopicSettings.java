package io.herald.broker.topic;

import com.google.protobuf.Duration;
import io.grpc.StatusRuntimeException;
import io.herald.broker.subscription.Policy;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.TopicConfig;

/**
 * A topic's validated, complete configuration. Immutable. Built from a {@link TopicConfig} merged
 * over a base (the broker defaults on create, the current settings on update); every bad value is
 * refused with INVALID_ARGUMENT (reason INVALID_FIELD) naming the field, the value and the allowed range.
 */
public record TopicSettings(
    Policy defaultPolicy,
    int subscriberBufferMaxEvents,
    long subscriberBufferMaxBytes,
    int inboxMaxEvents,
    long inboxMaxBytes,
    boolean rejectWhenFull,
    int maxEventBytes,
    java.time.Duration maxBlock,
    int retentionMaxEvents,
    long retentionMaxBytes,
    java.time.Duration retentionMaxAge,
    java.time.Duration dedupWindow,
    int dedupMaxIds,
    boolean blockPolicyAllowed,
    int publishWaitMaxEvents,
    long publishWaitMaxBytes) {

  public static final long KIB = 1024;
  public static final long MIB = 1024 * KIB;
  public static final long GIB = 1024 * MIB;
  /** Largest event: keeps one event plus framing well under gRPC's 4 MiB message limit. */
  public static final int MAX_EVENT_BYTES_LIMIT = (int) (3 * MIB);

  /** The broker's defaults for a topic created without a config. */
  public static final TopicSettings DEFAULTS = new TopicSettings(
      Policy.DROP_OLDEST,
      10_000, 16 * MIB,
      10_000, 16 * MIB,
      false,
      (int) MIB,
      java.time.Duration.ofSeconds(30),
      10_000, 64 * MIB, java.time.Duration.ofHours(1),
      java.time.Duration.ofMinutes(2), 100_000,
      true,
      100_000, 64 * MIB);

  /** True when publisher-supplied ids are remembered for dedup. */
  public boolean dedupEnabled() {
    return dedupMaxIds > 0 && !dedupWindow.isZero();
  }

  /** Returns these settings with every field that {@code c} sets replaced, after validation. */
  public TopicSettings merge(TopicConfig c) {
    Policy policy = c.getDefaultOverflowPolicyValue() == 0 ? defaultPolicy : policy(c.getDefaultOverflowPolicyValue(), "config.default_overflow_policy");
    boolean reject = switch (c.getPublishOverflowValue()) {
      case 0 -> rejectWhenFull;
      case PublishOverflow.PUBLISH_OVERFLOW_BLOCK_VALUE -> false;
      case PublishOverflow.PUBLISH_OVERFLOW_REJECT_VALUE -> true;
      default -> throw invalid("config.publish_overflow", "config.publish_overflow: unknown value " + c.getPublishOverflowValue() + " (use PUBLISH_OVERFLOW_BLOCK or PUBLISH_OVERFLOW_REJECT)");
    };
    int subEvents = c.hasSubscriberBufferMaxEvents() ? (int) range("config.subscriber_buffer_max_events", Integer.toUnsignedLong(c.getSubscriberBufferMaxEvents()), 1, 1_000_000) : subscriberBufferMaxEvents;
    long subBytes = c.hasSubscriberBufferMaxBytes() ? range("config.subscriber_buffer_max_bytes", c.getSubscriberBufferMaxBytes(), KIB, GIB) : subscriberBufferMaxBytes;
    int inEvents = c.hasInboxMaxEvents() ? (int) range("config.inbox_max_events", Integer.toUnsignedLong(c.getInboxMaxEvents()), 1, 1_000_000) : inboxMaxEvents;
    long inBytes = c.hasInboxMaxBytes() ? range("config.inbox_max_bytes", c.getInboxMaxBytes(), KIB, GIB) : inboxMaxBytes;
    int maxEvent = c.hasMaxEventBytes() ? (int) range("config.max_event_bytes", Integer.toUnsignedLong(c.getMaxEventBytes()), 1, MAX_EVENT_BYTES_LIMIT) : maxEventBytes;
    java.time.Duration block = c.hasMaxBlock() ? duration("config.max_block", c.getMaxBlock(), java.time.Duration.ofHours(1)) : maxBlock;
    int retEvents = retentionMaxEvents;
    long retBytes = retentionMaxBytes;
    java.time.Duration retAge = retentionMaxAge;
    if (c.hasRetention()) {
      Retention r = c.getRetention();
      if (r.hasMaxEvents()) {
        retEvents = (int) range("config.retention.max_events", Integer.toUnsignedLong(r.getMaxEvents()), 0, 10_000_000);
      }
      if (r.hasMaxBytes()) {
        retBytes = range("config.retention.max_bytes", r.getMaxBytes(), 0, 16 * GIB);
      }
      if (r.hasMaxAge()) {
        retAge = duration("config.retention.max_age", r.getMaxAge(), java.time.Duration.ofDays(7));
      }
    }
    java.time.Duration dedup = c.hasDedupWindow() ? duration("config.dedup_window", c.getDedupWindow(), java.time.Duration.ofHours(24)) : dedupWindow;
    int dedupIds = c.hasDedupMaxIds() ? (int) range("config.dedup_max_ids", Integer.toUnsignedLong(c.getDedupMaxIds()), 0, 10_000_000) : dedupMaxIds;
    boolean blockAllowed = c.hasBlockPolicyAllowed() ? c.getBlockPolicyAllowed() : blockPolicyAllowed;
    if (!blockAllowed && policy == Policy.BLOCK) {
      throw invalid("config.default_overflow_policy", "config.default_overflow_policy is OVERFLOW_POLICY_BLOCK while config.block_policy_allowed is false;"
          + " choose a DROP default policy or allow BLOCK");
    }
    int waitEvents = c.hasPublishWaitMaxEvents()
        ? (int) range("config.publish_wait_max_events", Integer.toUnsignedLong(c.getPublishWaitMaxEvents()), 1, 1_000_000) : publishWaitMaxEvents;
    long waitBytes = c.hasPublishWaitMaxBytes() ? range("config.publish_wait_max_bytes", c.getPublishWaitMaxBytes(), KIB, GIB) : publishWaitMaxBytes;
    return new TopicSettings(policy, subEvents, subBytes, inEvents, inBytes, reject, maxEvent, block,
        retEvents, retBytes, retAge, dedup, dedupIds, blockAllowed, waitEvents, waitBytes);
  }

  /** The complete config, every field set. */
  public TopicConfig toProto() {
    return TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(toProto(defaultPolicy))
        .setSubscriberBufferMaxEvents(subscriberBufferMaxEvents)
        .setSubscriberBufferMaxBytes(subscriberBufferMaxBytes)
        .setInboxMaxEvents(inboxMaxEvents)
        .setInboxMaxBytes(inboxMaxBytes)
        .setPublishOverflow(rejectWhenFull ? PublishOverflow.PUBLISH_OVERFLOW_REJECT : PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
        .setMaxEventBytes(maxEventBytes)
        .setMaxBlock(toProto(maxBlock))
        .setRetention(Retention.newBuilder()
            .setMaxEvents(retentionMaxEvents)
            .setMaxBytes(retentionMaxBytes)
            .setMaxAge(toProto(retentionMaxAge)))
        .setDedupWindow(toProto(dedupWindow))
        .setDedupMaxIds(dedupMaxIds)
        .setBlockPolicyAllowed(blockPolicyAllowed)
        .setPublishWaitMaxEvents(publishWaitMaxEvents)
        .setPublishWaitMaxBytes(publishWaitMaxBytes)
        .build();
  }

  /** Maps a wire policy value; 0 (unspecified) is the caller's business. */
  public static Policy policy(int value, String field) {
    return switch (value) {
      case OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST_VALUE -> Policy.DROP_OLDEST;
      case OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST_VALUE -> Policy.DROP_NEWEST;
      case OverflowPolicy.OVERFLOW_POLICY_BLOCK_VALUE -> Policy.BLOCK;
      default -> throw invalid(field, field + ": unknown value " + value
          + " (use OVERFLOW_POLICY_DROP_OLDEST, OVERFLOW_POLICY_DROP_NEWEST or OVERFLOW_POLICY_BLOCK)");
    };
  }

  public static OverflowPolicy toProto(Policy p) {
    return switch (p) {
      case DROP_OLDEST -> OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST;
      case DROP_NEWEST -> OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST;
      case BLOCK -> OverflowPolicy.OVERFLOW_POLICY_BLOCK;
    };
  }

  static Duration toProto(java.time.Duration d) {
    return Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }

  /** Checks an unsigned value against [min, max]; uint64 values above 2^63 arrive negative. */
  static long range(String field, long value, long min, long max) {
    if (value < min || value > max) {
      String shown = value < 0 ? Long.toUnsignedString(value) : Long.toString(value);
      throw invalid(field, field + " = " + shown + " is out of range [" + min + ", " + max + "]");
    }
    return value;
  }

  static java.time.Duration duration(String field, Duration d, java.time.Duration max) {
    if (d.getSeconds() < 0 || d.getNanos() < 0 || d.getNanos() > 999_999_999) {
      throw invalid(field, field + " = " + d.getSeconds() + "s " + d.getNanos() + "ns is not a valid non-negative duration");
    }
    java.time.Duration j = java.time.Duration.ofSeconds(d.getSeconds(), d.getNanos());
    if (j.compareTo(max) > 0) {
      throw invalid(field, field + " = " + j + " is longer than the maximum " + max);
    }
    return j;
  }

  static StatusRuntimeException invalid(String field, String message) {
    return Errors.invalidField(field, message);
  }
}
