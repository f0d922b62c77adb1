package io.herald.broker.subscription;

/**
 * An accepted event with its topic position, already serialized once as a {@code DeliveredEvent};
 * the same bytes are written to every subscriber. Immutable; the array is never modified after
 * construction.
 *
 * @param sequence topic sequence (from 1)
 * @param epoch the topic epoch the sequence belongs to
 * @param encoded the serialized {@code herald.v1.DeliveredEvent}
 * @param publishTimeMillis when the broker sequenced it (for age-based retention)
 */
public record Sequenced(long sequence, long epoch, byte[] encoded, long publishTimeMillis) {
  /** Bytes this event counts against buffers, retention and byte credit. */
  public int size() {
    return encoded.length;
  }
}
