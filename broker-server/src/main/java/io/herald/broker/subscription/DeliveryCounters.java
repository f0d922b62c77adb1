package io.herald.broker.subscription;

/** Topic-wide totals a subscription adds to. Implementations are thread-safe. */
public interface DeliveryCounters {
  void delivered(long events);

  void dropped(long events);
}
