package io.herald.broker.subscription;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Lincheck: the subscription buffer's offer, poll, grant and close (and the loop restart, and a
 * relay's upstream gap), run
 * concurrently by the parties its javadoc names, behave like some sequential order of them (checked
 * against the same class run on one thread), for each policy; after every scenario the buffer's
 * invariants hold and every event it took is accounted for exactly once.
 *
 * <p>The parties: the dispatch loop ({@code offer}: {@code offerAll} of the topic's next
 * consecutive sequences, then {@code flushSignal}; {@code evict}: the close that follows a
 * TIMED_OUT, as {@code FanOut} does; {@code restart}: {@code loopRestarted}, which the supervisor
 * calls while the loop is stopped) is one thread, the writer ({@code poll}) is one thread, and
 * {@code grant}, {@code close} and {@code stats} run on any thread. A BLOCK offer is given a
 * deadline that has already passed, so a full buffer answers TIMED_OUT at once: what the topic gets
 * after max_block, without the wait (the model checker makes {@code System.nanoTime()}
 * deterministic, so a later deadline might never pass). The BLOCK waits themselves ({@code
 * notFull}) are therefore not exercised here; {@link SubscriptionStressTest} covers them, and
 * {@link SubscriptionBlockCloseTest} a close that wakes one.
 *
 * <p>The accounting is {@link SubscriptionStressTest}'s: events delivered + dropped by the policy +
 * dropped by the close (+ missed in a loop restart, + still buffered while open) == {@code
 * stats().lastOffered()}; what the writer gets, events and gap notices together, is contiguous from
 * sequence 1 (so delivered sequences strictly increase and nothing is reported twice); gap notices
 * never exceed the policy's and the restarts' drops (BLOCK drops nothing by policy); events
 * delivered never exceed the credit granted.
 *
 * <p>One nested class per policy, each checked by one Lincheck run per mode; the three share the
 * JVM, so Lincheck's start-up is paid once.
 */
@Timeout(300)
public class SubscriptionLincheckTest {

  @Test
  void modelChecking() {
    for (Class<?> c : POLICIES) {
      new ModelCheckingOptions()
          .iterations(5)
          .invocationsPerIteration(50)
          .threads(3)
          .actorsPerThread(3)
          .actorsBefore(2)
          .actorsAfter(1)
          .check(c);
    }
  }

  @Test
  void stress() {
    for (Class<?> c : POLICIES) {
      new StressOptions()
          .iterations(5)
          .invocationsPerIteration(300)
          .threads(3)
          .actorsPerThread(3)
          .actorsBefore(2)
          .actorsAfter(1)
          .check(c);
    }
  }

  private static final List<Class<?>> POLICIES = List.of(DropOldest.class, DropNewest.class, Block.class);

  public static class DropOldest extends Buffer {
    public DropOldest() {
      super(Policy.DROP_OLDEST);
    }
  }

  public static class DropNewest extends Buffer {
    public DropNewest() {
      super(Policy.DROP_NEWEST);
    }
  }

  public static class Block extends Buffer {
    public Block() {
      super(Policy.BLOCK);
    }
  }

  /** Totals the subscription adds to; called only under the subscription's lock. */
  static final class Counts implements DeliveryCounters {
    long delivered;
    final long[] dropped = new long[DropReason.values().length];

    @Override
    public void delivered(long events) {
      delivered += events;
    }

    @Override
    public void dropped(long events, DropReason reason) {
      dropped[reason.ordinal()] += events;
    }

    long dropped(DropReason reason) {
      return dropped[reason.ordinal()];
    }
  }

  /**
   * One subscription and the parties around it. A buffer of 2 events or 4 bytes, events of 1 to 3
   * bytes, 1 event and 3 bytes of credit to begin with: scenarios of a few operations fill it, overflow
   * it, and run out of both kinds of credit.
   */
  @Param(name = "run", gen = IntGen.class, conf = "1:3")
  @Param(name = "max", gen = IntGen.class, conf = "1:2")
  @Param(name = "credit", gen = IntGen.class, conf = "0:2")
  public abstract static class Buffer {
    static final long MAX_EVENTS = 2;
    static final long MAX_BYTES = 4;
    static final long INITIAL_CREDIT_EVENTS = 1;
    static final long INITIAL_CREDIT_BYTES = 3;
    static final long EPOCH = 1;

    private final Policy policy;
    private final Counts counts = new Counts();
    private final Subscription sub;

    /** The dispatch loop's: the last sequence the topic assigned. */
    private long assigned;
    /** The dispatch loop's: the last offer timed out, the subscription is not evicted yet. */
    private boolean timedOut;
    /** The dispatch loop's: the topic's epoch. */
    private long epoch = EPOCH;
    /** The (relay) loop's: sequences the subscription took as upstream gap notices. */
    private long upstream;

    /** The writer's: the last sequence it was given, as an event or inside a gap notice. */
    private long lastSeen;
    private long eventsSeen;
    private long bytesSeen;
    private long gapped;
    /** The writer's: the first contiguity break it saw, checked by {@link #invariants()}. */
    private String broken;

    /** Any thread's: event and byte credit granted after the initial credit. */
    private final AtomicLong granted = new AtomicLong();
    private final AtomicLong grantedBytes = new AtomicLong();

    Buffer(Policy policy) {
      this.policy = policy;
      sub = new Subscription("s", "lincheck", "test", policy, MAX_EVENTS, MAX_BYTES,
          INITIAL_CREDIT_EVENTS, INITIAL_CREDIT_BYTES, SubscriptionStressTest.EMPTY, counts, Instant.EPOCH);
      sub.start(StartKind.LATEST, 0, EPOCH, EPOCH, null, () -> 0L);
    }

    static final int MAX_EVENT_BYTES = 3;

    private static int size(long sequence) {
      return 1 + (int) (sequence % MAX_EVENT_BYTES);
    }

    /**
     * The dispatch loop fans out the topic's next {@code n} sequences: one offerAll (a BLOCK wait's
     * deadline has passed already), then the wake-up. A subscription whose offer timed out is
     * evicted by the loop: by {@link #evict()}, or at the latest before the next offer.
     */
    @Operation(nonParallelGroup = "loop")
    public String offer(@Param(name = "run") int n) throws InterruptedException {
      evictTimedOut();
      List<Sequenced> run = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        long s = ++assigned;
        run.add(new Sequenced(s, epoch, new byte[size(s)], 0));
      }
      Subscription.OfferResult r = sub.offerAll(run, System.nanoTime());
      timedOut = r == Subscription.OfferResult.TIMED_OUT;
      sub.flushSignal();
      return r.name();
    }

    /**
     * The loop evicts the subscription whose offer timed out ({@code Topic.evict}). A step of its
     * own, not part of {@link #offer}: the writer may run between the TIMED_OUT and the close and
     * send what the offer buffered before it ran out of room.
     */
    @Operation(nonParallelGroup = "loop")
    public boolean evict() {
      return evictTimedOut();
    }

    private boolean evictTimedOut() {
      if (!timedOut) {
        return false;
      }
      timedOut = false;
      return sub.close(CloseReason.SLOW_CONSUMER);
    }

    /**
     * The loop failed after assigning {@code skip} more sequences, before offering them to this
     * subscription; the supervisor restarts it in the next epoch ({@code loopRestarted}, while the
     * loop is stopped: a step of the loop's thread here). A pending eviction dies with the failed
     * loop: the new one offers to the subscription again (a BLOCK one then times out again).
     */
    @Operation(nonParallelGroup = "loop")
    public void restart(@Param(name = "credit") int skip) {
      timedOut = false;
      assigned += skip;
      sub.loopRestarted(assigned, epoch, epoch + 1);
      epoch++;
    }

    /**
     * A relay's loop: the owner says the next {@code skip} sequences will never come (an upstream
     * gap notice, {@code TopicMirror.skip}); a live subscription takes it as a notice of its own.
     */
    @Operation(nonParallelGroup = "loop")
    public long upstreamGap(@Param(name = "run") int skip) {
      evictTimedOut(); // as the loop evicts a TIMED_OUT subscription before it goes on
      long first = assigned + 1;
      assigned += skip;
      long took = sub.offerGap(new Gap(first, assigned, GapReason.OWNER_CHANGE, epoch, false));
      upstream += took;
      sub.flushSignal();
      return took;
    }

    /** The writer takes what it may send; the result lists it ("3" an event, "[4,5]EVICTED" a gap). */
    @Operation(nonParallelGroup = "writer")
    public String poll(@Param(name = "max") int max) {
      List<Object> items = sub.poll(max, 3);
      StringBuilder out = new StringBuilder();
      for (Object o : items) {
        long first;
        long last;
        if (o instanceof Sequenced e) {
          first = e.sequence();
          last = e.sequence();
          eventsSeen++;
          bytesSeen += e.size();
          out.append(e.sequence());
        } else {
          Gap g = (Gap) o;
          first = g.first();
          last = g.last();
          gapped += g.count();
          out.append('[').append(g.first()).append(',').append(g.last()).append(']').append(g.reason());
        }
        out.append(' ');
        if (first != lastSeen + 1 && broken == null) {
          broken = "after sequence " + lastSeen + " the writer got " + o;
        }
        lastSeen = Math.max(lastSeen, last);
      }
      return out.toString().trim();
    }

    @Operation
    public boolean grant(@Param(name = "credit") int events) {
      boolean ok = sub.grant(events, events * 2L);
      if (ok) {
        granted.addAndGet(events);
        grantedBytes.addAndGet(events * 2L);
      }
      return ok;
    }

    @Operation
    public boolean close() {
      return sub.close(CloseReason.CLIENT_CANCELLED);
    }

    @Operation
    public Subscription.Stats stats() {
      return sub.stats();
    }

    @Validate
    public void invariants() {
      sub.checkInvariants();
      Subscription.Stats st = sub.stats();
      long byPolicy = counts.dropped(DropReason.DROPPED_NEWEST) + counts.dropped(DropReason.EVICTED_OLDEST);
      long byClose = counts.dropped(DropReason.SUBSCRIPTION_CLOSED);
      long byRestart = counts.dropped(DropReason.LOOP_RESTARTED);
      check(broken == null, "writer's sequences not contiguous: " + broken);
      check(counts.delivered == eventsSeen, "delivered counter " + counts.delivered + ", writer got " + eventsSeen);
      check(st.delivered() == eventsSeen, "stats delivered " + st.delivered() + ", writer got " + eventsSeen);
      check(st.dropped() == byPolicy + byClose + byRestart,
          "stats dropped " + st.dropped() + ", counted " + (byPolicy + byClose + byRestart));
      // every sequence the buffer took: delivered, dropped by the policy, by the close, missed in a
      // loop restart, or still buffered
      check(eventsSeen + byPolicy + byClose + byRestart + upstream + st.bufferedEvents() == st.lastOffered(),
          "delivered " + eventsSeen + " + dropped by policy " + byPolicy + " + by close " + byClose
              + " + by restart " + byRestart + " + upstream gaps " + upstream + " + buffered " + st.bufferedEvents()
              + " != last offered " + st.lastOffered());
      check(sub.state() != Subscription.State.CLOSED || st.bufferedEvents() == 0, "closed but buffering");
      check(st.lastOffered() <= assigned, "last offered " + st.lastOffered() + " > assigned " + assigned);
      check(st.nextSequence() == lastSeen + 1, "next sequence " + st.nextSequence() + " after the writer got " + lastSeen);
      check(lastSeen <= st.lastOffered(), "writer saw " + lastSeen + " > last offered " + st.lastOffered());
      check(gapped <= byPolicy + byRestart + upstream,
          "gap notices cover " + gapped + " events, policy and restarts dropped " + (byPolicy + byRestart) + ", upstream gaps " + upstream);
      if (policy == Policy.BLOCK) {
        check(byPolicy == 0, "BLOCK dropped " + byPolicy);
      } else {
        check(!timedOut, policy + " offer timed out");
      }
      // an open subscription refused nothing (but a BLOCK offer that timed out, not evicted yet)
      check(sub.state() != Subscription.State.OPEN || timedOut || st.lastOffered() == assigned,
          "open " + policy + " subscription took up to " + st.lastOffered() + " of " + assigned);
      check(eventsSeen <= INITIAL_CREDIT_EVENTS + granted.get(), "delivered " + eventsSeen + " beyond credit");
      check(st.creditEvents() == INITIAL_CREDIT_EVENTS + granted.get() - eventsSeen,
          "event credit " + st.creditEvents() + ", expected " + (INITIAL_CREDIT_EVENTS + granted.get() - eventsSeen));
      long byteCredit = INITIAL_CREDIT_BYTES + grantedBytes.get() - bytesSeen;
      check(st.creditBytes() - st.creditBytesDebt() == byteCredit,
          "byte credit " + st.creditBytes() + " - debt " + st.creditBytesDebt() + ", expected " + byteCredit);
      // a batch may overshoot byte credit by one event, and none is sent while it is not positive
      check(byteCredit > -MAX_EVENT_BYTES, "byte credit overshot by " + -byteCredit);
    }

    private static void check(boolean ok, String what) {
      if (!ok) {
        throw new IllegalStateException(what);
      }
    }
  }
}
