package io.herald.broker.metadata;

import io.herald.broker.topic.TopicSettings;
import java.time.Instant;

/** A topic as the metadata store knows it: name, settings, creation time. Immutable. */
public record TopicRecord(String name, TopicSettings settings, Instant createTime) { }
