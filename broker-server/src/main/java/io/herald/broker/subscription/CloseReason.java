package io.herald.broker.subscription;

/** Why a subscription ended. Logged once at the boundary and counted. */
public enum CloseReason {
  /** The client cancelled or half-closed its stream. */
  CLIENT_CANCELLED,
  /** A BLOCK subscriber held the topic back for longer than the topic's max_block. */
  SLOW_CONSUMER,
  /** The topic was deleted. */
  TOPIC_DELETED,
  /** The broker is shutting down. */
  SHUTDOWN,
  /** The client sent a frame the broker cannot accept (e.g. credit overflow). */
  PROTOCOL_ERROR,
  /** The topic's dispatch loop failed more often than its restart budget allows. */
  TOPIC_FAILED,
  /** The topic moved to another node (or this node is no longer sure it owns it): resume elsewhere or here. */
  OWNER_MOVED,
  /** The broker failed while writing to the stream (a bug): the stream ends with INTERNAL. */
  INTERNAL_ERROR,
  /**
   * This broker stopped relaying a topic it does not own (its relay loop failed, or the topic moved
   * here and is served by a local topic now): UNAVAILABLE, resubscribe from the last sequence received.
   */
  RELAY_CLOSED
}
