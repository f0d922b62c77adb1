package io.herald.client;

/** Told of lost events, in order with deliveries (before the next event that does arrive). */
@FunctionalInterface
public interface GapListener {
  void onGap(Gap gap);
}
