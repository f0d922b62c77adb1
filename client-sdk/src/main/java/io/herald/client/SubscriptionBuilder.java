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
 *
 * <p>Bounds follow one rule: a bound you pass is a bound (at least 1, within the range its setter
 * states); a bound you leave out takes its default, and overloads let you leave out the byte
 * bound. No setter takes 0 to mean "none" or "default".
 */
public final class SubscriptionBuilder {
  /** Default events received and not yet handled: {@value}. */
  public static final long DEFAULT_MAX_OUTSTANDING_EVENTS = 1_000;
  /** Most events a subscription may hold outstanding: {@value}. */
  public static final long MAX_OUTSTANDING_EVENTS_LIMIT = 1_000_000;
  /** Most bytes a subscription may hold outstanding: {@value} (1 TiB; the broker caps byte credit at 2^50). */
  public static final long MAX_OUTSTANDING_BYTES_LIMIT = 1L << 40;

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
   * Bounds what the client holds in events, with no byte bound: events delivered by the broker and
   * not yet handled ("outstanding"). This becomes the credit the SDK grants the broker, so the
   * broker never sends more. {@code maxEvents}: 1..{@value #MAX_OUTSTANDING_EVENTS_LIMIT}; default
   * {@value #DEFAULT_MAX_OUTSTANDING_EVENTS}. Memory cost: up to this many events in the client.
   */
  public SubscriptionBuilder maxOutstanding(long maxEvents) {
    checkOutstandingEvents(maxEvents);
    this.maxOutstandingEvents = maxEvents;
    this.maxOutstandingBytes = 0;
    return this;
  }

  /**
   * Bounds what the client holds in events and in bytes (the serialised events), whichever is
   * reached first: see {@link #maxOutstanding(long)}. {@code maxBytes}:
   * 1..{@value #MAX_OUTSTANDING_BYTES_LIMIT}; by default there is no byte bound (use the one-argument
   * form to keep it so). The broker may overshoot the byte bound by one event. Memory cost: about
   * {@code maxBytes}.
   */
  public SubscriptionBuilder maxOutstanding(long maxEvents, long maxBytes) {
    checkOutstandingEvents(maxEvents);
    if (maxBytes < 1 || maxBytes > MAX_OUTSTANDING_BYTES_LIMIT) {
      throw new IllegalArgumentException("maxOutstanding bytes must be 1.." + MAX_OUTSTANDING_BYTES_LIMIT + "; got " + maxBytes
          + " (for no byte bound, use maxOutstanding(" + maxEvents + "))");
    }
    this.maxOutstandingEvents = maxEvents;
    this.maxOutstandingBytes = maxBytes;
    return this;
  }

  private static void checkOutstandingEvents(long maxEvents) {
    if (maxEvents < 1 || maxEvents > MAX_OUTSTANDING_EVENTS_LIMIT) {
      throw new IllegalArgumentException("maxOutstanding events must be 1.." + MAX_OUTSTANDING_EVENTS_LIMIT + "; got " + maxEvents);
    }
  }

  /**
   * The broker-side buffer policy (see {@link OverflowPolicy} for the trade-off). Default
   * {@link OverflowPolicy#TOPIC_DEFAULT}: the topic's default policy (DROP_OLDEST unless the topic
   * sets another, see {@link TopicSettings.Builder#defaultPolicy}).
   */
  public SubscriptionBuilder overflow(OverflowPolicy policy) {
    this.policy = Objects.requireNonNull(policy, "policy");
    return this;
  }

  /**
   * Bounds this subscription's buffer on the broker in events; its byte bound stays the topic's.
   * 1 up to the topic's {@code subscriber_buffer_max_events} (a larger value is refused by
   * {@link #subscribe()} with {@link ErrorCode#INVALID_ARGUMENT}); by default the topic's value
   * ({@value TopicSettings#DEFAULT_SUBSCRIBER_BUFFER_MAX_EVENTS} unless the topic sets another).
   * Memory cost on the broker: up to this many events.
   */
  public SubscriptionBuilder brokerBuffer(int maxEvents) {
    checkBufferEvents(maxEvents);
    this.bufferEvents = maxEvents;
    this.bufferBytes = 0;
    return this;
  }

  /**
   * Bounds this subscription's buffer on the broker in events and in bytes: see
   * {@link #brokerBuffer(int)}. {@code maxBytes}: 1 up to the topic's
   * {@code subscriber_buffer_max_bytes} ({@value TopicSettings#DEFAULT_SUBSCRIBER_BUFFER_MAX_BYTES}
   * unless the topic sets another), which is also the default.
   */
  public SubscriptionBuilder brokerBuffer(int maxEvents, long maxBytes) {
    checkBufferEvents(maxEvents);
    if (maxBytes < 1) {
      throw new IllegalArgumentException("brokerBuffer bytes must be >= 1 (at most the topic's); got " + maxBytes
          + " (to keep the topic's byte bound, use brokerBuffer(" + maxEvents + "))");
    }
    this.bufferEvents = maxEvents;
    this.bufferBytes = maxBytes;
    return this;
  }

  private static void checkBufferEvents(int maxEvents) {
    if (maxEvents < 1) {
      throw new IllegalArgumentException("brokerBuffer events must be >= 1 (at most the topic's); got " + maxEvents);
    }
  }

  /** Where the subscription starts; default {@link StartPosition#latest()}. */
  public SubscriptionBuilder startAt(StartPosition start) {
    this.start = Objects.requireNonNull(start, "start");
    return this;
  }

  /** A name the admin API shows for this subscription; default none (empty). */
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
