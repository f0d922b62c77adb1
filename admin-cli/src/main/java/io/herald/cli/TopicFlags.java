package io.herald.cli;

import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.TopicConfig;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Every topic setting as a flag; unset flags are left out of the request (broker default / unchanged). */
final class TopicFlags {
  enum Policy { DROP_OLDEST, DROP_NEWEST, BLOCK }

  enum Overflow { BLOCK, REJECT }

  @Option(names = "--policy", description = "Default subscriber policy: ${COMPLETION-CANDIDATES}.")
  Policy policy;

  @Option(names = "--subscriber-buffer-events", paramLabel = "N", description = "Subscriber buffer bound (default and maximum), events.")
  Integer subscriberBufferEvents;

  @Option(names = "--subscriber-buffer-bytes", paramLabel = "SIZE", converter = Sizes.class, description = "Subscriber buffer bound, bytes (e.g. 16MiB).")
  Long subscriberBufferBytes;

  @Option(names = "--inbox-events", paramLabel = "N", description = "Inbox bound (accepted, not yet sequenced), events.")
  Integer inboxEvents;

  @Option(names = "--inbox-bytes", paramLabel = "SIZE", converter = Sizes.class, description = "Inbox bound, bytes.")
  Long inboxBytes;

  @Option(names = "--publish-overflow", description = "When the inbox is full: BLOCK (backpressure) or REJECT (RESOURCE_EXHAUSTED).")
  Overflow publishOverflow;

  @Option(names = "--publish-wait-events", paramLabel = "N",
      description = "Wait line bound (BLOCK publishes waiting for inbox room), events; RESOURCE_EXHAUSTED beyond it.")
  Integer publishWaitEvents;

  @Option(names = "--publish-wait-bytes", paramLabel = "SIZE", converter = Sizes.class, description = "Wait line bound, bytes.")
  Long publishWaitBytes;

  @Option(names = "--max-event-bytes", paramLabel = "SIZE", converter = Sizes.class, description = "Largest event accepted.")
  Long maxEventBytes;

  @Option(names = "--max-block", paramLabel = "DURATION", converter = Durations.class,
      description = "How long a BLOCK subscriber may hold the topic before it is evicted (e.g. 30s).")
  Duration maxBlock;

  @Option(names = "--retention-events", paramLabel = "N", description = "Events kept for replay and resume (0: none).")
  Integer retentionEvents;

  @Option(names = "--retention-bytes", paramLabel = "SIZE", converter = Sizes.class, description = "Bytes kept for replay and resume.")
  Long retentionBytes;

  @Option(names = "--retention-age", paramLabel = "DURATION", converter = Durations.class, description = "Age kept for replay and resume.")
  Duration retentionAge;

  @Option(names = "--dedup-window", paramLabel = "DURATION", converter = Durations.class, description = "How long publisher ids are remembered (0s: off).")
  Duration dedupWindow;

  @Option(names = "--dedup-max-ids", paramLabel = "N", description = "How many ids the dedup window holds (0: off).")
  Integer dedupMaxIds;

  boolean any() {
    return policy != null || subscriberBufferEvents != null || subscriberBufferBytes != null || inboxEvents != null
        || inboxBytes != null || publishOverflow != null || publishWaitEvents != null || publishWaitBytes != null || maxEventBytes != null || maxBlock != null || retentionEvents != null
        || retentionBytes != null || retentionAge != null || dedupWindow != null || dedupMaxIds != null;
  }

  TopicConfig toConfig() {
    TopicConfig.Builder b = TopicConfig.newBuilder();
    if (policy != null) {
      b.setDefaultOverflowPolicy(OverflowPolicy.valueOf("OVERFLOW_POLICY_" + policy));
    }
    if (subscriberBufferEvents != null) {
      b.setSubscriberBufferMaxEvents(subscriberBufferEvents);
    }
    if (subscriberBufferBytes != null) {
      b.setSubscriberBufferMaxBytes(subscriberBufferBytes);
    }
    if (inboxEvents != null) {
      b.setInboxMaxEvents(inboxEvents);
    }
    if (inboxBytes != null) {
      b.setInboxMaxBytes(inboxBytes);
    }
    if (publishOverflow != null) {
      b.setPublishOverflow(PublishOverflow.valueOf("PUBLISH_OVERFLOW_" + publishOverflow));
    }
    if (publishWaitEvents != null) {
      b.setPublishWaitMaxEvents(publishWaitEvents);
    }
    if (publishWaitBytes != null) {
      b.setPublishWaitMaxBytes(publishWaitBytes);
    }
    if (maxEventBytes != null) {
      b.setMaxEventBytes(Math.toIntExact(maxEventBytes));
    }
    if (maxBlock != null) {
      b.setMaxBlock(duration(maxBlock));
    }
    if (retentionEvents != null || retentionBytes != null || retentionAge != null) {
      Retention.Builder r = Retention.newBuilder();
      if (retentionEvents != null) {
        r.setMaxEvents(retentionEvents);
      }
      if (retentionBytes != null) {
        r.setMaxBytes(retentionBytes);
      }
      if (retentionAge != null) {
        r.setMaxAge(duration(retentionAge));
      }
      b.setRetention(r);
    }
    if (dedupWindow != null) {
      b.setDedupWindow(duration(dedupWindow));
    }
    if (dedupMaxIds != null) {
      b.setDedupMaxIds(dedupMaxIds);
    }
    return b.build();
  }

  static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }
}
