package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.herald.broker.Broker;
import io.herald.client.cloudevents.CloudEventsBridge;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class ClientLifecycleTest {
  private Broker broker;

  @BeforeEach
  void start() throws Exception {
    broker = Brokers.start();
  }

  @AfterEach
  void stop() {
    broker.close();
  }

  private static Set<String> clientThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
        .filter(n -> n.startsWith("herald-client")).collect(Collectors.toSet());
  }

  @Test
  void closeFlushesStopsEveryThreadAndIsIdempotent() throws Exception {
    List<ConnectionListener.Kind> events = new CopyOnWriteArrayList<>();
    HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:" + broker.port())
        .connectionListener((k, d) -> events.add(k)).build();
    client.admin().createTopic("t", TopicSettings.defaults());
    Publisher pub = client.publisher("t").batching(Batching.defaults().maxEvents(1000).linger(Duration.ofSeconds(10))).create();
    CompletableFuture<PublishReceipt> r = pub.publish(Event.of("x", new byte[3]));
    client.subscriber("t").handler(d -> { }).subscribe();
    assertThat(clientThreads()).isNotEmpty();
    client.close();
    assertThat(r).isCompleted(); // close flushed it
    client.close();
    client.closeAsync().get(5, TimeUnit.SECONDS);
    assertThat(clientThreads()).isEmpty();
    assertThat(events).contains(ConnectionListener.Kind.CONNECTED, ConnectionListener.Kind.CLOSED);
    assertThatThrownBy(() -> client.publisher("t")).isInstanceOf(HeraldException.ClosedException.class);
  }

  /**
   * Stress: publishers are created from two threads, as fast as they can, while the client closes.
   * Each one the client handed out must be closed by the time close() returns: a publish on it
   * fails at once instead of waiting for a receipt that cannot come.
   */
  @Test
  void aPublisherCreatedWhileTheClientClosesIsClosedWithIt() throws Exception {
    io.grpc.ManagedChannel shared = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", broker.port())
        .usePlaintext().build();
    try (HeraldClient warm = Brokers.client(broker)) { // so that class loading does not eat the time budget
      warm.admin().createTopic("t", TopicSettings.defaults());
      warm.publisher("t").create().publish(Event.of("x", new byte[1])).get(10, TimeUnit.SECONDS);
    }
    long until = System.nanoTime() + Duration.ofSeconds(6).toNanos();
    int iterations = 0;
    try {
      while (iterations < 5_000 && System.nanoTime() < until) {
        iterations++;
        HeraldClient client = HeraldClient.builder().channel(shared).build(); // a shared channel: cheap to close
        List<Publisher> created = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 200; i++) {
          created.add(client.publisher("t").create()); // so that close() has many to go through
        }
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(2);
        List<Thread> creators = new java.util.ArrayList<>();
        for (int c = 0; c < 2; c++) {
          creators.add(Thread.ofPlatform().name("test-creator-" + c).start(() -> {
            try {
              while (true) {
                created.add(client.publisher("t").create());
                started.countDown();
              }
            } catch (HeraldException.ClosedException expected) {
              // the client is closed: no more publishers
            } finally {
              started.countDown();
            }
          }));
        }
        started.await(5, TimeUnit.SECONDS);
        client.close();
        for (Thread t : creators) {
          t.join(10_000);
        }
        for (Publisher p : created) {
          CompletableFuture<PublishReceipt> after = p.publish(Event.of("x", new byte[1]));
          assertThat(after).as("iteration %d: a publisher of the closed client still takes publishes", iterations)
              .isCompletedExceptionally();
        }
      }
    } finally {
      shared.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    assertThat(iterations).isGreaterThan(5);
  }

  @Test
  void closeWithATimeoutFailsWhatIsNotAcknowledgedByThen() throws Exception {
    HeraldClient client = Brokers.client(broker);
    // a BLOCK topic held back by a subscriber that never returns: publishes beyond its buffers wait
    client.admin().createTopic("stalled", TopicSettings.builder().defaultPolicy(OverflowPolicy.BLOCK)
        .subscriberBufferMaxEvents(10).inboxMaxEvents(10).maxBlock(Duration.ofMinutes(10)).build());
    java.util.concurrent.CountDownLatch never = new java.util.concurrent.CountDownLatch(1);
    client.subscriber("stalled").maxOutstanding(1).handler(d -> never.await()).subscribe();
    Publisher pub = client.publisher("stalled").batching(Batching.none()).create();
    List<CompletableFuture<PublishReceipt>> receipts = new java.util.ArrayList<>();
    for (int i = 0; i < 100; i++) {
      receipts.add(pub.publish(Event.of("x", new byte[1])));
    }
    Duration timeout = Duration.ofMillis(300);
    long t0 = System.nanoTime();
    client.close(timeout);
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    never.countDown();
    assertThat(took).isGreaterThanOrEqualTo(timeout).isLessThanOrEqualTo(timeout.plusSeconds(HeraldClient.MAX_STOP_SECONDS));
    assertThat(receipts).allMatch(CompletableFuture::isDone);
    assertThat(receipts.get(99)).isCompletedExceptionally();
    assertThatThrownBy(() -> receipts.get(99).join()).cause().isInstanceOf(HeraldException.ClosedException.class);
    // the callback thread ends once the handler that held it (released just above) returns
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(clientThreads()).isEmpty());
  }

  @Test
  void adminClientManagesTopicsWithTypedErrors() {
    try (HeraldClient client = Brokers.client(broker)) {
      AdminClient admin = client.admin();
      TopicInfo t = admin.createTopic("orders", TopicSettings.builder().defaultPolicy(OverflowPolicy.BLOCK)
          .maxBlock(Duration.ofSeconds(5)).retention(100, 1 << 20, Duration.ofMinutes(5)).build());
      assertThat(t.settings().defaultPolicy()).contains(OverflowPolicy.BLOCK);
      assertThat(t.settings().maxBlock()).contains(Duration.ofSeconds(5));
      assertThat(t.settings().retentionMaxEvents()).contains(100);
      assertThat(t.settings().subscriberBufferMaxEvents()).isPresent(); // every value is set in answers
      assertThatThrownBy(() -> admin.createTopic("orders", TopicSettings.defaults()))
          .isInstanceOf(HeraldException.TopicExistsException.class);
      assertThatThrownBy(() -> admin.getTopic("nope")).isInstanceOf(HeraldException.TopicNotFoundException.class)
          .satisfies(e -> assertThat(((HeraldException) e).isRetryable()).isFalse());
      assertThatThrownBy(() -> admin.createTopic("bad name", TopicSettings.defaults()))
          .isInstanceOfSatisfying(HeraldException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains("name");
          });
      TopicInfo u = admin.updateTopic("orders", TopicSettings.builder().maxEventBytes(2048).build());
      assertThat(u.settings().maxEventBytes()).contains(2048);
      assertThat(u.settings().defaultPolicy()).contains(OverflowPolicy.BLOCK);
      for (int i = 0; i < 5; i++) {
        admin.createTopic("more-" + i, TopicSettings.defaults());
      }
      Page<TopicInfo> page = admin.listTopics(2, "");
      assertThat(page.items()).hasSize(2);
      assertThat(page.hasNext()).isTrue();
      assertThat(admin.listAllTopics()).hasSize(6);
      admin.deleteTopic("orders");
      assertThat(admin.listAllTopics()).hasSize(5);
    }
  }

  @Test
  void unreachableBrokerIsARetryableError() {
    try (HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:1").callTimeout(Duration.ofSeconds(2)).build()) {
      assertThatThrownBy(() -> client.admin().getTopic("t")).isInstanceOfSatisfying(HeraldException.class, e -> {
        assertThat(e.code()).isIn(ErrorCode.UNAVAILABLE, ErrorCode.DEADLINE_EXCEEDED);
        assertThat(e.isRetryable()).isTrue();
      });
    }
  }

  @Test
  void failsOverToTheNextEndpoint() {
    try (HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:1", "127.0.0.1:" + broker.port()).build()) {
      client.admin().createTopic("t", TopicSettings.defaults());
      assertThat(client.admin().getTopic("t").name()).isEqualTo("t");
    }
  }

  @Test
  void cloudEventsGoThroughHeraldAndBack() throws Exception {
    try (HeraldClient client = Brokers.client(broker)) {
      client.admin().createTopic("ce", TopicSettings.defaults());
      CompletableFuture<Delivery> got = new CompletableFuture<>();
      client.subscriber("ce").handler(got::complete).subscribe();
      CloudEvent in = CloudEventBuilder.v1().withId("c-1").withSource(URI.create("/orders")).withType("order.created")
          .withSubject("o-9").withTime(OffsetDateTime.parse("2026-11-27T10:00:00Z")).withDataContentType("application/json")
          .withData("{\"a\":1}".getBytes(StandardCharsets.UTF_8)).withExtension("traceparent", "00-abc-def-01").build();
      client.publisher("ce").create().publish(CloudEventsBridge.fromCloudEvent(in)).get(10, TimeUnit.SECONDS);
      Delivery d = got.get(10, TimeUnit.SECONDS);
      // single fields straight from the received bytes, before anything decodes the envelope
      assertThat(d.attribute("traceparent")).isEqualTo("00-abc-def-01");
      assertThat(d.attribute("missing")).isNull();
      assertThat(StandardCharsets.UTF_8.decode(d.dataBuffer()).toString()).isEqualTo("{\"a\":1}");
      CloudEvent out = CloudEventsBridge.toCloudEvent(d);
      assertThat(out.getId()).isEqualTo("c-1");
      assertThat(out.getSource()).isEqualTo(URI.create("/orders"));
      assertThat(out.getType()).isEqualTo("order.created");
      assertThat(out.getSubject()).isEqualTo("o-9");
      assertThat(out.getTime()).isEqualTo(in.getTime());
      assertThat(out.getDataContentType()).isEqualTo("application/json");
      assertThat(out.getData().toBytes()).isEqualTo("{\"a\":1}".getBytes(StandardCharsets.UTF_8));
      assertThat(out.getExtension("traceparent")).isEqualTo("00-abc-def-01");
      assertThat(out.getExtension("heraldsequence")).isEqualTo(1L);
    }
  }

  @Test
  void builderRefusesUnsafeSettingsWithAClearMessage() {
    assertThatThrownBy(() -> HeraldClient.builder().keepAlive(Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("10s");
    assertThatThrownBy(() -> HeraldClient.builder().build()).isInstanceOf(IllegalStateException.class).hasMessageContaining("endpoints");
    assertThatThrownBy(() -> Batching.defaults().maxEvents(0)).hasMessageContaining("maxEvents");
  }
}
