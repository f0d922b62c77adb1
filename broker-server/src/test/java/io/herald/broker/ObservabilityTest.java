package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.TopicConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** /metrics, /readyz and start-up config, from the outside. */
@Timeout(60)
class ObservabilityTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static HttpResponse<String> get(TestBroker b, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.broker.httpAddress().getPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** name{labels} value lines of a Prometheus text scrape, keyed by the full series. */
  static Map<String, Double> parse(String text) {
    Map<String, Double> series = new HashMap<>();
    Pattern line = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*(\\{[^}]*\\})?) (\\S+)$");
    for (String l : text.split("\n")) {
      if (l.startsWith("#") || l.isBlank()) {
        continue;
      }
      Matcher m = line.matcher(l);
      assertThat(m.matches()).as("a valid exposition line: %s", l).isTrue();
      series.put(m.group(1), Double.parseDouble(m.group(3)));
    }
    return series;
  }

  private static double value(Map<String, Double> s, String name, String... labelParts) {
    return s.entrySet().stream()
        .filter(e -> e.getKey().equals(name) || e.getKey().startsWith(name + "{"))
        .filter(e -> {
          for (String p : labelParts) {
            if (!e.getKey().contains(p)) {
              return false;
            }
          }
          return true;
        })
        .mapToDouble(Map.Entry::getValue).findFirst().orElse(Double.NaN);
  }

  @Test
  void metricsShowTheSlowSubscriberItsDropsAndEvictions() throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withHttpListen("127.0.0.1:0"))) {
      b.createTopic("t", TopicConfig.newBuilder().setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST).build());
      // the slow one has a 10-event buffer; the fast one the default (10,000), so it never drops
      TestSubscriber slow = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").setSubscriberName("slow")
          .setBufferMaxEvents(10).build());
      TestSubscriber fast = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").setSubscriberName("fast").build());
      fast.grant(1_000);
      b.publish("t", "e", 100, 10);
      fast.awaitEvents(100);
      Map<String, Double> s = parse(get(b, "/metrics").body());
      assertThat(value(s, "herald_events_published_total")).isEqualTo(100);
      assertThat(value(s, "herald_events_dropped_total", "reason=\"dropped_newest\"")).isEqualTo(90);
      assertThat(value(s, "herald_topic_events_dropped_total", "topic=\"t\"")).isEqualTo(90);
      // the slow subscriber is identifiable: its buffer is full and it lags by everything published
      assertThat(value(s, "herald_subscription_buffer_depth_events", "subscriber=\"slow\"")).isEqualTo(10);
      assertThat(value(s, "herald_subscription_buffer_limit_events", "subscriber=\"slow\"")).isEqualTo(10);
      assertThat(value(s, "herald_subscription_lag_events", "subscriber=\"slow\"")).isEqualTo(100);
      assertThat(value(s, "herald_subscription_dropped_events", "subscriber=\"slow\"")).isEqualTo(90);
      assertThat(value(s, "herald_subscription_lag_events", "subscriber=\"fast\"")).isEqualTo(0);
      assertThat(value(s, "herald_events_delivered_total")).isEqualTo(100);
      assertThat(value(s, "herald_subscriptions")).isEqualTo(2);
      // the admin API reads the same counters
      assertThat(b.admin().getTopic(io.herald.proto.v1.GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats().getDropped())
          .isEqualTo(90);

      // then it catches up, and the metrics follow
      slow.grant(1_000);
      slow.awaitAccounted(100);
      Map<String, Double> after = parse(get(b, "/metrics").body());
      assertThat(value(after, "herald_subscription_lag_events", "subscriber=\"slow\"")).isEqualTo(0);
      assertThat(value(after, "herald_events_delivered_total")).isEqualTo(110);

      // a BLOCK subscriber that stalls is evicted, and counted
      b.createTopic("b", TopicConfig.newBuilder().setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
          .setSubscriberBufferMaxEvents(5).setMaxBlock(com.google.protobuf.Duration.newBuilder().setNanos(100_000_000)).build());
      TestSubscriber stuck = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("b").build());
      b.publish("b", "e", 20, 20);
      assertThat(stuck.awaitEnd().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      Map<String, Double> ev = parse(get(b, "/metrics").body());
      assertThat(value(ev, "herald_slow_consumer_evictions_total")).isEqualTo(1);
      assertThat(value(ev, "herald_events_dropped_total", "reason=\"subscription_closed\"")).isEqualTo(5);
      assertThat(value(ev, "herald_grpc_server_calls_total", "method=\"Subscribe\"", "code=\"RESOURCE_EXHAUSTED\"")).isEqualTo(1);
      assertThat(ev.keySet()).anyMatch(k -> k.startsWith("jvm_memory_used_bytes"));
    }
  }

  @Test
  void readinessFlipsWhileDraining() throws Exception {
    TestBroker b = new TestBroker(c -> c.withHttpListen("127.0.0.1:0").withDrainTimeout(Duration.ofSeconds(3)));
    b.createTopic("t");
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    b.publish("t", "e", 10, 10); // buffered, no credit: the drain waits for its deadline
    assertThat(get(b, "/readyz").statusCode()).isEqualTo(200);
    assertThat(get(b, "/healthz").statusCode()).isEqualTo(200);
    Thread closer = Thread.ofPlatform().start(b.broker::close);
    await().atMost(Duration.ofSeconds(2)).until(() -> get(b, "/readyz").statusCode() == 503);
    assertThat(get(b, "/readyz").body()).contains("draining");
    assertThat(get(b, "/healthz").statusCode()).isEqualTo(200);
    closer.join();
    assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    b.channel.shutdownNow();
  }

  private static String start(Map<String, String> env, String... args) {
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Main.commandLine(args, env);
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    assertThat(code).as("exit code; stderr: %s", err).isEqualTo(2);
    return err.toString();
  }

  @Test
  void badConfigurationFailsStartWithAMessage(@TempDir Path dir) throws Exception {
    assertThat(start(Map.of(), "--drain-timeout", "forever")).contains("--drain-timeout").contains("forever");
    assertThat(start(Map.of(), "--log-format", "xml", "--listen", "127.0.0.1:0")).contains("--log-format").contains("xml");
    assertThat(start(Map.of("HERALD_LISTEN", "nowhere"))).contains("nowhere").contains("host:port");
    Path yaml = dir.resolve("herald.yaml");
    Files.writeString(yaml, "listen: 127.0.0.1:0\nlisten-port: 7070\n");
    try {
      Main.commandLine(new String[] {"--config", yaml.toString()}, Map.of());
      throw new AssertionError("an unknown key must be refused");
    } catch (IllegalArgumentException e) {
      assertThat(e.getMessage()).contains("unknown setting").contains("listen-port").contains("drain-timeout");
    }
    Files.writeString(yaml, "io-threads: lots\n");
    assertThat(start(Map.of(), "--config", yaml.toString())).contains("--io-threads").contains("lots").contains("config file " + yaml);
    assertThat(start(Map.of("HERALD_DRAIN_TIMEOUT", "soon"))).contains("soon").contains("HERALD_DRAIN_TIMEOUT");
  }
}
