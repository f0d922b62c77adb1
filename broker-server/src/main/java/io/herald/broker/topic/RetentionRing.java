package io.herald.broker.topic;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.GapReason;
import io.herald.broker.subscription.RetainedLog;
import io.herald.broker.subscription.Sequenced;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A topic's recent history: the last sequenced events, bounded by count, bytes and age. Sequences
 * in the ring increase but may skip (a relay that received a gap, a skip recorded with {@link
 * #appendSkip}); an event is found by binary search. The array starts small and grows by doubling
 * only as events arrive, so an idle topic costs a few hundred bytes, not its limit.
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
  /** The oldest retained sequence, or {@link #next} when empty. */
  @GuardedBy("lock")
  private long first = 1;
  @GuardedBy("lock")
  private long next = 1;
  @GuardedBy("lock")
  private long unknownBelow;
  private GapReason unknownReason = GapReason.CRASH_RECOVERY;
  private long movedBelow;
  /** Pinned sequence -> how many pins (BLOCK readers catching up): trimming stops below the lowest. */
  @GuardedBy("lock")
  private final java.util.TreeMap<Long, Integer> pins = new java.util.TreeMap<>();
  /** Recorded skips, oldest first; dropped as trimming passes them. */
  @GuardedBy("lock")
  private final ArrayDeque<Gap> skips = new ArrayDeque<>(0);

  /** Appends events in increasing sequence order, each at or after {@link #nextSequence()}. Dispatch loop only. */
  void appendAll(List<Sequenced> run) {
    lock.lock();
    try {
      // check and make room first, so that nothing can fail halfway through the run
      long expect = next;
      for (int i = 0, n = run.size(); i < n; i++) {
        long seq = run.get(i).sequence();
        if (seq < expect) {
          throw new IllegalStateException("ring expects a sequence from " + expect + " on, got " + seq);
        }
        expect = seq + 1;
      }
      int capacity = ring.length == 0 ? INITIAL_CAPACITY : ring.length;
      while (capacity < size + run.size()) {
        capacity *= 2;
      }
      if (capacity != ring.length) {
        resize(capacity);
      }
      for (int i = 0, n = run.size(); i < n; i++) {
        Sequenced e = run.get(i);
        ring[(head + size) & (ring.length - 1)] = e;
        if (size == 0) {
          first = e.sequence();
        }
        size++;
        bytes += e.size();
        next = e.sequence() + 1;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Records that the sequences of {@code gap} will never be in the ring, and moves past them. Dispatch loop only. */
  void appendSkip(Gap gap) {
    lock.lock();
    try {
      if (gap.first() < next || gap.last() < gap.first()) {
        throw new IllegalStateException("skip [" + gap.first() + ", " + gap.last() + "] does not follow sequence " + (next - 1));
      }
      skips.addLast(gap);
      next = gap.last() + 1;
      if (size == 0) {
        first = next;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * The first sequence that would remain if the ring were trimmed to its bounds now (every event
   * before it would go). Dispatch loop only; the loop may wait for readers before calling {@link
   * #trimBefore}.
   */
  long trimTarget(int maxEvents, long maxBytes, long maxAgeMillis, long nowMillis) {
    lock.lock();
    try {
      long oldestAllowed = nowMillis - maxAgeMillis;
      int n = size;
      long b = bytes;
      int i = 0;
      while (n > 0) {
        Sequenced oldest = ring[(head + i) & (ring.length - 1)];
        if (n <= maxEvents && b <= maxBytes && oldest.publishTimeMillis() > oldestAllowed) {
          return oldest.sequence();
        }
        n--;
        b -= oldest.size();
        i++;
      }
      return next;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Drops every event with a sequence below {@code sequence}, but none at or above a pin. Dispatch
   * loop only.
   */
  void trimBefore(long sequence) {
    lock.lock();
    try {
      long limit = pins.isEmpty() ? sequence : Math.min(sequence, pins.firstKey());
      while (size > 0 && ring[head].sequence() < limit) {
        Sequenced oldest = ring[head];
        ring[head] = null;
        head = (head + 1) & (ring.length - 1);
        size--;
        bytes -= oldest.size();
      }
      first = size == 0 ? next : ring[head].sequence();
      while (!skips.isEmpty() && skips.peekFirst().last() < first) {
        skips.pollFirst();
      }
      if (size == 0) {
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

  /** Drops the oldest events until every bound holds. Dispatch loop only. */
  void trim(int maxEvents, long maxBytes, long maxAgeMillis, long nowMillis) {
    trimBefore(trimTarget(maxEvents, maxBytes, maxAgeMillis, nowMillis));
  }

  /**
   * Empties the ring, which goes on at {@code nextSequence}. Sequences below {@code unknownBelow}
   * (0: none) are recorded as lost, for {@code unknownReason} (a crash or a lost owner: how many of
   * them existed is not known).
   */
  void resetTo(long nextSequence, long unknownBelow, GapReason unknownReason, long movedBelow) {
    lock.lock();
    try {
      ring = new Sequenced[0];
      head = 0;
      size = 0;
      bytes = 0;
      skips.clear();
      first = nextSequence;
      next = nextSequence;
      this.unknownBelow = unknownBelow;
      this.unknownReason = unknownReason;
      this.movedBelow = movedBelow;
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

  /** Index (0..size) of the first retained event with a sequence >= {@code from}. */
  @GuardedBy("lock")
  private int lowerBound(long from) {
    int lo = 0;
    int hi = size;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (ring[(head + mid) & (ring.length - 1)].sequence() < from) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
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
  public long movedBelow() {
    lock.lock();
    try {
      return movedBelow;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public GapReason unknownReason() {
    lock.lock();
    try {
      return unknownReason;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long unknownBelow() {
    lock.lock();
    try {
      return unknownBelow;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long pin(long from) {
    lock.lock();
    try {
      long at = Math.max(from, first);
      pins.merge(at, 1, Integer::sum);
      return at;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void movePin(long from, long to) {
    lock.lock();
    try {
      removePin(from);
      pins.merge(to, 1, Integer::sum);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void unpin(long at) {
    lock.lock();
    try {
      removePin(at);
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private void removePin(long at) {
    Integer n = pins.get(at);
    if (n == null) {
      throw new IllegalStateException("no pin at " + at);
    }
    if (n == 1) {
      pins.remove(at);
    } else {
      pins.put(at, n - 1);
    }
  }

  /** True when a pin holds history below {@code sequence} (a BLOCK reader that has not read it yet). */
  boolean pinnedBelow(long sequence) {
    lock.lock();
    try {
      return !pins.isEmpty() && pins.firstKey() < sequence;
    } finally {
      lock.unlock();
    }
  }

  /** Pins held now (for tests). */
  int pins() {
    lock.lock();
    try {
      int n = 0;
      for (int c : pins.values()) {
        n += c;
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Gap skipAt(long sequence) {
    lock.lock();
    try {
      for (Gap g : skips) {
        if (g.first() <= sequence && sequence <= g.last()) {
          return g;
        }
      }
      return null;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int read(long from, int maxEvents, long maxBytes, List<Sequenced> out) {
    lock.lock();
    try {
      int n = 0;
      long b = 0;
      for (int i = lowerBound(from); i < size && n < maxEvents; i++) {
        Sequenced e = ring[(head + i) & (ring.length - 1)];
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

  /** Validation for tests: sizes match, sequences increase, the first sequence is right. */
  void checkInvariants() {
    lock.lock();
    try {
      long b = 0;
      long last = 0;
      for (int i = 0; i < size; i++) {
        Sequenced e = ring[(head + i) & (ring.length - 1)];
        if (e == null || e.sequence() <= last) {
          throw new IllegalStateException("ring invariant broken at index " + i + ": " + e + " after sequence " + last);
        }
        last = e.sequence();
        b += e.size();
      }
      if (b != bytes || (size > 0 && first != ring[head].sequence()) || (size == 0 && first != next) || (size > 0 && last >= next)) {
        throw new IllegalStateException("ring invariant broken: bytes " + bytes + " vs " + b + ", first " + first + ", next " + next);
      }
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
