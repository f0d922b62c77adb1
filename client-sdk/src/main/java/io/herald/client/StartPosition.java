package io.herald.client;

/** Where a new subscription starts. Immutable. */
public final class StartPosition {
  /** The kinds of start. */
  public enum Kind { LATEST, EARLIEST, SEQUENCE }

  private static final StartPosition LATEST = new StartPosition(Kind.LATEST, 0);
  private static final StartPosition EARLIEST = new StartPosition(Kind.EARLIEST, 0);

  private final Kind kind;
  private final long sequence;

  private StartPosition(Kind kind, long sequence) {
    this.kind = kind;
    this.sequence = sequence;
  }

  /** Only events published after the subscription starts (the default). */
  public static StartPosition latest() {
    return LATEST;
  }

  /** The oldest event the topic still retains. */
  public static StartPosition earliest() {
    return EARLIEST;
  }

  /** The event with this sequence (&gt;= 1); a RETENTION gap first if it is no longer retained. */
  public static StartPosition sequence(long sequence) {
    if (sequence < 1) {
      throw new IllegalArgumentException("sequence must be >= 1 (sequences start at 1); got " + sequence);
    }
    return new StartPosition(Kind.SEQUENCE, sequence);
  }

  public Kind kind() {
    return kind;
  }

  /** For {@link Kind#SEQUENCE}: the first sequence wanted; 0 otherwise. */
  public long sequence() {
    return sequence;
  }

  @Override
  public String toString() {
    return kind == Kind.SEQUENCE ? "sequence " + sequence : kind.name().toLowerCase(java.util.Locale.ROOT);
  }
}
