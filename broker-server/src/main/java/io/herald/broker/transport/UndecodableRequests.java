package io.herald.broker.transport;

import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.KnownLength;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.ErrorReason;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers request bytes that do not decode with INVALID_ARGUMENT (reason MALFORMED_REQUEST) and the
 * parse error, instead of grpc-java's {@code UNKNOWN "Application error processing RPC"} and an
 * ERROR stack trace (grpc-java treats any exception thrown while parsing a request as a bug in the
 * application); and a request larger than {@link Errors#MAX_MESSAGE_BYTES} with RESOURCE_EXHAUSTED
 * (reason MESSAGE_TOO_LARGE), which the transport cannot say with details: the transport's own
 * limit is {@link #TRANSPORT_MAX_MESSAGE_BYTES}, twice the API's, so that the broker sees the
 * message and refuses it here.
 *
 * <p>{@link #guard} rebuilds a service so that the transport hands each request over undecoded (the
 * {@link InputStream} it already has: no copy) and the method's own request marshaller parses it in
 * the call listener's {@code onMessage}, where a failure can be answered. Responses keep their
 * marshallers untouched. On a failure the call is closed with INVALID_ARGUMENT (never while the
 * handler is writing a response from another thread: see {@code DecodedCall}), the handler is told
 * the call was cancelled (so a stream releases what it holds, e.g. a subscription), later events
 * of the call are ignored, and one line is logged at INFO.
 *
 * <p>Thread-safety: the wrapped listener is called by gRPC, serially per call, on whatever thread
 * the call's executor provides; it never blocks. The call handed to the handler may be written from
 * any one thread at a time, as any {@link ServerCall}.
 */
public final class UndecodableRequests {
  private static final Logger log = LoggerFactory.getLogger(UndecodableRequests.class);
  /**
   * The gRPC transport's limit ({@code maxInboundMessageSize}): larger messages are refused by it,
   * without details, before any call sees them. Between the API's limit and this one the broker
   * refuses them itself, with details.
   */
  public static final int TRANSPORT_MAX_MESSAGE_BYTES = 2 * Errors.MAX_MESSAGE_BYTES;

  /** Hands the transport's stream over as it is; the method's marshaller parses it later. */
  static final MethodDescriptor.Marshaller<InputStream> UNPARSED = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return stream;
    }
  };

  private UndecodableRequests() { }

  /** {@code service} with every method's request decoded where a parse failure can be answered. */
  public static ServerServiceDefinition guard(ServerServiceDefinition service) {
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(service.getServiceDescriptor().getName())
        .setSchemaDescriptor(service.getServiceDescriptor().getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      ServerMethodDefinition<?, ?> g = guard(m);
      descriptor.addMethod(g.getMethodDescriptor());
      methods.add(g);
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    for (ServerMethodDefinition<?, ?> m : methods) {
      out.addMethod(m);
    }
    return out.build();
  }

  private static <Q, R> ServerMethodDefinition<InputStream, R> guard(ServerMethodDefinition<Q, R> def) {
    MethodDescriptor<Q, R> method = def.getMethodDescriptor();
    MethodDescriptor<InputStream, R> unparsed = method.toBuilder(UNPARSED, method.getResponseMarshaller()).build();
    ServerCallHandler<Q, R> handler = def.getServerCallHandler();
    return ServerMethodDefinition.create(unparsed, (call, headers) -> new GuardedListener<>(call, headers, method, handler));
  }

  /** Parses each request; on a failure ends the call instead of letting the exception escape. */
  private static final class GuardedListener<Q, R> extends ServerCall.Listener<InputStream> {
    private final ServerCall<InputStream, R> call;
    private final MethodDescriptor<Q, R> method;
    private final DecodedCall<Q, R> decoded;
    private final ServerCall.Listener<Q> delegate;
    /** Set once a request failed to decode; from then on the handler hears nothing more. */
    private boolean refused;

    GuardedListener(ServerCall<InputStream, R> call, Metadata headers, MethodDescriptor<Q, R> method, ServerCallHandler<Q, R> handler) {
      this.call = call;
      this.method = method;
      this.decoded = new DecodedCall<>(call, method);
      this.delegate = handler.startCall(decoded, headers);
    }

    @Override
    public void onMessage(InputStream message) {
      if (refused) {
        return;
      }
      Q request;
      try {
        request = method.parseRequest(limited(message));
      } catch (RuntimeException e) {
        refuse(e);
        return;
      }
      delegate.onMessage(request);
    }

    /**
     * The message, refused at once if its size is known and over the limit, or counted as it is
     * parsed if not (a compressed message is only sized as it is inflated).
     */
    private static InputStream limited(InputStream message) {
      if (message instanceof KnownLength) {
        int size;
        try {
          size = message.available();
        } catch (IOException e) {
          throw Errors.error(ErrorReason.ERROR_REASON_MALFORMED_REQUEST, "cannot read the request: " + e);
        }
        if (size > Errors.MAX_MESSAGE_BYTES) {
          throw tooLarge(Integer.toString(size));
        }
        return message;
      }
      return new SizeLimit(message);
    }

    private static StatusRuntimeException tooLarge(String size) {
      return Errors.error(ErrorReason.ERROR_REASON_MESSAGE_TOO_LARGE, "the request is " + size + " bytes; the broker takes messages of at most "
          + Errors.MAX_MESSAGE_BYTES + " bytes (4 MiB): split the batch", "limit", Errors.MAX_MESSAGE_BYTES, "value", size);
    }

    private void refuse(RuntimeException e) {
      refused = true;
      StatusRuntimeException refusal;
      String what;
      if (Errors.info(e) != null) {
        refusal = (StatusRuntimeException) e; // already says why: too large
        what = "an oversized";
      } else if (e instanceof StatusRuntimeException sre && sre.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED) {
        refusal = tooLarge("more than " + TRANSPORT_MAX_MESSAGE_BYTES); // inflated past the transport's limit
        what = "an oversized";
      } else {
        refusal = Errors.error(ErrorReason.ERROR_REASON_MALFORMED_REQUEST,
            "cannot decode the " + method.getBareMethodName() + " request: " + describe(e));
        what = "an undecodable";
      }
      log.info("refused {} request on {} from {}: {}", what, method.getFullMethodName(),
          call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), refusal.getStatus().getDescription());
      decoded.refuse(refusal);
      delegate.onCancel(); // the handler releases what the call holds, as for a client cancel
    }

    /** The parse error, without the wrappers around it. */
    private static String describe(RuntimeException e) {
      if (e instanceof StatusRuntimeException sre && sre.getStatus().getCode() == Status.Code.INVALID_ARGUMENT
          && sre.getStatus().getDescription() != null) {
        return sre.getStatus().getDescription(); // a marshaller that already says what is wrong
      }
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      String m = root.getMessage();
      return m == null ? root.getClass().getSimpleName() : m;
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        delegate.onHalfClose();
      }
    }

    @Override
    public void onCancel() {
      if (!refused) {
        delegate.onCancel();
      }
    }

    @Override
    public void onComplete() {
      if (!refused) {
        delegate.onComplete();
      }
    }

    @Override
    public void onReady() {
      if (!refused) {
        delegate.onReady();
      }
    }
  }

  /** Counts the bytes read and refuses the message once they pass the API's limit. */
  private static final class SizeLimit extends FilterInputStream {
    private long read;

    SizeLimit(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        count(1);
      }
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = super.read(buf, off, len);
      if (n > 0) {
        count(n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long k = super.skip(n);
      count(k);
      return k;
    }

    private void count(long n) {
      read += n;
      if (read > Errors.MAX_MESSAGE_BYTES) {
        throw GuardedListener.tooLarge("more than " + Errors.MAX_MESSAGE_BYTES);
      }
    }
  }

  /**
   * The call as the handler sees it: the method's real descriptor, and a refusal that never races
   * the handler's own writer. A stream's responses may be written from another thread than the
   * transport's (a subscription writer, a publish flusher), and a {@link ServerCall} may not be
   * written from two threads at once; so {@code sendHeaders}, {@code sendMessage} and {@code close}
   * move one state by CAS: IDLE → BUSY → IDLE around each of the handler's writes, and a refusal
   * either closes an IDLE call itself or, finding it BUSY, leaves the close to the writer as it
   * finishes (REFUSE_PENDING). After a close, whoever made it, further writes are dropped. No lock;
   * two CAS per write. Everything else is forwarded. The request type only appears in {@link
   * #getMethodDescriptor}, so the cast to it is safe.
   */
  static final class DecodedCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    private static final int IDLE = 0;
    private static final int BUSY = 1;
    private static final int REFUSE_PENDING = 2;
    private static final int CLOSED = 3;

    private final MethodDescriptor<Q, R> method;
    private final AtomicInteger state = new AtomicInteger(IDLE);
    /** Written before the CAS that publishes REFUSE_PENDING; read after seeing it. */
    private StatusRuntimeException refusal;

    @SuppressWarnings("unchecked")
    DecodedCall(ServerCall<InputStream, R> call, MethodDescriptor<Q, R> method) {
      super((ServerCall<Q, R>) (ServerCall<?, R>) call);
      this.method = method;
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }

    @Override
    public void sendHeaders(Metadata headers) {
      if (state.compareAndSet(IDLE, BUSY)) {
        try {
          super.sendHeaders(headers);
        } finally {
          writeDone();
        }
      }
    }

    @Override
    public void sendMessage(R message) {
      if (state.compareAndSet(IDLE, BUSY)) {
        try {
          super.sendMessage(message);
        } finally {
          writeDone();
        }
      }
    }

    @Override
    public void close(Status status, Metadata trailers) {
      if (state.compareAndSet(IDLE, BUSY)) {
        try {
          super.close(status, trailers);
        } finally {
          state.set(CLOSED); // a refusal that came meanwhile has nothing left to close
        }
      }
    }

    /** After one of the handler's writes: back to IDLE, or make the refusal's close left to us. */
    private void writeDone() {
      if (!state.compareAndSet(BUSY, IDLE)) { // REFUSE_PENDING
        state.set(CLOSED);
        closeWith(refusal);
      }
    }

    private void closeWith(StatusRuntimeException e) {
      Metadata trailers = e.getTrailers();
      super.close(e.getStatus(), trailers == null ? new Metadata() : trailers);
    }

    /** Ends the call with {@code status} now, or as soon as the handler's write in progress ends. */
    void refuse(StatusRuntimeException status) {
      refusal = status;
      while (true) {
        int s = state.get();
        if (s == IDLE && state.compareAndSet(IDLE, CLOSED)) {
          closeWith(status);
          return;
        }
        if (s == BUSY && state.compareAndSet(BUSY, REFUSE_PENDING)) {
          return;
        }
        if (s == CLOSED || s == REFUSE_PENDING) {
          return;
        }
      }
    }
  }
}
