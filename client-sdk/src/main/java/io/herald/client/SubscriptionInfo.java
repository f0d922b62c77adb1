package io.herald.client;

import java.time.Instant;

/**
 * A live subscription as the broker sees it.
 *
 * @param id broker-assigned id
 * @param name the subscriber's name
 * @param peer the subscriber's address
 * @param policy its overflow policy
 * @param bufferDepthEvents events in its broker-side buffer
 * @param bufferDepthBytes bytes in its broker-side buffer
 * @param bufferMaxEvents its buffer bound in events
 * @param bufferMaxBytes its buffer bound in bytes
 * @param delivered events sent to it
 * @param dropped events it lost to its policy
 * @param creditEvents event credit granted and not used yet
 * @param creditBytes byte credit left (0 with event credit only)
 * @param nextSequence sequence of the next event it will be sent
 * @param lagEvents events published and not yet sent to it
 * @param createTime when it started
 */
public record SubscriptionInfo(String id, String name, String peer, OverflowPolicy policy, long bufferDepthEvents,
    long bufferDepthBytes, long bufferMaxEvents, long bufferMaxBytes, long delivered, long dropped, long creditEvents,
    long creditBytes, long nextSequence, long lagEvents, Instant createTime) { }
