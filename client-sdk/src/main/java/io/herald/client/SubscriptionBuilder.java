package io.herald.client;

import io.herald.client.internal.ClientCore;
import io.herald.client.internal.FlowPublisherImpl;
import io.herald.client.internal.SubscriptionImpl;
import io.herald.client.internal.SubscriptionSpec;
import java.util.Objects;
import java.util.concurrent.Flow;
import java.util.function.Consumer;

/**
 * Configures a subscription. Obtained from {@link HeraldClient#subscriber(String)}; not
 * thread-safe. Each {@link #subscribe()} opens its own subscription.
 */
public final class SubscriptionBuilder {
  /** Default events received and not yet handled: {@value}. */
  public static final long DEFAULT_MAX_OUTSTANDING_EVENTS = 1_000;

  private final ClientCore core;
  private final String topic;
  private long maxOutstandingEvents = DEFAULT_MAX_OUTSTANDING_EVENTS;
  private long maxOutstandingBytes;
  private OverflowPolicy policy = OverflowPolicy.TOPIC_DEFAULT;
  private int bufferEvents;
  private long bufferBytes;
  private StartPosition start = StartPosition.latest();
  private String name = "";
  private DeliveryHandler handler;
  private GapListener gapListener;
  private HandlerErrorListener handlerErrorListener;
  private Consumer<HeraldException> errorListener;

  SubscriptionBuilder(ClientCore core, String topic) {
    this.core = core;
    this.topic = Objects.requireNonNull(topic, "topic");
  }

  /**
   * Bounds what the client holds: events delivered by the broker and not yet handled
   * ("outstanding"). This becomes the credit the SDK grants the broker, so the broker never sends
   * more; {@code maxBytes} 0 means no byte bound. Default {@value #DEFAULT_MAX_OUTSTANDING_EVENTS}
   * events, no byte bound. Memory cost: up to this many events in the client.
   */
  public SubscriptionBuilder maxOutstanding(long maxEvents, long maxBytes) {
    if (maxEvents < 1 || maxEvents > 1_000_000 || maxBytes < 0) {
      throw new IllegalArgumentException("maxOutstanding needs 1..1000000 events and bytes >= 0; got " + maxEvents + ", " + maxBytes);
    }
    this.maxOutstandingEvents = maxEvents;
    this.maxOutstandingBytes = maxBytes;
    return this;
  }

  /** The broker-side buffer policy (see {@link OverflowPolicy} for the trade-off). Default: the topic's. */
  public SubscriptionBuilder overflow(OverflowPolicy policy) {
    this.policy = Objects.requireNonNull(policy, "policy");
    return this;
  }

  /** The broker-side buffer bound (at most the topic's); 0 keeps the topic's value. */
  public SubscriptionBuilder brokerBuffer(int maxEvents, long maxBytes) {
    if (maxEvents < 0 || maxBytes < 0) {
      throw new IllegalArgumentException("brokerBuffer bounds must be >= 0");
    }
    this.bufferEvents = maxEvents;
    this.bufferBytes = maxBytes;
    return this;
  }

  /** Where the subscription starts; default {@link StartPosition#latest()}. */
  public SubscriptionBuilder startAt(StartPosition start) {
    this.start = Objects.requireNonNull(start, "start");
    return this;
  }

  /** A name the admin API shows for this subscription. */
  public SubscriptionBuilder name(String name) {
    this.name = name == null ? "" : name;
    return this;
  }

  /**
   * Required for {@link #subscribe()}: called in order, one at a time, on the callback executor. A
   * handler that throws (an Exception or an Error) skips that event: the throwable is logged and
   * given to {@link #onHandlerError}, and delivery goes on (see {@link DeliveryHandler}).
   */
  public SubscriptionBuilder handler(DeliveryHandler handler) {
    this.handler = Objects.requireNonNull(handler, "handler");
    return this;
  }

  /**
   * Told of lost events, in order with deliveries. Default: a warning in the log. What the
   * listener throws is logged and ignored.
   */
  public SubscriptionBuilder onGap(GapListener listener) {
    this.gapListener = Objects.requireNonNull(listener, "listener");
    return this;
  }

  /**
   * Told each time the handler throws, with the delivery and the throwable, on the handler's
   * thread before the next event. The event is skipped either way; this is where a service counts
   * failures or decides to stop (close the subscription; resubscribe later at
   * {@code lastSequence() + 1}). Default: none (the failure is logged at WARN in any case).
   */
  public SubscriptionBuilder onHandlerError(HandlerErrorListener listener) {
    this.handlerErrorListener = Objects.requireNonNull(listener, "listener");
    return this;
  }

  /**
   * Told when the subscription ends for good: topic deleted ({@link HeraldException.TopicNotFoundException}),
   * evicted ({@link HeraldException.SlowConsumerException}), refused (invalid options). Transient
   * failures are not reported here: the subscription reconnects and resumes by itself.
   */
  public SubscriptionBuilder onError(Consumer<HeraldException> listener) {
    this.errorListener = Objects.requireNonNull(listener, "listener");
    return this;
  }

  private SubscriptionSpec spec(DeliveryHandler h, boolean manualCredit) {
    return new SubscriptionSpec(topic, maxOutstandingEvents, maxOutstandingBytes, policy, bufferEvents, bufferBytes,
        start, name, h, gapListener, handlerErrorListener, errorListener, manualCredit);
  }

  /** Opens the subscription; it is live once this returns (the broker confirmed it) or throws. */
  public Subscription subscribe() {
    if (handler == null) {
      throw new IllegalStateException("set a handler before subscribe()");
    }
    SubscriptionImpl s = core.register(new SubscriptionImpl(core, spec(handler, false)));
    s.start();
    return s;
  }

  /**
   * A {@link Flow.Publisher} of deliveries: each Flow subscriber gets its own broker subscription,
   * and its {@code request(n)} is the credit the broker gets (nothing is sent that was not
   * requested). Gaps go to {@link #onGap}; terminal errors to {@code onError} of the Flow subscriber.
   */
  public Flow.Publisher<Delivery> asFlowPublisher() {
    return new FlowPublisherImpl(core, h -> spec(h, true));
  }
}
