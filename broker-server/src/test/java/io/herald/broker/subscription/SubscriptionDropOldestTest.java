package io.herald.broker.subscription;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * DROP_OLDEST evicts the oldest buffered event even when gap markers other than its own EVICTED
 * marker are ahead of it (a first gap, a LOOP_RESTARTED gap): they stay, in order, and the event
 * becomes an EVICTED gap after them. (Before the fix: ClassCastException out of offerAll.)
 */
class SubscriptionDropOldestTest {
  private static final DeliveryCounters NONE = new DeliveryCounters() {
    @Override
    public void delivered(long events) { }

    @Override
    public void dropped(long events, DropReason reason) { }
  };

  private static Subscription dropOldest(long maxEvents) {
    return new Subscription("s", "n", "p", Policy.DROP_OLDEST, maxEvents, 1_000, 10, 0,
        SubscriptionStressTest.EMPTY, NONE, Instant.EPOCH);
  }

  private static List<Sequenced> events(long epoch, long... sequences) {
    List<Sequenced> run = new ArrayList<>();
    for (long s : sequences) {
      run.add(new Sequenced(s, epoch, new byte[1], 0));
    }
    return run;
  }

  private static List<String> drain(Subscription sub) {
    List<String> out = new ArrayList<>();
    for (Object o : sub.poll(100, 100_000)) {
      out.add(o instanceof Sequenced e ? String.valueOf(e.sequence())
          : ((Gap) o).reason() + "[" + ((Gap) o).first() + "," + ((Gap) o).last() + "]");
    }
    return out;
  }

  @Test
  void evictsPastALoopRestartedGap() throws InterruptedException {
    Subscription sub = dropOldest(2);
    sub.start(StartKind.LATEST, 0, 1, 1, null, () -> 0L);
    sub.loopRestarted(1, 1, 2); // sequence 1 was assigned, never offered: LOOP_RESTARTED [1,1] ahead
    assertThat(sub.offerAll(events(2, 2, 3, 4, 5), System.nanoTime())).isEqualTo(Subscription.OfferResult.ACCEPTED);
    sub.checkInvariants();
    assertThat(drain(sub)).containsExactly("LOOP_RESTARTED[1,1]", "EVICTED[2,3]", "4", "5");
    assertThat(sub.stats().dropped()).isEqualTo(3);
  }

  @Test
  void evictsPastAnEvictedGapAndALoopRestartedGap() throws InterruptedException {
    Subscription sub = dropOldest(2);
    sub.start(StartKind.LATEST, 0, 1, 1, null, () -> 0L);
    sub.offerAll(events(1, 1, 2, 3), System.nanoTime()); // EVICTED [1,1], 2, 3
    sub.loopRestarted(4, 1, 2); // LOOP_RESTARTED [4,4] after 3
    sub.offerAll(events(2, 5, 6, 7), System.nanoTime());
    sub.checkInvariants();
    assertThat(drain(sub)).containsExactly("EVICTED[1,3]", "LOOP_RESTARTED[4,4]", "EVICTED[5,5]", "6", "7");
  }

  @Test
  void evictsPastAFirstGap() throws InterruptedException {
    Subscription sub = dropOldest(1);
    // resuming after sequence 7 of an earlier incarnation (epoch 1) of a topic now in epoch 2, as Topic.register does
    sub.start(StartKind.SEQUENCE, 1, 2, 2, new Gap(8, 0, GapReason.TOPIC_RECREATED, 1, true), () -> 0L);
    sub.offerAll(events(2, 1, 2), System.nanoTime());
    sub.checkInvariants();
    assertThat(drain(sub)).containsExactly("TOPIC_RECREATED[8,0]", "EVICTED[1,1]", "2");
  }
}
