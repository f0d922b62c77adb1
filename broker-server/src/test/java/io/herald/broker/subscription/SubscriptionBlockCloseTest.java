package io.herald.broker.subscription;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A BLOCK offer waiting for room when the subscription closes: close wakes it, and it returns
 * CLOSED without buffering its event. (close() empties the buffer, so the event would fit; before
 * the fix the woken offer buffered it in the closed subscription, where it was neither sent nor
 * counted as dropped: {@link SubscriptionStressTest} caught it, rarely, as "closed subscription
 * still buffers 1 events".)
 */
@Timeout(60)
class SubscriptionBlockCloseTest {
  private static final DeliveryCounters NONE = new DeliveryCounters() {
    @Override
    public void delivered(long events) { }

    @Override
    public void dropped(long events, DropReason reason) { }
  };

  @Test
  void anOfferWaitingForRoomReturnsClosedAndBuffersNothingWhenTheSubscriptionCloses() throws Exception {
    Subscription sub = new Subscription("s", "n", "p", Policy.BLOCK, 1, 1_000_000, 0, 0, SubscriptionStressTest.EMPTY, NONE, Instant.EPOCH);
    sub.start(StartKind.LATEST, 0, 1, 1, null, () -> 0L);
    assertThat(sub.offerAll(List.of(new Sequenced(1, 1, new byte[1], 0)), System.nanoTime()))
        .isEqualTo(Subscription.OfferResult.ACCEPTED);

    // the loop offers event 2 to the full buffer and waits for room (no credit: the writer sends nothing)
    CompletableFuture<Subscription.OfferResult> offer = new CompletableFuture<>();
    Thread loop = new Thread(() -> {
      try {
        offer.complete(sub.offerAll(List.of(new Sequenced(2, 1, new byte[1], 0)), System.nanoTime() + TimeUnit.SECONDS.toNanos(30)));
      } catch (Throwable t) {
        offer.completeExceptionally(t);
      }
    });
    loop.start();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (loop.getState() != Thread.State.TIMED_WAITING) { // only notFull.awaitNanos parks it with a timeout
      assertThat(System.nanoTime()).as("offer waiting for room").isLessThan(until);
      Thread.sleep(1);
    }

    assertThat(sub.close(CloseReason.CLIENT_CANCELLED)).isTrue();
    Subscription.OfferResult r = offer.get(20, TimeUnit.SECONDS);
    sub.checkInvariants();
    assertThat(r).isEqualTo(Subscription.OfferResult.CLOSED);
    Subscription.Stats st = sub.stats();
    assertThat(st.bufferedEvents()).isZero();
    assertThat(st.lastOffered()).isEqualTo(1); // event 2 was not taken
    assertThat(st.dropped()).isEqualTo(1); // event 1, by the close
    assertThat(sub.poll(10, 1_000)).isEmpty();
  }
}
