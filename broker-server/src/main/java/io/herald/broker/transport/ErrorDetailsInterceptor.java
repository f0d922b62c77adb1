package io.herald.broker.transport;

import io.grpc.ForwardingServerCall;
import io.grpc.HandlerRegistry;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.herald.proto.v1.ErrorReason;
import java.io.InputStream;

/**
 * Makes "every error status carries an ErrorInfo" hold for statuses the broker's own code does not
 * make: those of gRPC's call helpers (a unary call with no request or two) and of the standard
 * services (health, reflection). A call closed with an error and no ErrorInfo gets one: reason
 * INTERNAL for the codes that say "try again" (INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE, ABORTED,
 * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED), UNSUPPORTED_REQUEST for the others. An ErrorInfo already
 * there (every status made with {@link Errors}) is left as it is. {@link #unknownMethods} routes
 * calls to methods the broker does not serve through the same path (gRPC would otherwise answer
 * them UNIMPLEMENTED below every interceptor).
 *
 * <p>Installed once, as a server-wide interceptor. Stateless; {@code close} runs on whatever thread
 * closes the call and never blocks.
 */
public final class ErrorDetailsInterceptor implements ServerInterceptor {

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        if (!status.isOk() && Errors.info(trailers) == null) {
          Errors.attach(status, fallback(status.getCode()), trailers);
        }
        super.close(status, trailers);
      }
    }, headers);
  }

  static ErrorReason fallback(Status.Code code) {
    return switch (code) {
      case INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED -> ErrorReason.ERROR_REASON_INTERNAL;
      default -> ErrorReason.ERROR_REASON_UNSUPPORTED_REQUEST;
    };
  }

  /** A registry that answers any method the server does not have with UNIMPLEMENTED, through the interceptors. */
  public static HandlerRegistry unknownMethods() {
    return new HandlerRegistry() {
      @Override
      public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
        MethodDescriptor<InputStream, InputStream> method = MethodDescriptor.<InputStream, InputStream>newBuilder()
            .setType(MethodDescriptor.MethodType.UNKNOWN)
            .setFullMethodName(methodName)
            .setRequestMarshaller(UndecodableRequests.UNPARSED)
            .setResponseMarshaller(UndecodableRequests.UNPARSED)
            .build();
        return ServerMethodDefinition.create(method, (call, headers) -> {
          call.close(Status.UNIMPLEMENTED.withDescription("this broker has no method " + methodName), new Metadata());
          return new ServerCall.Listener<>() { };
        });
      }
    };
  }
}
