package io.herald.broker.subscription;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * One subscriber's state on the broker: its bounded buffer, the overflow policy applied to it, the
 * credit the subscriber granted, and its catch-up cursor into the topic's retention ring.
 *
 * <h2>Concurrency</h2>
 * Three parties touch a subscription, each through its own methods:
 * <ul>
 *   <li>the topic's dispatch loop (one thread) calls {@link #offerAll} and {@link #flushSignal};
 *   <li>the subscription's writer (never two at once; see {@code delivery.SubscriptionWriter})
 *       calls {@link #poll} and {@link #drained};
 *   <li>any thread calls {@link #grant}, {@link #close}, {@link #beginDrain} and the stats getters.
 * </ul>
 * All state is guarded by {@link #lock}. Nothing here calls into gRPC; the only callback,
 * {@code wake}, must be cheap and non-blocking (it schedules the writer).
 *
 * <h2>Start positions</h2>
 * A LATEST subscription is live from its start sequence: the loop offers it every event from there.
 * An EARLIEST or SEQUENCE subscription first catches up: the writer reads the retention ring from a
 * cursor while the loop skips the subscription ({@code liveFrom} is infinite); when the cursor
 * reaches the ring's end the writer sets {@code liveFrom} to the cursor, under the lock, and the
 * loop's next offer lands in the buffer. The loop appends an event to the ring before it offers it,
 * so no event falls between the two. Retention that overtakes the cursor becomes a gap: RETENTION
 * for sequences that were not retained when the subscription started, the policy's own reason
 * (EVICTED, DROPPED) for those that were, CRASH_RECOVERY below the log's {@code unknownBelow}. The
 * topic does not trim history that a catching-up BLOCK subscription has not read yet: it waits for
 * the reader, within max_block ({@link #awaitReadPast}), then evicts it.
 *
 * <h2>Bounds</h2>
 * The buffer holds at most {@code maxEvents} events and {@code maxBytes} bytes, except that an empty
 * buffer always takes one event (so an event larger than the byte bound is not stuck forever). Gap
 * markers between events are merged, so there is at most one per buffered event.
 */
public final class Subscription {

  /** Outstanding event credit above this is a protocol error. */
  public static final long MAX_CREDIT_EVENTS = 1L << 40;
  /** Outstanding byte credit above this is a protocol error. */
  public static final long MAX_CREDIT_BYTES = 1L << 50;

  /** What {@link #offerAll} did with a run of events. */
  public enum OfferResult {
    /** Every event was buffered, dropped by policy, or skipped (read from the ring / before the start). */
    ACCEPTED,
    /** BLOCK: no room within max_block; the caller evicts the subscription. */
    TIMED_OUT,
    /** The subscription is closed or draining. */
    CLOSED
  }

  /** Lifecycle as the writer sees it. */
  public enum State {
    OPEN,
    /** Closing after the buffer is sent (graceful shutdown); no more offers. */
    DRAINING,
    CLOSED
  }

  private static final Runnable NO_WAKE = () -> { };

  private final String id;
  private final String name;
  private final String peer;
  private final Policy policy;
  private final long maxEvents;
  private final long maxBytes;
  private final boolean byteCredit;
  private final RetainedLog log;
  private final DeliveryCounters counters;
  private final Instant createTime;

  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled when a BLOCK buffer gets room or the subscription closes. */
  private final Condition notFull = lock.newCondition();
  private volatile Runnable wake = NO_WAKE;

  /** {@link Sequenced} events and {@link GapMarker}s, in sequence order. */
  @GuardedBy("lock")
  private final ArrayDeque<Object> entries = new ArrayDeque<>(4);
  @GuardedBy("lock")
  private long bufferedEvents;
  @GuardedBy("lock")
  private long bufferedBytes;
  @GuardedBy("lock")
  private boolean catchingUp;
  @GuardedBy("lock")
  private long cursor;
  /** BLOCK, catching up: where this subscription pins the log (0: no pin). */
  @GuardedBy("lock")
  private long pinned;
  /** Catching up: sequences from here on were retained when the subscription started. */
  @GuardedBy("lock")
  private long retainedAtStart;
  @GuardedBy("lock")
  private long liveFrom = Long.MAX_VALUE;
  /** Live: the last sequence the buffer took (buffered, or dropped by policy into a gap). */
  @GuardedBy("lock")
  private long lastOffered;
  @GuardedBy("lock")
  private long nextSequence;
  @GuardedBy("lock")
  private long epoch;
  @GuardedBy("lock")
  private long creditEvents;
  @GuardedBy("lock")
  private long creditBytes;
  @GuardedBy("lock")
  private long delivered;
  @GuardedBy("lock")
  private long dropped;
  @GuardedBy("lock")
  private boolean dirty;
  @GuardedBy("lock")
  private State state = State.OPEN;
  @GuardedBy("lock")
  private CloseReason closeReason;

  public Subscription(String id, String name, String peer, Policy policy, long maxEvents, long maxBytes,
      long initialCreditEvents, long initialCreditBytes, RetainedLog log, DeliveryCounters counters,
      Instant createTime) {
    if (maxEvents < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("buffer bounds must be positive: " + maxEvents + " events, " + maxBytes + " bytes");
    }
    if (!validCredit(initialCreditEvents, 0, MAX_CREDIT_EVENTS) || !validCredit(initialCreditBytes, 0, MAX_CREDIT_BYTES)) {
      throw new IllegalArgumentException("initial credit out of range");
    }
    this.id = id;
    this.name = name;
    this.peer = peer;
    this.policy = policy;
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
    this.byteCredit = initialCreditBytes > 0;
    this.creditEvents = initialCreditEvents;
    this.creditBytes = initialCreditBytes;
    this.log = log;
    this.counters = counters;
    this.createTime = createTime;
  }

  /** Sets the callback that schedules this subscription's writer. Call before registering. */
  public void onWake(Runnable wake) {
    this.wake = wake;
  }

  /**
   * Positions the subscription and makes it visible to the dispatch loop. {@code register} must
   * publish this subscription to the loop's snapshot and return the last sequence the loop has
   * assigned; it runs under this subscription's lock, so the loop's first offers wait until the
   * position is set, and no event is both skipped and missing. {@code firstGap}, when not null, is
   * sent before anything else (a position from an earlier incarnation of the topic); {@code
   * positionEpoch} is the epoch of a SEQUENCE start (the topic's for the others). Returns the
   * first sequence the subscription can be sent: for a start older than what is retained, the first
   * retained sequence (the lost range comes first as a gap notice).
   */
  public long start(StartKind kind, long sequence, long topicEpoch, long positionEpoch, Gap firstGap, LongSupplier register) {
    lock.lock();
    try {
      long lastAssigned = register.getAsLong();
      // until it reads an event, a catching-up subscription is in the epoch of its position: gaps
      // in the history before it carry that epoch
      epoch = kind == StartKind.SEQUENCE ? positionEpoch : topicEpoch;
      if (firstGap != null) {
        entries.addLast(new GapMarker(firstGap.first(), firstGap.last(), firstGap.reason(), firstGap.epoch(), firstGap.countUnknown()));
        dirty = true;
      }
      switch (kind) {
        case LATEST -> {
          catchingUp = false;
          liveFrom = lastAssigned + 1;
          lastOffered = lastAssigned;
          nextSequence = liveFrom;
        }
        case EARLIEST -> catchUpFrom(log.firstSequence());
        case SEQUENCE -> catchUpFrom(sequence);
        default -> throw new IllegalArgumentException("unknown start " + kind);
      }
      return catchingUp ? Math.max(cursor, Math.min(log.firstSequence(), log.nextSequence())) : nextSequence;
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private void catchUpFrom(long from) {
    if (from >= log.nextSequence()) {
      // nothing retained to read: live at once (the loop has not appended `from` yet)
      catchingUp = false;
      liveFrom = from;
      lastOffered = from - 1;
      nextSequence = from;
      return;
    }
    catchingUp = true;
    cursor = from;
    if (policy == Policy.BLOCK) {
      // lossless from history too: the log is not trimmed under this reader's cursor
      pinned = log.pin(from);
      retainedAtStart = pinned;
    } else {
      retainedAtStart = Math.max(from, log.firstSequence());
    }
    liveFrom = Long.MAX_VALUE;
    nextSequence = from;
  }

  // ------------------------------------------------------------------ dispatch loop side

  /**
   * Offers a run of consecutive events by the subscription's policy. Dispatch loop only; one lock
   * acquisition for the whole run. For BLOCK, an event that finds the buffer full waits for room
   * until {@code deadlineNanos} ({@link System#nanoTime()} scale: one deadline per batch, shared by
   * every subscription of the topic); if it passes the result is TIMED_OUT and the rest of the run
   * is not offered (the caller evicts the subscription).
   *
   * @return ACCEPTED when the run was handled (events buffered, skipped or dropped by policy),
   *     TIMED_OUT, or CLOSED
   * @throws InterruptedException if the loop is stopped while waiting
   */
  public OfferResult offerAll(List<Sequenced> run, long deadlineNanos) throws InterruptedException {
    boolean wakeNow = false;
    lock.lock();
    try {
      for (int i = 0, n = run.size(); i < n; i++) {
        Sequenced e = run.get(i);
        if (state != State.OPEN) {
          return OfferResult.CLOSED;
        }
        if (e.sequence() < liveFrom) {
          if (catchingUp) {
            dirty = true; // the writer reads it from the ring: make sure it runs
          }
          continue;
        }
        if (fits(e)) {
          append(e);
          continue;
        }
        switch (policy) {
          case DROP_NEWEST -> {
            Object tail = entries.peekLast();
            if (tail instanceof GapMarker m && m.reason == GapReason.DROPPED && m.last == e.sequence() - 1) {
              m.last = e.sequence();
            } else {
              entries.addLast(new GapMarker(e.sequence(), e.sequence(), GapReason.DROPPED, e.epoch(), false));
            }
            lastOffered = e.sequence();
            countDropped(1, DropReason.DROPPED_NEWEST);
            dirty = true;
          }
          case DROP_OLDEST -> {
            while (!fits(e) && bufferedEvents > 0) {
              evictOldest();
            }
            append(e);
          }
          case BLOCK -> {
            // the writer must run to make room: wake it before waiting
            wake.run();
            while (!fits(e)) {
              long nanos = deadlineNanos - System.nanoTime();
              if (nanos <= 0) {
                return OfferResult.TIMED_OUT;
              }
              notFull.awaitNanos(nanos);
              // checked after the wait, before fits(): close() empties the buffer, so the event
              // would fit and be buffered in a closed subscription, neither sent nor counted
              if (state != State.OPEN) {
                return OfferResult.CLOSED;
              }
            }
            append(e);
            wakeNow = true;
          }
          default -> throw new IllegalStateException("unknown policy " + policy);
        }
      }
      return OfferResult.ACCEPTED;
    } finally {
      lock.unlock();
      if (wakeNow) {
        flushSignal();
      }
    }
  }

  /**
   * Offers a gap that came from upstream (a relay's owner will never send these sequences): a live
   * subscription that would have been offered any of them gets the same notice (same reason, epoch
   * and count flag; its range starts later only if the subscription started inside it), in order,
   * before its next event. A subscription still catching up reads the gap from the log instead (the
   * relay records it there as a skip first); one that starts after it is not told. Not counted as
   * this subscription's drop. Relay loop only; {@code gap.last()} must be known (not 0).
   *
   * @return how many sequences of the gap this subscription took as a notice (0 if none)
   */
  public long offerGap(Gap gap) {
    lock.lock();
    try {
      if (state != State.OPEN) {
        return 0;
      }
      if (catchingUp) {
        dirty = true; // the writer reads the skip from the log: make sure it runs
        return 0;
      }
      long from = Math.max(gap.first(), Math.max(liveFrom, lastOffered + 1));
      if (from > gap.last()) {
        return 0;
      }
      entries.addLast(new GapMarker(from, gap.last(), gap.reason(), gap.epoch(), gap.countUnknown()));
      lastOffered = gap.last();
      dirty = true;
      return gap.last() - from + 1;
    } finally {
      lock.unlock();
    }
  }

  /** Wakes the writer if the loop offered anything since the last call. Dispatch loop only. */
  public void flushSignal() {
    boolean w;
    lock.lock();
    try {
      w = dirty;
      dirty = false;
    } finally {
      lock.unlock();
    }
    if (w) {
      wake.run();
    }
  }

  /**
   * Waits until this subscription no longer needs retained events below {@code sequence}: it is
   * not catching up from the ring, or its cursor reached {@code sequence}, or it is closed. The
   * topic calls it for BLOCK subscriptions before trimming its ring up to {@code sequence}. Returns
   * false if {@code deadlineNanos} passed first (the caller evicts the subscription). Dispatch loop
   * only.
   */
  public boolean awaitReadPast(long sequence, long deadlineNanos) throws InterruptedException {
    lock.lock();
    try {
      boolean woke = false;
      while (state == State.OPEN && catchingUp && cursor < sequence) {
        if (!woke) {
          wake.run(); // the writer must run to read
          woke = true;
        }
        long nanos = deadlineNanos - System.nanoTime();
        if (nanos <= 0) {
          return false;
        }
        notFull.awaitNanos(nanos);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The topic's dispatch loop failed and was restarted in epoch {@code newEpoch}: a live
   * subscription that was not offered every event up to {@code lastSequenced} (the loop failed
   * while fanning them out) gets a LOOP_RESTARTED gap for those; they were sequenced, so the count
   * is exact. Called by the topic's supervisor while the loop is stopped.
   */
  public void loopRestarted(long lastSequenced, long oldEpoch, long newEpoch) {
    boolean w = false;
    lock.lock();
    try {
      epoch = newEpoch;
      if (state == State.OPEN && !catchingUp && liveFrom <= lastSequenced) {
        long from = Math.max(lastOffered + 1, liveFrom);
        if (from <= lastSequenced) {
          entries.addLast(new GapMarker(from, lastSequenced, GapReason.LOOP_RESTARTED, oldEpoch, false));
          countDropped(lastSequenced - from + 1, DropReason.LOOP_RESTARTED);
          lastOffered = lastSequenced;
          w = true;
        }
      }
    } finally {
      lock.unlock();
    }
    if (w) {
      wake.run();
    }
  }

  /**
   * Checks the buffer's invariants (Caffeine-style validation, for tests): the counters match the
   * entries, entries are in sequence order with gap markers never adjacent to each other in the
   * same reason, the bounds hold (an empty buffer may take one event of any size), nothing is
   * buffered once closed. Throws {@link IllegalStateException} naming the broken invariant.
   */
  public void checkInvariants() {
    lock.lock();
    try {
      long events = 0;
      long bytes = 0;
      long last = 0;
      for (Object o : entries) {
        if (o instanceof Sequenced e) {
          events++;
          bytes += e.size();
          check(e.sequence() > last, "events out of order: " + e.sequence() + " after " + last);
          last = e.sequence();
        } else {
          GapMarker m = (GapMarker) o;
          check(m.last == 0 || m.first > last, "gap [" + m.first + ", " + m.last + "] after sequence " + last);
          last = Math.max(last, m.last);
        }
      }
      check(events == bufferedEvents, "bufferedEvents " + bufferedEvents + " but " + events + " events buffered");
      check(bytes == bufferedBytes, "bufferedBytes " + bufferedBytes + " but " + bytes + " bytes buffered");
      check(events <= Math.max(1, maxEvents), "buffer holds " + events + " events, bound " + maxEvents);
      check(events <= 1 || bytes <= maxBytes, "buffer holds " + bytes + " bytes, bound " + maxBytes);
      check(state != State.CLOSED || events == 0, "closed subscription still buffers " + events + " events");
      check(creditEvents >= 0, "negative event credit " + creditEvents);
      check(!catchingUp || liveFrom == Long.MAX_VALUE, "catching up while live from " + liveFrom);
    } finally {
      lock.unlock();
    }
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException("subscription invariant broken: " + what);
    }
  }

  @GuardedBy("lock")
  private boolean fits(Sequenced e) {
    if (bufferedEvents == 0) {
      return true;
    }
    return bufferedEvents < maxEvents && bufferedBytes + e.size() <= maxBytes;
  }

  @GuardedBy("lock")
  private void append(Sequenced e) {
    lastOffered = e.sequence();
    entries.addLast(e);
    bufferedEvents++;
    bufferedBytes += e.size();
    dirty = true;
  }

  /**
   * Pushes the oldest buffered event out: it becomes an EVICTED gap marker in its place, merged
   * into an EVICTED marker right before it. Gap markers ahead of it stay ahead of it, in order.
   */
  // The entries ahead of the oldest event are not always one EVICTED marker: a first gap from
  // start() (TOPIC_RECREATED) or a LOOP_RESTARTED gap from loopRestarted() can be there too when
  // the buffer overflows before the writer takes them (found by SubscriptionLincheckTest).
  @GuardedBy("lock")
  private void evictOldest() {
    List<GapMarker> ahead = null; // markers before `before`, oldest first (rare: usually none)
    GapMarker before = null; // the marker right before the oldest event
    while (entries.peekFirst() instanceof GapMarker m) {
      entries.pollFirst();
      if (before != null) {
        if (ahead == null) {
          ahead = new ArrayList<>(2);
        }
        ahead.add(before);
      }
      before = m;
    }
    Sequenced victim = (Sequenced) entries.pollFirst();
    bufferedEvents--;
    bufferedBytes -= victim.size();
    if (before != null && before.reason == GapReason.EVICTED) {
      before.last = victim.sequence();
      entries.addFirst(before);
    } else {
      entries.addFirst(new GapMarker(victim.sequence(), victim.sequence(), GapReason.EVICTED, victim.epoch(), false));
      if (before != null) {
        entries.addFirst(before);
      }
    }
    if (ahead != null) {
      for (int i = ahead.size() - 1; i >= 0; i--) {
        entries.addFirst(ahead.get(i));
      }
    }
    countDropped(1, DropReason.EVICTED_OLDEST);
  }

  @GuardedBy("lock")
  private void countDropped(long n, DropReason reason) {
    dropped += n;
    counters.dropped(n, reason);
  }

  // ------------------------------------------------------------------ writer side

  /**
   * Takes what may be sent now, in order: {@link Gap}s (which need no credit) and {@link Sequenced}
   * events (each takes one event credit and, with byte credit, its size; a batch may overshoot byte
   * credit by one event). At most {@code maxEvents} events and about {@code maxBytes} bytes. Writer
   * only. Empty when nothing can be sent.
   */
  public List<Object> poll(int maxEvents, long maxBytes) {
    List<Object> out = new ArrayList<>();
    lock.lock();
    try {
      if (state == State.CLOSED) {
        return out;
      }
      if (catchingUp) {
        if (state == State.OPEN) {
          pollRetained(out, maxEvents, maxBytes);
        }
        return out;
      }
      int count = 0;
      long bytes = 0;
      while (!entries.isEmpty()) {
        Object head = entries.peekFirst();
        if (head instanceof GapMarker m) {
          entries.pollFirst();
          out.add(new Gap(m.first, m.last, m.reason, m.epoch, m.countUnknown));
          if (m.last != 0) {
            nextSequence = Math.max(nextSequence, m.last + 1);
          }
          continue;
        }
        Sequenced e = (Sequenced) head;
        if (!hasCredit() || count >= maxEvents || (count > 0 && bytes + e.size() > maxBytes)) {
          break;
        }
        entries.pollFirst();
        bufferedEvents--;
        bufferedBytes -= e.size();
        takeCredit(e);
        out.add(e);
        nextSequence = e.sequence() + 1;
        epoch = e.epoch();
        count++;
        bytes += e.size();
      }
      if (count > 0) {
        delivered += count;
        counters.delivered(count);
        if (policy == Policy.BLOCK) {
          notFull.signal();
        }
        // time in buffer, sampled once per batch: the oldest event's wait
        for (Object o : out) {
          if (o instanceof Sequenced first) {
            counters.bufferTime(System.currentTimeMillis() - first.publishTimeMillis());
            break;
          }
        }
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private void pollRetained(List<Object> out, int maxEvents, long maxBytes) {
    // gap markers queued before the catch-up (a position from an earlier incarnation) go first
    while (entries.peekFirst() instanceof GapMarker m) {
      entries.pollFirst();
      out.add(new Gap(m.first, m.last, m.reason, m.epoch, m.countUnknown));
    }
    long before = cursor;
    long first = log.firstSequence();
    if (cursor < first) {
      lost(out, first - 1);
    }
    int want = (int) Math.min(maxEvents, creditEvents);
    long byteBudget = byteCredit ? Math.min(maxBytes, Math.max(creditBytes, 0)) : maxBytes;
    if (want > 0 && byteBudget > 0) {
      List<Sequenced> read = new ArrayList<>(Math.min(want, 64));
      log.read(cursor, want, byteBudget, read);
      for (Sequenced e : read) {
        if (e.sequence() > cursor) {
          // a skip in the log, or retention overtook us between firstSequence() and read()
          lost(out, e.sequence() - 1);
        }
        takeCredit(e);
        out.add(e);
        cursor = e.sequence() + 1;
        epoch = e.epoch();
      }
      if (!read.isEmpty()) {
        delivered += read.size();
        counters.delivered(read.size());
      }
    }
    long end = log.nextSequence();
    if (cursor < end) {
      Gap skip = log.skipAt(cursor);
      if (skip != null && skip.last() >= end - 1) {
        // the log ends in a skip (a relay told of lost sequences, nothing after them yet): say so
        // now, as the owner would, instead of at the next event
        lost(out, end - 1);
      }
    }
    nextSequence = cursor;
    if (pinned != 0 && cursor > pinned) {
      log.movePin(pinned, cursor);
      pinned = cursor;
    }
    if (cursor >= log.nextSequence()) {
      // caught up: from here on the loop offers events to the buffer
      catchingUp = false;
      liveFrom = cursor;
      lastOffered = cursor - 1;
      releasePin();
    }
    if (cursor != before && policy == Policy.BLOCK) {
      notFull.signalAll(); // a loop waiting to trim history behind this reader may go on
    }
  }

  /**
   * The log no longer has the sequences from the cursor up to {@code upTo}: says why, as one or
   * more gaps, and moves the cursor past them. Below the log's {@code unknownBelow}: CRASH_RECOVERY
   * (count unknown); a skip recorded in the log: its own gap; below what was retained at the start:
   * RETENTION; above it (trimmed before this reader got there): the policy's reason, counted as
   * dropped.
   */
  @GuardedBy("lock")
  private void lost(List<Object> out, long upTo) {
    long unknownBelow = log.unknownBelow();
    if (cursor < unknownBelow) {
      long end = Math.min(upTo, unknownBelow - 1);
      out.add(new Gap(cursor, end, log.unknownReason(), epoch, true));
      cursor = end + 1;
    }
    long movedBelow = log.movedBelow();
    if (cursor < movedBelow && cursor <= upTo) {
      // sequenced by the previous owner, handed over exactly: lost to this subscription, counted
      long end = Math.min(upTo, movedBelow - 1);
      out.add(new Gap(cursor, end, GapReason.OWNER_CHANGE, epoch));
      cursor = end + 1;
    }
    while (cursor <= upTo) {
      Gap skip = log.skipAt(cursor);
      if (skip != null) {
        long end = Math.min(upTo, skip.last());
        out.add(new Gap(cursor, end, skip.reason(), skip.epoch(), skip.countUnknown()));
        cursor = end + 1;
        continue;
      }
      if (cursor < retainedAtStart) {
        long end = Math.min(upTo, retainedAtStart - 1);
        out.add(new Gap(cursor, end, GapReason.RETENTION, epoch));
        cursor = end + 1;
        continue;
      }
      GapReason reason = policy == Policy.DROP_NEWEST ? GapReason.DROPPED : GapReason.EVICTED;
      out.add(new Gap(cursor, upTo, reason, epoch));
      countDropped(upTo - cursor + 1, policy == Policy.DROP_NEWEST ? DropReason.DROPPED_NEWEST : DropReason.EVICTED_OLDEST);
      cursor = upTo + 1;
    }
  }

  @GuardedBy("lock")
  private void releasePin() {
    if (pinned != 0) {
      log.unpin(pinned);
      pinned = 0;
    }
  }

  @GuardedBy("lock")
  private boolean hasCredit() {
    return creditEvents > 0 && (!byteCredit || creditBytes > 0);
  }

  @GuardedBy("lock")
  private void takeCredit(Sequenced e) {
    creditEvents--;
    if (byteCredit) {
      creditBytes -= e.size();
    }
  }

  /**
   * Adds credit. Returns false (and changes nothing) if a value is negative (a uint64 above 2^63)
   * or the outstanding credit would pass {@link #MAX_CREDIT_EVENTS} / {@link #MAX_CREDIT_BYTES}.
   * Byte grants are ignored when the subscription uses event credit only.
   */
  public boolean grant(long events, long bytes) {
    lock.lock();
    try {
      if (!validCredit(events, creditEvents, MAX_CREDIT_EVENTS) || !validCredit(bytes, Math.max(creditBytes, 0), MAX_CREDIT_BYTES)) {
        return false;
      }
      creditEvents += events;
      if (byteCredit) {
        creditBytes += bytes;
      }
    } finally {
      lock.unlock();
    }
    wake.run();
    return true;
  }

  private static boolean validCredit(long grant, long current, long max) {
    return grant >= 0 && grant <= max && current + grant <= max;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Stops taking events and lets the writer send what is buffered (graceful shutdown); the writer
   * closes it once {@link #drained()}. No effect if already closing.
   */
  public void beginDrain(CloseReason reason) {
    lock.lock();
    try {
      if (state != State.OPEN) {
        return;
      }
      state = State.DRAINING;
      closeReason = reason;
      notFull.signalAll();
    } finally {
      lock.unlock();
    }
    wake.run();
  }

  /** True when a draining subscription has nothing left to send (or is closed). */
  public boolean drained() {
    lock.lock();
    try {
      return state == State.CLOSED || catchingUp || entries.isEmpty();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Closes the subscription: no more offers, and buffered events are discarded and counted as
   * dropped. Returns true if this call closed it (the first close wins and keeps its reason).
   */
  public boolean close(CloseReason reason) {
    lock.lock();
    try {
      if (state == State.CLOSED) {
        return false;
      }
      if (state == State.OPEN) {
        closeReason = reason;
      }
      state = State.CLOSED;
      releasePin();
      if (bufferedEvents > 0) {
        countDropped(bufferedEvents, DropReason.SUBSCRIPTION_CLOSED);
      }
      entries.clear();
      bufferedEvents = 0;
      bufferedBytes = 0;
      notFull.signalAll();
    } finally {
      lock.unlock();
    }
    wake.run();
    return true;
  }

  public State state() {
    lock.lock();
    try {
      return state;
    } finally {
      lock.unlock();
    }
  }

  /** The reason given to the first close or drain; null while open. */
  public CloseReason closeReason() {
    lock.lock();
    try {
      return closeReason;
    } finally {
      lock.unlock();
    }
  }

  // ------------------------------------------------------------------ stats

  public String id() {
    return id;
  }

  public String name() {
    return name;
  }

  public String peer() {
    return peer;
  }

  public Policy policy() {
    return policy;
  }

  public long maxEvents() {
    return maxEvents;
  }

  public long maxBytes() {
    return maxBytes;
  }

  public Instant createTime() {
    return createTime;
  }

  /** A consistent snapshot of the counters. */
  public Stats stats() {
    lock.lock();
    try {
      return new Stats(bufferedEvents, bufferedBytes, delivered, dropped, creditEvents,
          byteCredit ? Math.max(creditBytes, 0) : 0, byteCredit ? Math.max(-creditBytes, 0) : 0, nextSequence, epoch, lastOffered);
    } finally {
      lock.unlock();
    }
  }

  /** Counters of one subscription at one moment. */
  public record Stats(long bufferedEvents, long bufferedBytes, long delivered, long dropped,
      long creditEvents, long creditBytes, long creditBytesDebt, long nextSequence, long epoch, long lastOffered) { }

  /** A run of lost sequences inside the buffer, sent as a gap notice before the next event. */
  private static final class GapMarker {
    final long first;
    long last;
    final GapReason reason;
    final long epoch;
    final boolean countUnknown;

    GapMarker(long first, long last, GapReason reason, long epoch, boolean countUnknown) {
      this.first = first;
      this.last = last;
      this.reason = reason;
      this.epoch = epoch;
      this.countUnknown = countUnknown;
    }
  }
}
