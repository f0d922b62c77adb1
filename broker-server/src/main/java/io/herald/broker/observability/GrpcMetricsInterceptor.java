package io.herald.broker.observability;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * gRPC server call metrics: calls started, finished by status code, active, and their duration
 * (for streams, their lifetime). Labels are bounded: methods are the broker's few, codes are 17.
 */
public final class GrpcMetricsInterceptor implements ServerInterceptor {
  private final MeterRegistry registry;
  private final Map<String, AtomicInteger> active = new ConcurrentHashMap<>();
  private final Map<String, Counter> finished = new ConcurrentHashMap<>();
  private final Map<String, Timer> durations = new ConcurrentHashMap<>();

  public GrpcMetricsInterceptor(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    // a method the broker does not serve is named by the caller: one label for all of them, or
    // random paths would grow the registry (and /metrics) without bound
    boolean known = call.getMethodDescriptor().getType() != io.grpc.MethodDescriptor.MethodType.UNKNOWN;
    String service = known ? call.getMethodDescriptor().getServiceName() : "unknown";
    String method = known ? call.getMethodDescriptor().getBareMethodName() : "unknown";
    String key = service + "/" + method;
    AtomicInteger act = active.computeIfAbsent(key, k -> {
      AtomicInteger a = new AtomicInteger();
      Gauge.builder("herald_grpc_server_calls_active", a, AtomicInteger::get).tag("service", service).tag("method", method)
          .description("gRPC calls in progress").register(registry);
      return a;
    });
    Timer timer = durations.computeIfAbsent(key, k -> Timer.builder("herald_grpc_server_call_duration").tag("service", service)
        .tag("method", method).description("gRPC call duration (a stream's lifetime)").register(registry));
    long start = System.nanoTime();
    act.incrementAndGet();
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.function.Consumer<Status.Code> record = code -> {
      if (done.compareAndSet(false, true)) {
        act.decrementAndGet();
        timer.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        finished.computeIfAbsent(key + "/" + code, k -> Counter.builder("herald_grpc_server_calls").tag("service", service)
            .tag("method", method).tag("code", code.name()).description("gRPC calls finished, by status code").register(registry)).increment();
      }
    };
    ServerCall<Q, R> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        record.accept(status.getCode());
        super.close(status, trailers);
      }
    };
    ServerCall.Listener<Q> delegate = next.startCall(counted, headers);
    return new io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onCancel() {
        record.accept(Status.Code.CANCELLED);
        super.onCancel();
      }
    };
  }
}
