package io.herald.client.internal;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.client.ConnectionListener;
import io.herald.client.Delivery;
import io.herald.client.ErrorCode;
import io.herald.client.Gap;
import io.herald.client.HeraldException;
import io.herald.client.StartPosition;
import io.herald.client.Subscription;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A subscription: a Subscribe stream, a local queue of what arrived, and a handler drained from it
 * one at a time on a serial view of the callback executor.
 *
 * <h2>Credit</h2>
 * The broker may send only what was granted. {@link CreditWindow} keeps the credit the broker
 * still holds on this stream plus what was received and not handled at or below
 * {@code maxOutstanding} (events, and bytes when bounded), and decides when a top-up is worth a
 * frame. In manual mode (the Flow adapter) the target is the demand requested instead. A handler
 * that blocks therefore holds the client to at most {@code maxOutstanding} events.
 *
 * <h2>Resume</h2>
 * On a retryable stream failure the subscription reopens after a backoff at the sequence after the
 * last one received (events still queued are kept and handled); events at or below it are dropped
 * if the broker sends them again, so the handler never sees one twice. If the broker no longer
 * retains that sequence, its RETENTION gap notice reaches the gap listener.
 *
 * <p>All mutable state is guarded by {@link #lock}; stream callbacks arrive on the network thread.
 */
public final class SubscriptionImpl implements Subscription, ClientCore.Resource {
  private static final Logger log = LoggerFactory.getLogger(SubscriptionImpl.class);

  private final ClientCore core;
  private final SubscriptionSpec spec;
  private final SerialExecutor handlerExecutor;
  private final CompletableFuture<Void> firstStart = new CompletableFuture<>();

  private final ReentrantLock lock = new ReentrantLock();
  // @GuardedBy("lock")
  private Stream stream;
  private final ArrayDeque<Object> queue = new ArrayDeque<>();
  private boolean draining;
  // the position (epoch, sequence) of the last event or gap received; positions compare by epoch,
  // then sequence, so a re-created topic (new epoch, sequences from 1) is never taken for a resend
  private long lastReceived;
  private long lastReceivedEpoch;
  private volatile long lastHandled;
  private volatile long lastHandledEpoch;
  private long startSequence;
  private long startEpoch;
  private final CreditWindow credit;
  private int attempt;
  private boolean everStarted;
  private boolean asyncStart;
  private volatile boolean closed;
  private volatile boolean active = true;

  public SubscriptionImpl(ClientCore core, SubscriptionSpec spec) {
    this.core = core;
    this.spec = spec;
    this.handlerExecutor = new SerialExecutor(core.callbacks());
    this.credit = new CreditWindow(spec.maxOutstandingEvents(), spec.maxOutstandingBytes(), spec.manualCredit());
  }

  /** Opens the stream and waits (up to the call timeout) for the broker to confirm it. */
  public void start() {
    lock.lock();
    try {
      if (!closed) { // the client may have closed it since it was registered
        open(spec.start());
      }
    } finally {
      lock.unlock();
    }
    try {
      firstStart.get(core.callTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      close();
      throw Errors.from(e.getCause());
    } catch (TimeoutException e) {
      close();
      throw new HeraldException(ErrorCode.DEADLINE_EXCEEDED, "the broker did not confirm the subscription to '" + spec.topic()
          + "' within " + core.callTimeout());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw new HeraldException(ErrorCode.CANCELLED, "interrupted while subscribing", false, e);
    }
  }

  /** Opens the stream without waiting (the Flow adapter). */
  void startAsync() {
    lock.lock();
    try {
      asyncStart = true;
      if (!closed) {
        open(spec.start());
      }
    } finally {
      lock.unlock();
    }
  }

  // @GuardedBy("lock")
  private void open(StartPosition from) {
    Stream s = new Stream();
    stream = s;
    io.grpc.stub.ClientCalls.asyncBidiStreamingCall(core.channel().newCall(SubscribeFrames.METHOD, io.grpc.CallOptions.DEFAULT), s);
    SubscribeInit.Builder init = SubscribeInit.newBuilder()
        .setTopic(spec.topic())
        .setOverflowPolicy(Convert.policy(spec.policy()))
        .setSubscriberName(spec.name());
    if (spec.bufferEvents() > 0) {
      init.setBufferMaxEvents(spec.bufferEvents());
    }
    if (spec.bufferBytes() > 0) {
      init.setBufferMaxBytes(spec.bufferBytes());
    }
    switch (from.kind()) {
      case LATEST -> init.getStartPositionBuilder().setKind(StartPositionKind.START_POSITION_KIND_LATEST);
      case EARLIEST -> init.getStartPositionBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST);
      case SEQUENCE -> init.getStartPositionBuilder().setKind(StartPositionKind.START_POSITION_KIND_SEQUENCE).setSequence(from.sequence())
          .setEpoch(from.epoch());
      default -> throw new IllegalStateException();
    }
    CreditWindow.Grant initial = credit.open();
    init.setInitialCredit(Credit.newBuilder().setEvents(initial.events()).setBytes(initial.bytes()));
    s.out.onNext(SubscribeRequest.newBuilder().setInit(init).build());
  }

  /** Grants the broker what it may send now, if that is worth a frame (or {@code force}). */
  // @GuardedBy("lock")
  private void grant(boolean force) {
    Stream s = stream;
    if (s == null || closed) {
      return;
    }
    CreditWindow.Grant g = credit.topUp(force);
    if (!g.isNone()) {
      s.out.onNext(SubscribeRequest.newBuilder().setCredit(Credit.newBuilder().setEvents(g.events()).setBytes(g.bytes())).build());
    }
  }

  /** Flow adapter: more demand. */
  void request(long n) {
    lock.lock();
    try {
      credit.request(n);
      grant(true);
    } finally {
      lock.unlock();
    }
  }

  private void onFrame(Stream s, SubscribeFrames.Frame frame) {
    lock.lock();
    try {
      if (s != stream || closed) {
        return;
      }
      if (frame instanceof SubscribeFrames.Started st) {
        startSequence = st.started().getStartSequence();
        startEpoch = st.started().getStartEpoch();
        attempt = 0;
        if (everStarted) {
          core.notifyListener(ConnectionListener.Kind.RESUBSCRIBED, spec.topic() + " from " + startSequence);
        }
        everStarted = true;
        firstStart.complete(null);
      } else if (frame instanceof SubscribeFrames.Batch batch) {
        for (SubscribeFrames.Raw e : batch.events()) {
          // resent after a resume: handled or queued already
          boolean seen = compare(e.epoch(), e.sequence(), lastReceivedEpoch, lastReceived) <= 0;
          credit.received(e.size(), !seen);
          if (seen) {
            continue;
          }
          lastReceived = e.sequence();
          lastReceivedEpoch = e.epoch();
          queue.addLast(new Item(WireAccess.toDelivery(spec.topic(), e.sequence(), e.epoch(), e.seconds(), e.nanos(), e.event()), e.size()));
        }
        scheduleDrain();
        grant(false);
      } else if (frame instanceof SubscribeFrames.Gap gf) {
        GapNotice g = gf.gap();
        Gap converted = Convert.gap(g);
        if (g.getLastSequence() == 0) {
          // the end is not known (an earlier incarnation of the topic): reported as it is; the
          // next events are in a newer epoch
          queue.addLast(converted);
        } else {
          if (compare(g.getEpoch(), g.getLastSequence(), lastReceivedEpoch, lastReceived) <= 0) {
            return; // already reported before a resume
          }
          long first = g.getEpoch() == lastReceivedEpoch ? Math.max(g.getFirstSequence(), lastReceived + 1) : g.getFirstSequence();
          lastReceived = g.getLastSequence();
          lastReceivedEpoch = g.getEpoch();
          queue.addLast(new Gap(first, g.getLastSequence(), g.getLastSequence() - first + 1, converted.reason(), g.getEpoch(), g.getCountUnknown()));
        }
        scheduleDrain();
      }
    } finally {
      lock.unlock();
    }
  }

  private record Item(Delivery delivery, int size) { }

  // @GuardedBy("lock")
  private void scheduleDrain() {
    if (!draining && !queue.isEmpty()) {
      draining = true;
      handlerExecutor.execute(this::drain);
    }
  }

  /** Items handed to the handler per lock acquisition. */
  private static final int DRAIN_CHUNK = 256;

  /**
   * Runs on the callback executor, one at a time: hands queued items to the handler in order,
   * taking them in chunks so that the lock is not taken twice per event. Credit for a chunk is
   * given back when the chunk is done, so what the client holds stays within maxOutstanding.
   */
  private void drain() {
    java.util.ArrayList<Object> chunk = new java.util.ArrayList<>(DRAIN_CHUNK);
    while (true) {
      lock.lock();
      try {
        if (closed || queue.isEmpty()) {
          draining = false;
          return;
        }
        for (int i = 0; i < DRAIN_CHUNK && !queue.isEmpty(); i++) {
          chunk.add(queue.pollFirst());
        }
      } finally {
        lock.unlock();
      }
      long events = 0;
      long bytes = 0;
      for (Object next : chunk) {
        if (closed) {
          break;
        }
        if (next instanceof Item item) {
          try (io.opentelemetry.context.Scope trace = core.tracing().open(item.delivery())) {
            spec.handler().handle(item.delivery());
          } catch (Throwable t) { // an Error too: the event is skipped, never a silent stop
            handlerFailed(item.delivery(), t);
          }
          lastHandledEpoch = item.delivery().epoch();
          lastHandled = item.delivery().sequence();
          events++;
          bytes += item.size();
        } else {
          Gap g = (Gap) next;
          if (spec.gapListener() != null) {
            try {
              spec.gapListener().onGap(g);
            } catch (Throwable t) {
              log.warn("gap listener of subscription to '{}' threw on gap {}..{}; ignored", spec.topic(), g.firstSequence(),
                  g.lastSequence(), t);
            }
          } else {
            log.warn("subscription to '{}' lost {} events (sequences {}..{}, {})", spec.topic(), g.count(), g.firstSequence(),
                g.lastSequence(), g.reason());
          }
          if (g.lastSequence() != 0 && compare(g.epoch(), g.lastSequence(), lastHandledEpoch, lastHandled) > 0) {
            lastHandledEpoch = g.epoch();
            lastHandled = g.lastSequence();
          }
        }
      }
      chunk.clear();
      lock.lock();
      try {
        credit.handled(events, bytes);
        grant(false);
      } finally {
        lock.unlock();
      }
    }
  }

  /** The handler threw: log it, tell the listener (its own failure is only logged). */
  private void handlerFailed(Delivery delivery, Throwable t) {
    log.warn("handler of subscription to '{}' threw on sequence {}; the event is skipped", spec.topic(), delivery.sequence(), t);
    if (spec.handlerErrorListener() != null) {
      try {
        spec.handlerErrorListener().onHandlerError(delivery, t);
      } catch (Throwable e) {
        log.warn("handler error listener of subscription to '{}' threw; ignored", spec.topic(), e);
      }
    }
  }

  private void onEnd(Stream s, Throwable error) {
    HeraldException terminal = null;
    lock.lock();
    try {
      if (s != stream || closed) {
        return;
      }
      stream = null;
      HeraldException e = error == null ? new HeraldException(ErrorCode.UNAVAILABLE, "the broker ended the stream") : Errors.from(error);
      String why = e.getMessage();
      if (!everStarted) {
        // refused at the start: the caller of subscribe() hears it
        terminal = e;
        firstStart.completeExceptionally(terminal);
      } else if (!e.isRetryable() && e.code() != ErrorCode.CANCELLED) {
        // the reason decides: SLOW_CONSUMER (a SlowConsumerException), TOPIC_NOT_FOUND, ... end it;
        // SHUTTING_DOWN, INTERNAL and transport failures resume
        terminal = e;
      }
      if (terminal != null) {
        active = false;
      } else if (everStarted) {
        long delay = Backoff.delayMillis(core.retry(), attempt++);
        log.info("subscription to '{}' lost its stream ({}); resuming after sequence {} in {} ms", spec.topic(), why, lastReceived, delay);
        core.schedule(this::resume, delay);
      }
    } finally {
      lock.unlock();
    }
    if (terminal != null && (everStarted || asyncStart)) {
      HeraldException e = terminal;
      log.warn("subscription to '{}' ended: {}", spec.topic(), e.getMessage());
      if (spec.errorListener() != null) {
        // Flow subscribers need signals in series with onNext; otherwise the error must not wait
        // behind a handler that may be blocked (that may be why the subscriber was evicted)
        Executor where = spec.manualCredit() ? handlerExecutor : core.callbacks();
        where.execute(() -> spec.errorListener().accept(e));
      }
      core.unregister(this);
    }
  }

  private void resume() {
    lock.lock();
    try {
      if (closed || stream != null) {
        return;
      }
      StartPosition from;
      if (lastReceived >= 1 && compare(lastReceivedEpoch, lastReceived + 1, startEpoch, startSequence) >= 0) {
        from = lastReceivedEpoch >= 1 ? StartPosition.after(lastReceivedEpoch, lastReceived) : StartPosition.sequence(lastReceived + 1);
      } else if (startSequence >= 1) {
        from = startEpoch >= 1 ? StartPosition.after(startEpoch, startSequence - 1) : StartPosition.sequence(startSequence);
      } else {
        from = spec.start();
      }
      open(from);
    } finally {
      lock.unlock();
    }
  }

  /** Positions compare by epoch, then sequence. */
  private static int compare(long epochA, long seqA, long epochB, long seqB) {
    return epochA != epochB ? Long.compare(epochA, epochB) : Long.compare(seqA, seqB);
  }

  @Override
  public String topic() {
    return spec.topic();
  }

  @Override
  public long lastSequence() {
    return lastHandled;
  }

  @Override
  public long lastEpoch() {
    return lastHandledEpoch;
  }

  @Override
  public long outstanding() {
    lock.lock();
    try {
      return credit.outstandingEvents();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public boolean isActive() {
    return active && !closed;
  }

  @Override
  public void closeFor(Duration timeout) {
    close();
  }

  @Override
  public void close() {
    Stream s;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      active = false;
      queue.clear();
      s = stream;
      stream = null;
    } finally {
      lock.unlock();
    }
    if (s != null) {
      s.out.cancel("subscription closed by the client", null);
    }
    firstStart.completeExceptionally(new HeraldException.ClosedException("subscription closed"));
    core.unregister(this);
  }

  /** One stream attempt. */
  private final class Stream implements ClientResponseObserver<SubscribeRequest, SubscribeFrames.Frame> {
    ClientCallStreamObserver<SubscribeRequest> out;

    @Override
    public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {
      out = requestStream;
    }

    @Override
    public void onNext(SubscribeFrames.Frame f) {
      onFrame(this, f);
    }

    @Override
    public void onError(Throwable t) {
      onEnd(this, t);
    }

    @Override
    public void onCompleted() {
      onEnd(this, null);
    }
  }
}
