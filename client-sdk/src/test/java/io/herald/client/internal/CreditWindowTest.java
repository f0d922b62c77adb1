package io.herald.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.herald.client.internal.CreditWindow.Grant;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class CreditWindowTest {

  /** Runs {@code w.check()} after every step, as Caffeine validates its structures. */
  private static CreditWindow checked(CreditWindow w) {
    w.check();
    return w;
  }

  @Test
  void eventOnlyWindowGrantsItsLimitThenWhatWasHandled() {
    CreditWindow w = new CreditWindow(100, 0, false);
    assertThat(w.open()).isEqualTo(new Grant(100, 0));
    receive(w, 100, 10);
    assertThat(w.topUp(false)).isEqualTo(Grant.NONE); // all of it outstanding: nothing to give
    w.handled(24, 240);
    assertThat(checked(w).topUp(false)).isEqualTo(new Grant(24, 0)); // the broker has none left: any room counts
  }

  @Test
  void eventOnlyWindowWaitsForAQuarterWhileTheBrokerStillHoldsCredit() {
    CreditWindow w = new CreditWindow(100, 0, false);
    w.open();
    receive(w, 50, 10);
    w.handled(24, 240);
    assertThat(checked(w).topUp(false)).isEqualTo(Grant.NONE); // 24 < 25 and the broker holds 50
    w.handled(1, 10);
    assertThat(checked(w).topUp(false)).isEqualTo(new Grant(25, 0));
    assertThat(w.heldEvents()).isEqualTo(75);
  }

  @Test
  void aStalledBrokerIsToppedUpEvenBelowAQuarter() {
    CreditWindow w = new CreditWindow(100, 0, false);
    w.open();
    receive(w, 100, 10);
    w.handled(1, 10);
    assertThat(checked(w).topUp(false)).isEqualTo(new Grant(1, 0));
  }

  @Test
  void byteOnlyLimitIsToppedUpByBytesAlone() {
    // the defect: 1,000 events / 64 KiB with 2 KiB events stalled after 32
    CreditWindow w = new CreditWindow(1_000, 64 << 10, false);
    assertThat(w.open()).isEqualTo(new Grant(1_000, 64 << 10));
    receive(w, 32, 2 << 10);
    assertThat(w.heldBytes()).isZero();
    assertThat(w.heldEvents()).isEqualTo(968);
    w.handled(8, 8 * (2 << 10)); // a quarter of the bytes
    Grant g = checked(w).topUp(false);
    assertThat(g.bytes()).isEqualTo(16 << 10);
    assertThat(g.events()).isEqualTo(8);
    assertThat(w.heldBytes()).isEqualTo(16 << 10);
  }

  @Test
  void byteStallIsReleasedByOneHandledEvent() {
    CreditWindow w = new CreditWindow(1_000, 64 << 10, false);
    w.open();
    receive(w, 32, 2 << 10);
    w.handled(1, 2 << 10);
    assertThat(checked(w).topUp(false)).isEqualTo(new Grant(1, 2 << 10));
  }

  @Test
  void overshootIsADebtTheNextGrantPaysFirst() {
    CreditWindow w = new CreditWindow(1_000, 10_000, false);
    w.open();
    receive(w, 3, 4_000); // the third event overshoots by 2,000
    assertThat(w.heldBytes()).isEqualTo(-2_000);
    assertThat(checked(w).topUp(false)).isEqualTo(Grant.NONE); // nothing handled: no room
    w.handled(3, 12_000);
    // room for 10,000 bytes of outstanding, plus the 2,000 owed
    assertThat(checked(w).topUp(false)).isEqualTo(new Grant(3, 12_000));
    assertThat(w.heldBytes()).isEqualTo(10_000);
  }

  @Test
  void mixedLimitsTopUpOnWhicheverRunsShortFirst() {
    CreditWindow w = new CreditWindow(8, 1 << 20, false);
    w.open();
    receive(w, 8, 100); // events run out, bytes plentiful
    w.handled(2, 200);
    assertThat(checked(w).topUp(false)).isEqualTo(new Grant(2, 200));
    receive(w, 2, 100);
    w.handled(1, 100);
    assertThat(checked(w).topUp(false)).as("stalled on events").isEqualTo(new Grant(1, 100));
  }

  @Test
  void initialByteCreditIsNeverZeroWithAByteBound() {
    CreditWindow w = new CreditWindow(10, 1_000, false);
    w.open();
    receive(w, 1, 1_500); // outstanding above the byte bound
    assertThat(w.open()).isEqualTo(new Grant(9, 1)); // 0 would mean "event credit only" to the broker
  }

  @Test
  void reopeningForgetsTheOldStreamAndKeepsWhatIsStillOutstanding() {
    CreditWindow w = new CreditWindow(100, 0, false);
    w.open();
    receive(w, 40, 10);
    w.handled(10, 100);
    assertThat(w.open()).isEqualTo(new Grant(70, 0));
    w.received(10, false); // resent after the resume, already seen: uses credit, not outstanding
    assertThat(w.outstandingEvents()).isEqualTo(30);
    assertThat(w.heldEvents()).isEqualTo(69);
    checked(w);
  }

  @Test
  void manualModeGrantsExactlyTheDemand() {
    CreditWindow w = new CreditWindow(1_000, 0, true);
    assertThat(w.open()).isEqualTo(new Grant(0, 0));
    w.request(3);
    assertThat(checked(w).topUp(true)).isEqualTo(new Grant(3, 0));
    receive(w, 3, 10);
    assertThat(w.demand()).isZero();
    w.handled(3, 30);
    assertThat(checked(w).topUp(false)).isEqualTo(Grant.NONE); // handled, but nothing more was requested
    w.request(Long.MAX_VALUE);
    w.request(Long.MAX_VALUE);
    assertThat(w.demand()).isEqualTo(CreditWindow.MAX_DEMAND);
    assertThatThrownBy(() -> w.request(0)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * A model broker with endless events sends whatever its credit allows (overshooting byte credit
   * by at most one event per batch); the handler takes a random part of what is outstanding. The
   * subscription must never stall, and never hold more than its bounds.
   */
  @ParameterizedTest(name = "maxEvents={0} maxBytes={1} sizes {2}..{3}")
  @CsvSource({
      "1000, 0, 10, 10",
      "1000, 65536, 2048, 2048",
      "1000, 65536, 1, 9000",
      "10, 1000000, 100, 100",
      "1, 0, 5, 5",
      "1, 1, 5, 5",
      "7, 3000, 1, 4000",
      "100000, 1048576, 64, 256"})
  void modelBrokerNeverStallsAndBoundsHold(long maxEvents, long maxBytes, int minSize, int maxSize) {
    Random random = new Random(maxEvents * 31 + maxBytes);
    CreditWindow w = new CreditWindow(maxEvents, maxBytes, false);
    Grant initial = w.open();
    long brokerEvents = initial.events();
    long brokerBytes = initial.bytes();
    boolean byteCredit = initial.bytes() > 0;
    java.util.ArrayDeque<Integer> outstanding = new java.util.ArrayDeque<>();
    long handled = 0;
    for (int step = 0; step < 5_000; step++) {
      // the broker: one batch of up to 512 events while it has credit
      for (int n = 0; n < 512 && brokerEvents > 0 && (!byteCredit || brokerBytes > 0); n++) {
        int size = minSize + random.nextInt(maxSize - minSize + 1);
        brokerEvents--;
        brokerBytes -= byteCredit ? size : 0;
        w.received(size, true);
        outstanding.add(size);
      }
      w.check();
      assertThat(w.outstandingEvents()).isLessThanOrEqualTo(maxEvents);
      if (maxBytes > 0) {
        assertThat(w.outstandingBytes()).isLessThanOrEqualTo(maxBytes + maxSize);
      }
      Grant afterBatch = w.topUp(false);
      brokerEvents += afterBatch.events();
      brokerBytes += afterBatch.bytes();
      // the handler
      int take = outstanding.isEmpty() ? 0 : 1 + random.nextInt(outstanding.size());
      long bytes = 0;
      for (int i = 0; i < take; i++) {
        bytes += outstanding.poll();
      }
      w.handled(take, bytes);
      handled += take;
      Grant g = w.topUp(false);
      brokerEvents += g.events();
      brokerBytes += g.bytes();
      w.check();
      boolean brokerCanSend = brokerEvents > 0 && (!byteCredit || brokerBytes > 0);
      assertThat(brokerCanSend || !outstanding.isEmpty()).as("stalled at step %d: %s", step, w).isTrue();
    }
    assertThat(handled).isPositive();
  }

  private static void receive(CreditWindow w, int events, int size) {
    for (int i = 0; i < events; i++) {
      w.received(size, true);
    }
    w.check();
  }
}
