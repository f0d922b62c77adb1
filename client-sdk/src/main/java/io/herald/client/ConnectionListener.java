package io.herald.client;

/**
 * Told about the client's connection and its subscriptions. Called on the client's callback
 * executor, never on a network thread; implementations should return quickly.
 */
public interface ConnectionListener {
  /** What happened. */
  enum Kind {
    /** The first connection to a broker is ready. */
    CONNECTED,
    /** The connection was lost; the client reconnects with backoff. */
    DISCONNECTED,
    /** A connection is ready again after a loss. */
    RECONNECTED,
    /** A subscription was re-established after a loss ({@code detail} names it). */
    RESUBSCRIBED,
    /** The client was closed. */
    CLOSED
  }

  void onEvent(Kind kind, String detail);
}
