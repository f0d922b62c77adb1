package io.herald.broker.subscription;

/** Topic-wide totals a subscription adds to. Implementations are thread-safe. */
public interface DeliveryCounters {
  void delivered(long events);

  void dropped(long events, DropReason reason);

  /** How long the oldest event of a batch waited between sequencing and being written, in milliseconds. */
  default void bufferTime(long millis) { }
}
