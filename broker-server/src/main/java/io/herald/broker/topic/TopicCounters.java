package io.herald.broker.topic;

import io.herald.broker.subscription.DeliveryCounters;
import io.herald.broker.subscription.DropReason;
import java.util.concurrent.atomic.LongAdder;

/**
 * A topic's counters: what the admin API's stats and the metrics read. Written by the dispatch loop
 * (duplicates, evictions, restarts), by subscription writers and buffers (delivered, dropped) and by
 * publish handlers (rejected); read by anyone. Lock-free ({@link LongAdder}).
 */
final class TopicCounters implements DeliveryCounters {
  final LongAdder delivered = new LongAdder();
  private final LongAdder[] dropped = new LongAdder[DropReason.values().length];
  final LongAdder duplicates = new LongAdder();
  final LongAdder rejected = new LongAdder();
  final LongAdder evictions = new LongAdder();
  final LongAdder loopRestarts = new LongAdder();
  private volatile Topic.BufferTimeListener bufferTimeListener;

  TopicCounters() {
    for (int i = 0; i < dropped.length; i++) {
      dropped[i] = new LongAdder();
    }
  }

  void onBufferTime(Topic.BufferTimeListener l) {
    this.bufferTimeListener = l;
  }

  @Override
  public void delivered(long events) {
    delivered.add(events);
  }

  @Override
  public void dropped(long events, DropReason reason) {
    dropped[reason.ordinal()].add(events);
  }

  @Override
  public void bufferTime(long millis) {
    Topic.BufferTimeListener l = bufferTimeListener;
    if (l != null) {
      l.record(millis);
    }
  }

  long dropped(DropReason reason) {
    return dropped[reason.ordinal()].sum();
  }

  long droppedTotal() {
    long n = 0;
    for (LongAdder a : dropped) {
      n += a.sum();
    }
    return n;
  }
}
