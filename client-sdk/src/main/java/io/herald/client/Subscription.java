package io.herald.client;

/**
 * A live subscription. Its handler is called in sequence order, one event at a time, on the
 * client's callback executor. Thread-safe.
 */
public interface Subscription extends AutoCloseable {
  String topic();

  /** Sequence of the last event handed to the handler (0 before the first). */
  long lastSequence();

  /**
   * Epoch of the last event handed to the handler (0 before the first). A position is (epoch,
   * sequence): to resume elsewhere, start at {@code StartPosition.after(lastEpoch(), lastSequence())}.
   */
  long lastEpoch();

  /** Events received from the broker and not yet handled (at most maxOutstanding). */
  long outstanding();

  /** False once closed or ended by an error. */
  boolean isActive();

  /** Stops delivery (the handler call in progress finishes) and cancels the stream. Idempotent. */
  @Override
  void close();
}
