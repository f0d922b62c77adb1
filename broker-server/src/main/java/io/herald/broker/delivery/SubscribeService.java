package io.herald.broker.delivery;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.security.Access;
import io.herald.broker.security.Permission;
import io.herald.broker.topic.TopicNames;
import io.herald.broker.topic.TopicRegistry;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.broker.transport.PeerInterceptor;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.SubscriptionStarted;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code herald.v1.SubscribeService}. The method is registered with the generated request
 * marshaller and the {@link OutFrame} response marshaller, so batches go out as shared, pre-encoded
 * event bytes; clients see ordinary {@code SubscribeResponse} messages.
 *
 * <p>Handlers run on the transport thread (the server uses a direct executor) and never block;
 * each stream's frames are written only by its {@link SubscriptionWriter}. A stream must send its
 * init frame within the init timeout ({@code --subscribe-init-timeout}): one deadline per stream
 * on the broker's shared timer (no thread of its own), cancelled when the first frame arrives; a
 * stream that passes it, or is half-closed before its init, ends with INVALID_ARGUMENT
 * (PROTOCOL_VIOLATION).
 */
public final class SubscribeService {
  private static final Logger log = LoggerFactory.getLogger(SubscribeService.class);

  private final TopicRegistry topics;
  private final Executor writers;
  private final ScheduledExecutorService timer;
  private final Duration initTimeout;
  private final Access access;
  private final AtomicLong ids = new AtomicLong();
  private final Set<SubscriptionWriter> live = ConcurrentHashMap.newKeySet();
  private final ReentrantLock liveLock = new ReentrantLock();
  private final Condition liveChanged = liveLock.newCondition();

  /**
   * @param timer the broker's shared timer, for init deadlines (its tasks must not block)
   * @param initTimeout how long a stream may go without its init frame
   */
  public SubscribeService(TopicRegistry topics, Executor writers, ScheduledExecutorService timer, Duration initTimeout) {
    this(topics, writers, timer, initTimeout, Access.open(io.herald.broker.security.AuditLog.toBrokerLog()));
  }

  /** @param access who may subscribe where: the init's topic needs a {@code subscribe} grant */
  public SubscribeService(TopicRegistry topics, Executor writers, ScheduledExecutorService timer, Duration initTimeout, Access access) {
    this.topics = topics;
    this.writers = writers;
    this.timer = timer;
    this.initTimeout = initTimeout;
    this.access = access;
  }

  public ServerServiceDefinition definition() {
    MethodDescriptor<SubscribeRequest, OutFrame> method = SubscribeServiceGrpc.getSubscribeMethod()
        .toBuilder(ProtoUtils.marshaller(SubscribeRequest.getDefaultInstance()), OutFrame.MARSHALLER)
        .build();
    ServiceDescriptor service = ServiceDescriptor.newBuilder(SubscribeServiceGrpc.SERVICE_NAME)
        .setSchemaDescriptor(SubscribeServiceGrpc.getServiceDescriptor().getSchemaDescriptor())
        .addMethod(method)
        .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(method, ServerCalls.asyncBidiStreamingCall(this::subscribe))
        .build();
  }

  private StreamObserver<SubscribeRequest> subscribe(StreamObserver<OutFrame> observer) {
    ServerCallStreamObserver<OutFrame> call = (ServerCallStreamObserver<OutFrame>) observer;
    Call c = new Call(call, PeerInterceptor.current());
    c.armInitDeadline();
    return c;
  }

  /** Live subscription streams (writers not yet ended). */
  public int liveCount() {
    return live.size();
  }

  /** Waits until every subscription stream has ended, or the deadline; false on timeout. */
  public boolean awaitAllEnded(long deadlineNanos) throws InterruptedException {
    liveLock.lock();
    try {
      while (!live.isEmpty()) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        liveChanged.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
      }
      return true;
    } finally {
      liveLock.unlock();
    }
  }

  void ended(SubscriptionWriter w) {
    live.remove(w);
    liveLock.lock();
    try {
      liveChanged.signalAll();
    } finally {
      liveLock.unlock();
    }
  }

  /**
   * One Subscribe stream: the init frame, then credit frames. Called on the transport thread, and
   * on the timer at the init deadline. Until the first frame, {@link #opened} decides who acts: the
   * first frame, a half-close, a cancel or the deadline, whichever sets it first; only that one may
   * end the call then, so the timer never writes to a call the transport thread writes to.
   */
  private final class Call implements StreamObserver<SubscribeRequest> {
    private final ServerCallStreamObserver<OutFrame> call;
    private final String peer;
    /** Set once the stream's start is decided (first frame, half-close, cancel or init deadline). */
    private final AtomicBoolean opened = new AtomicBoolean();
    private volatile ScheduledFuture<?> initDeadline;
    private volatile SubscriptionWriter writer;
    private volatile boolean failed;
    private boolean starting;
    // credit granted before the subscription existed (guarded by this)
    private long earlyEvents;
    private long earlyBytes;
    private String earlyError;

    Call(ServerCallStreamObserver<OutFrame> call, String peer) {
      this.call = call;
      this.peer = peer;
      call.setOnCancelHandler(this::cancelled);
      call.setOnReadyHandler(this::ready);
    }

    private void ready() {
      SubscriptionWriter w = writer;
      if (w != null) {
        w.signal();
      }
    }

    private volatile boolean cancelledEarly;

    void armInitDeadline() {
      try {
        initDeadline = timer.schedule(this::initTimedOut, initTimeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // the broker is shutting down: the server ends this stream
      }
      if (opened.get()) {
        disarmInitDeadline(); // the first frame came while the deadline was being armed
      }
    }

    private void disarmInitDeadline() {
      ScheduledFuture<?> d = initDeadline;
      if (d != null) {
        d.cancel(false);
      }
    }

    /** True for the caller that decides how the stream starts: the first of a frame, a half-close, a cancel and the deadline. */
    private boolean open() {
      if (!opened.compareAndSet(false, true)) {
        return false;
      }
      disarmInitDeadline();
      return true;
    }

    private void initTimedOut() {
      if (opened.compareAndSet(false, true)) {
        log.info("subscribe stream from {} sent no init frame within {}; ending it with INVALID_ARGUMENT", peer, initTimeout);
        failStart(Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, "no init frame within " + initTimeout.toMillis()
            + " ms of opening the stream: send init (topic and options) first", "timeout", initTimeout.toMillis() + "ms"));
      }
    }

    private void cancelled() {
      open(); // no deadline for a stream that is gone
      cancelledEarly = true;
      SubscriptionWriter w = writer;
      if (w != null) {
        w.cancelled();
      }
    }

    @Override
    public void onNext(SubscribeRequest req) {
      if (failed) {
        return;
      }
      if (writer == null && !starting && !open()) {
        return; // the first frame came after the init deadline had ended the call
      }
      switch (req.getFrameCase()) {
        case INIT -> {
          if (writer != null || starting) {
            String what = "a second init frame arrived; send init once, then only credit frames";
            synchronized (this) {
              if (writer == null) {
                // the topic is being resolved on another thread, which alone may end the call now
                earlyError = what;
                return;
              }
            }
            writer.protocolError(what);
            return;
          }
          starting = true;
          SubscribeInit init = req.getInit();
          String name;
          try {
            name = TopicNames.validate("init.topic", init.getTopic());
            access.check(Access.caller(), name, Permission.SUBSCRIBE, "subscribe");
          } catch (StatusRuntimeException e) {
            failStart(e);
            return;
          }
          // completes at once for a live topic; an auto-created one completes on the metadata
          // thread (the transport thread never waits for the disk)
          topics.resolveForSubscription(name).whenComplete((topic, err) -> {
            if (err != null) {
              failStart(Errors.status(err, "cannot resolve topic '" + name + "': "));
              return;
            }
            try {
              start(name, topic, init);
            } catch (StatusRuntimeException e) {
              failStart(e);
            } catch (RuntimeException e) {
              log.error("subscribe to topic '{}' failed", name, e);
              failStart(Errors.internal("broker failed to start the subscription: " + e, e));
            }
          });
        }
        case CREDIT -> {
          if (writer == null && starting) {
            // credit that arrived while the topic is being resolved (auto-create): keep it
            synchronized (this) {
              if (writer == null) {
                earlyEvents += req.getCredit().getEvents();
                earlyBytes += req.getCredit().getBytes();
                return;
              }
            }
          }
          if (writer == null) {
            failed = true;
            call.onError(Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, "the first frame must be init (topic and options); got a credit frame"));
            return;
          }
          Credit c = req.getCredit();
          if (!writer.subscription().grant(c.getEvents(), c.getBytes())) {
            writer.protocolError(String.format("credit overflow: granting %s events and %s bytes would pass the outstanding maximum of %d events / %d bytes",
                Long.toUnsignedString(c.getEvents()), Long.toUnsignedString(c.getBytes()), Subscription.MAX_CREDIT_EVENTS, Subscription.MAX_CREDIT_BYTES));
          }
        }
        default -> {
          String what = "a frame with neither init nor credit set";
          if (writer == null && starting) {
            synchronized (this) {
              if (writer == null) {
                earlyError = what; // reported once the subscription exists
                return;
              }
            }
          }
          if (writer == null) {
            failed = true;
            call.onError(Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, what + "; the first frame must be init"));
          } else {
            writer.protocolError(what);
          }
        }
      }
    }

    private void failStart(StatusRuntimeException e) {
      failed = true;
      try {
        call.onError(e);
      } catch (IllegalStateException gone) {
        // the client cancelled meanwhile
      }
    }

    private void start(String name, TopicHandle topic, SubscribeInit init) {
      TopicSettings s = topic.settings();
      Policy policy = init.getOverflowPolicyValue() == 0 ? s.defaultPolicy()
          : TopicSettings.policy(init.getOverflowPolicyValue(), "init.overflow_policy");
      if (policy == Policy.BLOCK && !s.blockPolicyAllowed()) {
        throw Errors.error(ErrorReason.ERROR_REASON_BLOCK_NOT_ALLOWED, "topic '" + name + "' does not allow OVERFLOW_POLICY_BLOCK subscriptions"
            + " (block_policy_allowed is false: one BLOCK subscriber would pace the whole topic); subscribe with"
            + " OVERFLOW_POLICY_DROP_OLDEST or _DROP_NEWEST", "topic", name);
      }
      long maxEvents = s.subscriberBufferMaxEvents();
      if (init.hasBufferMaxEvents()) {
        maxEvents = range("init.buffer_max_events", Integer.toUnsignedLong(init.getBufferMaxEvents()), 1, s.subscriberBufferMaxEvents(), "subscriber_buffer_max_events");
      }
      long maxBytes = s.subscriberBufferMaxBytes();
      if (init.hasBufferMaxBytes()) {
        maxBytes = range("init.buffer_max_bytes", init.getBufferMaxBytes(), 1, s.subscriberBufferMaxBytes(), "subscriber_buffer_max_bytes");
      }
      StartPosition sp = init.getStartPosition();
      StartKind kind = switch (sp.getKindValue()) {
        case 0, 1 -> StartKind.LATEST;
        case 2 -> StartKind.EARLIEST;
        case 3 -> StartKind.SEQUENCE;
        default -> throw Errors.invalidField("init.start_position.kind", "init.start_position.kind: unknown value " + sp.getKindValue()
            + " (use START_POSITION_KIND_LATEST, _EARLIEST or _SEQUENCE)");
      };
      if (kind == StartKind.SEQUENCE && sp.getSequence() < 1) {
        throw Errors.invalidField("init.start_position.sequence", "init.start_position.sequence must be >= 1 with START_POSITION_KIND_SEQUENCE"
            + " (sequences start at 1); got " + Long.toUnsignedString(sp.getSequence()));
      }
      Credit credit = init.getInitialCredit();
      if (credit.getEvents() < 0 || credit.getEvents() > Subscription.MAX_CREDIT_EVENTS
          || credit.getBytes() < 0 || credit.getBytes() > Subscription.MAX_CREDIT_BYTES) {
        throw Errors.invalidField("init.initial_credit", "init.initial_credit out of range: at most " + Subscription.MAX_CREDIT_EVENTS
            + " events and " + Subscription.MAX_CREDIT_BYTES + " bytes");
      }
      String id = "sub-" + ids.incrementAndGet();
      Subscription sub = topic.newSubscription(id, init.getSubscriberName(), peer, policy, maxEvents, maxBytes,
          credit.getEvents(), credit.getBytes());
      SubscriptionWriter w = new SubscriptionWriter(call, sub, topic, writers, SubscribeService.this);
      sub.onWake(w::signal);
      live.add(w);
      TopicHandle.Start start;
      try {
        start = topic.register(sub, kind, sp.getSequence(), sp.getEpoch());
      } catch (StatusRuntimeException e) {
        live.remove(w);
        throw e;
      }
      long extraEvents;
      long extraBytes;
      String error;
      synchronized (this) {
        writer = w;
        extraEvents = earlyEvents;
        extraBytes = earlyBytes;
        error = earlyError;
      }
      if (error != null) {
        w.protocolError(error);
      }
      if ((extraEvents != 0 || extraBytes != 0) && !sub.grant(extraEvents, extraBytes)) {
        w.protocolError("credit overflow: the credit granted before the subscription started passes the outstanding maximum");
      }
      if (cancelledEarly) {
        w.cancelled();
      }
      log.info("subscribed {} ('{}', {}) to topic '{}': policy {}, buffer {} events / {} bytes, start {} at ({}, {})",
          id, init.getSubscriberName(), peer, name, policy, maxEvents, maxBytes, kind, start.epoch(), start.sequence());
      w.started(OutFrame.of(SubscribeResponse.newBuilder().setStarted(SubscriptionStarted.newBuilder()
          .setSubscriptionId(id)
          .setOverflowPolicy(TopicSettings.toProto(policy))
          .setBufferMaxEvents(maxEvents)
          .setBufferMaxBytes(maxBytes)
          .setStartSequence(start.sequence())
          .setStartEpoch(start.epoch())).build()));
    }

    @Override
    public void onError(Throwable t) {
      cancelled();
    }

    @Override
    public void onCompleted() {
      // After init, half-close means "no more credit frames"; the subscription goes on until the
      // credit is used up or the client cancels. (grpcurl half-closes right after the init frame.)
      // Before it, the stream can never start.
      if (open()) {
        failStart(Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, "the stream was half-closed before its init frame:"
            + " send init (topic and options) first"));
      }
    }
  }

  private static long range(String field, long value, long min, long max, String topicField) {
    if (value < min || value > max) {
      throw Errors.invalidField(field, field + " = " + Long.toUnsignedString(value) + " is out of range [" + min + ", " + max
          + "]; the maximum is the topic's " + topicField);
    }
    return value;
  }
}
