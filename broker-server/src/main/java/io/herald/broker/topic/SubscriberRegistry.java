package io.herald.broker.topic;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.transport.Errors;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A topic's subscribers: changed under a mutex, read by the dispatch loop through an immutable
 * array that every change republishes (copy-on-write), so the loop never takes the mutex per event
 * or per batch. Pure bookkeeping: no I/O, no calls into gRPC, no callbacks under the lock.
 *
 * <p>Lock order: a subscription's lock, then this registry's lock (a subscription registers itself
 * while holding its own lock, see {@link Subscription#start}).
 */
final class SubscriberRegistry {
  private static final Subscription[] NONE = new Subscription[0];

  private final String topic;
  private final ReentrantLock lock = new ReentrantLock();
  @GuardedBy("lock")
  private final List<Subscription> subscriptions = new ArrayList<>(0);
  @GuardedBy("lock")
  private boolean closed;
  private volatile Subscription[] snapshot = NONE;

  SubscriberRegistry(String topic) {
    this.topic = topic;
  }

  /** Adds {@code sub}; NOT_FOUND once the topic is closing. */
  void add(Subscription sub) {
    lock.lock();
    try {
      if (closed) {
        throw Errors.topicNotFound(topic, "topic '" + topic + "' is closing");
      }
      subscriptions.add(sub);
      snapshot = subscriptions.toArray(NONE);
    } finally {
      lock.unlock();
    }
  }

  /** Removes {@code sub}; idempotent. */
  void remove(Subscription sub) {
    lock.lock();
    try {
      if (subscriptions.remove(sub)) {
        snapshot = subscriptions.toArray(NONE);
      }
    } finally {
      lock.unlock();
    }
  }

  /** The live subscriptions, in registration order; never modified (copy-on-write). */
  Subscription[] snapshot() {
    return snapshot;
  }

  /** Refuses further adds and empties the registry; returns who was in it. */
  Subscription[] closeAll() {
    lock.lock();
    try {
      closed = true;
      Subscription[] subs = snapshot;
      subscriptions.clear();
      snapshot = NONE;
      return subs;
    } finally {
      lock.unlock();
    }
  }
}
