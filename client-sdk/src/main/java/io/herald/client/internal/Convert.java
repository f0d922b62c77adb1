package io.herald.client.internal;

import com.google.protobuf.Timestamp;
import io.herald.client.Event;
import io.herald.client.Gap;
import io.herald.client.GapReason;
import io.herald.client.OverflowPolicy;
import io.herald.client.PublishReceipt;
import io.herald.client.SubscriptionInfo;
import io.herald.client.TopicInfo;
import io.herald.client.TopicSettings;
import io.herald.client.TopicStats;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.Topic;
import io.herald.proto.v1.TopicConfig;
import java.time.Duration;
import java.time.Instant;

/** Between the SDK's types and the wire types. */
public final class Convert {
  private Convert() { }

  public static Event fromProto(io.herald.proto.v1.Event p) {
    return WireAccess.toEvent(p);
  }



  static Gap gap(GapNotice g) {
    GapReason r = switch (g.getReason()) {
      case GAP_REASON_DROPPED -> GapReason.DROPPED;
      case GAP_REASON_EVICTED -> GapReason.EVICTED;
      case GAP_REASON_RETENTION -> GapReason.RETENTION;
      case GAP_REASON_CRASH_RECOVERY -> GapReason.CRASH_RECOVERY;
      case GAP_REASON_TOPIC_RECREATED -> GapReason.TOPIC_RECREATED;
      case GAP_REASON_LOOP_RESTARTED -> GapReason.LOOP_RESTARTED;
      case GAP_REASON_OWNER_CHANGE -> GapReason.OWNER_CHANGE;
      default -> GapReason.UNKNOWN;
    };
    return new Gap(g.getFirstSequence(), g.getLastSequence(), g.getCount(), r, g.getEpoch(), g.getCountUnknown());
  }

  /** A receipt for the event with {@code id} (acks carry an id only when the broker assigned it). */
  static PublishReceipt receipt(PublishAck a, String id) {
    return new PublishReceipt(a.getId().isEmpty() ? id : a.getId(), a.getSequence(), a.getEpoch(), instant(a.getPublishTime()), a.getDuplicate());
  }

  static Timestamp ts(Instant i) {
    return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
  }

  static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }

  static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }

  static io.herald.proto.v1.OverflowPolicy policy(OverflowPolicy p) {
    return switch (p) {
      case TOPIC_DEFAULT -> io.herald.proto.v1.OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED;
      case DROP_OLDEST -> io.herald.proto.v1.OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST;
      case DROP_NEWEST -> io.herald.proto.v1.OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST;
      case BLOCK -> io.herald.proto.v1.OverflowPolicy.OVERFLOW_POLICY_BLOCK;
    };
  }

  static OverflowPolicy policy(io.herald.proto.v1.OverflowPolicy p) {
    return switch (p) {
      case OVERFLOW_POLICY_DROP_OLDEST -> OverflowPolicy.DROP_OLDEST;
      case OVERFLOW_POLICY_DROP_NEWEST -> OverflowPolicy.DROP_NEWEST;
      case OVERFLOW_POLICY_BLOCK -> OverflowPolicy.BLOCK;
      default -> OverflowPolicy.TOPIC_DEFAULT;
    };
  }

  static TopicConfig config(TopicSettings s) {
    TopicConfig.Builder b = TopicConfig.newBuilder();
    s.defaultPolicy().ifPresent(p -> b.setDefaultOverflowPolicy(policy(p)));
    s.subscriberBufferMaxEvents().ifPresent(b::setSubscriberBufferMaxEvents);
    s.subscriberBufferMaxBytes().ifPresent(b::setSubscriberBufferMaxBytes);
    s.inboxMaxEvents().ifPresent(b::setInboxMaxEvents);
    s.inboxMaxBytes().ifPresent(b::setInboxMaxBytes);
    s.publishOverflow().ifPresent(p -> b.setPublishOverflow(p == TopicSettings.PublishOverflow.REJECT
        ? PublishOverflow.PUBLISH_OVERFLOW_REJECT : PublishOverflow.PUBLISH_OVERFLOW_BLOCK));
    s.maxEventBytes().ifPresent(b::setMaxEventBytes);
    s.maxBlock().ifPresent(d -> b.setMaxBlock(duration(d)));
    if (s.retentionMaxEvents().isPresent() || s.retentionMaxBytes().isPresent() || s.retentionMaxAge().isPresent()) {
      Retention.Builder r = Retention.newBuilder();
      s.retentionMaxEvents().ifPresent(r::setMaxEvents);
      s.retentionMaxBytes().ifPresent(r::setMaxBytes);
      s.retentionMaxAge().ifPresent(d -> r.setMaxAge(duration(d)));
      b.setRetention(r);
    }
    s.dedupWindow().ifPresent(d -> b.setDedupWindow(duration(d)));
    s.dedupMaxIds().ifPresent(b::setDedupMaxIds);
    return b.build();
  }

  static TopicSettings settings(TopicConfig c) {
    TopicSettings.Builder b = TopicSettings.builder();
    OverflowPolicy p = policy(c.getDefaultOverflowPolicy());
    if (p != OverflowPolicy.TOPIC_DEFAULT) {
      b.defaultPolicy(p);
    }
    if (c.hasSubscriberBufferMaxEvents()) {
      b.subscriberBufferMaxEvents(c.getSubscriberBufferMaxEvents());
    }
    if (c.hasSubscriberBufferMaxBytes()) {
      b.subscriberBufferMaxBytes(c.getSubscriberBufferMaxBytes());
    }
    if (c.hasInboxMaxEvents()) {
      b.inboxMaxEvents(c.getInboxMaxEvents());
    }
    if (c.hasInboxMaxBytes()) {
      b.inboxMaxBytes(c.getInboxMaxBytes());
    }
    if (c.getPublishOverflow() == PublishOverflow.PUBLISH_OVERFLOW_REJECT) {
      b.publishOverflow(TopicSettings.PublishOverflow.REJECT);
    } else if (c.getPublishOverflow() == PublishOverflow.PUBLISH_OVERFLOW_BLOCK) {
      b.publishOverflow(TopicSettings.PublishOverflow.BLOCK);
    }
    if (c.hasMaxEventBytes()) {
      b.maxEventBytes(c.getMaxEventBytes());
    }
    if (c.hasMaxBlock()) {
      b.maxBlock(duration(c.getMaxBlock()));
    }
    if (c.hasRetention()) {
      Retention r = c.getRetention();
      if (r.hasMaxEvents()) {
        b.retentionMaxEvents(r.getMaxEvents());
      }
      if (r.hasMaxBytes()) {
        b.retentionMaxBytes(r.getMaxBytes());
      }
      if (r.hasMaxAge()) {
        b.retentionMaxAge(duration(r.getMaxAge()));
      }
    }
    if (c.hasDedupWindow()) {
      b.dedupWindow(duration(c.getDedupWindow()));
    }
    if (c.hasDedupMaxIds()) {
      b.dedupMaxIds(c.getDedupMaxIds());
    }
    return b.build();
  }

  static TopicInfo topic(Topic t) {
    io.herald.proto.v1.TopicStats s = t.getStats();
    return new TopicInfo(t.getName(), settings(t.getConfig()), new TopicStats(s.getPublished(), s.getDelivered(), s.getDropped(),
        s.getInboxDepthEvents(), s.getInboxDepthBytes(), s.getSubscriberCount(), s.getNextSequence(), s.getFirstRetainedSequence(),
        s.getRetainedEvents(), s.getRetainedBytes(), s.getDuplicates(), s.getRejected(), s.getSlowConsumerEvictions()),
        instant(t.getCreateTime()));
  }

  static SubscriptionInfo subscription(io.herald.proto.v1.SubscriptionInfo s) {
    return new SubscriptionInfo(s.getSubscriptionId(), s.getSubscriberName(), s.getPeer(), policy(s.getOverflowPolicy()),
        s.getBufferDepthEvents(), s.getBufferDepthBytes(), s.getBufferMaxEvents(), s.getBufferMaxBytes(), s.getDelivered(),
        s.getDropped(), s.getCreditEvents(), s.getCreditBytes(), s.getNextSequence(), s.getLagEvents(), instant(s.getCreateTime()));
  }
}
