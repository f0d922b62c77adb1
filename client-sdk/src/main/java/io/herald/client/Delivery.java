package io.herald.client;

import java.time.Instant;

/**
 * One event as a subscription's handler receives it.
 *
 * @param topic the topic
 * @param sequence its position in the topic; a handler sees strictly increasing sequences
 * @param epoch the ownership epoch that assigned the sequence
 * @param publishTime when the broker sequenced it
 * @param event the event as published
 */
public record Delivery(String topic, long sequence, long epoch, Instant publishTime, Event event) { }
