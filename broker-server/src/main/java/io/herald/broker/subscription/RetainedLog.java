package io.herald.broker.subscription;

import java.util.List;

/**
 * Read side of a topic's retention ring, for subscriptions that start in the past. Thread-safe:
 * called by subscription writers while the topic's dispatch loop appends.
 */
public interface RetainedLog {
  /** Oldest retained sequence; equals {@link #nextSequence()} when nothing is retained. */
  long firstSequence();

  /** Sequence the next appended event will get. */
  long nextSequence();

  /**
   * Appends retained events with sequence {@code >= from} to {@code out}, in order, at most
   * {@code maxEvents} of them and stopping before {@code maxBytes} would be exceeded (at least one
   * event is read if any is available). Returns how many were added.
   */
  int read(long from, int maxEvents, long maxBytes, List<Sequenced> out);
}
