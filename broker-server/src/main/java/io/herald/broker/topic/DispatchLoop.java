package io.herald.broker.topic;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Scheduler;
import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.subscription.Subscription;
import io.herald.proto.v1.PublishAck;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single dispatch loop of a topic: the only code that sequences it. For each batch taken from
 * the inbox it
 * <ol>
 *   <li>checks dedup, assigns the next sequences (within a durable {@link SequenceReservation}) and
 *       serializes each {@code DeliveredEvent} once;
 *   <li>commits: appends the run to the retention ring and publishes the last assigned sequence;
 *   <li>fans out ({@link FanOut}): offers the same bytes to every subscription by its policy, with
 *       one max_block deadline for the whole batch, and evicts BLOCK subscribers that pass it;
 *   <li>trims the ring (not under a BLOCK reader that has not read yet), frees the inbox room and
 *       acks the batch.
 * </ol>
 * A batch is answered once ({@link #answer}: its room is freed, its publisher told, then waiting
 * batches let in): acked when it was committed (even if a later step failed: its events are
 * sequenced), failed otherwise. The ring makes room for a run before it places any of it, so a
 * failure never leaves a run half in the ring. Anything thrown escapes to the topic's supervisor ({@link
 * Topic}), which answers the batch in progress ({@link #current}), starts a new epoch and runs the
 * loop again.
 *
 * <p>Thread-safety: the loop's own virtual thread only, except {@link #assigned} (volatile, read by
 * subscription registration and stats) and {@link #dedupSize()}.
 */
final class DispatchLoop {
  private static final Logger log = LoggerFactory.getLogger(DispatchLoop.class);

  private final Topic topic;
  private final Inbox inbox;
  private final RetentionRing ring;
  private final TopicCounters counters;
  private final SequenceReservation reservation;

  /** Last sequence assigned and committed; written by the loop before it reads the registry's snapshot. */
  volatile long assigned;
  private volatile Cache<String, PublishAck> dedup;
  private TopicSettings dedupFor;

  // the batch in progress, for the supervisor
  PublishBatch current;
  List<PublishAck> currentAcks;
  boolean committed;
  private String[] currentKeys;

  DispatchLoop(Topic topic, Inbox inbox, RetentionRing ring, TopicCounters counters, SequenceReservation reservation, long next) {
    this.topic = topic;
    this.inbox = inbox;
    this.ring = ring;
    this.counters = counters;
    this.reservation = reservation;
    this.assigned = next - 1;
  }

  /** Runs until the inbox is closed; throws whatever a batch threw (for the supervisor). */
  void run() throws InterruptedException {
    while (true) {
      PublishBatch b = inbox.take();
      if (b == null) {
        return;
      }
      current = b;
      committed = false;
      currentAcks = null;
      currentKeys = null;
      List<PublishAck> acks;
      try {
        acks = handle(b);
      } catch (io.grpc.StatusRuntimeException e) {
        if (committed) {
          throw e; // not an expected refusal: the supervisor acks what was committed
        }
        // an expected refusal (sequence floor not durable): nothing of the batch was committed
        forgetKeys();
        answer(b, null, e);
        continue;
      }
      answer(b, acks, null);
    }
  }

  /**
   * Answers the batch in progress, once: frees its inbox room, tells its publisher (acks, or the
   * refusal), then lets waiting batches in. Whatever a listener throws, the others are still told.
   */
  void answer(PublishBatch b, List<PublishAck> acks, io.grpc.StatusRuntimeException refusal) {
    if (current != b) {
      return; // already answered
    }
    List<PublishBatch> admitted = inbox.release(b, topic.settings());
    current = null;
    try {
      if (refusal == null) {
        b.listener.sequenced(acks);
      } else {
        b.listener.failed(refusal);
      }
    } finally {
      for (PublishBatch in : admitted) {
        try {
          in.listener.admitted();
        } catch (RuntimeException e) {
          log.error("topic '{}': a waiting publisher's listener failed", topic.name(), e);
        }
      }
    }
  }

  /** Withdraws the dedup entries of the batch in progress (it was not committed). */
  void forgetKeys() {
    Cache<String, PublishAck> dd = dedup;
    if (dd != null && currentKeys != null) {
      for (String k : currentKeys) {
        if (k != null) {
          dd.invalidate(k);
        }
      }
    }
    currentKeys = null;
  }

  private List<PublishAck> handle(PublishBatch b) throws InterruptedException {
    TopicSettings s = topic.settings();
    Cache<String, PublishAck> dd = dedupCache(s);
    long epoch = topic.epoch();
    Instant now = Instant.now();
    long nowMillis = now.toEpochMilli();
    Timestamp ts = Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()).build();
    // per-event acks only where the dedup window keeps them (or a duplicate needs its own);
    // otherwise the batch is answered as one run (AckRun), with no object per event
    List<PublishAck> acks = dd != null ? new ArrayList<>(b.size()) : null;
    boolean duplicates = false;
    List<Sequenced> run = new ArrayList<>(b.size());
    long seq = assigned;
    long firstSeq = seq + 1;
    reservation.cover(seq + b.size());
    topic.fault(LoopPhase.SEQUENCE, b);
    byte[] tsBytes = ts.toByteArray();
    for (int i = 0; i < b.size(); i++) {
      ByteString ev = b.events.get(i);
      boolean remember = dd != null && !b.assigned[i];
      String key = remember ? dedupKey(b.sources[i], b.ids[i]) : null;
      if (remember) {
        PublishAck first = dd.getIfPresent(key);
        if (first != null) {
          acks.add(first.toBuilder().setDuplicate(true).build());
          duplicates = true;
          counters.duplicates.increment();
          continue;
        }
      }
      seq++;
      // serialized once; every subscriber is sent these same bytes
      run.add(new Sequenced(seq, epoch, DeliveredEventEncoder.encode(seq, epoch, tsBytes, ev, b.assigned[i] ? b.ids[i] : null), nowMillis));
      if (acks == null) {
        continue;
      }
      // the id only when the broker made it up: the publisher knows its own (acks are in order)
      PublishAck.Builder ab = PublishAck.newBuilder().setSequence(seq).setEpoch(epoch).setPublishTime(ts);
      if (b.assigned[i]) {
        ab.setIdBytes(b.ids[i]);
      }
      PublishAck ack = ab.build();
      if (remember) {
        // a repeat within this batch is a duplicate too; withdrawn if the batch is not committed
        dd.put(key, ack);
        if (currentKeys == null) {
          currentKeys = new String[b.size()];
        }
        currentKeys[i] = key;
      }
      acks.add(ack);
    }
    List<PublishAck> answer = duplicates ? acks : new AckRun(firstSeq, b.size(), epoch, ts, AckRun.assignedIds(b));
    currentAcks = answer;
    if (!run.isEmpty()) {
      ring.appendAll(run);
      assigned = seq; // volatile write before the snapshot read: see Topic.register
      committed = true;
      Subscription[] subs = topic.registry().snapshot();
      long deadline = System.nanoTime() + s.maxBlock().toNanos();
      topic.fault(LoopPhase.FAN_OUT, b);
      FanOut.offer(subs, run, deadline, sub -> topic.evict(sub, s));
      FanOut.wake(subs);
      trim(s, deadline);
    } else {
      committed = true;
      trim(s, System.nanoTime() + s.maxBlock().toNanos());
    }
    currentKeys = null;
    return answer;
  }

  private void trim(TopicSettings s, long deadline) throws InterruptedException {
    long target = ring.trimTarget(s.retentionMaxEvents(), s.retentionMaxBytes(), s.retentionMaxAge().toMillis(), System.currentTimeMillis());
    if (target > ring.firstSequence()) {
      // only a BLOCK reader catching up holds a pin: without one below the target (the usual case,
      // every batch of a busy topic) there is nobody to wait for and no lock of theirs to take
      if (ring.pinnedBelow(target)) {
        FanOut.holdTrimForBlockReaders(topic.registry().snapshot(), target, deadline, sub -> topic.evict(sub, s));
      }
      ring.trimBefore(target);
    }
  }

  /**
   * What identifies a duplicate: the source and the publisher's id together (ids are unique per
   * source; an empty source is one source like any other). The source's length comes first, so
   * no two (source, id) pairs make the same key.
   */
  static String dedupKey(ByteString source, ByteString id) {
    return source.size() + ":" + source.toStringUtf8() + id.toStringUtf8();
  }

  private Cache<String, PublishAck> dedupCache(TopicSettings s) {
    if (!s.dedupEnabled()) {
      dedup = null;
      dedupFor = null;
      return null;
    }
    if (dedup == null || dedupFor.dedupMaxIds() != s.dedupMaxIds() || !dedupFor.dedupWindow().equals(s.dedupWindow())) {
      // expiry runs by time on the JVM's shared delay scheduler, so an idle topic forgets its ids
      // too; the clean-up itself is cheap and runs on that thread (no pool behind the topic's back)
      dedup = Caffeine.newBuilder()
          .maximumSize(s.dedupMaxIds())
          .expireAfterWrite(s.dedupWindow())
          .executor(Runnable::run)
          .scheduler(Scheduler.systemScheduler())
          .build();
      dedupFor = s;
      Map<String, PublishAck> seed = dedupSeed;
      if (seed != null) {
        dedup.putAll(seed);
        dedupSeed = null;
      }
    }
    return dedup;
  }

  /** Ids a topic handed over here brought (see {@link #seedDedup}); put into the window when it is made. */
  private volatile Map<String, PublishAck> dedupSeed;

  /**
   * Before the loop starts: the ids (key → first ack) a previous owner's window held, handed over
   * with the topic. They start a full window from now (they may be kept up to one window longer
   * than on the previous owner).
   */
  void seedDedup(Map<String, PublishAck> seed) {
    dedupSeed = seed;
  }

  /**
   * The youngest {@code limit} ids of the window (key → first ack), youngest first; empty with
   * dedup off. For a hand-over, after the loop ended.
   */
  Map<String, PublishAck> dedupWindow(int limit) {
    Cache<String, PublishAck> dd = dedup;
    if (dd == null) {
      Map<String, PublishAck> seed = dedupSeed; // never published since it came here: pass it on
      return seed == null ? Map.of() : seed;
    }
    return dd.policy().expireAfterWrite().map(e -> (Map<String, PublishAck>) e.youngest(limit)).orElse(Map.of());
  }

  /** Ids the dedup window holds now. */
  long dedupSize() {
    Cache<String, PublishAck> dd = dedup;
    if (dd == null) {
      return 0;
    }
    dd.cleanUp();
    return dd.estimatedSize();
  }

  /** The supervisor's one log line (with the stack) per restart. */
  static void logRestart(String topic, long oldEpoch, long newEpoch, Throwable t) {
    log.error("dispatch loop of topic '{}' failed; restarted in epoch {} (was {})", topic, newEpoch, oldEpoch, t);
  }
}
