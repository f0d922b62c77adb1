package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import io.herald.broker.config.BrokerConfig;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.Topic;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.UpdateTopicRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Admin lifecycle, persistence, shutdown, leaks and thread counts. */
@Timeout(120)
class LifecycleTest {

  private static Set<String> heraldThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(n -> n.startsWith("herald-"))
        .collect(Collectors.toSet());
  }

  /**
   * Live platform threads (virtual threads are not listed by getAllStackTraces), without the test
   * client's own gRPC threads (grpc-*), which are not the broker's, and Netty's transient
   * globalEventExecutor (it stops itself after a second idle).
   */
  private static Set<String> platformThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
        .filter(n -> !n.startsWith("grpc-") && !n.startsWith("globalEventExecutor"))
        // Ratis's shared timeout pool ("timerN") grows with metadata load up to its fixed
        // TimeoutExecutor.MAXIMUM_POOL_SIZE (8), not with topics
        .filter(n -> !n.matches("timer\\d+"))
        // Ratis's server-side request pools ("<node>-client-threadN", "<node>-impl-threadN") are
        // cached pools: a thread per request running at that moment, idle ones gone after 60 s;
        // they grow with concurrent metadata requests (floor writes, reads), not with topics
        .map(n -> n.replaceFirst("-(client|impl)-thread\\d+$", "-$1-thread*"))
        .collect(Collectors.toCollection(java.util.TreeSet::new));
  }

  @Test
  void gracefulShutdownDrainsBuffersThenEndsEveryStreamWithUnavailable() throws Exception {
    Set<String> before = heraldThreads();
    TestBroker b = new TestBroker(c -> c.withDrainTimeout(Duration.ofSeconds(5)));
    b.createTopic("t");
    TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    b.publish("t", "e", 50, 50); // buffered: no credit yet
    CompletableFuture<Status> pubEnd = new CompletableFuture<>();
    StreamObserver<PublishStreamRequest> pub = b.publisherAsync().publishStream(new StreamObserver<PublishStreamResponse>() {
      @Override public void onNext(PublishStreamResponse r) { }
      @Override public void onError(Throwable t) { pubEnd.complete(Status.fromThrowable(t)); }
      @Override public void onCompleted() { pubEnd.complete(Status.OK); }
    });
    pub.onNext(PublishStreamRequest.newBuilder().setBatchId(1).setTopic("t").addEvents(TestBroker.event("s")).build());
    await().until(() -> b.broker.topics().get("t").orElseThrow().stats().getPublished() == 51);

    Thread closer = Thread.ofPlatform().start(b.broker::close);
    // draining: the subscriber still gets what was buffered once it grants credit
    sub.grant(1_000);
    Status subEnd = sub.awaitEnd();
    assertThat(sub.events()).hasSize(51);
    assertThat(subEnd.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(subEnd.getDescription()).contains("shutting down");
    Status p = pubEnd.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(p.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    closer.join();
    b.channel.shutdownNow();

    // nothing the broker started survives it
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(heraldThreads()).isSubsetOf(before));
  }

  @Test
  void shutdownDeadlineForcesStreamsWhoseSubscriberNeverGrantsCredit() throws Exception {
    TestBroker b = new TestBroker(c -> c.withDrainTimeout(Duration.ofMillis(300)));
    b.createTopic("t");
    TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    b.publish("t", "e", 10, 10);
    long t0 = System.nanoTime();
    b.broker.close();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    assertThat(sub.awaitEnd().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    b.channel.shutdownNow();
  }

  @Test
  void closeIsIdempotent() throws Exception {
    TestBroker b = new TestBroker();
    b.close();
    b.broker.close();
    b.broker.closeNow();
  }

  @Test
  void healthAndReflectionAnswer() throws Exception {
    try (TestBroker b = new TestBroker()) {
      HealthCheckResponse r = HealthGrpc.newBlockingStub(b.channel).check(HealthCheckRequest.newBuilder().build());
      assertThat(r.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      HealthCheckResponse svc = HealthGrpc.newBlockingStub(b.channel).check(HealthCheckRequest.newBuilder().setService("herald.v1.SubscribeService").build());
      assertThat(svc.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

      CompletableFuture<List<String>> services = new CompletableFuture<>();
      var stub = io.grpc.reflection.v1.ServerReflectionGrpc.newStub(b.channel);
      StreamObserver<io.grpc.reflection.v1.ServerReflectionRequest> req = stub.serverReflectionInfo(new StreamObserver<>() {
        @Override public void onNext(io.grpc.reflection.v1.ServerReflectionResponse v) {
          services.complete(v.getListServicesResponse().getServiceList().stream().map(s -> s.getName()).toList());
        }
        @Override public void onError(Throwable t) { services.completeExceptionally(t); }
        @Override public void onCompleted() { }
      });
      req.onNext(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder().setListServices("").build());
      assertThat(services.get(10, java.util.concurrent.TimeUnit.SECONDS))
          .contains("herald.v1.PublishService", "herald.v1.SubscribeService", "herald.v1.TopicAdminService", "grpc.health.v1.Health");
      req.onCompleted();
    }
  }

  @Test
  void deletingATopicEndsItsSubscriptionsWithNotFound() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder().setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
      TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
      b.admin().deleteTopic(DeleteTopicRequest.newBuilder().setName("t").build());
      Status end = sub.awaitEnd();
      assertThat(end.getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(end.getDescription()).contains("deleted");
      assertThat(b.admin().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList()).isEmpty();
      // and the name can be used again
      b.createTopic("t");
      assertThat(b.publish("t", "e", 1, 1).get(0).getSequence()).isEqualTo(1);
    }
  }

  @Test
  void listPagesThroughTopicsAndUpdateChangesOnlyWhatIsSet() throws Exception {
    try (TestBroker b = new TestBroker()) {
      for (int i = 0; i < 25; i++) {
        b.createTopic(String.format("topic-%02d", i));
      }
      List<String> names = new ArrayList<>();
      String token = "";
      int pages = 0;
      do {
        ListTopicsResponse page = b.admin().listTopics(ListTopicsRequest.newBuilder().setPageSize(10).setPageToken(token).build());
        page.getTopicsList().forEach(t -> names.add(t.getName()));
        token = page.getNextPageToken();
        pages++;
      } while (!token.isEmpty());
      assertThat(pages).isEqualTo(3);
      assertThat(names).hasSize(25).isSorted().doesNotHaveDuplicates();

      Topic before = b.admin().getTopic(GetTopicRequest.newBuilder().setName("topic-00").build()).getTopic();
      Topic after = b.admin().updateTopic(UpdateTopicRequest.newBuilder().setName("topic-00")
          .setConfig(TopicConfig.newBuilder().setMaxEventBytes(4096)).build()).getTopic();
      assertThat(after.getConfig().getMaxEventBytes()).isEqualTo(4096);
      assertThat(after.getConfig().toBuilder().clearMaxEventBytes().build())
          .isEqualTo(before.getConfig().toBuilder().clearMaxEventBytes().build());
      // the new limit is live
      var big = TestBroker.event("x".repeat(5000));
      org.assertj.core.api.Assertions.assertThatThrownBy(() ->
          b.publisher().publish(PublishRequest.newBuilder().setTopic("topic-00").addEvents(big).build()))
          .hasMessageContaining("4096");
    }
  }

  @Test
  void topicsSurviveARestartWithADataDir(@TempDir Path dir) throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      b.admin().createTopic(CreateTopicRequest.newBuilder().setName("kept")
          .setConfig(TopicConfig.newBuilder().setSubscriberBufferMaxEvents(123)).build());
    }
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      Topic t = b.admin().getTopic(GetTopicRequest.newBuilder().setName("kept").build()).getTopic();
      assertThat(t.getConfig().getSubscriberBufferMaxEvents()).isEqualTo(123);
      assertThat(b.publish("kept", "e", 10, 5)).hasSize(10);
    }
    // a graceful restart continues the sequence exactly; what was retained is gone, and says so
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      assertThat(b.publish("kept", "f", 1, 1).get(0).getSequence()).isEqualTo(11);
      TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("kept")
          .setStartPosition(io.herald.proto.v1.StartPosition.newBuilder()
              .setKind(io.herald.proto.v1.StartPositionKind.START_POSITION_KIND_SEQUENCE).setSequence(5)).build());
      s.grant(100);
      s.awaitAccounted(7);
      io.herald.proto.v1.GapNotice g = (io.herald.proto.v1.GapNotice) s.frames().get(0);
      assertThat(g.getFirstSequence()).isEqualTo(5);
      assertThat(g.getLastSequence()).isEqualTo(10);
      assertThat(g.getReason()).isEqualTo(io.herald.proto.v1.GapReason.GAP_REASON_RETENTION);
      assertThat(s.events()).extracting(io.herald.proto.v1.DeliveredEvent::getSequence).containsExactly(11L);
    }
  }

  @Test
  void sequencesNeverGoBackEvenWithoutAGracefulStop(@TempDir Path dir) throws Exception {
    TestBroker first = new TestBroker(c -> c.withDataDir(dir));
    first.createTopic("t");
    first.publish("t", "e", 10, 10);
    // simulate a crash: the floor on disk is what the topic reserved, not what it used
    first.channel.shutdownNow();
    first.broker.haltForTests();
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      long next = b.publish("t", "f", 1, 1).get(0).getSequence();
      assertThat(next).isGreaterThan(10);
    }
  }

  @Test
  void autoCreateMakesUnknownTopicsOnFirstUse() throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withAutoCreateTopics(true))) {
      assertThat(b.publish("fresh", "e", 3, 3)).hasSize(3);
      assertThat(b.admin().getTopic(GetTopicRequest.newBuilder().setName("fresh").build()).getTopic().getStats().getPublished()).isEqualTo(3);
    }
  }

  @Test
  void platformThreadsDoNotGrowWithTopicsOrSubscribers() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("warm");
      TestSubscriber warm = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("warm").build());
      warm.grant(10);
      b.publish("warm", "e", 1, 1);
      warm.awaitEvents(1);
      Set<String> threadsWithOne = platformThreads();
      List<TestSubscriber> subs = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        b.createTopic("t" + i);
        if (i % 5 == 0) {
          TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t" + i).build());
          s.grant(10);
          subs.add(s);
        }
      }
      for (int i = 0; i < 300; i += 5) {
        b.publish("t" + i, "e", 1, 1);
      }
      for (TestSubscriber s : subs) {
        s.awaitEvents(1);
      }
      // no new ones (idle JDK pool workers of earlier tests may have exited meanwhile)
      assertThat(platformThreads()).isSubsetOf(threadsWithOne);
    }
  }
}
