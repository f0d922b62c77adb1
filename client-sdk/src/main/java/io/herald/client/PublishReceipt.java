package io.herald.client;

import java.time.Instant;

/**
 * The broker's receipt for one published event: accepted and sequenced.
 *
 * @param id the event's id (assigned by the publisher when the event had none)
 * @param sequence the event's position in the topic (from 1)
 * @param epoch the ownership epoch that assigned the sequence
 * @param publishTime when the broker sequenced it
 * @param duplicate true when the id had been published before within the dedup window: sequence and
 *     publish time are those of the first publish, and subscribers got it once
 */
public record PublishReceipt(String id, long sequence, long epoch, Instant publishTime, boolean duplicate) { }
