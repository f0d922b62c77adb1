package io.herald.broker.subscription;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An upstream gap (a relay's owner lost or skipped sequences) reaches a live subscription as the same notice, in order. */
class SubscriptionOfferGapTest {
  private static final DeliveryCounters NONE = new DeliveryCounters() {
    @Override
    public void delivered(long events) { }

    @Override
    public void dropped(long events, DropReason reason) { }
  };

  private static Subscription sub(Policy policy, long maxEvents) {
    return new Subscription("s", "n", "p", policy, maxEvents, 1_000_000, 100, 0, SubscriptionStressTest.EMPTY, NONE, Instant.EPOCH);
  }

  private static List<Sequenced> events(long... sequences) {
    List<Sequenced> run = new ArrayList<>();
    for (long s : sequences) {
      run.add(new Sequenced(s, 1, new byte[1], 0));
    }
    return run;
  }

  private static List<String> drain(Subscription sub) {
    List<String> out = new ArrayList<>();
    for (Object o : sub.poll(100, 100_000)) {
      out.add(o instanceof Sequenced e ? String.valueOf(e.sequence())
          : ((Gap) o).reason() + "[" + ((Gap) o).first() + "," + ((Gap) o).last() + "]" + (((Gap) o).countUnknown() ? "?" : ""));
    }
    return out;
  }

  @Test
  void aLiveSubscriptionGetsTheGapBetweenItsEvents() throws InterruptedException {
    Subscription sub = sub(Policy.DROP_OLDEST, 10);
    sub.start(StartKind.LATEST, 0, 1, 1, null, () -> 0L);
    sub.offerAll(events(1, 2), System.nanoTime());
    sub.offerGap(new Gap(3, 5, GapReason.OWNER_CHANGE, 1, true));
    sub.offerAll(events(6), System.nanoTime());
    sub.checkInvariants();
    assertThat(drain(sub)).containsExactly("1", "2", "OWNER_CHANGE[3,5]?", "6");
    assertThat(sub.stats().dropped()).isZero(); // not this subscription's loss
  }

  @Test
  void aSubscriptionThatStartsInsideTheGapIsToldAboutTheRestOfIt() {
    Subscription sub = sub(Policy.DROP_NEWEST, 10);
    sub.start(StartKind.SEQUENCE, 4, 1, 1, null, () -> 0L); // in the future: live from 4
    sub.offerGap(new Gap(1, 6, GapReason.CRASH_RECOVERY, 1, true));
    assertThat(drain(sub)).containsExactly("CRASH_RECOVERY[4,6]?");
  }

  @Test
  void aSubscriptionThatStartsAfterTheGapIsNotTold() {
    Subscription sub = sub(Policy.BLOCK, 10);
    sub.start(StartKind.LATEST, 0, 1, 1, null, () -> 6L);
    sub.offerGap(new Gap(3, 6, GapReason.OWNER_CHANGE, 1, false));
    assertThat(drain(sub)).isEmpty();
  }

  @Test
  void dropOldestEvictsPastAnUpstreamGapAndKeepsItInOrder() throws InterruptedException {
    Subscription sub = sub(Policy.DROP_OLDEST, 1);
    sub.start(StartKind.LATEST, 0, 1, 1, null, () -> 0L);
    sub.offerAll(events(1), System.nanoTime());
    sub.offerGap(new Gap(2, 3, GapReason.OWNER_CHANGE, 1, false));
    sub.offerAll(events(4), System.nanoTime()); // pushes 1 out
    sub.checkInvariants();
    assertThat(drain(sub)).containsExactly("EVICTED[1,1]", "OWNER_CHANGE[2,3]", "4");
  }
}
