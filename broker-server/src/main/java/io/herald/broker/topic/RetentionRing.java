package io.herald.broker.topic;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.herald.broker.subscription.RetainedLog;
import io.herald.broker.subscription.Sequenced;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A topic's recent history: the last sequenced events, bounded by count, bytes and age. Sequences
 * in the ring are contiguous, so an event is found by index. The array starts small and grows by
 * doubling only as events arrive, so an idle topic costs a few hundred bytes, not its limit.
 *
 * <p>Thread-safety: the dispatch loop appends and trims; subscription writers read. All state is
 * guarded by {@link #lock}; lock order is subscription lock, then this lock.
 */
final class RetentionRing implements RetainedLog {
  private static final int INITIAL_CAPACITY = 8;

  private final ReentrantLock lock = new ReentrantLock();
  @GuardedBy("lock")
  private Sequenced[] ring = new Sequenced[0];
  @GuardedBy("lock")
  private int head;
  @GuardedBy("lock")
  private int size;
  @GuardedBy("lock")
  private long bytes;
  @GuardedBy("lock")
  private long first = 1;
  @GuardedBy("lock")
  private long next = 1;

  /** Appends consecutive events starting at {@link #nextSequence()}. Dispatch loop only. */
  void appendAll(List<Sequenced> run) {
    lock.lock();
    try {
      for (int i = 0, n = run.size(); i < n; i++) {
        Sequenced e = run.get(i);
        if (e.sequence() != next) {
          throw new IllegalStateException("ring expects sequence " + next + ", got " + e.sequence());
        }
        if (size == ring.length) {
          grow();
        }
        ring[(head + size) & (ring.length - 1)] = e;
        size++;
        bytes += e.size();
        next++;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Drops the oldest events until every bound holds. Dispatch loop only. */
  void trim(int maxEvents, long maxBytes, long maxAgeMillis, long nowMillis) {
    lock.lock();
    try {
      long oldestAllowed = nowMillis - maxAgeMillis;
      while (size > 0) {
        Sequenced oldest = ring[head];
        if (size <= maxEvents && bytes <= maxBytes && oldest.publishTimeMillis() > oldestAllowed) {
          break;
        }
        ring[head] = null;
        head = (head + 1) & (ring.length - 1);
        size--;
        bytes -= oldest.size();
        first++;
      }
      if (size == 0) {
        first = next;
        if (ring.length > INITIAL_CAPACITY * 8) {
          ring = new Sequenced[0]; // give a burst's memory back
          head = 0;
        }
      } else if (size < ring.length / 4 && ring.length > INITIAL_CAPACITY * 8) {
        resize(ring.length / 2);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Sets the first sequence of an empty ring (a topic restored with a known next sequence). */
  void resetTo(long nextSequence) {
    lock.lock();
    try {
      ring = new Sequenced[0];
      head = 0;
      size = 0;
      bytes = 0;
      first = nextSequence;
      next = nextSequence;
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private void grow() {
    resize(ring.length == 0 ? INITIAL_CAPACITY : ring.length * 2);
  }

  @GuardedBy("lock")
  private void resize(int capacity) {
    Sequenced[] n = new Sequenced[capacity];
    for (int i = 0; i < size; i++) {
      n[i] = ring[(head + i) & (ring.length - 1)];
    }
    ring = n;
    head = 0;
  }

  @Override
  public long firstSequence() {
    lock.lock();
    try {
      return first;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long nextSequence() {
    lock.lock();
    try {
      return next;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int read(long from, int maxEvents, long maxBytes, List<Sequenced> out) {
    lock.lock();
    try {
      long start = Math.max(from, first);
      int n = 0;
      long b = 0;
      for (long s = start; s < next && n < maxEvents; s++) {
        Sequenced e = ring[(int) ((head + (s - first)) & (ring.length - 1))];
        if (n > 0 && b + e.size() > maxBytes) {
          break;
        }
        out.add(e);
        n++;
        b += e.size();
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  long retainedEvents() {
    lock.lock();
    try {
      return size;
    } finally {
      lock.unlock();
    }
  }

  long retainedBytes() {
    lock.lock();
    try {
      return bytes;
    } finally {
      lock.unlock();
    }
  }
}
