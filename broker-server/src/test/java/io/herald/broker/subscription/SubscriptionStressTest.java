package io.herald.broker.subscription;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The subscription buffer under its three parties at once, for each policy: the dispatch loop
 * offering runs, the writer polling as credit allows, and a third thread granting credit and
 * closing at a random moment. After every iteration the buffer's invariants hold and every offered
 * event is accounted for exactly once: delivered, inside a gap notice, or dropped by the close.
 */
@Timeout(120)
class SubscriptionStressTest {
  private static final int ITERATIONS = 150;
  private static final int EVENTS = 2_000;

  /** No history: these subscriptions start live. */
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

  private static final class Counts implements DeliveryCounters {
    final AtomicLong delivered = new AtomicLong();
    final AtomicLong[] dropped = new AtomicLong[DropReason.values().length];

    Counts() {
      for (int i = 0; i < dropped.length; i++) {
        dropped[i] = new AtomicLong();
      }
    }

    @Override
    public void delivered(long events) {
      delivered.addAndGet(events);
    }

    @Override
    public void dropped(long events, DropReason reason) {
      dropped[reason.ordinal()].addAndGet(events);
    }

    @Override
    public void bufferTime(long millis) { }
  }

  @ParameterizedTest
  @EnumSource(Policy.class)
  void offerPollGrantAndCloseRaceWithoutLosingCountOrOrder(Policy policy) throws Exception {
    // a thread each for the loop and the writer, not the common pool: on a 2-core machine it has
    // one worker, which ran them one after the other (every BLOCK loop timed out before the writer
    // ran, so the close never met a waiting offer)
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      iterations(policy, threads);
    } finally {
      threads.shutdownNow();
    }
  }

  private static void iterations(Policy policy, ExecutorService threads) throws Exception {
    for (int it = 0; it < ITERATIONS; it++) {
      Counts counts = new Counts();
      Subscription sub = new Subscription("s", "stress", "test", policy, 16, 4_096, 8, 0, EMPTY, counts, Instant.now());
      sub.start(StartKind.LATEST, 0, 1, 1, null, () -> 0L);
      AtomicBoolean offerDone = new AtomicBoolean();
      List<Long> seen = new ArrayList<>();
      AtomicLong gapped = new AtomicLong();
      int closeAfter = ThreadLocalRandom.current().nextInt(EVENTS * 2);

      CompletableFuture<Void> loop = CompletableFuture.runAsync(() -> {
        try {
          long seq = 0;
          while (seq < EVENTS) {
            int n = 1 + ThreadLocalRandom.current().nextInt(8);
            List<Sequenced> run = new ArrayList<>(n);
            for (int i = 0; i < n && seq < EVENTS; i++) {
              seq++;
              run.add(new Sequenced(seq, 1, new byte[1 + (int) (seq % 300)], 0));
            }
            // a short deadline: a BLOCK offer that passes it is what the topic evicts
            Subscription.OfferResult r = sub.offerAll(run, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50));
            if (r != Subscription.OfferResult.ACCEPTED) {
              sub.close(CloseReason.SLOW_CONSUMER);
              break;
            }
            sub.flushSignal();
          }
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        } finally {
          offerDone.set(true);
        }
      }, threads);
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        int polls = 0;
        while (true) {
          List<Object> items = sub.poll(5, 2_048);
          for (Object o : items) {
            if (o instanceof Sequenced e) {
              if (!seen.isEmpty()) {
                assertThat(e.sequence()).isGreaterThan(seen.get(seen.size() - 1));
              }
              seen.add(e.sequence());
            } else {
              gapped.addAndGet(((Gap) o).count());
            }
          }
          if (items.isEmpty()) {
            if (sub.state() == Subscription.State.CLOSED || (offerDone.get() && sub.drained())) {
              return;
            }
            Thread.onSpinWait();
          }
          if (++polls % 3 == 0) {
            sub.grant(4, 0);
          }
          if (polls == closeAfter) {
            sub.close(CloseReason.CLIENT_CANCELLED);
          }
          sub.checkInvariants();
        }
      }, threads);
      loop.get(30, TimeUnit.SECONDS);
      writer.get(30, TimeUnit.SECONDS);
      sub.close(CloseReason.CLIENT_CANCELLED);
      sub.checkInvariants();

      long droppedByClose = counts.dropped[DropReason.SUBSCRIPTION_CLOSED.ordinal()].get();
      long droppedByPolicy = counts.dropped[DropReason.DROPPED_NEWEST.ordinal()].get()
          + counts.dropped[DropReason.EVICTED_OLDEST.ordinal()].get();
      long offered = sub.stats().lastOffered();
      assertThat(counts.delivered.get()).isEqualTo(seen.size());
      // every event the subscription took is delivered, dropped by its policy, or dropped by the close: once
      assertThat(seen.size() + droppedByPolicy + droppedByClose).isEqualTo(offered);
      // gap notices report what the policy dropped (markers still buffered at the close went with it)
      assertThat(gapped.get()).isLessThanOrEqualTo(droppedByPolicy);
      if (policy == Policy.BLOCK) {
        assertThat(droppedByPolicy).isZero();
      }
      if (!offerDone.get() || sub.stats().lastOffered() == EVENTS) {
        assertThat(offered).isLessThanOrEqualTo(EVENTS);
      }
    }
  }
}
