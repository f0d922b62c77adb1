package io.herald.broker.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.SubscriptionInfo;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A subscription writer that throws (here an {@link Error}, injected through {@link
 * SubscriptionWriter#fault}) ends its own stream with INTERNAL and frees its subscription; the
 * broker and the other subscriptions go on. Through real gRPC on loopback.
 */
@Timeout(60)
class WriterFailureTest {
  private Broker broker;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    broker = Broker.start(BrokerConfig.defaults("127.0.0.1:0"));
    channel = NettyChannelBuilder.forAddress("127.0.0.1", broker.port()).usePlaintext().build();
    TopicAdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .createTopic(CreateTopicRequest.newBuilder().setName("t").build());
  }

  @AfterEach
  void stop() throws Exception {
    SubscriptionWriter.fault = null;
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    broker.close();
  }

  /** A Subscribe stream that counts events and records how it ended. */
  private static final class Sub implements ClientResponseObserver<SubscribeRequest, SubscribeResponse> {
    final CompletableFuture<Void> started = new CompletableFuture<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    final AtomicInteger events = new AtomicInteger();
    private ClientCallStreamObserver<SubscribeRequest> out;

    @Override
    public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {
      out = requestStream;
    }

    @Override
    public void onNext(SubscribeResponse r) {
      if (r.hasStarted()) {
        started.complete(null);
      }
      events.addAndGet(r.getBatch().getEventsCount());
    }

    @Override
    public void onError(Throwable t) {
      started.completeExceptionally(t);
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }
  }

  private Sub subscribe(String name) throws Exception {
    Sub s = new Sub();
    SubscribeServiceGrpc.newStub(channel).subscribe(s);
    s.out.onNext(SubscribeRequest.newBuilder().setInit(SubscribeInit.newBuilder().setTopic("t").setSubscriberName(name)
        .setInitialCredit(Credit.newBuilder().setEvents(1_000_000))).build());
    s.started.get(10, TimeUnit.SECONDS);
    return s;
  }

  private void publish(int events) {
    PublishRequest.Builder b = PublishRequest.newBuilder().setTopic("t");
    for (int i = 0; i < events; i++) {
      b.addEvents(Event.newBuilder().setType("test"));
    }
    PublishServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).publish(b.build());
  }

  private java.util.List<String> subscriberNames() {
    return TopicAdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .listSubscriptions(ListSubscriptionsRequest.newBuilder().setTopic("t").build())
        .getSubscriptionsList().stream().map(SubscriptionInfo::getSubscriberName).toList();
  }

  @Test
  void writerThatThrowsAnErrorEndsItsStreamWithInternalAndTheOthersGoOn() throws Exception {
    SubscriptionWriter.fault = sub -> {
      if (sub.name().equals("doomed")) {
        throw new AssertionError("injected writer fault");
      }
    };
    Sub healthy = subscribe("healthy");
    Sub doomed = subscribe("doomed");
    Sub other = subscribe("other");
    assertThat(subscriberNames()).containsExactly("healthy", "doomed", "other");

    publish(10);

    Status end = doomed.ended.get(10, TimeUnit.SECONDS);
    assertThat(end.getCode()).as(end.toString()).isEqualTo(Status.Code.INTERNAL);
    assertThat(doomed.events.get()).isZero();
    await().atMost(Duration.ofSeconds(10)).until(() -> healthy.events.get() == 10 && other.events.get() == 10);
    // the failed subscription is gone from the topic; the others keep receiving
    await().atMost(Duration.ofSeconds(10)).until(() -> subscriberNames().equals(java.util.List.of("healthy", "other")));
    for (int round = 0; round < 5; round++) {
      publish(10);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> healthy.events.get() == 60 && other.events.get() == 60);
    assertThat(healthy.ended).isNotDone();
    assertThat(other.ended).isNotDone();
    // the writer pool is not hurt: a new subscription is served as well
    SubscriptionWriter.fault = null;
    Sub late = subscribe("late");
    publish(10);
    await().atMost(Duration.ofSeconds(10)).until(() -> late.events.get() == 10 && healthy.events.get() == 70);
  }
}
