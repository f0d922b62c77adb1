package io.herald.broker.topic;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.subscription.DropReason;
import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.GapReason;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.TopicStats;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A topic this node owns: the pieces of the design, wired together and supervised.
 * <ul>
 *   <li>the bounded {@link Inbox} (accepted batches, not yet sequenced);
 *   <li>the {@link DispatchLoop}, exactly one, on a virtual thread {@code herald-dispatch-<topic>}:
 *       dedup, sequence, encode once, retention ring;
 *   <li>the {@link FanOut}: offer by policy into per-subscriber buffers;
 *   <li>the {@link SubscriberRegistry} behind a mutex, read by the loop as a copy-on-write snapshot;
 *   <li>the {@link RetentionRing} and the {@link TopicCounters}.
 * </ul>
 *
 * <h2>Epochs</h2>
 * A position is (epoch, sequence). The topic starts in the epoch its record gives (new on create,
 * new after a crash); sequences continue across epochs of one incarnation. A subscriber positioned
 * in an older epoch of this incarnation resumes by sequence (the ring and its crash marker say what
 * is lost); one positioned in an earlier incarnation gets a TOPIC_RECREATED gap notice and starts at
 * this incarnation's first sequence.
 *
 * <h2>Supervision</h2>
 * The loop's thread runs it under a supervisor: an unexpected throwable (a bug, an
 * OutOfMemoryError in one allocation) answers the batch in progress (acked if it was committed,
 * UNAVAILABLE if not), starts a new epoch at the next sequence, gives every live subscription that
 * missed events of that batch a LOOP_RESTARTED gap notice, logs once and counts the restart. More
 * than {@value #MAX_RESTARTS} restarts within {@value #RESTART_WINDOW_SECONDS} s close the topic
 * with INTERNAL.
 *
 * <h2>Lifecycle</h2>
 * {@link #start()} starts the loop; {@link #stopAccepting}/{@link #awaitInboxEmpty}/{@link
 * #drainSubscribers} shut it down gracefully; {@link #close} ends it without blocking
 * (subscriptions closed with a reason, unsequenced batches failed with a status; the loop ends by
 * itself, {@link #terminated()} says when). Nothing here joins a thread or waits on a transport
 * thread.
 */
public final class Topic implements TopicHandle {
  private static final Logger log = LoggerFactory.getLogger(Topic.class);

  /** Sequences reserved per durable floor write. */
  static final long SEQUENCE_RESERVATION = 100_000;
  static final int MAX_RESTARTS = 5;
  static final int RESTART_WINDOW_SECONDS = 60;

  /** Where the topic records its bookkeeping (the metadata store). Methods never block. */
  public interface Bookkeeping {
    /** Records durably that the next sequence is at least {@code floor}. */
    CompletableFuture<Void> recordFloor(long floor);

    /** Starts a new epoch at {@code startSequence}; answers the new record. */
    CompletableFuture<TopicRecord> newEpoch(long startSequence, EpochCause cause);

    /**
     * The topic's record as the metadata has it now (this node caught up with the leader); null if
     * the topic is gone. Asked when a change's outcome is unknown (its answer was lost or late).
     */
    default CompletableFuture<TopicRecord> latest() {
      return CompletableFuture.completedFuture(null);
    }

    /** How long the loop waits for one attempt at a metadata change before it asks again. */
    default Duration attemptTimeout() {
      return Duration.ofSeconds(10);
    }

    /** False while this node cannot be sure it still owns the topic: publishes are refused (retryable). */
    default boolean mayAccept() {
      return true;
    }
  }

  /** Where the time events spend in subscription buffers goes (the metrics). */
  public interface BufferTimeListener {
    void record(long millis);
  }

  private final String name;
  private final Instant createTime;
  private final String owner;
  private final long createEpoch;
  private volatile long epoch;
  private volatile long epochStartSequence;
  private volatile EpochCause epochCause;
  private volatile TopicSettings settings;
  private final Bookkeeping bookkeeping;
  private final Inbox inbox = new Inbox();
  private final RetentionRing ring = new RetentionRing();
  private final SubscriberRegistry registry;
  private final TopicCounters counters = new TopicCounters();
  private final DispatchLoop loop;
  private final Thread thread;
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  /** The first sequence this topic object assigned (counters start with it). */
  private final long firstSequence;
  // supervisor (loop thread) only
  private final ArrayDeque<Long> restartTimes = new ArrayDeque<>();
  private volatile StatusRuntimeException failed;
  /** Counted down by {@link #close}: a loop retrying a metadata change gives up, its pause ends at once. */
  private final CountDownLatch closeRequested = new CountDownLatch(1);
  private volatile BiConsumer<LoopPhase, PublishBatch> faultHook;

  /** The topic of {@code record}; {@code bookkeeping} records its floors and epochs. */
  public Topic(TopicRecord record, Bookkeeping bookkeeping) {
    this(record, bookkeeping, SEQUENCE_RESERVATION);
  }

  Topic(TopicRecord record, Bookkeeping bookkeeping, long reservation) {
    this.name = record.name();
    this.settings = record.settings();
    this.createTime = record.createTime();
    this.owner = record.owner();
    this.createEpoch = record.createEpoch();
    this.epoch = record.epoch();
    this.epochStartSequence = record.epochStartSequence();
    this.epochCause = record.epochCause();
    this.bookkeeping = bookkeeping;
    this.registry = new SubscriberRegistry(name);
    long next = record.sequenceFloor();
    this.firstSequence = next;
    // after a crash, the numbers below the floor it resumed at are history the broker lost, and it
    // cannot tell how many of them were assigned (kept in the record across later epochs)
    ring.resetTo(next, record.crashLostBelow(),
        record.lostCause() == EpochCause.EPOCH_CAUSE_OWNER_CHANGE ? GapReason.OWNER_CHANGE : GapReason.CRASH_RECOVERY,
        record.epochCause() == EpochCause.EPOCH_CAUSE_OWNER_CHANGE ? record.epochStartSequence() : 0);
    SequenceReservation r = new SequenceReservation(name, next, reservation, bookkeeping::recordFloor);
    this.loop = new DispatchLoop(this, inbox, ring, counters, r, next);
    this.thread = Thread.ofVirtual().name("herald-dispatch-" + name).unstarted(this::supervise);
  }

  public void start() {
    thread.start();
  }

  @Override
  public String name() {
    return name;
  }

  public Instant createTime() {
    return createTime;
  }

  @Override
  public TopicSettings settings() {
    return settings;
  }

  public void updateSettings(TopicSettings s) {
    this.settings = s;
  }

  @Override
  public long epoch() {
    return epoch;
  }

  public long epochStartSequence() {
    return epochStartSequence;
  }

  public EpochCause epochCause() {
    return epochCause;
  }

  public long createEpoch() {
    return createEpoch;
  }

  public String owner() {
    return owner;
  }

  SubscriberRegistry registry() {
    return registry;
  }

  public void onBufferTime(BufferTimeListener l) {
    counters.onBufferTime(l);
  }

  // ------------------------------------------------------------------ publish side

  @Override
  public Admission offer(PublishBatch batch) {
    StatusRuntimeException f = failed;
    if (f != null) {
      throw f;
    }
    if (!bookkeeping.mayAccept()) {
      throw Errors.error(ErrorReason.ERROR_REASON_OWNER_UNAVAILABLE, "this node owns topic '" + name + "' but has lost contact with the"
          + " cluster metadata, so it may not own it any more: nothing accepted; retry (on any node)", "topic", name, "owner", owner);
    }
    Admission a = inbox.offer(batch, settings);
    if (a == Admission.FULL || a == Admission.LINE_FULL) {
      counters.rejected.increment();
    }
    return a;
  }

  @Override
  public boolean withdraw(PublishBatch batch) {
    return inbox.withdraw(batch, settings);
  }

  void evict(Subscription sub, TopicSettings s) {
    if (sub.close(CloseReason.SLOW_CONSUMER)) {
      counters.evictions.increment();
      log.warn("evicted slow consumer {} ('{}', {}) from topic '{}': BLOCK buffer full, or history unread, for longer than max_block {}",
          sub.id(), sub.name(), sub.peer(), name, s.maxBlock());
    }
    registry.remove(sub);
  }

  /** Test hook: runs {@code hook} at each phase of every batch (it may throw, to inject a fault). */
  public void faultHookForTests(BiConsumer<LoopPhase, PublishBatch> hook) {
    this.faultHook = hook;
  }

  void fault(LoopPhase phase, PublishBatch b) {
    BiConsumer<LoopPhase, PublishBatch> h = faultHook;
    if (h != null) {
      h.accept(phase, b);
    }
  }

  // ------------------------------------------------------------------ supervision

  private void supervise() {
    try {
      while (true) {
        try {
          loop.run();
          return; // the inbox was closed
        } catch (InterruptedException e) {
          return;
        } catch (Throwable t) {
          boolean again;
          try {
            again = restart(t);
          } catch (Throwable t2) {
            t2.addSuppressed(t);
            giveUp(t2, "its supervisor failed while restarting it");
            again = false;
          }
          if (!again) {
            return;
          }
        }
      }
    } finally {
      terminated.complete(null);
    }
  }

  /** Answers the batch in progress, starts a new epoch, tells the subscriptions. False: the topic gave up. */
  private boolean restart(Throwable t) {
    counters.loopRestarts.increment();
    PublishBatch b = loop.current;
    if (b != null) {
      if (loop.committed && loop.currentAcks != null) {
        loop.answer(b, loop.currentAcks, null);
      } else {
        loop.forgetKeys();
        loop.answer(b, null, Errors.error(ErrorReason.ERROR_REASON_LOOP_RESTARTED, "topic '" + name
            + "' failed before sequencing this batch (its dispatch loop restarts); nothing of it was accepted; retry", "topic", name));
      }
    }
    long now = System.nanoTime();
    while (!restartTimes.isEmpty() && now - restartTimes.peekFirst() > TimeUnit.SECONDS.toNanos(RESTART_WINDOW_SECONDS)) {
      restartTimes.pollFirst();
    }
    restartTimes.addLast(now);
    if (restartTimes.size() > MAX_RESTARTS) {
      giveUp(t, "its dispatch loop failed " + restartTimes.size() + " times within " + RESTART_WINDOW_SECONDS + " s");
      return false;
    }
    long oldEpoch = epoch;
    long last = loop.assigned;
    long newEpoch = oldEpoch;
    // an epoch is used only once it is durable: one a restart would not remember would make
    // resuming subscribers' positions look newer than the topic
    TopicRecord r = recordNewEpoch(oldEpoch, last + 1);
    if (r != null) {
      newEpoch = r.epoch();
      epochStartSequence = last + 1;
      epochCause = EpochCause.EPOCH_CAUSE_LOOP_RESTARTED;
      epoch = newEpoch;
    }
    for (Subscription sub : registry.snapshot()) {
      sub.loopRestarted(last, oldEpoch, newEpoch);
    }
    DispatchLoop.logRestart(name, oldEpoch, newEpoch, t);
    return true;
  }

  /**
   * Records a new epoch from {@code start} after a loop restart, and answers it; null when the
   * metadata refused it for good (the topic moved or was deleted: the registry closes this topic,
   * and until then it stays in its epoch, which no other node continues from the same sequence) or
   * the topic closed meanwhile. A write whose answer is lost or late may still commit: then the
   * metadata has left {@code oldEpoch} and the topic must not go on in it. So an attempt that times
   * out or fails with UNAVAILABLE is made again, and a refusal because the topic is in another
   * epoch is checked against the record: if it is this restart's epoch, it is taken.
   */
  private TopicRecord recordNewEpoch(long oldEpoch, long start) {
    long timeout = bookkeeping.attemptTimeout().toMillis();
    long pauseMillis = 0;
    long step = 0;
    for (int attempt = 1; closeRequested.getCount() > 0; attempt++) {
      if (pauseMillis > 0) {
        // a metadata that fails at once (no leader, closed client) is not asked in a tight loop; a
        // close during the pause ends it, and no attempt is made after it
        try {
          if (closeRequested.await(pauseMillis, TimeUnit.MILLISECONDS)) {
            return null;
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while recording a new epoch", e);
        }
      }
      long started = System.nanoTime();
      Throwable failure;
      try {
        return bookkeeping.newEpoch(start, EpochCause.EPOCH_CAUSE_LOOP_RESTARTED).get(timeout, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while recording a new epoch", e);
      } catch (java.util.concurrent.ExecutionException e) {
        failure = e.getCause();
      } catch (java.util.concurrent.TimeoutException e) {
        failure = e;
      }
      Status.Code code = Status.fromThrowable(failure).getCode();
      if (code == Status.Code.FAILED_PRECONDITION || code == Status.Code.NOT_FOUND) {
        TopicRecord now;
        try {
          now = bookkeeping.latest().get(timeout, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while reading the topic's record", e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
          log.warn("topic '{}': the outcome of its new epoch is unknown and its record cannot be read ({}); asking again", name, e.toString());
          step = nextStep(step, timeout);
          pauseMillis = Math.max(0, step - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
          continue;
        }
        if (now != null && now.createEpoch() == createEpoch && now.epoch() > oldEpoch && now.owner().equals(owner)
            && now.epochStartSequence() == start && now.epochCause() == EpochCause.EPOCH_CAUSE_LOOP_RESTARTED) {
          log.info("topic '{}': its new epoch {} was recorded by an earlier attempt whose answer was lost", name, now.epoch());
          return now;
        }
        log.warn("topic '{}': new epoch refused ({}); it stays in epoch {} until it is closed here", name, failure.toString(), oldEpoch);
        return null;
      }
      log.warn("topic '{}': new epoch not confirmed (attempt {}: {}); it may have been recorded, so it is asked again before the topic goes on",
          name, attempt, failure.toString());
      step = nextStep(step, timeout);
      pauseMillis = Math.max(0, step - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }
    return null;
  }

  /**
   * The least time from one attempt's start to the next: doubling from 50 ms up to the attempt
   * timeout or 1 s, so attempts that fail at once are spaced out and one that waited its whole timeout is
   * followed at once.
   */
  private static long nextStep(long step, long attemptTimeoutMillis) {
    return Math.min(Math.max(Math.min(attemptTimeoutMillis, 1_000), 50), step == 0 ? 50 : step * 2);
  }

  /** Closes the topic for good with INTERNAL: publishes and subscriptions are refused from now on. */
  private void giveUp(Throwable t, String why) {
    log.error("topic '{}' is out of service: {}; closing it", name, why, t);
    StatusRuntimeException st = Errors.error(ErrorReason.ERROR_REASON_TOPIC_OUT_OF_SERVICE, "topic '" + name + "' is out of service: " + why
        + " (see the broker log); delete and re-create it, or restart the broker", "topic", name);
    failed = st;
    close(st, CloseReason.TOPIC_FAILED);
  }

  // ------------------------------------------------------------------ subscribe side

  @Override
  public Subscription newSubscription(String id, String subscriberName, String peer, Policy policy,
      long maxEvents, long maxBytes, long creditEvents, long creditBytes) {
    return new Subscription(id, subscriberName, peer, policy, maxEvents, maxBytes, creditEvents, creditBytes,
        ring, counters, Instant.now());
  }

  /**
   * Makes {@code sub} visible to the dispatch loop at the given start. The subscription's lock is
   * held while it is added to the snapshot and the last assigned sequence is read: the loop writes
   * {@code assigned} before it reads the snapshot, so every event after that sequence is offered to
   * the new subscription, and events up to it are filtered out by the start position.
   */
  @Override
  public Start register(Subscription sub, StartKind kind, long sequence, long positionEpoch) {
    StatusRuntimeException f = failed;
    if (f != null) {
      throw f;
    }
    long current = epoch;
    Gap firstGap = null;
    StartKind k = kind;
    long from = sequence;
    if (kind == StartKind.SEQUENCE && positionEpoch != 0 && positionEpoch != current) {
      if (positionEpoch > current) {
        throw Errors.error(ErrorReason.ERROR_REASON_EPOCH_AHEAD, "start_position.epoch " + positionEpoch + " is newer than topic '" + name
            + "''s epoch " + current + "; this broker may be behind: retry on another broker, or resume from the topic's current epoch",
            "topic", name, "epoch", Long.toUnsignedString(positionEpoch), "topicEpoch", current);
      }
      if (positionEpoch < createEpoch) {
        // an earlier incarnation of the name: everything after the position is gone; this one
        // started at sequence 1
        firstGap = new Gap(sequence, 0, GapReason.TOPIC_RECREATED, positionEpoch, true);
        k = StartKind.SEQUENCE;
        from = 1;
      } else if (epochCause == EpochCause.EPOCH_CAUSE_OWNER_CHANGE && sequence == epochStartSequence) {
        // it had everything the previous owner sequenced: told of the move, with nothing lost
        firstGap = new Gap(sequence, sequence - 1, GapReason.OWNER_CHANGE, positionEpoch, false);
      }
    }
    long startSequence = sub.start(k, from, current, positionEpoch == 0 || firstGap != null ? current : positionEpoch, firstGap, () -> {
      registry.add(sub);
      return loop.assigned;
    });
    return new Start(current, startSequence);
  }

  @Override
  public void unregister(Subscription sub) {
    registry.remove(sub);
  }

  @Override
  public List<Subscription> subscriptions() {
    return Arrays.asList(registry.snapshot());
  }

  // ------------------------------------------------------------------ lifecycle

  /** Refuses new publishes; batches already queued are still sequenced. Waiting batches fail with {@code status}. */
  public void stopAccepting(StatusRuntimeException status) {
    Inbox.failAll(inbox.closeForNew(), status);
  }

  /** Waits until every queued batch is sequenced; false on timeout. Not on a transport thread. */
  public boolean awaitInboxEmpty(long timeout, TimeUnit unit) throws InterruptedException {
    return inbox.awaitEmpty(unit.toNanos(timeout));
  }

  /** Lets every subscription's writer send what is buffered, then end its stream with {@code reason}. */
  public void drainSubscribers(CloseReason reason) {
    for (Subscription sub : registry.snapshot()) {
      sub.beginDrain(reason);
    }
  }

  /**
   * Ends the topic without blocking: unsequenced batches fail with {@code status}, subscriptions
   * close with {@code reason} (which releases a loop waiting on a BLOCK buffer), and the loop ends
   * after the batch it is on, which is answered as usual. Idempotent. {@link #terminated()}
   * completes when the loop has ended.
   */
  public void close(StatusRuntimeException status, CloseReason reason) {
    closeRequested.countDown();
    Subscription[] subs = registry.closeAll();
    Inbox.failAll(inbox.closeAll(), status);
    for (Subscription sub : subs) {
      sub.close(reason);
    }
    if (!thread.isAlive() && thread.getState() == Thread.State.NEW) {
      terminated.complete(null); // never started
    }
  }

  /** Before {@link #start}: the dedup ids a previous owner handed over with the topic. */
  public void seedDedup(java.util.Map<String, PublishAck> ids) {
    loop.seedDedup(ids);
  }

  /** After the loop ended: the youngest {@code limit} ids of the dedup window, to hand over. */
  public java.util.Map<String, PublishAck> dedupWindow(int limit) {
    return loop.dedupWindow(limit);
  }

  /** Completes when the dispatch loop has ended (after {@link #close}). */
  public CompletableFuture<Void> terminated() {
    return terminated;
  }

  // ------------------------------------------------------------------ stats

  @Override
  public long nextSequence() {
    return loop.assigned + 1;
  }

  public long evictions() {
    return counters.evictions.sum();
  }

  /** Deliveries lost by subscription buffers, all reasons. */
  public long dropped() {
    return counters.droppedTotal();
  }

  public long dropped(DropReason reason) {
    return counters.dropped(reason);
  }

  public long published() {
    return loop.assigned - (firstSequence - 1);
  }

  public long delivered() {
    return counters.delivered.sum();
  }

  public long duplicates() {
    return counters.duplicates.sum();
  }

  public long rejected() {
    return counters.rejected.sum();
  }

  public long loopRestarts() {
    return counters.loopRestarts.sum();
  }

  public long inboxDepthEvents() {
    return inbox.depthEvents();
  }

  public long inboxDepthBytes() {
    return inbox.depthBytes();
  }

  /** The inbox, for tests in this package (invariant checks). */
  Inbox inbox() {
    return inbox;
  }

  @Override
  public long waitingEvents() {
    return inbox.waitingEvents();
  }

  @Override
  public long waitingBytes() {
    return inbox.waitingBytes();
  }

  /** Validation for tests: the ring's and every subscription's invariants. */
  public void checkInvariants() {
    inbox.checkInvariants(settings);
    ring.checkInvariants();
    for (Subscription s : registry.snapshot()) {
      s.checkInvariants();
    }
  }

  @Override
  public TopicStats stats() {
    return TopicStats.newBuilder()
        .setPublished(published())
        .setDelivered(delivered())
        .setDropped(dropped())
        .setInboxDepthEvents(inbox.depthEvents())
        .setInboxDepthBytes(inbox.depthBytes())
        .setWaitingEvents(inbox.waitingEvents())
        .setWaitingBytes(inbox.waitingBytes())
        .setSubscriberCount(registry.snapshot().length)
        .setNextSequence(nextSequence())
        .setFirstRetainedSequence(ring.retainedEvents() == 0 ? 0 : ring.firstSequence())
        .setRetainedEvents(ring.retainedEvents())
        .setRetainedBytes(ring.retainedBytes())
        .setDuplicates(duplicates())
        .setRejected(rejected())
        .setSlowConsumerEvictions(evictions())
        .setDedupIds(loop.dedupSize())
        .setLoopRestarts(loopRestarts())
        .build();
  }
}
