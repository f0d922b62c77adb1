package io.herald.broker.metadata;

import io.herald.broker.topic.TopicSettings;
import java.time.Instant;

/**
 * A topic as the metadata store knows it. Immutable.
 *
 * @param name the topic name
 * @param settings its configuration
 * @param createTime when it was created
 * @param sequenceFloor the topic's next sequence is at least this (1 for a new topic): sequences
 *     never go back across restarts
 */
public record TopicRecord(String name, TopicSettings settings, Instant createTime, long sequenceFloor) {
  public TopicRecord withSettings(TopicSettings s) {
    return new TopicRecord(name, s, createTime, sequenceFloor);
  }

  public TopicRecord withSequenceFloor(long floor) {
    return new TopicRecord(name, settings, createTime, floor);
  }
}
