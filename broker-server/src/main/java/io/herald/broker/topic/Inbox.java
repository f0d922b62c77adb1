package io.herald.broker.topic;

import io.grpc.StatusRuntimeException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A topic's inbox: accepted batches waiting for the dispatch loop, bounded in events and bytes.
 * Batches that find it full either wait in line ({@code waiters}, BLOCK topics; their publishers
 * are not read meanwhile, so the line holds at most one batch per publish call or stream) or are
 * refused (REJECT topics). An empty inbox takes any one batch, so a batch larger than the bound is
 * not stuck forever.
 *
 * <p>Thread-safety: publish handlers offer from any thread; the dispatch loop takes and releases.
 * Listener callbacks are made by the caller after the lock is released.
 */
final class Inbox {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  // @GuardedBy("lock")
  private final ArrayDeque<PublishBatch> queue = new ArrayDeque<>(2);
  private final ArrayDeque<PublishBatch> waiters = new ArrayDeque<>(2);
  private long events;
  private long bytes;
  private int inProgress;
  private boolean closedForNew;
  private boolean closed;

  /**
   * Offers a batch. {@code WAITING} means it was put in line and its listener's {@code admitted()}
   * will be called when it enters (or {@code failed()} if the topic closes first).
   */
  Admission offer(PublishBatch b, boolean waitIfFull, long maxEvents, long maxBytes) {
    lock.lock();
    try {
      if (closedForNew) {
        return Admission.CLOSED;
      }
      if (waiters.isEmpty() && hasRoom(b, maxEvents, maxBytes)) {
        add(b);
        return Admission.ADMITTED;
      }
      if (!waitIfFull) {
        return Admission.FULL;
      }
      waiters.addLast(b);
      return Admission.WAITING;
    } finally {
      lock.unlock();
    }
  }

  private boolean hasRoom(PublishBatch b, long maxEvents, long maxBytes) {
    long inside = events;
    return inside == 0 || (inside + b.size() <= maxEvents && bytes + b.bytes <= maxBytes);
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
          inProgress++;
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

  /**
   * The loop is done with {@code b}: frees its room and moves waiting batches in while they fit.
   * Returns the batches admitted, whose listeners the caller notifies.
   */
  List<PublishBatch> release(PublishBatch b, long maxEvents, long maxBytes) {
    lock.lock();
    try {
      events -= b.size();
      bytes -= b.bytes;
      inProgress--;
      List<PublishBatch> admitted = List.of();
      while (!waiters.isEmpty() && !closedForNew && hasRoom(waiters.peekFirst(), maxEvents, maxBytes)) {
        if (admitted.isEmpty()) {
          admitted = new ArrayList<>(2);
        }
        PublishBatch w = waiters.pollFirst();
        add(w);
        admitted.add(w);
      }
      changed.signalAll();
      return admitted;
    } finally {
      lock.unlock();
    }
  }

  /** Refuses new batches; returns those waiting in line (never admitted) for the caller to fail. */
  List<PublishBatch> closeForNew() {
    lock.lock();
    try {
      closedForNew = true;
      List<PublishBatch> out = new ArrayList<>(waiters);
      waiters.clear();
      changed.signalAll();
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** Closes for good; returns every batch not yet sequenced, for the caller to fail. */
  List<PublishBatch> closeAll() {
    lock.lock();
    try {
      closedForNew = true;
      closed = true;
      List<PublishBatch> out = new ArrayList<>(waiters);
      out.addAll(queue);
      waiters.clear();
      queue.clear();
      events = 0;
      bytes = 0;
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
      while (!queue.isEmpty() || inProgress > 0) {
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

  static void failAll(List<PublishBatch> batches, StatusRuntimeException status) {
    for (PublishBatch b : batches) {
      b.listener.failed(status);
    }
  }
}
