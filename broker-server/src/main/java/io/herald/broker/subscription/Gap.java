package io.herald.broker.subscription;

/**
 * A range of sequences a subscription will never get, with the reason.
 *
 * @param first the first lost sequence
 * @param last the last lost sequence; 0 when the end is not known ({@code countUnknown}); {@code
 *     first - 1} for a notice that loses nothing (an OWNER_CHANGE after an exact hand-over: the
 *     subscription crosses into the new epoch with everything)
 * @param reason why
 * @param epoch the epoch of {@code first}
 * @param countUnknown true when the broker cannot know how many events in the range existed: the
 *     count is then an upper bound (or unknown, with {@code last} 0)
 */
public record Gap(long first, long last, GapReason reason, long epoch, boolean countUnknown) {
  public Gap {
    if (first < 1 || (last < first && !(countUnknown && last == 0) && last != first - 1)) {
      throw new IllegalArgumentException("bad gap range [" + first + ", " + last + "]");
    }
  }

  /** An exact gap. */
  public Gap(long first, long last, GapReason reason, long epoch) {
    this(first, last, reason, epoch, false);
  }

  /** Events lost: exact, an upper bound when {@link #countUnknown()}, 0 when the end is unknown. */
  public long count() {
    return last == 0 ? 0 : last - first + 1;
  }
}
