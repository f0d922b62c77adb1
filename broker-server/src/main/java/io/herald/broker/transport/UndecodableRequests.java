package io.herald.broker.transport;

import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers request bytes that do not decode with INVALID_ARGUMENT and the parse error, instead of
 * grpc-java's {@code UNKNOWN "Application error processing RPC"} and an ERROR stack trace (grpc-java
 * treats any exception thrown while parsing a request as a bug in the application).
 *
 * <p>{@link #guard} rebuilds a service so that the transport hands each request over undecoded (the
 * {@link InputStream} it already has: no copy) and the method's own request marshaller parses it in
 * the call listener's {@code onMessage}, where a failure can be answered. Responses keep their
 * marshallers untouched. On a failure the call is closed with INVALID_ARGUMENT, the handler is told
 * the call was cancelled (so a stream releases what it holds, e.g. a subscription), later events
 * of the call are ignored, and one line is logged at INFO.
 *
 * <p>Thread-safety: the wrapped listener is called by gRPC, serially per call, on whatever thread
 * the call's executor provides; it never blocks.
 */
public final class UndecodableRequests {
  private static final Logger log = LoggerFactory.getLogger(UndecodableRequests.class);

  /** Hands the transport's stream over as it is; the method's marshaller parses it later. */
  private static final MethodDescriptor.Marshaller<InputStream> UNPARSED = new MethodDescriptor.Marshaller<>() {
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
    private final ServerCall.Listener<Q> delegate;
    /** Set once a request failed to decode; from then on the handler hears nothing more. */
    private boolean refused;

    GuardedListener(ServerCall<InputStream, R> call, Metadata headers, MethodDescriptor<Q, R> method, ServerCallHandler<Q, R> handler) {
      this.call = call;
      this.method = method;
      this.delegate = handler.startCall(new DecodedCall<>(call, method), headers);
    }

    @Override
    public void onMessage(InputStream message) {
      if (refused) {
        return;
      }
      Q request;
      try {
        request = method.parseRequest(message);
      } catch (RuntimeException e) {
        refuse(e);
        return;
      }
      delegate.onMessage(request);
    }

    private void refuse(RuntimeException e) {
      refused = true;
      String detail = describe(e);
      log.info("refused an undecodable request on {} from {}: {}", method.getFullMethodName(),
          call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), detail);
      try {
        call.close(Status.INVALID_ARGUMENT.withDescription("cannot decode the " + method.getBareMethodName() + " request: " + detail),
            new Metadata());
      } catch (IllegalStateException alreadyClosed) {
        // the handler had closed the call already: nothing more to tell the client
      }
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

  /**
   * The call as the handler sees it: the method's real descriptor; everything else forwarded. The
   * request type only appears in {@link #getMethodDescriptor}, so the cast is safe.
   */
  private static final class DecodedCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    private final MethodDescriptor<Q, R> method;

    @SuppressWarnings("unchecked")
    DecodedCall(ServerCall<InputStream, R> call, MethodDescriptor<Q, R> method) {
      super((ServerCall<Q, R>) (ServerCall<?, R>) call);
      this.method = method;
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
  }
}
