package io.herald.client;

/**
 * Events a subscription will never get, reported in order: before the next event it does get.
 *
 * @param firstSequence first lost sequence
 * @param lastSequence last lost sequence; 0 when the end is not known ({@link GapReason#TOPIC_RECREATED})
 * @param count how many: exact ({@code lastSequence - firstSequence + 1}) unless {@code countUnknown}
 * @param reason why
 * @param epoch the topic epoch of {@code firstSequence}
 * @param countUnknown true when the broker cannot know how many events of the range existed (a
 *     crash): {@code count} is then an upper bound, or 0 when the end is not known either
 */
public record Gap(long firstSequence, long lastSequence, long count, GapReason reason, long epoch, boolean countUnknown) { }
