package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.herald.broker.Broker;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class TracingTest {

  @Test
  void traceContextSurvivesPublishToDelivery() throws Exception {
    Broker broker = Brokers.start();
    OpenTelemetry otel = OpenTelemetry.propagating(ContextPropagators.create(W3CTraceContextPropagator.getInstance()));
    try (HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:" + broker.port()).openTelemetry(otel).build()) {
      client.admin().createTopic("traced", TopicSettings.defaults());
      CompletableFuture<String> traceInHandler = new CompletableFuture<>();
      CompletableFuture<String> attribute = new CompletableFuture<>();
      client.subscriber("traced").handler(d -> {
        attribute.complete(d.event().attributes().get("traceparent"));
        traceInHandler.complete(Span.current().getSpanContext().getTraceId());
      }).subscribe();
      SpanContext parent = SpanContext.create("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(), TraceState.getDefault());
      Publisher pub = client.publisher("traced").create();
      try (Scope s = Context.current().with(Span.wrap(parent)).makeCurrent()) {
        pub.publish(Event.of("t", new byte[1])).get(10, TimeUnit.SECONDS);
      }
      assertThat(attribute.get(10, TimeUnit.SECONDS)).isEqualTo("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
      assertThat(traceInHandler.get(10, TimeUnit.SECONDS)).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
      // without a current span nothing is added
      CompletableFuture<java.util.Map<String, String>> plain = new CompletableFuture<>();
      client.subscriber("traced").startAt(StartPosition.sequence(2)).handler(d -> plain.complete(d.event().attributes())).subscribe();
      pub.publish(Event.of("t", new byte[1])).get(10, TimeUnit.SECONDS);
      assertThat(plain.get(10, TimeUnit.SECONDS)).doesNotContainKey("traceparent");
    } finally {
      broker.close();
    }
  }
}
