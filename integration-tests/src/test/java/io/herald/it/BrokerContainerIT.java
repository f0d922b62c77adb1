package io.herald.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.herald.client.Batching;
import io.herald.client.Delivery;
import io.herald.client.Event;
import io.herald.client.Gap;
import io.herald.client.HeraldClient;
import io.herald.client.OverflowPolicy;
import io.herald.client.PublishReceipt;
import io.herald.client.Publisher;
import io.herald.client.RetrySettings;
import io.herald.client.TopicSettings;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscribeServiceGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The broker as it is deployed: the image from the Dockerfile, driven through its mapped port with the SDK. */
@RequiresDocker
@Timeout(180)
class BrokerContainerIT {
  private BrokerContainer broker;
  private HeraldClient client;

  @BeforeEach
  void start() {
    broker = new BrokerContainer();
    broker.start();
    client = HeraldClient.builder().endpoints(broker.endpoint())
        .retry(new RetrySettings(Duration.ofMillis(50), Duration.ofMillis(500), 2.0, Duration.ofSeconds(90))).build();
  }

  @AfterEach
  void stop() {
    client.close();
    broker.stop();
  }

  private static Event ev(String id) {
    return Event.builder().id(id).type("it").data(id.getBytes(StandardCharsets.UTF_8)).build();
  }

  @Test
  void publishAndSubscribeThroughTheContainer() throws Exception {
    client.admin().createTopic("orders", TopicSettings.defaults());
    List<Long> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    client.subscriber("orders").handler(d -> got.add(d.sequence())).subscribe();
    Publisher pub = client.publisher("orders").create();
    for (int i = 0; i < 1000; i++) {
      pub.publish(ev("o-" + i));
    }
    pub.flush().get(30, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(30)).until(() -> got.size() == 1000);
    assertThat(got).isSorted().doesNotHaveDuplicates();
    // the HTTP endpoint serves metrics that agree
    String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + broker.getMappedPort(BrokerContainer.HTTP) + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    assertThat(metrics).contains("herald_events_published_total 1000.0");
  }

  @Test
  void subscriberResumesAcrossAContainerRestartWithExactGapAccounting() throws Exception {
    client.admin().createTopic("r", TopicSettings.defaults());
    List<Long> handled = new ArrayList<>();
    List<Gap> gaps = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    List<String> dups = new ArrayList<>();
    Object lock = new Object();
    client.subscriber("r").overflow(OverflowPolicy.BLOCK).maxOutstanding(100).handler(d -> {
      LockSupport.parkNanos(50_000);
      synchronized (lock) {
        handled.add(d.sequence());
        if (!ids.add(d.event().id())) {
          dups.add(d.event().id());
        }
      }
    }).onGap(g -> {
      synchronized (lock) {
        gaps.add(g);
      }
    }).subscribe();
    Publisher pub = client.publisher("r").batching(Batching.defaults().maxEvents(100)).maxPending(2_000, 32 << 20).create();
    List<CompletableFuture<PublishReceipt>> receipts = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread publisher = Thread.ofPlatform().start(() -> {
      for (int i = 0; i < 10_000; i++) {
        receipts.add(pub.publish(ev("r-" + i)));
      }
    });
    await().atMost(Duration.ofSeconds(60)).until(() -> {
      synchronized (lock) {
        return handled.size() > 2_000;
      }
    });
    broker.getDockerClient().restartContainerCmd(broker.getContainerId()).withTimeout(10).exec();
    publisher.join();
    pub.flush().get(120, TimeUnit.SECONDS);
    long last = 0;
    for (CompletableFuture<PublishReceipt> f : receipts) {
      last = Math.max(last, f.get().sequence());
    }
    long max = last;
    await().atMost(Duration.ofSeconds(120)).until(() -> {
      synchronized (lock) {
        return handled.size() + gaps.stream().mapToLong(Gap::count).sum() >= max;
      }
    });
    synchronized (lock) {
      assertThat(dups).isEmpty();
      assertThat(handled).isSorted().doesNotHaveDuplicates();
      assertThat(handled.size() + gaps.stream().mapToLong(Gap::count).sum()).isEqualTo(max);
    }
  }

  @Test
  void pausedBrokerLosesAndDuplicatesNothingForABlockedPublisher() throws Exception {
    client.admin().createTopic("p", TopicSettings.builder().defaultPolicy(OverflowPolicy.BLOCK).subscriberBufferMaxEvents(100)
        .inboxMaxEvents(100).maxBlock(Duration.ofMinutes(5)).build());
    Set<String> ids = java.util.concurrent.ConcurrentHashMap.newKeySet();
    List<Long> seqs = new java.util.concurrent.CopyOnWriteArrayList<>();
    client.subscriber("p").maxOutstanding(50).handler((Delivery d) -> {
      LockSupport.parkNanos(200_000); // slow: the topic, then the publisher, is paced by it
      ids.add(d.event().id());
      seqs.add(d.sequence());
    }).subscribe();
    Publisher pub = client.publisher("p").maxPending(500, 16 << 20).create();
    List<CompletableFuture<PublishReceipt>> receipts = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread publisher = Thread.ofPlatform().start(() -> {
      for (int i = 0; i < 5_000; i++) {
        receipts.add(pub.publish(ev("p-" + i)));
      }
    });
    await().atMost(Duration.ofSeconds(30)).until(() -> pub.pendingEvents() >= 400); // blocked by backpressure
    broker.getDockerClient().pauseContainerCmd(broker.getContainerId()).exec();
    Thread.sleep(2_000); // the fault itself: a broker frozen for two seconds
    broker.getDockerClient().unpauseContainerCmd(broker.getContainerId()).exec();
    publisher.join();
    pub.flush().get(120, TimeUnit.SECONDS);
    for (CompletableFuture<PublishReceipt> f : receipts) {
      assertThat(f.get().sequence()).isPositive();
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> seqs.size() >= 5_000);
    assertThat(ids).hasSize(5_000);
    assertThat(seqs).hasSize(5_000).isSorted().doesNotHaveDuplicates();
    assertThat(seqs.get(seqs.size() - 1) - seqs.get(0)).isEqualTo(4_999);
  }

  @Test
  void dockerStopEndsStreamsWithUnavailableAndAReason() throws Exception {
    client.admin().createTopic("s", TopicSettings.defaults());
    ManagedChannel ch = NettyChannelBuilder.forTarget(broker.endpoint()).usePlaintext().build();
    try {
      CompletableFuture<Status> end = new CompletableFuture<>();
      CompletableFuture<Void> started = new CompletableFuture<>();
      StreamObserver<SubscribeRequest> req = SubscribeServiceGrpc.newStub(ch).subscribe(new StreamObserver<SubscribeResponse>() {
        @Override public void onNext(SubscribeResponse r) { started.complete(null); }
        @Override public void onError(Throwable t) { end.complete(Status.fromThrowable(t)); }
        @Override public void onCompleted() { end.complete(Status.OK); }
      });
      req.onNext(SubscribeRequest.newBuilder().setInit(SubscribeInit.newBuilder().setTopic("s")
          .setInitialCredit(Credit.newBuilder().setEvents(10))).build());
      started.get(10, TimeUnit.SECONDS);
      broker.getDockerClient().stopContainerCmd(broker.getContainerId()).withTimeout(10).exec();
      Status s = end.get(30, TimeUnit.SECONDS);
      assertThat(s.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(s.getDescription()).contains("shutting down");
      String logs = broker.getLogs();
      assertThat(logs).contains("SIGTERM received").contains("broker stopped");
    } finally {
      ch.shutdownNow();
    }
  }
}
