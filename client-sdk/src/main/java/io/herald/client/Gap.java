package io.herald.client;

/**
 * Events a subscription will never get, reported in order: before the next event it does get.
 *
 * @param firstSequence first lost sequence
 * @param lastSequence last lost sequence
 * @param count how many ({@code lastSequence - firstSequence + 1})
 * @param reason why
 */
public record Gap(long firstSequence, long lastSequence, long count, GapReason reason) { }
