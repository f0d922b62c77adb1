package io.herald.broker.topic;

import io.herald.broker.subscription.CloseReason;
import io.herald.broker.subscription.DropReason;
import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The subscribe half of a topic whose events are sequenced somewhere else (a cluster relay: the
 * owner sequences, this node fans out): the same {@link RetentionRing}, {@link SubscriberRegistry},
 * {@link FanOut} and {@link TopicCounters} a {@link Topic} uses, so local subscriptions get their own
 * buffers, policies, credit, start positions and gap notices exactly as on the owner, but fed by
 * one caller's {@link #deliver}/{@link #skip} with events that already carry their (epoch,
 * sequence) instead of by a dispatch loop over an inbox.
 *
 * <p>Thread-safety: {@link #resetTo}, {@link #deliver} and {@link #skip} belong to one thread, the
 * feeder's loop (the one-loop-per-topic rule: that thread plays the dispatch loop's part, and may
 * wait on BLOCK subscriptions within max_block); everything else is safe from any thread and never
 * blocks. Lock order as in {@link Topic}: subscription lock, then registry lock, then ring lock.
 */
public final class TopicMirror {
  private static final Logger log = LoggerFactory.getLogger(TopicMirror.class);

  private final String name;
  private final RetentionRing ring = new RetentionRing();
  private final SubscriberRegistry registry;
  private final TopicCounters counters = new TopicCounters();
  /**
   * The last sequence in the ring (an event or a skip); written by the feeder before it reads the
   * registry's snapshot, read by {@link #register} under the subscription's lock (see
   * {@link Topic#register}: the same handshake, so no event is both skipped and missed).
   */
  private volatile long applied;
  /** Events fed so far. */
  private volatile long relayed;

  public TopicMirror(String name) {
    this.name = name;
    this.registry = new SubscriberRegistry(name);
  }

  public String name() {
    return name;
  }

  /** Empties the ring, which goes on at {@code nextSequence}. Feeder only, before the first subscription registers. */
  public void resetTo(long nextSequence) {
    ring.resetTo(nextSequence, 0, io.herald.broker.subscription.GapReason.CRASH_RECOVERY, 0);
    applied = nextSequence - 1;
  }

  /** The sequence after the last one fed (events and skips). */
  public long nextSequence() {
    return applied + 1;
  }

  public Subscription newSubscription(String id, String subscriberName, String peer, Policy policy,
      long maxEvents, long maxBytes, long creditEvents, long creditBytes) {
    return new Subscription(id, subscriberName, peer, policy, maxEvents, maxBytes, creditEvents, creditBytes,
        ring, counters, Instant.now());
  }

  /**
   * Positions {@code sub} and makes it visible to the feeder (see {@link Subscription#start}).
   * Returns the first sequence it can be sent. NOT_FOUND once the mirror is closed.
   */
  public long register(Subscription sub, StartKind kind, long sequence, long topicEpoch, long positionEpoch, Gap firstGap) {
    return sub.start(kind, sequence, topicEpoch, positionEpoch, firstGap, () -> {
      registry.add(sub);
      return applied;
    });
  }

  public void unregister(Subscription sub) {
    registry.remove(sub);
  }

  public List<Subscription> subscriptions() {
    return Arrays.asList(registry.snapshot());
  }

  /**
   * Appends a run of events (increasing sequences, each at or after {@link #nextSequence()}) to the
   * ring and offers it to every subscription by its policy, like the dispatch loop: one max_block
   * deadline for the run, BLOCK subscriptions that pass it evicted as slow consumers; then trims the
   * ring to {@code s}'s retention. Feeder only; may wait on BLOCK subscriptions.
   */
  public void deliver(List<Sequenced> run, TopicSettings s) throws InterruptedException {
    if (run.isEmpty()) {
      return;
    }
    ring.appendAll(run);
    applied = run.get(run.size() - 1).sequence(); // volatile write before the snapshot read
    relayed += run.size();
    Subscription[] subs = registry.snapshot();
    long deadline = System.nanoTime() + s.maxBlock().toNanos();
    FanOut.offer(subs, run, deadline, sub -> evict(sub, s));
    FanOut.wake(subs);
    trim(s, deadline);
  }

  /**
   * Records that the sequences of {@code gap} will never come (an upstream gap notice) and tells
   * every live subscription that would have been offered them, with the same reason, epoch and
   * count; subscriptions catching up find it in the ring. The part of the gap before {@link
   * #nextSequence()} is ignored. Feeder only.
   */
  public void skip(Gap gap) {
    long first = Math.max(gap.first(), applied + 1);
    if (gap.last() < first) {
      return;
    }
    Gap g = first == gap.first() ? gap : new Gap(first, gap.last(), gap.reason(), gap.epoch(), gap.countUnknown());
    ring.appendSkip(g);
    applied = g.last();
    Subscription[] subs = registry.snapshot();
    for (Subscription sub : subs) {
      sub.offerGap(g);
    }
    FanOut.wake(subs);
  }

  private void trim(TopicSettings s, long deadline) throws InterruptedException {
    long target = ring.trimTarget(s.retentionMaxEvents(), s.retentionMaxBytes(), s.retentionMaxAge().toMillis(), System.currentTimeMillis());
    if (target > ring.firstSequence()) {
      if (ring.pinnedBelow(target)) {
        FanOut.holdTrimForBlockReaders(registry.snapshot(), target, deadline, sub -> evict(sub, s));
      }
      ring.trimBefore(target);
    }
  }

  private void evict(Subscription sub, TopicSettings s) {
    if (sub.close(CloseReason.SLOW_CONSUMER)) {
      counters.evictions.increment();
      log.warn("evicted slow consumer {} ('{}', {}) from relayed topic '{}': BLOCK buffer full, or history unread, for longer than max_block {}",
          sub.id(), sub.name(), sub.peer(), name, s.maxBlock());
    }
    registry.remove(sub);
  }

  /** Lets every subscription's writer send what is buffered, then end its stream with {@code reason}. */
  public void drainSubscribers(CloseReason reason) {
    for (Subscription sub : registry.snapshot()) {
      sub.beginDrain(reason);
    }
  }

  /**
   * Refuses further registrations and closes every subscription with {@code reason} (which
   * releases a feeder waiting on a BLOCK buffer). Idempotent; never blocks.
   */
  public void close(CloseReason reason) {
    for (Subscription sub : registry.closeAll()) {
      sub.close(reason);
    }
  }

  // ------------------------------------------------------------------ stats

  /** Events fed (relayed) so far. */
  public long relayed() {
    return relayed;
  }

  public long delivered() {
    return counters.delivered.sum();
  }

  public long dropped() {
    return counters.droppedTotal();
  }

  public long dropped(DropReason reason) {
    return counters.dropped(reason);
  }

  public long evictions() {
    return counters.evictions.sum();
  }

  /** The oldest retained sequence, 0 when nothing is retained. */
  public long firstRetainedSequence() {
    return ring.retainedEvents() == 0 ? 0 : ring.firstSequence();
  }

  public long retainedEvents() {
    return ring.retainedEvents();
  }

  public long retainedBytes() {
    return ring.retainedBytes();
  }

  /** Events buffered in the local subscriptions now, summed. */
  public long bufferedEvents() {
    long n = 0;
    for (Subscription sub : registry.snapshot()) {
      n += sub.stats().bufferedEvents();
    }
    return n;
  }

  public void onBufferTime(Topic.BufferTimeListener l) {
    counters.onBufferTime(l);
  }

  /** Validation for tests: the ring's and every subscription's invariants. */
  public void checkInvariants() {
    ring.checkInvariants();
    for (Subscription s : registry.snapshot()) {
      s.checkInvariants();
    }
  }
}
