package io.herald.broker.topic;

import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.subscription.Subscription;
import java.util.List;
import java.util.function.Consumer;

/**
 * The fan-out step of the dispatch loop: offers a run of sequenced events to every subscription by
 * its policy (one lock acquisition per subscription per run), and holds the ring's trimming back
 * for BLOCK subscriptions still reading history. Every BLOCK wait of one batch shares one deadline,
 * {@code max_block} after the batch's fan-out began, so k stuck subscribers hold a batch back for
 * max_block in all, not k times max_block. Dispatch loop only.
 */
final class FanOut {
  private FanOut() { }

  /**
   * Offers {@code run} to each of {@code subs}; subscriptions whose BLOCK wait passed {@code
   * deadlineNanos} go to {@code evict}.
   */
  static void offer(Subscription[] subs, List<Sequenced> run, long deadlineNanos, Consumer<Subscription> evict)
      throws InterruptedException {
    for (Subscription sub : subs) {
      if (sub.offerAll(run, deadlineNanos) == Subscription.OfferResult.TIMED_OUT) {
        evict.accept(sub);
      }
    }
  }

  /** Wakes the writers of subscriptions that got something. */
  static void wake(Subscription[] subs) {
    for (Subscription sub : subs) {
      sub.flushSignal();
    }
  }

  /**
   * Waits until no BLOCK subscription still needs retained events below {@code trimTo}; those that
   * do not read past it by {@code deadlineNanos} go to {@code evict}. BLOCK is lossless wherever the
   * subscriber reads from: history is not trimmed under a BLOCK reader that has not read it.
   */
  static void holdTrimForBlockReaders(Subscription[] subs, long trimTo, long deadlineNanos, Consumer<Subscription> evict)
      throws InterruptedException {
    for (Subscription sub : subs) {
      if (sub.policy() == Policy.BLOCK && !sub.awaitReadPast(trimTo, deadlineNanos)) {
        evict.accept(sub);
      }
    }
  }
}
