package io.herald.client.internal;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.util.HashMap;
import java.util.Map;

/**
 * W3C trace context through events: {@link #inject} adds the current context's headers to an
 * event's attributes on publish; {@link #open} makes the context carried by a delivered event
 * current while its handler runs. Costs nothing when there is no valid current span or no
 * {@code traceparent} attribute. Thread-safe.
 */
public final class Tracing {
  static final String TRACEPARENT = "traceparent";

  private static final TextMapGetter<Map<String, String>> GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Map<String, String> carrier) {
      return carrier.keySet();
    }

    @Override
    public String get(Map<String, String> carrier, String key) {
      return carrier == null ? null : carrier.get(key);
    }
  };

  private final OpenTelemetry openTelemetry;

  Tracing(OpenTelemetry openTelemetry) {
    this.openTelemetry = openTelemetry;
  }

  private TextMapPropagator propagator() {
    return (openTelemetry != null ? openTelemetry : GlobalOpenTelemetry.get()).getPropagators().getTextMapPropagator();
  }

  /** The event with the current trace context in its attributes (unchanged if none, or if it has one). */
  io.herald.proto.v1.Event inject(io.herald.proto.v1.Event e) {
    if (!Span.current().getSpanContext().isValid() || e.containsAttributes(TRACEPARENT)) {
      return e;
    }
    Map<String, String> headers = new HashMap<>(4);
    propagator().inject(Context.current(), headers, Map::put);
    return headers.isEmpty() ? e : e.toBuilder().putAllAttributes(headers).build();
  }

  /** Makes the delivered event's trace context current; close the scope when the handler returns. */
  Scope open(io.herald.client.Delivery d) {
    String traceparent = d.attribute(TRACEPARENT);
    if (traceparent == null) {
      return Scope.noop();
    }
    Map<String, String> carrier = new HashMap<>(4);
    carrier.put(TRACEPARENT, traceparent);
    String state = d.attribute("tracestate");
    if (state != null) {
      carrier.put("tracestate", state);
    }
    return propagator().extract(Context.current(), carrier, GETTER).makeCurrent();
  }
}
