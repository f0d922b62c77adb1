package io.herald.broker.publish;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.topic.TopicNames;
import io.herald.broker.topic.TopicRegistry;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Drainer;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishError;
import io.herald.proto.v1.PublishResponse;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.PublishStreamResponse;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code herald.v1.PublishService}: admission of publishes into topic inboxes.
 *
 * <p>Handlers run on the transport thread and never block. A publish stream reads its next request
 * (manual {@code request(1)}) only when the previous batch is in the inbox and fewer than {@value
 * #MAX_OUTSTANDING_BATCHES} batches await their response; a batch that finds a BLOCK topic's inbox
 * full waits in line and the stream is not read meanwhile, so HTTP/2 flow control pushes back to
 * the publisher. Responses go out in request order, written by one {@link Drainer} per stream on the
 * writer pool, only while the stream is ready.
 */
public final class PublishService {
  private static final Logger log = LoggerFactory.getLogger(PublishService.class);
  /** Batches a stream may have in flight (read, not yet answered). */
  static final int MAX_OUTSTANDING_BATCHES = 32;

  private final TopicRegistry topics;
  private final Executor writers;
  private final Set<StreamCall> streams = ConcurrentHashMap.newKeySet();
  private volatile java.util.function.Consumer<String> onRejected = reason -> { };

  /** Told of every batch refused before it reached a topic: invalid, not_found, unavailable. */
  public void onRejected(java.util.function.Consumer<String> listener) {
    this.onRejected = listener;
  }

  private void countRefusal(StatusRuntimeException e) {
    switch (e.getStatus().getCode()) {
      case INVALID_ARGUMENT -> onRejected.accept("invalid");
      case NOT_FOUND -> onRejected.accept("not_found");
      case UNAVAILABLE -> onRejected.accept("unavailable");
      default -> { }
    }
  }

  public PublishService(TopicRegistry topics, Executor writers) {
    this.topics = topics;
    this.writers = writers;
  }

  /**
   * The service, with the broker's own request marshallers ({@link RawPublish}: events stay encoded)
   * and the generated response marshallers; clients use the generated stubs as usual.
   */
  public ServerServiceDefinition definition() {
    MethodDescriptor<RawPublish, PublishResponse> unary = PublishServiceGrpc.getPublishMethod()
        .toBuilder(RawPublish.UNARY, ProtoUtils.marshaller(PublishResponse.getDefaultInstance())).build();
    MethodDescriptor<RawPublish, PublishStreamResponse> stream = PublishServiceGrpc.getPublishStreamMethod()
        .toBuilder(RawPublish.STREAM, ProtoUtils.marshaller(PublishStreamResponse.getDefaultInstance())).build();
    ServiceDescriptor service = ServiceDescriptor.newBuilder(PublishServiceGrpc.SERVICE_NAME)
        .setSchemaDescriptor(PublishServiceGrpc.getServiceDescriptor().getSchemaDescriptor())
        .addMethod(unary)
        .addMethod(stream)
        .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(unary, ServerCalls.asyncUnaryCall(this::publish))
        .addMethod(stream, ServerCalls.asyncBidiStreamingCall(this::publishStream))
        .build();
  }

  private void publish(RawPublish req, StreamObserver<PublishResponse> observer) {
    ServerCallStreamObserver<PublishResponse> call = (ServerCallStreamObserver<PublishResponse>) observer;
    call.setOnCancelHandler(() -> { });
    String name;
    try {
      name = TopicNames.validate("topic", req.topic());
    } catch (StatusRuntimeException e) {
      countRefusal(e);
      call.onError(e);
      return;
    }
    // at once for a live topic; on the metadata thread for one being auto-created (never blocks)
    topics.resolve(name).whenComplete((topic, err) -> {
      if (err != null) {
        StatusRuntimeException e = unwrap(err);
        countRefusal(e);
        call.onError(e);
      } else {
        publishTo(call, name, topic, req);
      }
    });
  }

  private static StatusRuntimeException unwrap(Throwable err) {
    Throwable c = err instanceof java.util.concurrent.CompletionException && err.getCause() != null ? err.getCause() : err;
    return c instanceof StatusRuntimeException sre ? sre : Status.INTERNAL.withDescription(c.toString()).withCause(c).asRuntimeException();
  }

  private void publishTo(ServerCallStreamObserver<PublishResponse> call, String name, TopicHandle topic, RawPublish req) {
    try {
      PublishBatch batch = BatchValidator.validate(name, req.events(), topic.settings(), new PublishBatch.Listener() {
        @Override
        public void admitted() { }

        @Override
        public void sequenced(List<PublishAck> acks) {
          try {
            call.onNext(PublishResponse.newBuilder().addAllAcks(acks).build());
            call.onCompleted();
          } catch (RuntimeException e) {
            log.debug("publish response not sent (call gone): {}", e.toString());
          }
        }

        @Override
        public void failed(StatusRuntimeException status) {
          try {
            call.onError(status);
          } catch (RuntimeException e) {
            log.debug("publish error not sent (call gone): {}", e.toString());
          }
        }
      });
      Admission a = topic.offer(batch);
      switch (a) {
        case ADMITTED, WAITING -> { }
        case FULL -> call.onError(full(topic));
        case CLOSED -> {
          StatusRuntimeException e = closed(name);
          countRefusal(e);
          call.onError(e);
        }
        default -> throw new IllegalStateException("unknown admission " + a);
      }
    } catch (StatusRuntimeException e) {
      countRefusal(e);
      call.onError(e);
    }
  }

  private StreamObserver<RawPublish> publishStream(StreamObserver<PublishStreamResponse> observer) {
    ServerCallStreamObserver<PublishStreamResponse> call = (ServerCallStreamObserver<PublishStreamResponse>) observer;
    call.disableAutoRequest();
    StreamCall s = new StreamCall(call);
    streams.add(s);
    call.request(1);
    return s;
  }

  /** Ends every publish stream with {@code status} once its answered batches are written. */
  public void closeAll(StatusRuntimeException status) {
    for (StreamCall s : streams) {
      s.end(status);
    }
  }

  public int streamCount() {
    return streams.size();
  }

  private static StatusRuntimeException full(TopicHandle topic) {
    TopicSettings s = topic.settings();
    return Status.RESOURCE_EXHAUSTED.withDescription("topic '" + topic.name() + "' inbox is full (" + s.inboxMaxEvents() + " events / "
        + s.inboxMaxBytes() + " bytes) and its publish_overflow is REJECT: retry later or publish more slowly").asRuntimeException();
  }

  private StatusRuntimeException closed(String name) {
    if (topics.get(name).isEmpty()) {
      return Status.NOT_FOUND.withDescription("topic '" + name + "' was deleted").asRuntimeException();
    }
    return Status.UNAVAILABLE.withDescription("broker is shutting down; publish to another broker").asRuntimeException();
  }

  /** One PublishStream: request order in, response order out. */
  private final class StreamCall implements StreamObserver<RawPublish> {
    private final ServerCallStreamObserver<PublishStreamResponse> call;
    private final Drainer flusher;
    private final ReentrantLock lock = new ReentrantLock();
    // @GuardedBy("lock")
    private final ArrayDeque<Slot> slots = new ArrayDeque<>(4);
    private boolean waitingForRoom;
    private boolean owedRead;
    private boolean halfClosed;
    private boolean cancelled;
    private StatusRuntimeException endWith;
    // flusher-only
    private boolean ended;

    StreamCall(ServerCallStreamObserver<PublishStreamResponse> call) {
      this.call = call;
      this.flusher = new Drainer(writers, this::flush, this::flushFailed);
      call.setOnReadyHandler(flusher::signal);
      call.setOnCancelHandler(this::cancelled);
    }

    @Override
    public void onNext(RawPublish req) {
      Slot slot = new Slot(req.batchId());
      lock.lock();
      try {
        slots.addLast(slot);
      } finally {
        lock.unlock();
      }
      String name;
      try {
        name = TopicNames.validate("topic", req.topic());
      } catch (StatusRuntimeException e) {
        countRefusal(e);
        slot.failed(e);
        readNext();
        return;
      }
      topics.resolve(name).whenComplete((topic, err) -> {
        if (err != null) {
          StatusRuntimeException e = unwrap(err);
          countRefusal(e);
          slot.failed(e);
          readNext();
        } else {
          admit(slot, name, topic, req);
        }
      });
    }

    private void admit(Slot slot, String name, TopicHandle topic, RawPublish req) {
      try {
        PublishBatch batch = BatchValidator.validate(name, req.events(), topic.settings(), slot);
        Admission a = topic.offer(batch);
        switch (a) {
          case ADMITTED -> readNext();
          case WAITING -> {
            lock.lock();
            try {
              waitingForRoom = true;
            } finally {
              lock.unlock();
            }
          }
          case FULL -> {
            slot.failed(full(topic));
            readNext();
          }
          case CLOSED -> {
            StatusRuntimeException e = closed(name);
            countRefusal(e);
            slot.failed(e);
            readNext();
          }
          default -> throw new IllegalStateException("unknown admission " + a);
        }
      } catch (StatusRuntimeException e) {
        countRefusal(e);
        slot.failed(e);
        readNext();
      }
    }

    /** Asks for the next request now, or notes that one is owed once responses drain. */
    private void readNext() {
      boolean now;
      lock.lock();
      try {
        now = !waitingForRoom && !cancelled && endWith == null && slots.size() < MAX_OUTSTANDING_BATCHES;
        owedRead = !now;
      } finally {
        lock.unlock();
      }
      if (now) {
        call.request(1);
      }
    }

    @Override
    public void onError(Throwable t) {
      cancelled();
    }

    private void cancelled() {
      lock.lock();
      try {
        cancelled = true;
      } finally {
        lock.unlock();
      }
      streams.remove(this);
    }

    @Override
    public void onCompleted() {
      lock.lock();
      try {
        halfClosed = true;
      } finally {
        lock.unlock();
      }
      flusher.signal();
    }

    void end(StatusRuntimeException status) {
      lock.lock();
      try {
        if (endWith == null) {
          endWith = status;
        }
      } finally {
        lock.unlock();
      }
      flusher.signal();
    }

    private void flush() {
      if (ended) {
        return;
      }
      while (true) {
        PublishStreamResponse out = null;
        boolean request = false;
        boolean complete = false;
        StatusRuntimeException error = null;
        lock.lock();
        try {
          if (cancelled) {
            ended = true;
            return;
          }
          Slot head = slots.peekFirst();
          if (head != null && head.response != null && call.isReady()) {
            slots.pollFirst();
            out = head.response;
          }
          if (owedRead && !waitingForRoom && endWith == null && slots.size() < MAX_OUTSTANDING_BATCHES) {
            owedRead = false;
            request = true;
          }
          // end once everything answered is written; a batch still unanswered at that point was
          // never sequenced (inboxes are drained first), so the client's retry is safe
          boolean headUnanswered = head != null && head.response == null;
          if (out == null && (slots.isEmpty() || headUnanswered)) {
            if (endWith != null) {
              error = endWith;
            } else if (halfClosed && slots.isEmpty()) {
              complete = true;
            }
          }
        } finally {
          lock.unlock();
        }
        if (out != null) {
          call.onNext(out);
        }
        if (request) {
          call.request(1);
        }
        if (out == null && (error != null || complete)) {
          ended = true;
          streams.remove(this);
          if (error != null) {
            call.onError(error);
          } else {
            call.onCompleted();
          }
          return;
        }
        if (out == null) {
          return;
        }
      }
    }

    /**
     * The flusher threw (a bug, an {@link Error}): the stream's order is no longer known, so end it
     * with INTERNAL; its unanswered batches may or may not be sequenced (the client retries, dedup
     * makes that safe). Runs as the flusher.
     */
    private void flushFailed(Throwable t) {
      log.error("publish stream flusher failed; ending the stream with INTERNAL: {}", Drainer.describe(t));
      if (ended) {
        return;
      }
      ended = true;
      streams.remove(this);
      lock.lock();
      try {
        cancelled = true; // read no more requests
      } finally {
        lock.unlock();
      }
      try {
        call.onError(Status.INTERNAL.withDescription("broker failed to write to the publish stream: " + t).asRuntimeException());
      } catch (RuntimeException e) {
        log.debug("publish stream error not sent (call gone): {}", e.toString());
      }
    }

    /** One request's place in the response order; also the batch's listener. */
    private final class Slot implements PublishBatch.Listener {
      private final long batchId;
      // @GuardedBy("lock")
      private PublishStreamResponse response;

      Slot(long batchId) {
        this.batchId = batchId;
      }

      private void complete(PublishStreamResponse r) {
        lock.lock();
        try {
          response = r;
        } finally {
          lock.unlock();
        }
        flusher.signal();
      }

      @Override
      public void admitted() {
        lock.lock();
        try {
          waitingForRoom = false;
        } finally {
          lock.unlock();
        }
        readNext();
      }

      @Override
      public void sequenced(List<PublishAck> acks) {
        complete(PublishStreamResponse.newBuilder().setBatchId(batchId).addAllAcks(acks).build());
      }

      @Override
      public void failed(StatusRuntimeException status) {
        Status st = status.getStatus();
        complete(PublishStreamResponse.newBuilder().setBatchId(batchId)
            .setError(PublishError.newBuilder().setCode(st.getCode().value())
                .setMessage(st.getDescription() == null ? st.getCode().name() : st.getDescription()))
            .build());
        if (waitingFor(this)) {
          admitted(); // a batch that waited and then failed frees the stream too
        }
      }
    }

    private boolean waitingFor(Slot s) {
      lock.lock();
      try {
        return waitingForRoom && slots.peekLast() == s;
      } finally {
        lock.unlock();
      }
    }
  }
}
