package io.herald.broker.topic;

import io.grpc.StatusRuntimeException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A topic's inbox: accepted batches waiting for the dispatch loop, bounded in events and bytes.
 * Batches that find it full either wait in line ({@code waiters}, BLOCK topics; their publishers
 * are not read meanwhile, so the line holds at most one batch per publish call or stream, and a
 * cancelled publish {@link #withdraw withdraws} its batch) or are refused (REJECT topics). The line
 * is bounded too ({@code publish_wait_max_events} / {@code _bytes}, for the many unary calls a
 * client can start and cancel): beyond it a batch is refused ({@link Admission#LINE_FULL}). An empty
 * inbox takes any one batch, and an empty line too, so a batch larger than a bound is not refused or
 * stuck forever.
 *
 * <p>Depth ({@link #depthEvents}, {@link #depthBytes}) counts the batches queued and those the loop
 * has taken and not yet released: a batch leaves the depth when it is released, whether the inbox
 * was closed meanwhile or not. {@link #checkInvariants} states what always holds.
 *
 * <p>Thread-safety: publish handlers offer from any thread; the dispatch loop takes and releases.
 * Every field is guarded by {@link #lock}. Listener callbacks are made after the lock is released:
 * by the caller, except those of {@link #withdraw}.
 */
final class Inbox {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  // @GuardedBy("lock")
  private final ArrayDeque<PublishBatch> queue = new ArrayDeque<>(2);
  // @GuardedBy("lock"): taken by the loop, not yet released (one at a time in practice)
  private final ArrayList<PublishBatch> inProgress = new ArrayList<>(1);
  // @GuardedBy("lock"): in arrival order; a set, so a cancelled publish leaves it in O(1)
  private final LinkedHashSet<PublishBatch> waiters = new LinkedHashSet<>(4);
  // @GuardedBy("lock"): queued + in progress
  private long events;
  private long bytes;
  // @GuardedBy("lock"): in the wait line
  private long waitingEvents;
  private long waitingBytes;
  private boolean closedForNew;
  private boolean closed;

  /**
   * Offers a batch under the topic's settings {@code s}. {@code WAITING} means it was put in line and
   * its listener's {@code admitted()} will be called when it enters (or {@code failed()} if the topic
   * closes first), unless it is {@link #withdraw withdrawn}.
   */
  Admission offer(PublishBatch b, TopicSettings s) {
    lock.lock();
    try {
      if (closedForNew) {
        return Admission.CLOSED;
      }
      if (waiters.isEmpty() && hasRoom(b, s)) {
        add(b);
        return Admission.ADMITTED;
      }
      if (s.rejectWhenFull()) {
        return Admission.FULL;
      }
      if (!waiters.isEmpty() && (waitingEvents + b.size() > s.publishWaitMaxEvents() || waitingBytes + b.bytes > s.publishWaitMaxBytes())) {
        return Admission.LINE_FULL;
      }
      waiters.add(b);
      waitingEvents += b.size();
      waitingBytes += b.bytes;
      return Admission.WAITING;
    } finally {
      lock.unlock();
    }
  }

  private boolean hasRoom(PublishBatch b, TopicSettings s) {
    long inside = events;
    return inside == 0 || (inside + b.size() <= s.inboxMaxEvents() && bytes + b.bytes <= s.inboxMaxBytes());
  }

  private void add(PublishBatch b) {
    queue.addLast(b);
    events += b.size();
    bytes += b.bytes;
    changed.signalAll();
  }

  /** Next batch, waiting while empty; null once closed (after the queue is empty if only closed for new). */
  PublishBatch take() throws InterruptedException {
    lock.lock();
    try {
      while (true) {
        if (closed) {
          return null;
        }
        PublishBatch b = queue.pollFirst();
        if (b != null) {
          inProgress.add(b);
          return b;
        }
        if (closedForNew) {
          return null;
        }
        changed.await();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Like {@link #take} without waiting: the next batch, or null if none is queued or it is closed. */
  PublishBatch poll() {
    lock.lock();
    try {
      PublishBatch b = closed ? null : queue.pollFirst();
      if (b != null) {
        inProgress.add(b);
      }
      return b;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The loop is done with {@code b} (taken, not yet released): frees its room and, unless closed,
   * moves waiting batches in while they fit. Returns the batches admitted, whose listeners the
   * caller notifies.
   */
  List<PublishBatch> release(PublishBatch b, TopicSettings s) {
    lock.lock();
    try {
      if (!inProgress.remove(b)) {
        throw new IllegalStateException("released a batch of " + b.size() + " events that was not taken");
      }
      events -= b.size();
      bytes -= b.bytes;
      List<PublishBatch> admitted = letIn(s);
      changed.signalAll();
      return admitted;
    } finally {
      lock.unlock();
    }
  }

  /** Lock held. Moves batches from the head of the line into the inbox while they fit. */
  private List<PublishBatch> letIn(TopicSettings s) {
    List<PublishBatch> admitted = List.of();
    while (!waiters.isEmpty() && !closedForNew && hasRoom(waiters.getFirst(), s)) {
      if (admitted.isEmpty()) {
        admitted = new ArrayList<>(2);
      }
      PublishBatch w = waiters.removeFirst();
      waitingEvents -= w.size();
      waitingBytes -= w.bytes;
      add(w);
      admitted.add(w);
    }
    return admitted;
  }

  /**
   * Takes {@code b} out of the wait line (its publisher cancelled). True if it was waiting: it is
   * then never sequenced and its listener is never called. False if it was not in line (already let
   * in, in which case it will be sequenced as usual, or never there). Batches behind it that now fit
   * are let in; this method calls their listeners' {@code admitted()} itself, after the lock is
   * released.
   */
  boolean withdraw(PublishBatch b, TopicSettings s) {
    List<PublishBatch> admitted;
    lock.lock();
    try {
      if (!waiters.remove(b)) {
        return false;
      }
      waitingEvents -= b.size();
      waitingBytes -= b.bytes;
      admitted = letIn(s);
    } finally {
      lock.unlock();
    }
    for (PublishBatch in : admitted) {
      in.listener.admitted();
    }
    return true;
  }

  /** Refuses new batches; returns those waiting in line (never admitted) for the caller to fail. */
  List<PublishBatch> closeForNew() {
    lock.lock();
    try {
      closedForNew = true;
      List<PublishBatch> out = new ArrayList<>(waiters);
      clearLine();
      changed.signalAll();
      return out;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Closes for good; returns every batch waiting or queued, for the caller to fail. A batch the loop
   * has taken stays in the depth until the loop releases it.
   */
  List<PublishBatch> closeAll() {
    lock.lock();
    try {
      closedForNew = true;
      closed = true;
      List<PublishBatch> out = new ArrayList<>(waiters);
      out.addAll(queue);
      for (PublishBatch b : queue) {
        events -= b.size();
        bytes -= b.bytes;
      }
      clearLine();
      queue.clear();
      changed.signalAll();
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** Waits until the loop has sequenced everything queued; false on timeout. */
  boolean awaitEmpty(long timeoutNanos) throws InterruptedException {
    long nanos = timeoutNanos;
    lock.lock();
    try {
      while (!queue.isEmpty() || !inProgress.isEmpty()) {
        if (nanos <= 0) {
          return false;
        }
        nanos = changed.awaitNanos(nanos);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  long depthEvents() {
    lock.lock();
    try {
      return events;
    } finally {
      lock.unlock();
    }
  }

  long depthBytes() {
    lock.lock();
    try {
      return bytes;
    } finally {
      lock.unlock();
    }
  }

  /** Events in the wait line: offered to a full inbox, not yet let in. */
  long waitingEvents() {
    lock.lock();
    try {
      return waitingEvents;
    } finally {
      lock.unlock();
    }
  }

  long waitingBytes() {
    lock.lock();
    try {
      return waitingBytes;
    } finally {
      lock.unlock();
    }
  }

  /** Lock held. */
  private void clearLine() {
    waiters.clear();
    waitingEvents = 0;
    waitingBytes = 0;
  }

  /**
   * Checks what always holds between operations, in the style of Caffeine's structure validation;
   * throws {@link IllegalStateException} naming the first broken invariant. For tests: it walks
   * every batch under the lock. {@code s} is the topic's settings; the two checks that use it hold
   * while they do not change (a lowered bound may be exceeded, and a raised one may fit the head of
   * the line, until the line moves on).
   * <ul>
   *   <li>the depth is the sum of the queued and in-progress batches, in events and in bytes;
   *   <li>the wait line's counts are the sum of its batches;
   *   <li>no batch is in two places (queued, in progress, waiting) or twice in one;
   *   <li>a non-empty wait line stands in front of a non-empty inbox (an empty inbox takes any
   *       batch, so a line before it would wait for ever), and its head does not fit (it would
   *       have been let in);
   *   <li>the wait line is within {@code publish_wait_max_events} / {@code _bytes}, or holds one
   *       batch;
   *   <li>a closed inbox holds nothing queued and nobody waiting; closed for new, nobody waiting.
   * </ul>
   */
  void checkInvariants(TopicSettings s) {
    lock.lock();
    try {
      long e = 0;
      long by = 0;
      java.util.Set<PublishBatch> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      for (PublishBatch b : queue) {
        e += b.size();
        by += b.bytes;
        check(seen.add(b), "a queued batch appears twice");
      }
      for (PublishBatch b : inProgress) {
        e += b.size();
        by += b.bytes;
        check(seen.add(b), "an in-progress batch is also queued or taken twice");
      }
      check(events == e && bytes == by, "depth " + events + " events / " + bytes + " bytes but queued + in progress hold "
          + e + " / " + by);
      long we = 0;
      long wb = 0;
      for (PublishBatch b : waiters) {
        we += b.size();
        wb += b.bytes;
        check(seen.add(b), "a waiting batch is also queued or in progress");
      }
      check(waitingEvents == we && waitingBytes == wb, "wait line counted as " + waitingEvents + " events / " + waitingBytes
          + " bytes but holds " + we + " / " + wb);
      check(waiters.isEmpty() || events > 0, waiters.size() + " batches wait in front of an empty inbox");
      check(waiters.isEmpty() || !hasRoom(waiters.getFirst(), s), "the head of the line fits the inbox but waits");
      check(waiters.size() <= 1 || (waitingEvents <= s.publishWaitMaxEvents() && waitingBytes <= s.publishWaitMaxBytes()),
          "wait line of " + waitingEvents + " events / " + waitingBytes + " bytes beyond its bound " + s.publishWaitMaxEvents()
          + " / " + s.publishWaitMaxBytes());
      check(!closed || queue.isEmpty(), "closed with " + queue.size() + " batches queued");
      check(!closedForNew || waiters.isEmpty(), "closed for new with " + waiters.size() + " batches waiting");
    } finally {
      lock.unlock();
    }
  }

  private static void check(boolean holds, String broken) {
    if (!holds) {
      throw new IllegalStateException("inbox invariant broken: " + broken);
    }
  }

  static void failAll(List<PublishBatch> batches, StatusRuntimeException status) {
    for (PublishBatch b : batches) {
      b.listener.failed(status);
    }
  }
}
