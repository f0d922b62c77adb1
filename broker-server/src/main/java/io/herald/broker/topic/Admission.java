package io.herald.broker.topic;

/** What became of a batch offered to a topic's inbox. */
public enum Admission {
  /** Queued for the dispatch loop. */
  ADMITTED,
  /** REJECT topic with a full inbox: refused, counted. */
  FULL,
  /** BLOCK topic with a full inbox: in line; the batch listener's {@code admitted()} says when it enters. */
  WAITING,
  /** BLOCK topic with a full inbox and a full wait line ({@code publish_wait_max_*}): refused, counted. */
  LINE_FULL,
  /** The topic is closing. */
  CLOSED
}
