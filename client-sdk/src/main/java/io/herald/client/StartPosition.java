package io.herald.client;

/** Where a new subscription starts. Immutable. */
public final class StartPosition {
  /** The kinds of start. */
  public enum Kind { LATEST, EARLIEST, SEQUENCE }

  private static final StartPosition LATEST = new StartPosition(Kind.LATEST, 0, 0);
  private static final StartPosition EARLIEST = new StartPosition(Kind.EARLIEST, 0, 0);

  private final Kind kind;
  private final long sequence;
  private final long epoch;

  private StartPosition(Kind kind, long sequence, long epoch) {
    this.kind = kind;
    this.sequence = sequence;
    this.epoch = epoch;
  }

  /** Only events published after the subscription starts (the default). */
  public static StartPosition latest() {
    return LATEST;
  }

  /** The oldest event the topic still retains. */
  public static StartPosition earliest() {
    return EARLIEST;
  }

  /**
   * The event with this sequence (&gt;= 1) in the topic's current epoch; a RETENTION gap first if it
   * is no longer retained. To resume where an earlier subscription stopped, prefer {@link #after},
   * which names the epoch too.
   */
  public static StartPosition sequence(long sequence) {
    if (sequence < 1) {
      throw new IllegalArgumentException("sequence must be >= 1 (sequences start at 1); got " + sequence);
    }
    return new StartPosition(Kind.SEQUENCE, sequence, 0);
  }

  /**
   * Right after the event at (epoch, sequence), e.g. the last one a subscription handled ({@link
   * Subscription#lastEpoch()}, {@link Subscription#lastSequence()}). If the topic was re-created or
   * its broker crashed since, the subscription is told with a gap notice ({@link
   * GapReason#TOPIC_RECREATED}, {@link GapReason#CRASH_RECOVERY}) instead of waiting in silence.
   *
   * @param epoch the epoch of that event (&gt;= 1)
   * @param sequence its sequence (&gt;= 0; 0: from the start of that epoch's incarnation)
   */
  public static StartPosition after(long epoch, long sequence) {
    if (epoch < 1 || sequence < 0) {
      throw new IllegalArgumentException("need epoch >= 1 and sequence >= 0; got epoch " + epoch + ", sequence " + sequence);
    }
    return new StartPosition(Kind.SEQUENCE, sequence + 1, epoch);
  }

  public Kind kind() {
    return kind;
  }

  /** For {@link Kind#SEQUENCE}: the first sequence wanted; 0 otherwise. */
  public long sequence() {
    return sequence;
  }

  /** For {@link Kind#SEQUENCE}: the epoch of the position; 0 means the topic's current epoch. */
  public long epoch() {
    return epoch;
  }

  @Override
  public String toString() {
    if (kind == Kind.SEQUENCE) {
      return epoch == 0 ? "sequence " + sequence : "sequence " + sequence + " of epoch " + epoch;
    }
    return kind.name().toLowerCase(java.util.Locale.ROOT);
  }
}
