package io.herald.broker.subscription;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A subscription's buffer under each policy, single-threaded (the dispatch loop's offer and the
 * writer's poll on one thread, so the figure is the buffer's own cost, not a hand-off's).
 * {@code offerAndPoll}: a run of 64 events offered, then everything polled in frames of up to 512
 * (the writer's frame bound); the buffer never fills, so this is the path every policy shares
 * (BLOCK adds only the signal to a waiting offer). {@code offerToAFullBuffer} (drop policies): a run of 64 offered to a
 * buffer that is never polled, so every event evicts one (DROP_OLDEST) or is dropped (DROP_NEWEST).
 * One op = one run of 64; the 64 {@link Sequenced} of a run are made per op (as the loop does).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SubscriptionBufferBench {
  static final int RUN = 64;
  static final byte[] EVENT = new byte[160];

  static final DeliveryCounters NONE = new DeliveryCounters() {
    @Override
    public void delivered(long events) { }

    @Override
    public void dropped(long events, DropReason reason) { }
  };

  /** Nothing retained: every subscription starts LATEST and never reads back. */
  static final RetainedLog EMPTY = new RetainedLog() {
    @Override
    public long firstSequence() {
      return 1;
    }

    @Override
    public long nextSequence() {
      return 1;
    }

    @Override
    public long unknownBelow() {
      return 0;
    }

    @Override
    public Gap skipAt(long sequence) {
      return null;
    }

    @Override
    public long pin(long from) {
      return from;
    }

    @Override
    public void movePin(long from, long to) { }

    @Override
    public void unpin(long at) { }

    @Override
    public int read(long from, int maxEvents, long maxBytes, List<Sequenced> out) {
      return 0;
    }
  };

  static Subscription started(Policy policy, long maxEvents) {
    Subscription s = new Subscription("bench", "bench", "bench", policy, maxEvents, 1L << 30,
        Subscription.MAX_CREDIT_EVENTS, 0, EMPTY, NONE, Instant.EPOCH);
    s.start(StartKind.LATEST, 0, 1, 1, null, () -> 1L);
    return s;
  }

  static List<Sequenced> run(long first) {
    List<Sequenced> run = new ArrayList<>(RUN);
    for (int i = 0; i < RUN; i++) {
      run.add(new Sequenced(first + i, 1, EVENT, 0));
    }
    return run;
  }

  @State(Scope.Thread)
  public static class Draining {
    @Param({"DROP_OLDEST", "DROP_NEWEST", "BLOCK"})
    public Policy policy;
    Subscription sub;
    long next = 1;

    @Setup(Level.Trial)
    public void setup() {
      sub = started(policy, 10_000);
    }
  }

  @State(Scope.Thread)
  public static class Full {
    @Param({"DROP_OLDEST", "DROP_NEWEST"})
    public Policy policy;
    Subscription sub;
    long next = 1;

    @Setup(Level.Trial)
    public void setup() throws InterruptedException {
      if (policy == Policy.BLOCK) {
        throw new IllegalArgumentException("offerToAFullBuffer is for the drop policies: a full BLOCK buffer waits");
      }
      sub = started(policy, 10_000);
      while (next <= 10_000) {
        sub.offerAll(run(next), System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
        next += RUN;
      }
    }
  }

  @Benchmark
  public int offerAndPoll(Draining s) throws InterruptedException {
    s.sub.offerAll(run(s.next), System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
    s.next += RUN;
    int n = 0;
    List<Object> frame;
    while (!(frame = s.sub.poll(512, 1 << 20)).isEmpty()) {
      n += frame.size();
    }
    return n;
  }

  @Benchmark
  public Subscription.OfferResult offerToAFullBuffer(Full s) throws InterruptedException {
    Subscription.OfferResult r = s.sub.offerAll(run(s.next), System.nanoTime());
    s.next += RUN;
    return r;
  }
}
