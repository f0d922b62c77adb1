package io.herald.client;

/**
 * Live counters of a topic, as the broker reported them at one moment.
 *
 * @param published events accepted and sequenced (duplicates excluded)
 * @param delivered event deliveries written to subscribers (one per subscriber per event)
 * @param dropped deliveries lost by subscriber buffers
 * @param inboxDepthEvents events accepted, not yet sequenced
 * @param inboxDepthBytes bytes accepted, not yet sequenced
 * @param subscribers live subscriptions
 * @param nextSequence the sequence the next event will get
 * @param firstRetainedSequence oldest retained sequence (0: nothing retained)
 * @param retainedEvents events retained
 * @param retainedBytes bytes retained
 * @param duplicates publishes acknowledged as duplicates
 * @param rejected batches refused because the inbox was full (REJECT topics)
 * @param slowConsumerEvictions subscriptions evicted as slow consumers
 */
public record TopicStats(long published, long delivered, long dropped, long inboxDepthEvents, long inboxDepthBytes,
    int subscribers, long nextSequence, long firstRetainedSequence, long retainedEvents, long retainedBytes,
    long duplicates, long rejected, long slowConsumerEvictions) { }
