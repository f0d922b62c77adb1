package io.herald.broker.cluster;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.CodedInputStream;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.herald.broker.publish.PublishService;
import io.herald.broker.topic.AckRun;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.topic.TopicNames;
import io.herald.broker.transport.Drainer;
import io.herald.broker.transport.Errors;
import io.herald.broker.transport.Messages;
import io.herald.proto.cluster.v1.ForwardAcks;
import io.herald.proto.cluster.v1.ForwardBatch;
import io.herald.proto.cluster.v1.ForwardRequest;
import io.herald.proto.cluster.v1.ForwardResponse;
import io.herald.proto.cluster.v1.HandOverRequest;
import io.herald.proto.cluster.v1.HandOverResponse;
import io.herald.proto.cluster.v1.PeerServiceGrpc;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.PublishAck;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The owner's end of {@code herald.cluster.v1.PeerService/Forward}: publishes that other brokers
 * received for topics this broker owns, one stream per origin broker, each batch answered once by
 * its correlation id (acks, or the refusal a local publisher would get, with its code and reason).
 *
 * <h2>Flow control</h2>
 * Inbound is read by hand ({@code disableAutoRequest}): the stream keeps at most {@value
 * #MAX_UNADMITTED} batches read and not yet in their topic's inbox (a batch waiting in a full BLOCK
 * topic's line counts until it is let in) and at most {@value #MAX_UNANSWERED} read and not yet
 * answered on the wire, counting the requests it has asked gRPC for. Beyond that it asks for
 * nothing, gRPC stops reading the stream, the HTTP/2 window fills, the origin's stream stops being
 * ready, its window of unanswered batches fills, and its publishers wait or are refused by their
 * topics' rules: a full owner inbox slows the publishers on other brokers as it slows its own.
 * One stream carries every topic of the pair, so a topic whose batches wait (a full BLOCK topic)
 * must not stop the reading for the others: the origin lets at most a quarter of its window be
 * one topic's ({@code PeerLink#perTopicCap}, 256 of 1,024 batches by default), and this side reads
 * ahead up to {@value #MAX_UNADMITTED} waiting batches, the whole default window. The stream stops
 * for everyone only when four topics wait at once (or the origin's window is larger than this).
 *
 * <h2>Threads</h2>
 * Handlers run on the transport thread and never block: they resolve the topic (a future), offer
 * the batch and return. Answers come from the topics' dispatch loops (or the handler, for a
 * refusal) and are written by one {@link Drainer} per stream on the {@code writers} executor, only
 * while the stream is ready. A stream's state is guarded by its lock, which is never held while
 * calling gRPC (except {@code isReady()}) or a topic.
 *
 * <p>Bind {@link #definition()} as it is, without {@code UndecodableRequests.guard}: a forwarded
 * batch of a 4 MiB publish is slightly larger than 4 MiB (the ids the origin assigned), which the
 * guard would refuse by ending the whole stream; the transport's own limit (8 MiB) bounds it, and a
 * frame that does not decode ends the stream here with INVALID_ARGUMENT (MALFORMED_REQUEST).
 *
 * <p>Thread-safe.
 */
public final class PeerForwardService {
  private static final Logger log = LoggerFactory.getLogger(PeerForwardService.class);
  /** Batches a stream may have read that are not yet in their topic's inbox (waiting for room). */
  public static final int MAX_UNADMITTED = 1024;
  /** Batches a stream may have read and not yet answered on the wire (an origin's window is 1,024 by default). */
  public static final int MAX_UNANSWERED = 2048;
  /** Responses a stream's writer sends per turn before letting other streams' writers run. */
  private static final int WRITES_PER_TURN = 64;

  private final Function<String, CompletableFuture<TopicHandle>> topics;
  private final Executor writers;
  private final HandOvers handOvers;
  private final Set<InboundStream> streams = ConcurrentHashMap.newKeySet();

  /**
   * @param topics resolves a topic this broker owns, without blocking (the topic registry's {@code
   *     resolve}); a failed future's status (NOT_FOUND, or a refusal because this broker does not
   *     own the topic) is the batch's answer
   * @param writers runs the streams' writers (the broker's writer pool); tasks never block
   */
  public PeerForwardService(Function<String, CompletableFuture<TopicHandle>> topics, Executor writers) {
    this(topics, writers, new HandOvers());
  }

  /** @param handOvers where dedup windows handed over by stopping nodes are kept ({@code HandOver}) */
  public PeerForwardService(Function<String, CompletableFuture<TopicHandle>> topics, Executor writers, HandOvers handOvers) {
    this.topics = topics;
    this.writers = writers;
    this.handOvers = handOvers;
  }

  /** The service to bind on the broker's server (see the class comment: without the decode guard). */
  public ServerServiceDefinition definition() {
    MethodDescriptor<Inbound, ForwardResponse> forward = PeerServiceGrpc.getForwardMethod()
        .toBuilder(Inbound.MARSHALLER, ProtoUtils.marshaller(ForwardResponse.getDefaultInstance())).build();
    ServiceDescriptor service = ServiceDescriptor.newBuilder(PeerServiceGrpc.SERVICE_NAME)
        .setSchemaDescriptor(PeerServiceGrpc.getServiceDescriptor().getSchemaDescriptor())
        .addMethod(forward)
        .addMethod(PeerServiceGrpc.getHandOverMethod())
        .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(forward, ServerCalls.asyncBidiStreamingCall(this::forward))
        .addMethod(PeerServiceGrpc.getHandOverMethod(), ServerCalls.asyncUnaryCall(this::handOver))
        .build();
  }

  /** A part of a dedup window a stopping node hands over with its topic. */
  private void handOver(HandOverRequest part, StreamObserver<HandOverResponse> out) {
    if (part.getTopic().isEmpty() || part.getCreateEpoch() == 0) {
      out.onError(Errors.invalidField("topic", "a hand-over names its topic and incarnation"));
      return;
    }
    if (!handOvers.add(part)) {
      log.warn("dedup window of topic '{}' handed over by another node dropped: more than {} ids or {} windows held", part.getTopic(),
          HandOvers.MAX_IDS, HandOvers.MAX_WINDOWS);
      out.onError(io.grpc.Status.RESOURCE_EXHAUSTED.withDescription("more than " + HandOvers.MAX_IDS + " handed-over dedup ids or "
          + HandOvers.MAX_WINDOWS + " windows held here; the window is dropped").asRuntimeException());
      return;
    }
    out.onNext(HandOverResponse.getDefaultInstance());
    out.onCompleted();
  }

  /** Open inbound forward streams (one per origin broker): for {@code herald_forward_streams}. */
  public int streamCount() {
    return streams.size();
  }

  /** Ends every stream with {@code status} once its answered batches are written (shutdown). */
  public void closeAll(StatusRuntimeException status) {
    for (InboundStream s : streams) {
      s.end(status);
    }
  }

  private StreamObserver<Inbound> forward(StreamObserver<ForwardResponse> observer) {
    ServerCallStreamObserver<ForwardResponse> call = (ServerCallStreamObserver<ForwardResponse>) observer;
    call.disableAutoRequest();
    InboundStream s = new InboundStream(call);
    streams.add(s);
    s.start();
    return s;
  }

  /**
   * A forward request as received: the decoded frame (bytes fields are slices of the received
   * message, not copies), or why it does not decode. Parsing never throws, so the stream answers
   * a bad frame itself.
   */
  record Inbound(ForwardRequest request, String malformed) {
    static final MethodDescriptor.Marshaller<Inbound> MARSHALLER = new MethodDescriptor.Marshaller<>() {
      @Override
      public InputStream stream(Inbound value) {
        return value.request().toByteString().newInput();
      }

      @Override
      public Inbound parse(InputStream stream) {
        try {
          CodedInputStream in = CodedInputStream.newInstance(Messages.readAll(stream));
          in.enableAliasing(true);
          return new Inbound(ForwardRequest.parseFrom(in), null);
        } catch (IOException | RuntimeException e) {
          return new Inbound(null, String.valueOf(e.getMessage()));
        }
      }
    };
  }

  /** Where an inbound stream stands; moved only under its lock. */
  enum State {
    /** Reading; the first frame must be {@code init}. */
    AWAITING_INIT,
    /** Reading batches. */
    OPEN,
    /** The origin half-closed: complete once every batch read is answered and written. */
    HALF_CLOSED,
    /** The broker ends the stream: the error once the answers already made are written. */
    ENDING,
    /** The origin cancelled (or the connection is gone): nothing more is read or written. Terminal. */
    CANCELLED,
    /** The writer ended the call. Terminal. */
    ENDED
  }

  /**
   * One origin's stream. {@link #state} and the counts move together under {@link #lock}; gRPC is
   * called after the lock is released (except {@code isReady()} by the writer), topics never under it.
   */
  private final class InboundStream implements StreamObserver<Inbound> {
    private final ServerCallStreamObserver<ForwardResponse> call;
    private final Drainer writer;
    private final ReentrantLock lock = new ReentrantLock();
    @GuardedBy("lock")
    private State state = State.AWAITING_INIT;
    /** Messages asked of gRPC ({@code request(n)}) and not yet received. */
    @GuardedBy("lock")
    private int requested;
    /** Batches read and not yet in their topic's inbox (or refused). */
    @GuardedBy("lock")
    private int unadmitted;
    /** Batches read whose answer is not yet written (queued in {@link #out} or still unanswered). */
    @GuardedBy("lock")
    private int unanswered;
    /** Answers to write, in the order they were made. */
    @GuardedBy("lock")
    private final ArrayDeque<ForwardResponse> out = new ArrayDeque<>();
    @GuardedBy("lock")
    private StatusRuntimeException endWith;
    @GuardedBy("lock")
    private String origin = "?";
    /** The origin reads ForwardAcks.range (its init said so); set once, before any batch. */
    private volatile boolean compactAcks;
    /** Batches read and not yet answered, so a cancel can take those waiting out of their topics' lines. */
    private final Set<Entry> pending = ConcurrentHashMap.newKeySet();

    InboundStream(ServerCallStreamObserver<ForwardResponse> call) {
      this.call = call;
      this.writer = new Drainer(writers, this::flush, this::flushFailed);
      call.setOnReadyHandler(writer::signal);
      call.setOnCancelHandler(this::cancelled);
    }

    void start() {
      int n;
      lock.lock();
      try {
        n = topUp();
      } finally {
        lock.unlock();
      }
      request(n);
    }

    /** Lock held. How many more messages to ask for, recorded as asked: none unless reading and below both bounds. */
    @GuardedBy("lock")
    private int topUp() {
      if (state != State.AWAITING_INIT && state != State.OPEN) {
        return 0;
      }
      int n = Math.min(MAX_UNADMITTED - unadmitted, MAX_UNANSWERED - unanswered) - requested;
      if (n <= 0) {
        return 0;
      }
      requested += n;
      return n;
    }

    private void request(int n) {
      if (n > 0) {
        call.request(n);
      }
    }

    @Override
    public void onNext(Inbound in) {
      Entry entry = null;
      StatusRuntimeException violation = null;
      int n;
      lock.lock();
      try {
        requested--;
        if (state != State.AWAITING_INIT && state != State.OPEN) {
          return; // ending: the frame is not answered (the origin fails it when the stream ends)
        }
        ForwardRequest r = in.request();
        if (r == null) {
          violation = Errors.error(ErrorReason.ERROR_REASON_MALFORMED_REQUEST, "forward frame does not decode: " + in.malformed());
        } else if (r.hasInit()) {
          if (state == State.AWAITING_INIT) {
            state = State.OPEN;
            origin = r.getInit().getNodeId();
            compactAcks = r.getInit().getCompactAcks();
          } else {
            violation = Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, "forward stream sent init twice");
          }
        } else if (!r.hasBatch()) {
          violation = Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, "forward frame with neither init nor batch");
        } else if (state == State.AWAITING_INIT) {
          violation = Errors.error(ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, "forward stream sent a batch before init");
        } else {
          unadmitted++;
          unanswered++;
          entry = new Entry(r.getBatch().getCorrelationId());
          pending.add(entry);
        }
        if (violation != null) {
          state = State.ENDING;
          endWith = violation;
        }
        n = topUp();
      } finally {
        lock.unlock();
      }
      if (violation != null) {
        log.info("forward stream from {} ended: {}", originName(), violation.getStatus().getDescription());
        withdrawAll();
        writer.signal();
        return;
      }
      request(n);
      if (entry != null) {
        take(entry, in.request().getBatch());
      }
    }

    /** Resolves the batch's topic and offers it; every outcome ends in exactly one answer. */
    private void take(Entry entry, ForwardBatch batch) {
      String name;
      CompletableFuture<TopicHandle> topic;
      try {
        name = TopicNames.validate("topic", batch.getTopic());
        topic = topics.apply(name);
      } catch (RuntimeException e) {
        entry.failed(Errors.status(e, "cannot resolve the forwarded batch's topic: "));
        return;
      }
      // at once for a live topic; on the metadata thread for one being created (never blocks)
      topic.whenComplete((t, err) -> {
        if (err != null) {
          entry.failed(Errors.status(err, null));
          return;
        }
        try {
          entry.offer(t, batch);
        } catch (RuntimeException e) {
          log.error("forwarded batch to topic '{}' failed", name, e);
          entry.failed(Errors.internal("broker failed to take the forwarded batch: " + e, e));
        }
      });
    }

    private String originName() {
      lock.lock();
      try {
        return origin;
      } finally {
        lock.unlock();
      }
    }

    private boolean gone() {
      lock.lock();
      try {
        return state == State.CANCELLED || state == State.ENDED || state == State.ENDING;
      } finally {
        lock.unlock();
      }
    }

    /** Takes every batch of this stream still waiting in a topic's line out of it (never sequenced then). */
    private void withdrawAll() {
      for (Entry e : pending) {
        e.withdraw();
      }
    }

    /** A batch left the "not yet in an inbox" count (admitted or answered): read on if below the bounds. */
    private void admitted() {
      int n;
      lock.lock();
      try {
        unadmitted--;
        n = topUp();
      } finally {
        lock.unlock();
      }
      request(n);
    }

    private void answer(Entry e, ForwardResponse r) {
      pending.remove(e);
      lock.lock();
      try {
        switch (state) {
          case CANCELLED, ENDED -> {
            return; // nobody to tell
          }
          default -> out.addLast(r);
        }
      } finally {
        lock.unlock();
      }
      writer.signal();
    }

    @Override
    public void onError(Throwable t) {
      cancelled();
    }

    private void cancelled() {
      lock.lock();
      try {
        if (state == State.CANCELLED || state == State.ENDED) {
          return;
        }
        state = State.CANCELLED;
        out.clear();
      } finally {
        lock.unlock();
      }
      streams.remove(this);
      withdrawAll();
    }

    @Override
    public void onCompleted() {
      lock.lock();
      try {
        if (state == State.AWAITING_INIT || state == State.OPEN) {
          state = State.HALF_CLOSED;
        }
      } finally {
        lock.unlock();
      }
      writer.signal();
    }

    void end(StatusRuntimeException status) {
      lock.lock();
      try {
        switch (state) {
          case ENDING, CANCELLED, ENDED -> {
            return;
          }
          default -> {
            state = State.ENDING;
            endWith = status;
          }
        }
      } finally {
        lock.unlock();
      }
      writer.signal();
    }

    /** The stream's only writer (a {@link Drainer} task). */
    private void flush() {
      for (int written = 0; ; written++) {
        if (written == WRITES_PER_TURN) {
          writer.signal(); // another turn, behind the other streams
          return;
        }
        ForwardResponse r = null;
        StatusRuntimeException error = null;
        boolean complete = false;
        int n = 0;
        lock.lock();
        try {
          if (state == State.CANCELLED || state == State.ENDED) {
            return;
          }
          if (!out.isEmpty()) {
            if (!call.isReady()) {
              return; // onReady signals again
            }
            r = out.pollFirst();
            unanswered--;
            n = topUp();
          } else if (state == State.ENDING) {
            error = endWith;
            state = State.ENDED;
          } else if (state == State.HALF_CLOSED && unanswered == 0) {
            complete = true;
            state = State.ENDED;
          } else {
            return;
          }
        } finally {
          lock.unlock();
        }
        if (r != null) {
          call.onNext(r);
          request(n);
          continue;
        }
        streams.remove(this);
        if (error != null) {
          withdrawAll();
          call.onError(error);
        } else if (complete) {
          call.onCompleted();
        }
        return;
      }
    }

    /** The writer threw (a bug): the stream's answers are no longer known, so end it with INTERNAL. */
    private void flushFailed(Throwable t) {
      log.error("forward stream writer failed; ending the stream with INTERNAL: {}", Drainer.describe(t));
      lock.lock();
      try {
        if (state == State.CANCELLED || state == State.ENDED) {
          return;
        }
        state = State.ENDED;
      } finally {
        lock.unlock();
      }
      streams.remove(this);
      withdrawAll();
      try {
        call.onError(Errors.internal("broker failed to write to the forward stream: " + t, t));
      } catch (RuntimeException e) {
        log.debug("forward stream error not sent (call gone): {}", e.toString());
      }
    }

    /** One forwarded batch: its listener, answered exactly once. */
    private final class Entry implements PublishBatch.Listener {
      private final long correlationId;
      private final AtomicBoolean inInbox = new AtomicBoolean();
      private final AtomicBoolean answered = new AtomicBoolean();
      // set before the offer, read by a cancel
      private volatile TopicHandle topic;
      private volatile PublishBatch batch;

      Entry(long correlationId) {
        this.correlationId = correlationId;
      }

      void offer(TopicHandle t, ForwardBatch f) {
        PublishBatch b;
        try {
          b = ForwardedBatch.toPublishBatch(f, t.settings(), this);
        } catch (StatusRuntimeException e) {
          failed(e);
          return;
        }
        topic = t;
        batch = b;
        Admission a;
        try {
          a = t.offer(b);
        } catch (StatusRuntimeException e) {
          failed(e);
          return;
        }
        switch (a) {
          case ADMITTED -> admitted();
          case WAITING -> {
            if (gone()) {
              withdraw(); // ended while offering: the cancel may have missed it
            }
          }
          case FULL -> failed(PublishService.full(t));
          case LINE_FULL -> failed(PublishService.lineFull(t));
          case CLOSED -> failed(Errors.shuttingDown("topic '" + t.name() + "' is closing on its owner (deleted, or the broker is"
              + " shutting down); nothing of the batch was accepted: retry"));
          default -> throw new IllegalStateException("unknown admission " + a);
        }
      }

      void withdraw() {
        PublishBatch b = batch;
        if (b != null && topic.withdraw(b)) {
          admittedOnce(); // it will never be answered: free its place (the stream is ending anyway)
        }
      }

      private void admittedOnce() {
        if (inInbox.compareAndSet(false, true)) {
          InboundStream.this.admitted();
        }
      }

      @Override
      public void admitted() {
        admittedOnce();
      }

      @Override
      public void sequenced(List<PublishAck> acks) {
        admittedOnce();
        if (answered.compareAndSet(false, true)) {
          // a run as a range (the ids the origin assigned are its own): no ack object per event
          ForwardAcks.Builder a = ForwardAcks.newBuilder();
          if (compactAcks && acks instanceof AckRun run) {
            a.setRange(run.range());
          } else {
            a.addAllAcks(acks);
          }
          answer(this, ForwardResponse.newBuilder().setCorrelationId(correlationId).setAcks(a).build());
        }
      }

      @Override
      public void failed(StatusRuntimeException status) {
        admittedOnce();
        if (answered.compareAndSet(false, true)) {
          answer(this, ForwardResponse.newBuilder().setCorrelationId(correlationId).setError(PeerErrors.toProto(status)).build());
        }
      }
    }
  }
}
