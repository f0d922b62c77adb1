package io.herald.broker.publish;

import com.google.rpc.ErrorInfo;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.herald.broker.topic.AckRun;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.security.Access;
import io.herald.broker.security.Permission;
import io.herald.broker.security.Principal;
import io.herald.broker.topic.TopicNames;
import io.herald.broker.topic.TopicRegistry;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Drainer;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ErrorReason;
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
  private final Access access;
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
    this(topics, writers, Access.open(io.herald.broker.security.AuditLog.toBrokerLog()));
  }

  /** @param access who may publish where: each batch's topic needs a {@code publish} grant */
  public PublishService(TopicRegistry topics, Executor writers, Access access) {
    this.topics = topics;
    this.writers = writers;
    this.access = access;
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
    Waiting waiting = new Waiting();
    call.setOnCancelHandler(waiting::cancelled);
    String name;
    try {
      name = TopicNames.validate("topic", req.topic());
      access.check(Access.caller(), name, Permission.PUBLISH, "publish");
    } catch (StatusRuntimeException e) {
      countRefusal(e);
      call.onError(e);
      return;
    }
    // at once for a live topic; on the metadata thread for one being auto-created (never blocks)
    topics.resolve(name).whenComplete((topic, err) -> {
      if (err != null) {
        StatusRuntimeException e = Errors.status(err, null);
        countRefusal(e);
        call.onError(e);
      } else {
        try {
          publishTo(call, waiting, name, topic, req);
        } catch (RuntimeException e) {
          log.error("publish to topic '{}' failed", name, e);
          call.onError(Errors.internal("broker failed to take the publish: " + e, e));
        }
      }
    });
  }

  private void publishTo(ServerCallStreamObserver<PublishResponse> call, Waiting waiting, String name, TopicHandle topic, RawPublish req) {
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
        case ADMITTED -> { }
        case WAITING -> waiting.inLine(topic, batch, call);
        case FULL -> call.onError(full(topic));
        case LINE_FULL -> call.onError(lineFull(topic));
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

  /**
   * A unary publish's batch in its topic's wait line, withdrawn if the call is cancelled (client
   * cancel, deadline, connection gone) before it is let in. Set by the handler, read by the cancel
   * handler; both volatile, each side writes then reads the other's flag, so at least one of them
   * sees both and withdraws (withdrawing twice is harmless).
   */
  private static final class Waiting {
    private volatile TopicHandle topic;
    private volatile PublishBatch batch;
    private volatile boolean cancelled;

    /**
     * The batch waits. The call may have been cancelled before the handler ran (then the cancel
     * handler never runs) or while it ran: both are seen here, after the batch is published.
     */
    void inLine(TopicHandle t, PublishBatch b, ServerCallStreamObserver<?> call) {
      topic = t;
      batch = b;
      if (cancelled || call.isCancelled()) {
        t.withdraw(b);
      }
    }

    void cancelled() {
      cancelled = true;
      PublishBatch b = batch;
      if (b != null) {
        topic.withdraw(b);
      }
    }
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

  /** RESOURCE_EXHAUSTED INBOX_FULL: what a publish to a full REJECT topic gets (here and from a forwarded publish). */
  public static StatusRuntimeException full(TopicHandle topic) {
    TopicSettings s = topic.settings();
    return Errors.error(ErrorReason.ERROR_REASON_INBOX_FULL, "topic '" + topic.name() + "' inbox is full (" + s.inboxMaxEvents() + " events / "
        + s.inboxMaxBytes() + " bytes) and its publish_overflow is REJECT: retry later or publish more slowly",
        "topic", topic.name(), "inboxMaxEvents", s.inboxMaxEvents(), "inboxMaxBytes", s.inboxMaxBytes());
  }

  /** RESOURCE_EXHAUSTED WAIT_LINE_FULL: what a publish to a BLOCK topic whose wait line is full gets (here and from a forwarded publish). */
  public static StatusRuntimeException lineFull(TopicHandle topic) {
    TopicSettings s = topic.settings();
    long waitingEvents = topic.waitingEvents();
    long waitingBytes = topic.waitingBytes();
    return Errors.error(ErrorReason.ERROR_REASON_WAIT_LINE_FULL, "topic '" + topic.name() + "' inbox is full and " + waitingEvents
        + " events / " + waitingBytes + " bytes of publishes already wait for room (publish_wait_max_events "
        + s.publishWaitMaxEvents() + ", publish_wait_max_bytes " + s.publishWaitMaxBytes() + "): its subscribers are not keeping up."
        + " Retry later with backoff or publish more slowly; cancelled publishes leave the line",
        "topic", topic.name(), "waitingEvents", waitingEvents, "waitingBytes", waitingBytes,
        "publishWaitMaxEvents", s.publishWaitMaxEvents(), "publishWaitMaxBytes", s.publishWaitMaxBytes());
  }

  private StatusRuntimeException closed(String name) {
    if (topics.get(name).isEmpty()) {
      return Errors.topicNotFound(name, "topic '" + name + "' was deleted");
    }
    return Errors.shuttingDown("broker is shutting down; publish to another broker");
  }

  /**
   * Where a publish stream stands: one value per stream, moved only under the stream's lock, by the
   * transport thread (a request arrives, half-close, cancel), the dispatch loop (the newest batch
   * leaves the wait line), the flusher (a slot is written, the call ends) and shutdown ({@code end}).
   * The read states say why no request is outstanding; once the client half-closes, cancels or the
   * broker ends the stream, nothing is read again and the read states no longer apply.
   */
  enum StreamState {
    /** One {@code request(1)} is outstanding: the next request may arrive. */
    READING,
    /** {@code onNext} is offering the newest slot's batch; the offer's outcome is not recorded yet. */
    OFFERING,
    /**
     * The newest batch left the wait line (admitted, or failed) while {@code onNext} was still
     * offering it: {@code onNext} reads on when it gets back, whatever the offer said.
     */
    LET_IN,
    /** The newest batch waits in its topic's line: no read until it is admitted or fails. */
    WAITING,
    /** {@code MAX_OUTSTANDING_BATCHES} slots are unwritten: the flusher reads on when one is written. */
    HELD,
    /** The client half-closed: complete once every slot is answered and written. */
    HALF_CLOSED,
    /** The broker ends the stream ({@code end}): the error once the answered slots are written. */
    ENDING,
    /** The client cancelled: nothing more is read or written. Terminal. */
    CANCELLED,
    /** The flusher ended the call. Terminal. */
    ENDED
  }

  /**
   * One PublishStream: request order in, response order out.
   *
   * <p>Its state is {@link #state} and {@link #slots}, both guarded by {@link #lock} and changed
   * together in one critical section: a decision (read on or not, end or not) and its record are
   * never split across two lock acquisitions. gRPC is called ({@code request}, {@code onNext},
   * {@code onError}, {@code onCompleted}) only after the lock is released, except the flusher's
   * {@code isReady()}. The inbox lock is never taken while this lock is held.
   */
  private final class StreamCall implements StreamObserver<RawPublish> {
    private final ServerCallStreamObserver<PublishStreamResponse> call;
    private final Drainer flusher;
    private final Principal principal;
    /** The last topic this stream's principal was allowed to publish to, at ACL {@link #allowedVersion}; onNext's only. */
    private String allowedTopic;
    private long allowedVersion;
    private final ReentrantLock lock = new ReentrantLock();
    // @GuardedBy("lock")
    private final ArrayDeque<Slot> slots = new ArrayDeque<>(4);
    // @GuardedBy("lock")
    private StreamState state = StreamState.READING;
    // @GuardedBy("lock"); set with state ENDING
    private StatusRuntimeException endWith;

    StreamCall(ServerCallStreamObserver<PublishStreamResponse> call) {
      this.principal = Access.caller(); // the call's context is current while the stream starts
      this.call = call;
      this.flusher = new Drainer(writers, this::flush, this::flushFailed);
      call.setOnReadyHandler(flusher::signal);
      call.setOnCancelHandler(this::cancelled);
    }

    /**
     * Checks the principal's {@code publish} grant on {@code name}; the last topic allowed is
     * remembered with the ACL's version, so a stream of batches to one topic checks it once per
     * ACL change. Called by {@code onNext} only (gRPC calls it serially).
     */
    private void allowed(String name) {
      long version = access.version();
      if (name.equals(allowedTopic) && version == allowedVersion) {
        return;
      }
      access.check(principal, name, Permission.PUBLISH, "publish");
      allowedTopic = name;
      allowedVersion = version;
    }

    @Override
    public void onNext(RawPublish req) {
      Slot slot = new Slot(req.batchId(), req.compactAcks());
      lock.lock();
      try {
        slots.addLast(slot);
        if (state == StreamState.READING) {
          state = StreamState.OFFERING;
        }
      } finally {
        lock.unlock();
      }
      String name;
      try {
        name = TopicNames.validate("topic", req.topic());
        allowed(name);
      } catch (StatusRuntimeException e) {
        countRefusal(e);
        slot.failed(e);
        offered(slot, false);
        return;
      }
      // at once for a live topic; for one being auto-created, on the metadata thread (the stream
      // stays OFFERING meanwhile, so no other request is read)
      topics.resolve(name).whenComplete((topic, err) -> {
        if (err != null) {
          StatusRuntimeException e = Errors.status(err, null);
          countRefusal(e);
          slot.failed(e);
          offered(slot, false);
        } else {
          try {
            offer(slot, name, topic, req);
          } catch (RuntimeException e) {
            log.error("publish to topic '{}' failed", name, e);
            slot.failed(Errors.internal("broker failed to take the batch: " + e, e));
            offered(slot, false);
          }
        }
      });
    }

    private void offer(Slot slot, String name, TopicHandle topic, RawPublish req) {
      boolean waiting = false;
      try {
        PublishBatch batch = BatchValidator.validate(name, req.events(), topic.settings(), slot);
        slot.offered(topic, batch);
        Admission a = topic.offer(batch);
        switch (a) {
          case ADMITTED -> { }
          case WAITING -> waiting = true;
          case FULL -> slot.failed(full(topic));
          case LINE_FULL -> slot.failed(lineFull(topic));
          case CLOSED -> {
            StatusRuntimeException e = closed(name);
            countRefusal(e);
            slot.failed(e);
          }
          default -> throw new IllegalStateException("unknown admission " + a);
        }
      } catch (StatusRuntimeException e) {
        countRefusal(e);
        slot.failed(e);
      }
      offered(slot, waiting);
    }

    /** The handler is done offering {@code slot}'s batch: reads on, or waits for the line. */
    private void offered(Slot slot, boolean waiting) {
      boolean read;
      boolean withdraw = false;
      lock.lock();
      try {
        if (waiting && state == StreamState.OFFERING) {
          state = StreamState.WAITING; // admitted() or failed() reads on
          read = false;
        } else {
          read = readOn(); // in the inbox, refused, or already out of the line (LET_IN)
          withdraw = waiting && state == StreamState.CANCELLED;
        }
      } finally {
        lock.unlock();
      }
      if (read) {
        call.request(1);
      }
      if (withdraw) {
        slot.withdraw(); // cancelled while offering: the cancel handler may have missed it
      }
    }

    /**
     * Lock held. From a read state, moves to READING (true: the caller requests one more) or, with
     * too many slots unwritten, to HELD. Any other state stays: the stream reads no more.
     */
    private boolean readOn() {
      switch (state) {
        case OFFERING, LET_IN, WAITING, HELD -> {
          if (slots.size() < MAX_OUTSTANDING_BATCHES) {
            state = StreamState.READING;
            return true;
          }
          state = StreamState.HELD;
          return false;
        }
        default -> {
          return false;
        }
      }
    }

    /** Lock held. {@code s}'s batch left the wait line (admitted or failed): true if the caller reads on. */
    private boolean leftLine(Slot s) {
      if (slots.peekLast() != s) {
        return false; // an older batch: only the newest one can be waiting or being offered
      }
      if (state == StreamState.OFFERING) {
        state = StreamState.LET_IN;
        return false;
      }
      return state == StreamState.WAITING && readOn();
    }

    @Override
    public void onError(Throwable t) {
      cancelled();
    }

    private void cancelled() {
      Slot newest;
      lock.lock();
      try {
        if (state != StreamState.ENDED) {
          state = StreamState.CANCELLED;
        }
        newest = slots.peekLast();
        if (newest != null && newest.response != null) {
          newest = null;
        }
      } finally {
        lock.unlock();
      }
      streams.remove(this);
      if (newest != null) {
        newest.withdraw(); // only the newest batch can be waiting; the inbox knows whether it is
      }
    }

    @Override
    public void onCompleted() {
      lock.lock();
      try {
        switch (state) {
          case READING, OFFERING, LET_IN, WAITING, HELD -> state = StreamState.HALF_CLOSED;
          default -> { }
        }
      } finally {
        lock.unlock();
      }
      flusher.signal();
    }

    void end(StatusRuntimeException status) {
      lock.lock();
      try {
        switch (state) {
          case ENDING, CANCELLED, ENDED -> { }
          default -> {
            state = StreamState.ENDING;
            endWith = status;
          }
        }
      } finally {
        lock.unlock();
      }
      flusher.signal();
    }

    private void flush() {
      while (true) {
        PublishStreamResponse out = null;
        boolean request = false;
        boolean complete = false;
        StatusRuntimeException error = null;
        lock.lock();
        try {
          if (state == StreamState.CANCELLED || state == StreamState.ENDED) {
            return;
          }
          Slot head = slots.peekFirst();
          if (head != null && head.response != null && call.isReady()) {
            slots.pollFirst();
            out = head.response;
          }
          if (state == StreamState.HELD) {
            request = readOn();
          }
          // end once everything answered is written; a batch still unanswered at that point was
          // never sequenced (inboxes are drained first), so the client's retry is safe
          boolean headUnanswered = head != null && head.response == null;
          if (out == null && (slots.isEmpty() || headUnanswered)) {
            if (state == StreamState.ENDING) {
              error = endWith;
              state = StreamState.ENDED;
            } else if (state == StreamState.HALF_CLOSED && slots.isEmpty()) {
              complete = true;
              state = StreamState.ENDED;
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
        if (error != null || complete) {
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
      lock.lock();
      try {
        if (state == StreamState.CANCELLED || state == StreamState.ENDED) {
          return;
        }
        state = StreamState.ENDED; // read and write no more
      } finally {
        lock.unlock();
      }
      streams.remove(this);
      try {
        call.onError(Errors.internal("broker failed to write to the publish stream: " + t, t));
      } catch (RuntimeException e) {
        log.debug("publish stream error not sent (call gone): {}", e.toString());
      }
    }

    /** One request's place in the response order; also the batch's listener. */
    private final class Slot implements PublishBatch.Listener {
      private final long batchId;
      /** The client reads AckRange: a batch sequenced in one run is answered with one. */
      private final boolean compactAcks;
      // @GuardedBy("lock")
      private PublishStreamResponse response;
      // set by onNext before the offer, read by the cancel handler
      private volatile TopicHandle topic;
      private volatile PublishBatch batch;

      Slot(long batchId, boolean compactAcks) {
        this.batchId = batchId;
        this.compactAcks = compactAcks;
      }

      void offered(TopicHandle t, PublishBatch b) {
        topic = t;
        batch = b;
      }

      /** Takes the batch out of its topic's wait line if it is still there (never sequenced then). */
      void withdraw() {
        PublishBatch b = batch;
        if (b != null) {
          topic.withdraw(b);
        }
      }

      @Override
      public void admitted() {
        boolean read;
        lock.lock();
        try {
          read = leftLine(this);
        } finally {
          lock.unlock();
        }
        if (read) {
          call.request(1);
        }
      }

      @Override
      public void sequenced(List<PublishAck> acks) {
        PublishStreamResponse.Builder r = PublishStreamResponse.newBuilder().setBatchId(batchId);
        if (compactAcks && acks instanceof AckRun run && !run.hasAssignedIds()) {
          r.setRange(run.range());
        } else {
          r.addAllAcks(acks);
        }
        PublishStreamResponse built = r.build();
        lock.lock();
        try {
          response = built;
        } finally {
          lock.unlock();
        }
        flusher.signal();
      }

      @Override
      public void failed(StatusRuntimeException status) {
        Status st = status.getStatus();
        PublishError.Builder error = PublishError.newBuilder().setCode(st.getCode().value())
            .setMessage(st.getDescription() == null ? st.getCode().name() : st.getDescription());
        ErrorInfo info = Errors.info(status);
        if (info != null) {
          error.setReason(info.getReason()).putAllMetadata(info.getMetadataMap());
        } else {
          error.setReason(Errors.reasonName(ErrorReason.ERROR_REASON_INTERNAL)); // not made by Errors: a bug
        }
        PublishStreamResponse r = PublishStreamResponse.newBuilder().setBatchId(batchId).setError(error).build();
        boolean read;
        lock.lock();
        try {
          response = r;
          read = leftLine(this); // a batch that waited and then failed frees the stream too
        } finally {
          lock.unlock();
        }
        flusher.signal();
        if (read) {
          call.request(1);
        }
      }
    }
  }
}
