package io.herald.broker.topic;

import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.proto.v1.TopicStats;
import java.util.List;

/**
 * A topic as the publish, subscribe and admin services see it, whatever sequences it: {@link
 * Topic} is a topic this node owns (its dispatch loop sequences); a cluster adds a forwarding handle
 * (publishes go to the owner) and a relay (one upstream subscription fanned out locally) behind the
 * same interface, without the services changing.
 *
 * <p>Thread-safe. No method blocks: services call them on transport threads.
 */
public interface TopicHandle {

  /** Where a registered subscription starts: its first sequence, in the topic's epoch at the time. */
  record Start(long epoch, long sequence) { }

  String name();

  TopicSettings settings();

  /** The topic's current epoch. */
  long epoch();

  /**
   * Admits a batch by the topic's publish-overflow setting. ADMITTED: queued; WAITING (BLOCK topic,
   * inbox full): queued later, and the batch's listener says when; FULL (REJECT topic) and LINE_FULL
   * (BLOCK topic whose wait line is full too): counted and refused; CLOSED: the topic is closing.
   *
   * @throws io.grpc.StatusRuntimeException when the topic cannot take publishes at all (e.g. failed)
   */
  Admission offer(PublishBatch batch);

  /**
   * Takes a waiting batch out of the line because its publisher cancelled: true if it was waiting
   * (it is then never sequenced, and its listener is not called), false if it was already let in
   * (it is sequenced as usual) or never waited.
   */
  boolean withdraw(PublishBatch batch);

  /** A new subscription bound to this topic's history and counters; register it with {@link #register}. */
  Subscription newSubscription(String id, String subscriberName, String peer, Policy policy,
      long maxEvents, long maxBytes, long creditEvents, long creditBytes);

  /**
   * Makes {@code sub} visible to the topic's fan-out at the given start. {@code positionEpoch} is
   * the epoch of a SEQUENCE start (0: the current epoch).
   *
   * @throws io.grpc.StatusRuntimeException FAILED_PRECONDITION for a position from a newer epoch
   *     than the topic's; NOT_FOUND if the topic is closing
   */
  Start register(Subscription sub, StartKind kind, long sequence, long positionEpoch);

  /** Removes a subscription (idempotent). */
  void unregister(Subscription sub);

  /** The live subscriptions, in registration order. */
  List<Subscription> subscriptions();

  /** Events offered to a full inbox and waiting in line for room (BLOCK topics). */
  long waitingEvents();

  /** Bytes of the events in {@link #waitingEvents()}. */
  long waitingBytes();

  /** The sequence the next accepted event will get. */
  long nextSequence();

  TopicStats stats();
}
