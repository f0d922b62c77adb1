package io.herald.broker.subscription;

import java.util.List;

/**
 * Read side of a topic's retention ring, for subscriptions that start in the past. Thread-safe:
 * called by subscription writers while the topic's dispatch loop appends.
 */
public interface RetainedLog {
  /** Oldest retained sequence; equals {@link #nextSequence()} when nothing is retained. */
  long firstSequence();

  /** Sequence after the last appended event (the next one, unless the next append skips). */
  long nextSequence();

  /**
   * Sequences below this were lost by the topic itself when its owner crashed: the broker does not
   * know how many of them existed. 0 when there is no such range.
   */
  long unknownBelow();

  /** Why the sequences below {@link #unknownBelow()} were lost: CRASH_RECOVERY or OWNER_CHANGE. */
  /**
   * Sequences below this were sequenced by an earlier owner of the topic (it moved here): this
   * node never had them. 0 when the topic never moved.
   */
  default long movedBelow() {
    return 0;
  }

  default GapReason unknownReason() {
    return GapReason.CRASH_RECOVERY;
  }

  /**
   * The gap recorded in the log where sequences skip (an upstream gap, e.g. on a relay) that
   * covers {@code sequence}, or null when {@code sequence} is simply no longer retained.
   */
  Gap skipAt(long sequence);

  /**
   * Pins the log at {@code from} (or at its first retained sequence, if that is later) and returns
   * where the pin is: nothing from there on is trimmed until the pin moves or goes. A BLOCK
   * subscription catching up from history pins its cursor, so that history is never trimmed under
   * it (the topic waits for it, within max_block, and evicts it, which removes the pin).
   */
  long pin(long from);

  /** Moves a pin from {@code from} forward to {@code to}. */
  void movePin(long from, long to);

  /** Removes a pin at {@code at}. */
  void unpin(long at);

  /**
   * Appends retained events with sequence {@code >= from} to {@code out}, in order, at most
   * {@code maxEvents} of them and stopping before {@code maxBytes} would be exceeded (at least one
   * event is read if any is available). Returns how many were added.
   */
  int read(long from, int maxEvents, long maxBytes, List<Sequenced> out);
}
