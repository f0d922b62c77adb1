package io.herald.client;

import java.time.Instant;

/**
 * A topic: its complete settings and live stats.
 *
 * @param name the topic name
 * @param settings every value set
 * @param stats counters at the time of the call
 * @param createTime when it was created
 */
public record TopicInfo(String name, TopicSettings settings, TopicStats stats, Instant createTime) { }
