package io.herald.broker.topic;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.subscription.DeliveryCounters;
import io.herald.broker.subscription.DropReason;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.TopicStats;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One topic on its owner node: the bounded inbox, exactly one dispatch loop, the retention ring,
 * the dedup window and the subscriber registry.
 *
 * <h2>The dispatch loop</h2>
 * A virtual thread named {@code herald-dispatch-<topic>} takes batches from the inbox. For each
 * event of a batch it checks dedup, assigns the next sequence and serializes the {@code
 * DeliveredEvent} once; then it appends the batch's events to the ring and offers the same bytes
 * to every subscription by its policy, one lock acquisition per subscription per batch (waiting up
 * to {@code max_block} on a full BLOCK buffer, then evicting that subscriber). Then it wakes the
 * writers that got something, trims the ring, frees the inbox room (letting waiting publishers in)
 * and acks the batch. Nothing else sequences this topic.
 *
 * <h2>Registry</h2>
 * Subscriptions are added and removed under {@link #registryLock}, which republishes the immutable
 * array {@link #snapshot}; the loop reads that array and never takes the lock. Lock order:
 * subscription lock, then registry lock, then ring lock (see {@link #register}).
 *
 * <h2>Lifecycle</h2>
 * {@link #start()} starts the loop; {@link #stopAccepting}/{@link #awaitInboxEmpty}/{@link
 * #drainSubscribers} shut it down gracefully; {@link #close} ends it (subscriptions closed with a
 * reason, unsequenced batches failed with a status) and joins the loop.
 */
public final class Topic {
  private static final Logger log = LoggerFactory.getLogger(Topic.class);
  private static final Subscription[] NONE = new Subscription[0];

  private final String name;
  private final Instant createTime;
  private final long epoch;
  private volatile TopicSettings settings;
  private final Inbox inbox = new Inbox();
  private final RetentionRing ring = new RetentionRing();
  private final Thread loop;

  private final ReentrantLock registryLock = new ReentrantLock();
  // @GuardedBy("registryLock")
  private final List<Subscription> subscriptions = new ArrayList<>(0);
  // @GuardedBy("registryLock")
  private boolean closed;
  private volatile Subscription[] snapshot = NONE;

  /** Last sequence assigned; written by the loop before it reads {@link #snapshot}. */
  private volatile long assigned;
  private final LongAdder delivered = new LongAdder();
  private final LongAdder[] dropped = {new LongAdder(), new LongAdder(), new LongAdder()};
  private final LongAdder duplicates = new LongAdder();
  private final LongAdder rejected = new LongAdder();
  private final LongAdder evictions = new LongAdder();
  private final DeliveryCounters counters = new DeliveryCounters() {
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
      BufferTimeListener l = bufferTimeListener;
      if (l != null) {
        l.record(millis);
      }
    }
  };

  /** Where the time events spend in subscription buffers goes (the metrics). */
  public interface BufferTimeListener {
    void record(long millis);
  }

  private volatile BufferTimeListener bufferTimeListener;

  public void onBufferTime(BufferTimeListener l) {
    this.bufferTimeListener = l;
  }

  // loop-only
  private Cache<String, PublishAck> dedup;
  private TopicSettings dedupFor;

  /** Sequences handed out per reservation: the metadata store is written once per this many events. */
  static final long SEQUENCE_RESERVATION = 100_000;

  /** Where the topic records how far it may hand out sequences (the metadata store). */
  public interface SequenceFloors {
    /** Blocks until {@code floor} is durable: after a restart the topic continues at or above it. */
    void record(long floor);
  }

  private final SequenceFloors floors;
  /** The first sequence this topic object assigned (counters start with it). */
  private final long firstSequence;
  // loop-only: sequences up to this are covered by a recorded floor
  private long reservedUpTo;

  /**
   * A topic whose next sequence is {@code sequenceFloor}; it records a new floor through {@code
   * floors} before handing out sequences beyond the last one recorded, so that sequences never go
   * back, even after a crash (a crash can leave a jump: numbers reserved and never used).
   */
  public Topic(String name, TopicSettings settings, Instant createTime, long sequenceFloor, SequenceFloors floors) {
    this.name = name;
    this.settings = settings;
    this.createTime = createTime;
    this.epoch = 1;
    this.floors = floors;
    this.assigned = sequenceFloor - 1;
    this.firstSequence = sequenceFloor;
    this.reservedUpTo = sequenceFloor - 1;
    this.ring.resetTo(sequenceFloor);
    this.loop = Thread.ofVirtual().name("herald-dispatch-" + name).unstarted(this::runLoop);
  }

  public void start() {
    loop.start();
  }

  public String name() {
    return name;
  }

  public Instant createTime() {
    return createTime;
  }

  public TopicSettings settings() {
    return settings;
  }

  public void updateSettings(TopicSettings s) {
    this.settings = s;
  }

  // ------------------------------------------------------------------ publish side

  /**
   * Admits a batch by the topic's publish-overflow setting. ADMITTED: queued; WAITING (BLOCK topic,
   * inbox full): queued later, and {@code listener.admitted()} says when; FULL (REJECT topic) and
   * LINE_FULL (BLOCK topic whose wait line is full too): counted and refused; CLOSED: the topic is
   * closing.
   */
  public Admission offer(PublishBatch batch) {
    TopicSettings s = settings;
    Admission a = inbox.offer(batch, s);
    if (a == Admission.FULL || a == Admission.LINE_FULL) {
      rejected.increment();
    }
    return a;
  }

  /**
   * Takes a waiting batch out of the line because its publisher cancelled: true if it was waiting
   * (it is then never sequenced, and its listener is not called), false if it was already let in
   * (it is sequenced as usual) or never waited.
   */
  public boolean withdraw(PublishBatch batch) {
    return inbox.withdraw(batch, settings);
  }

  private void runLoop() {
    try {
      while (true) {
        PublishBatch b = inbox.take();
        if (b == null) {
          return;
        }
        List<PublishAck> acks = null;
        try {
          acks = sequence(b);
        } catch (InterruptedException e) {
          b.listener.failed(Status.UNAVAILABLE.withDescription("topic '" + name + "' stopped while sequencing the batch").asRuntimeException());
          return;
        } catch (RuntimeException e) {
          log.error("dispatch loop of topic '{}' failed on a batch of {} events", name, b.size(), e);
          b.listener.failed(Status.INTERNAL.withDescription("broker failed to sequence the batch: " + e).asRuntimeException());
        } finally {
          TopicSettings s = settings;
          for (PublishBatch in : inbox.release(b, s)) {
            in.listener.admitted();
          }
        }
        if (acks != null) {
          b.listener.sequenced(acks);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private List<PublishAck> sequence(PublishBatch b) throws InterruptedException {
    TopicSettings s = settings;
    Cache<String, PublishAck> dd = dedupCache(s);
    Instant now = Instant.now();
    long nowMillis = now.toEpochMilli();
    Timestamp ts = Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()).build();
    List<PublishAck> acks = new ArrayList<>(b.size());
    List<Sequenced> run = new ArrayList<>(b.size());
    long seq = assigned;
    if (seq + b.size() > reservedUpTo) {
      reservedUpTo = seq + b.size() + SEQUENCE_RESERVATION;
      floors.record(reservedUpTo + 1);
    }
    byte[] tsBytes = ts.toByteArray();
    for (int i = 0; i < b.size(); i++) {
      ByteString ev = b.events.get(i);
      boolean remember = dd != null && !b.assigned[i];
      String key = remember ? b.ids[i].toStringUtf8() : null;
      if (remember) {
        PublishAck first = dd.getIfPresent(key);
        if (first != null) {
          acks.add(first.toBuilder().setDuplicate(true).build());
          duplicates.increment();
          continue;
        }
      }
      seq++;
      // serialized once; every subscriber is sent these same bytes
      run.add(new Sequenced(seq, DeliveredEventEncoder.encode(seq, epoch, tsBytes, ev, b.assigned[i] ? b.ids[i] : null), nowMillis));
      // the id only when the broker made it up: the publisher knows its own (acks are in order)
      PublishAck.Builder ab = PublishAck.newBuilder().setSequence(seq).setEpoch(epoch).setPublishTime(ts);
      if (b.assigned[i]) {
        ab.setIdBytes(b.ids[i]);
      }
      PublishAck ack = ab.build();
      if (remember) {
        dd.put(key, ack);
      }
      acks.add(ack);
    }
    if (!run.isEmpty()) {
      ring.appendAll(run);
      assigned = seq; // volatile write before the snapshot read: see register()
      long maxBlockNanos = s.maxBlock().toNanos();
      for (Subscription sub : snapshot) {
        if (sub.offerAll(run, maxBlockNanos) == Subscription.OfferResult.TIMED_OUT) {
          evict(sub, s);
        }
      }
      for (Subscription sub : snapshot) {
        sub.flushSignal();
      }
    }
    ring.trim(s.retentionMaxEvents(), s.retentionMaxBytes(), s.retentionMaxAge().toMillis(), System.currentTimeMillis());
    return acks;
  }

  private Cache<String, PublishAck> dedupCache(TopicSettings s) {
    if (!s.dedupEnabled()) {
      dedup = null;
      dedupFor = null;
      return null;
    }
    if (dedup == null || dedupFor.dedupMaxIds() != s.dedupMaxIds() || !dedupFor.dedupWindow().equals(s.dedupWindow())) {
      // maintenance runs on the loop itself: no pool threads behind the topic's back
      dedup = Caffeine.newBuilder()
          .maximumSize(s.dedupMaxIds())
          .expireAfterWrite(s.dedupWindow())
          .executor(Runnable::run)
          .build();
      dedupFor = s;
    }
    return dedup;
  }

  private void evict(Subscription sub, TopicSettings s) {
    if (sub.close(CloseReason.SLOW_CONSUMER)) {
      evictions.increment();
      log.warn("evicted slow consumer {} ('{}', {}) from topic '{}': BLOCK buffer full for longer than max_block {}",
          sub.id(), sub.name(), sub.peer(), name, s.maxBlock());
    }
    unregister(sub);
  }

  // ------------------------------------------------------------------ subscribe side

  /** A new subscription bound to this topic's ring and counters; register it with {@link #register}. */
  public Subscription newSubscription(String id, String subscriberName, String peer, Policy policy,
      long maxEvents, long maxBytes, long creditEvents, long creditBytes) {
    return new Subscription(id, subscriberName, peer, policy, maxEvents, maxBytes, creditEvents, creditBytes,
        ring, counters, Instant.now());
  }

  /**
   * Makes {@code sub} visible to the dispatch loop at the given start, and returns the first sequence
   * it will be sent. The subscription's lock is held while it is added to the snapshot and the last
   * assigned sequence is read: the loop writes {@code assigned} before it reads the snapshot, so
   * every event after that sequence is offered to the new subscription, and events up to it are
   * filtered out by the start position.
   */
  public long register(Subscription sub, StartKind kind, long sequence) {
    return sub.start(kind, sequence, () -> {
      registryLock.lock();
      try {
        if (closed) {
          throw Status.NOT_FOUND.withDescription("topic '" + name + "' is closing").asRuntimeException();
        }
        subscriptions.add(sub);
        snapshot = subscriptions.toArray(NONE);
      } finally {
        registryLock.unlock();
      }
      return assigned;
    });
  }

  /** Removes a subscription (idempotent). */
  public void unregister(Subscription sub) {
    registryLock.lock();
    try {
      if (subscriptions.remove(sub)) {
        snapshot = subscriptions.toArray(NONE);
      }
    } finally {
      registryLock.unlock();
    }
  }

  /** The live subscriptions, in registration order. */
  public List<Subscription> subscriptions() {
    return Arrays.asList(snapshot);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Refuses new publishes; batches already queued are still sequenced. Waiting batches fail with {@code status}. */
  public void stopAccepting(StatusRuntimeException status) {
    Inbox.failAll(inbox.closeForNew(), status);
  }

  /** Waits until every queued batch is sequenced; false on timeout. */
  public boolean awaitInboxEmpty(long timeout, TimeUnit unit) throws InterruptedException {
    return inbox.awaitEmpty(unit.toNanos(timeout));
  }

  /** Lets every subscription's writer send what is buffered, then end its stream with {@code reason}. */
  public void drainSubscribers(CloseReason reason) {
    for (Subscription sub : snapshot) {
      sub.beginDrain(reason);
    }
  }

  /**
   * Ends the topic: unsequenced batches fail with {@code status}, subscriptions close with {@code
   * reason}, the loop stops (joined for up to 5 s, then interrupted). Idempotent.
   */
  public void close(StatusRuntimeException status, CloseReason reason) {
    Subscription[] subs;
    registryLock.lock();
    try {
      closed = true;
      subs = snapshot;
      subscriptions.clear();
      snapshot = NONE;
    } finally {
      registryLock.unlock();
    }
    Inbox.failAll(inbox.closeAll(), status);
    for (Subscription sub : subs) {
      sub.close(reason); // releases a loop waiting on a BLOCK buffer
    }
    try {
      if (!loop.join(java.time.Duration.ofSeconds(5)) && loop.isAlive()) {
        log.warn("dispatch loop of topic '{}' did not stop within 5 s; interrupting it", name);
        loop.interrupt();
        loop.join(java.time.Duration.ofSeconds(5));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ------------------------------------------------------------------ stats

  public long nextSequence() {
    return assigned + 1;
  }

  public long evictions() {
    return evictions.sum();
  }

  /** Deliveries lost by subscription buffers, all reasons. */
  public long dropped() {
    long n = 0;
    for (LongAdder a : dropped) {
      n += a.sum();
    }
    return n;
  }

  public long dropped(DropReason reason) {
    return dropped[reason.ordinal()].sum();
  }

  public long published() {
    return assigned - (firstSequence - 1);
  }

  public long delivered() {
    return delivered.sum();
  }

  public long duplicates() {
    return duplicates.sum();
  }

  public long rejected() {
    return rejected.sum();
  }

  /** The inbox, for tests in this package (invariant checks). */
  Inbox inbox() {
    return inbox;
  }

  public long inboxDepthEvents() {
    return inbox.depthEvents();
  }

  public long inboxDepthBytes() {
    return inbox.depthBytes();
  }

  /** Events offered to a full inbox and waiting in line for room (BLOCK topics). */
  public long waitingEvents() {
    return inbox.waitingEvents();
  }

  public long waitingBytes() {
    return inbox.waitingBytes();
  }

  public TopicStats stats() {
    return TopicStats.newBuilder()
        .setPublished(published())
        .setDelivered(delivered.sum())
        .setDropped(dropped())
        .setInboxDepthEvents(inbox.depthEvents())
        .setInboxDepthBytes(inbox.depthBytes())
        .setWaitingEvents(inbox.waitingEvents())
        .setWaitingBytes(inbox.waitingBytes())
        .setSubscriberCount(snapshot.length)
        .setNextSequence(assigned + 1)
        .setFirstRetainedSequence(ring.retainedEvents() == 0 ? 0 : ring.firstSequence())
        .setRetainedEvents(ring.retainedEvents())
        .setRetainedBytes(ring.retainedBytes())
        .setDuplicates(duplicates.sum())
        .setRejected(rejected.sum())
        .setSlowConsumerEvictions(evictions.sum())
        .build();
  }
}
