package io.herald.client.internal;

import io.herald.client.Delivery;
import io.herald.client.DeliveryHandler;
import io.herald.client.HeraldException;
import java.util.Objects;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * {@link Flow.Publisher} over subscriptions in manual-credit mode: each Flow subscriber gets its
 * own broker subscription, {@code request(n)} becomes credit, {@code cancel()} closes it. Signals
 * reach the Flow subscriber serially on the client's callback executor (Reactive Streams §1.3).
 */
public final class FlowPublisherImpl implements Flow.Publisher<Delivery> {
  private final ClientCore core;
  private final Function<DeliveryHandler, SubscriptionSpec> specFor;

  public FlowPublisherImpl(ClientCore core, Function<DeliveryHandler, SubscriptionSpec> specFor) {
    this.core = core;
    this.specFor = specFor;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super Delivery> subscriber) {
    Objects.requireNonNull(subscriber, "subscriber");
    AtomicBoolean done = new AtomicBoolean();
    SubscriptionSpec base = specFor.apply(subscriber::onNext);
    SubscriptionSpec spec = new SubscriptionSpec(base.topic(), base.maxOutstandingEvents(), base.maxOutstandingBytes(), base.policy(),
        base.bufferEvents(), base.bufferBytes(), base.start(), base.name(), base.handler(), base.gapListener(),
        base.handlerErrorListener(), e -> {
          if (done.compareAndSet(false, true)) {
            subscriber.onError(e);
          }
          if (base.errorListener() != null) {
            base.errorListener().accept(e);
          }
        }, true);
    SubscriptionImpl sub;
    try {
      sub = core.register(new SubscriptionImpl(core, spec));
    } catch (HeraldException e) {
      subscriber.onSubscribe(new Flow.Subscription() {
        @Override
        public void request(long n) { }

        @Override
        public void cancel() { }
      });
      subscriber.onError(e);
      return;
    }
    subscriber.onSubscribe(new Flow.Subscription() {
      @Override
      public void request(long n) {
        if (n <= 0) {
          sub.close();
          if (done.compareAndSet(false, true)) {
            subscriber.onError(new IllegalArgumentException("Reactive Streams §3.9: request(" + n + ") must be positive"));
          }
          return;
        }
        sub.request(n);
      }

      @Override
      public void cancel() {
        done.set(true);
        sub.close();
      }
    });
    sub.startAsync();
  }
}
