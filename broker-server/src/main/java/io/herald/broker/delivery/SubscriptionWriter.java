package io.herald.broker.delivery;

import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.GapReason;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.transport.Drainer;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.SubscribeResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one writer of a Subscribe stream. It runs as a {@link Drainer} task on the shared writer pool
 * ({@code herald-writer-*}) whenever it is signalled: by the dispatch loop (new events), by credit,
 * by {@code onReady}, or by a close. Each run sends frames while the stream {@code isReady()} and
 * the subscription has credit, batching up to {@value #MAX_BATCH_EVENTS} events and about
 * {@value #MAX_BATCH_BYTES} bytes per gRPC message (far below the 4 MiB limit; one event is at most
 * 3 MiB). Spurious {@code onReady} calls are harmless: a run with nothing to do returns at once.
 *
 * <p>It also ends the stream, exactly once: with the status that matches the subscription's close
 * reason, after unregistering it from the topic; or, if a run throws anything, with INTERNAL.
 */
final class SubscriptionWriter {
  private static final Logger log = LoggerFactory.getLogger(SubscriptionWriter.class);
  static final int MAX_BATCH_EVENTS = 512;
  static final int MAX_BATCH_BYTES = 1 << 20;
  /** Polls per run before giving the writer thread to the next stream (fairness on a small pool). */
  static final int MAX_POLLS_PER_RUN = 8;

  private final ServerCallStreamObserver<OutFrame> call;
  private final Subscription sub;
  private final TopicHandle topic;
  private final SubscribeService owner;
  private final Drainer drainer;

  private volatile OutFrame startedFrame;
  private volatile String protocolError;
  // writer-only (serialized by the drainer)
  private boolean startedSent;
  private boolean ended;

  SubscriptionWriter(ServerCallStreamObserver<OutFrame> call, Subscription sub, TopicHandle topic, Executor executor, SubscribeService owner) {
    this.call = call;
    this.sub = sub;
    this.topic = topic;
    this.owner = owner;
    this.drainer = new Drainer(executor, this::drain, this::failed);
  }

  Subscription subscription() {
    return sub;
  }

  void signal() {
    drainer.signal();
  }

  /** The subscription is registered: send this first, then events. */
  void started(OutFrame frame) {
    startedFrame = frame;
    signal();
  }

  /** The client cancelled: close without sending anything more. */
  void cancelled() {
    sub.close(CloseReason.CLIENT_CANCELLED);
    signal();
  }

  /** The client broke the protocol: end the stream with INVALID_ARGUMENT and this message. */
  void protocolError(String message) {
    protocolError = message;
    sub.close(CloseReason.PROTOCOL_ERROR);
    signal();
  }

  private void drain() {
    if (ended) {
      return;
    }
    drainOnce();
  }

  /**
   * The drain threw (a bug, an {@link Error}): the stream's state is unknown, so end it with
   * INTERNAL and free the subscription. Runs as the one writer (see {@link Drainer}).
   */
  private void failed(Throwable t) {
    log.error("writer of {} on topic '{}' failed; ending its stream with INTERNAL: {}", sub.id(), topic.name(), Drainer.describe(t));
    sub.close(CloseReason.INTERNAL_ERROR);
    end(Errors.internal("broker failed to write to the subscription: " + t, t));
  }

  private void drainOnce() {
    if (!startedSent) {
      OutFrame f = startedFrame;
      if (f == null) {
        if (sub.state() == Subscription.State.CLOSED) {
          endFor(sub.closeReason());
        }
        return; // not registered yet; started() signals again
      }
      if (sub.state() != Subscription.State.CLOSED) {
        call.onNext(f);
      }
      startedSent = true;
    }
    for (int polls = 0; ; polls++) {
      Subscription.State state = sub.state();
      if (state == Subscription.State.CLOSED) {
        endFor(sub.closeReason());
        return;
      }
      if (!call.isReady()) {
        return; // onReady signals again
      }
      if (polls == MAX_POLLS_PER_RUN) {
        signal(); // take another turn after the other streams
        return;
      }
      List<Object> items = sub.poll(MAX_BATCH_EVENTS, MAX_BATCH_BYTES);
      if (items.isEmpty()) {
        if (state == Subscription.State.DRAINING && sub.drained()) {
          CloseReason r = sub.closeReason();
          sub.close(r);
          endFor(r);
        }
        return;
      }
      WriterFault f = fault;
      if (f != null) {
        f.beforeSend(sub);
      }
      send(items);
    }
  }

  /** Test hook: a fault to throw from a writer before it sends a batch. */
  @FunctionalInterface
  interface WriterFault {
    void beforeSend(Subscription sub);
  }

  /** Test hook, null (no fault) in production: tests set it to make a writer throw. */
  static volatile WriterFault fault;

  private void send(List<Object> items) {
    List<Sequenced> run = null;
    for (Object item : items) {
      if (item instanceof Sequenced e) {
        if (run == null) {
          run = new ArrayList<>(items.size());
        }
        run.add(e);
      } else {
        if (run != null) {
          call.onNext(OutFrame.batch(run));
          run = null;
        }
        Gap g = (Gap) item;
        call.onNext(OutFrame.of(SubscribeResponse.newBuilder().setGap(GapNotice.newBuilder()
            .setFirstSequence(g.first())
            .setLastSequence(g.last())
            .setCount(g.count())
            .setReason(toProto(g.reason()))
            .setEpoch(g.epoch())
            .setCountUnknown(g.countUnknown())).build()));
      }
    }
    if (run != null) {
      call.onNext(OutFrame.batch(run));
    }
  }

  private static io.herald.proto.v1.GapReason toProto(GapReason r) {
    return switch (r) {
      case DROPPED -> io.herald.proto.v1.GapReason.GAP_REASON_DROPPED;
      case EVICTED -> io.herald.proto.v1.GapReason.GAP_REASON_EVICTED;
      case RETENTION -> io.herald.proto.v1.GapReason.GAP_REASON_RETENTION;
      case CRASH_RECOVERY -> io.herald.proto.v1.GapReason.GAP_REASON_CRASH_RECOVERY;
      case TOPIC_RECREATED -> io.herald.proto.v1.GapReason.GAP_REASON_TOPIC_RECREATED;
      case LOOP_RESTARTED -> io.herald.proto.v1.GapReason.GAP_REASON_LOOP_RESTARTED;
      case OWNER_CHANGE -> io.herald.proto.v1.GapReason.GAP_REASON_OWNER_CHANGE;
    };
  }

  private void endFor(CloseReason reason) {
    String name = topic.name();
    StatusRuntimeException status = switch (reason == null ? CloseReason.SHUTDOWN : reason) {
      case CLIENT_CANCELLED -> null;
      case SLOW_CONSUMER -> Errors.error(ErrorReason.ERROR_REASON_SLOW_CONSUMER, "evicted as a slow consumer: this BLOCK subscription held topic '"
          + name + "' back (its buffer full, or history it had not read yet) for longer than max_block ("
          + topic.settings().maxBlock() + "); grant credit faster, enlarge the buffer, or subscribe with a DROP policy",
          "topic", name, "maxBlock", seconds(topic.settings().maxBlock()));
      case TOPIC_DELETED -> Errors.topicNotFound(name, "topic '" + name + "' was deleted");
      case SHUTDOWN -> Errors.shuttingDown("broker is shutting down; reconnect (to another broker) and resume from the sequence after the last one received");
      case PROTOCOL_ERROR -> Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, protocolError == null ? "protocol error" : protocolError);
      case TOPIC_FAILED -> Errors.error(ErrorReason.ERROR_REASON_TOPIC_OUT_OF_SERVICE, "topic '" + name
          + "' is out of service: its dispatch loop failed repeatedly (see the broker log)", "topic", name);
      case OWNER_MOVED -> Errors.error(ErrorReason.ERROR_REASON_OWNER_UNAVAILABLE, "topic '" + name
          + "' moved to another node; resume (here or on any node) from the position after the last event received", "topic", name);
      case INTERNAL_ERROR -> Errors.internal("broker failed to write to the subscription (see the broker log)", null);
      case RELAY_CLOSED -> Errors.error(ErrorReason.ERROR_REASON_LOOP_RESTARTED, "this broker stopped relaying topic '" + name
          + "' (owned by another broker); subscribe again, here or elsewhere, from the sequence after the last one received",
          "topic", name);
    };
    end(status);
  }

  /** A duration as ErrorInfo metadata shows it: seconds with an "s", e.g. "30s", "0.5s". */
  private static String seconds(java.time.Duration d) {
    return java.math.BigDecimal.valueOf(d.getSeconds()).add(java.math.BigDecimal.valueOf(d.getNano(), 9)).stripTrailingZeros().toPlainString() + "s";
  }

  private void end(StatusRuntimeException status) {
    if (ended) {
      return;
    }
    ended = true;
    topic.unregister(sub);
    try {
      if (status != null) {
        call.onError(status);
      }
    } catch (IllegalStateException e) {
      // the call was already closed (cancelled concurrently): nothing to tell
    } finally {
      Subscription.Stats st = sub.stats();
      log.info("subscription {} on topic '{}' ended ({}): delivered {}, dropped {}", sub.id(), topic.name(),
          sub.closeReason(), st.delivered(), st.dropped());
      owner.ended(this);
    }
  }
}
