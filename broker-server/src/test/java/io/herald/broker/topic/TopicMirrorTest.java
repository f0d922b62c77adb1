package io.herald.broker.topic;

import static org.assertj.core.api.Assertions.assertThat;

import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.GapReason;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The relay's local fan-out: events fed with their own sequences and upstream gaps recorded as
 * skips reach every kind of subscription (live, catching up, starting inside a gap) as the same
 * events and the same notices. No threads: the test plays the relay loop.
 */
class TopicMirrorTest {

  private static List<Sequenced> events(long epoch, long... sequences) {
    List<Sequenced> run = new ArrayList<>();
    for (long s : sequences) {
      run.add(new Sequenced(s, epoch, new byte[] {(byte) s}, System.currentTimeMillis()));
    }
    return run;
  }

  private static List<String> drain(Subscription sub) {
    List<String> out = new ArrayList<>();
    for (Object o : sub.poll(100, 100_000)) {
      out.add(o instanceof Sequenced e ? e.epoch() + ":" + e.sequence()
          : ((Gap) o).reason() + "[" + ((Gap) o).first() + "," + ((Gap) o).last() + "]@" + ((Gap) o).epoch());
    }
    return out;
  }

  private static Subscription sub(TopicMirror m, Policy p) {
    return m.newSubscription("s", "n", "p", p, 100, 1 << 20, 100, 0);
  }

  @Test
  void liveAndCatchingUpSubscriptionsSeeTheSameEventsAndNotices() throws InterruptedException {
    TopicMirror m = new TopicMirror("t");
    m.resetTo(11);
    Subscription live = sub(m, Policy.DROP_OLDEST);
    m.register(live, StartKind.LATEST, 0, 1, 1, null);
    m.deliver(events(1, 11, 12), TopicSettings.DEFAULTS);
    m.skip(new Gap(13, 20, GapReason.OWNER_CHANGE, 1, false));
    m.deliver(events(2, 21), TopicSettings.DEFAULTS);
    m.checkInvariants();
    List<String> expected = List.of("1:11", "1:12", "OWNER_CHANGE[13,20]@1", "2:21");
    assertThat(drain(live)).isEqualTo(expected);

    Subscription late = sub(m, Policy.BLOCK);
    assertThat(m.register(late, StartKind.EARLIEST, 0, 2, 2, null)).isEqualTo(11);
    assertThat(drain(late)).isEqualTo(expected);
    Subscription before = sub(m, Policy.DROP_NEWEST);
    m.register(before, StartKind.SEQUENCE, 5, 2, 1, null);
    assertThat(drain(before)).containsExactly("RETENTION[5,10]@1", "1:11", "1:12", "OWNER_CHANGE[13,20]@1", "2:21");
    assertThat(m.nextSequence()).isEqualTo(22);
    assertThat(m.relayed()).isEqualTo(3);
    m.checkInvariants();
  }

  @Test
  void aSubscriptionResumingInsideATrailingGapIsToldAtOnce() throws InterruptedException {
    TopicMirror m = new TopicMirror("t");
    m.resetTo(1);
    m.deliver(events(1, 1, 2, 3), TopicSettings.DEFAULTS);
    m.skip(new Gap(4, 100, GapReason.CRASH_RECOVERY, 1, true));
    Subscription sub = sub(m, Policy.BLOCK);
    m.register(sub, StartKind.SEQUENCE, 5, 2, 1, null);
    // nothing after the gap yet: the notice does not wait for the next event
    assertThat(drain(sub)).containsExactly("CRASH_RECOVERY[5,100]@1");
    m.deliver(events(2, 101), TopicSettings.DEFAULTS);
    assertThat(drain(sub)).containsExactly("2:101");
    m.checkInvariants();
  }

  @Test
  void aGapThatOverlapsWhatWasAlreadyFedIsClipped() throws InterruptedException {
    TopicMirror m = new TopicMirror("t");
    m.resetTo(1);
    Subscription live = sub(m, Policy.DROP_OLDEST);
    m.register(live, StartKind.LATEST, 0, 1, 1, null);
    m.deliver(events(1, 1, 2), TopicSettings.DEFAULTS);
    m.skip(new Gap(1, 2, GapReason.RETENTION, 1, false)); // nothing new: ignored
    m.skip(new Gap(2, 4, GapReason.RETENTION, 1, false));
    assertThat(drain(live)).containsExactly("1:1", "1:2", "RETENTION[3,4]@1");
    assertThat(m.nextSequence()).isEqualTo(5);
  }

  @Test
  void closingReleasesAndEndsEverySubscription() {
    TopicMirror m = new TopicMirror("t");
    m.resetTo(1);
    Subscription sub = sub(m, Policy.BLOCK);
    m.register(sub, StartKind.LATEST, 0, 1, 1, null);
    m.close(io.herald.broker.subscription.CloseReason.SHUTDOWN);
    assertThat(sub.state()).isEqualTo(Subscription.State.CLOSED);
    assertThat(m.subscriptions()).isEmpty();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.register(sub(m, Policy.BLOCK), StartKind.LATEST, 0, 1, 1, null))
        .isInstanceOf(io.grpc.StatusRuntimeException.class);
  }
}
