package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscriptionInfo;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A BLOCK subscriber that stops granting credit stops the publisher, end to end. */
@Timeout(90)
class BackpressureTest {

  /** A publish stream that sends 10-event batches of 1 KiB events whenever the transport is ready. */
  static final class EagerPublisher implements ClientResponseObserver<PublishStreamRequest, PublishStreamResponse> {
    final AtomicLong sentBatches = new AtomicLong();
    final AtomicLong ackedEvents = new AtomicLong();
    final AtomicReference<Throwable> error = new AtomicReference<>();
    final long maxBatches;
    private final String topic;
    private ClientCallStreamObserver<PublishStreamRequest> out;
    private final PublishStreamRequest.Builder template;

    EagerPublisher(String topic, long maxBatches) {
      this.topic = topic;
      this.maxBatches = maxBatches;
      this.template = PublishStreamRequest.newBuilder().setTopic(topic);
      for (int i = 0; i < 10; i++) {
        template.addEvents(Event.newBuilder().setType("test").setData(ByteString.copyFrom(new byte[1024])));
      }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> requestStream) {
      out = requestStream;
      requestStream.setOnReadyHandler(this::pump);
    }

    /** Runs on the gRPC callback thread; bounded by maxBatches. */
    private synchronized void pump() {
      while (out.isReady() && sentBatches.get() < maxBatches) {
        out.onNext(template.setBatchId(sentBatches.incrementAndGet()).build());
      }
    }

    boolean ready() {
      return out.isReady();
    }

    @Override
    public void onNext(PublishStreamResponse r) {
      if (r.hasError()) {
        error.set(new AssertionError("batch refused: " + r.getError()));
      }
      ackedEvents.addAndGet(r.getAcksCount());
    }

    @Override
    public void onError(Throwable t) {
      error.set(t);
    }

    @Override
    public void onCompleted() { }
  }

  @Test
  void stuckBlockSubscriberStopsThePublishStreamAndKeepsBrokerMemoryBounded() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
          .setSubscriberBufferMaxEvents(100)
          .setInboxMaxEvents(100)
          .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
          .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
          .build());
      TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
      EagerPublisher pub = new EagerPublisher("t", 1_000_000);
      b.publisherAsync().publishStream(pub);

      // the broker fills up (buffer and inbox at their bounds), then the publisher's transport stops
      // being ready, and stays so: nothing more leaves it. (Waiting for the broker first: a
      // transport can be briefly not ready before the broker is saturated.)
      await().atMost(Duration.ofSeconds(30)).until(() -> {
        TopicStats st = b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats();
        return st.getInboxDepthEvents() >= 90;
      });
      await().atMost(Duration.ofSeconds(30)).until(() -> !pub.ready() && pub.sentBatches.get() > 0);
      long sentWhenStopped = pub.sentBatches.get();
      await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> !pub.ready());
      assertThat(pub.sentBatches.get()).isEqualTo(sentWhenStopped);
      // about 1 MiB of HTTP/2 window on each side plus the broker's bounds, not the 1 GB it tried to send
      assertThat(sentWhenStopped * 10 * 1024).isLessThan(8L << 20);

      TopicStats stats = b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats();
      assertThat(stats.getInboxDepthEvents()).isLessThanOrEqualTo(100);
      SubscriptionInfo info = b.admin().listSubscriptions(ListSubscriptionsRequest.newBuilder().setTopic("t").build()).getSubscriptions(0);
      assertThat(info.getBufferDepthEvents()).isEqualTo(100);
      assertThat(info.getCreditEvents()).isZero();
      assertThat(pub.ackedEvents.get()).isLessThanOrEqualTo(100 + 10); // buffer + the event the loop waits with
      assertThat(pub.error.get()).isNull();

      // credit flows again: so does the publisher, and nothing was lost
      sub.grant(1L << 30);
      await().atMost(Duration.ofSeconds(30)).until(() -> pub.sentBatches.get() > sentWhenStopped + 100);
      assertThat(pub.error.get()).isNull();
      long acked = pub.ackedEvents.get();
      await().atMost(Duration.ofSeconds(30)).until(() -> sub.events().size() >= acked);
      // one snapshot: the publisher is still sending, so frames() and events() read apart disagree
      List<Object> frames = sub.frames();
      assertThat(frames).noneMatch(f -> f instanceof GapNotice);
      DeliveryTest.assertCoversExactly(frames, frames.size());
    }
  }

  @Test
  void rejectTopicShedsLoadWithResourceExhaustedAndTheStreamGoesOn() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
          .setSubscriberBufferMaxEvents(10)
          .setInboxMaxEvents(10)
          .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_REJECT)
          .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
          .build());
      TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
      java.util.List<PublishStreamResponse> responses = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
      AtomicReference<Throwable> err = new AtomicReference<>();
      var out = b.publisherAsync().publishStream(new io.grpc.stub.StreamObserver<PublishStreamResponse>() {
        @Override public void onNext(PublishStreamResponse r) { responses.add(r); }
        @Override public void onError(Throwable t) { err.set(t); }
        @Override public void onCompleted() { }
      });
      for (int i = 1; i <= 30; i++) {
        out.onNext(PublishStreamRequest.newBuilder().setBatchId(i).setTopic("t").addEvents(TestBroker.event("e" + i)).build());
      }
      // the stuck subscriber holds the loop after 10 events; with the inbox's 10 that makes 20 at
      // most accepted, so at least 10 of the 30 are refused at once
      await().atMost(Duration.ofSeconds(10)).until(() ->
          b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats().getRejected() >= 10);
      // responses come in request order, so the refusals queue behind the accepted batches: free them
      sub.grant(100);
      await().atMost(Duration.ofSeconds(10)).until(() -> responses.size() == 30);
      assertThat(responses).extracting(PublishStreamResponse::getBatchId).containsExactlyElementsOf(
          java.util.stream.LongStream.rangeClosed(1, 30).boxed().toList());
      long refused = responses.stream().filter(PublishStreamResponse::hasError).count();
      assertThat(refused).isPositive();
      assertThat(responses.stream().filter(PublishStreamResponse::hasError))
          .allSatisfy(r -> {
            assertThat(r.getError().getCode()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED.value());
            assertThat(r.getError().getMessage()).contains("inbox is full").contains("REJECT");
          });
      TopicStats stats = b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats();
      assertThat(stats.getRejected()).isEqualTo(refused);
      sub.awaitEvents((int) (30 - refused));
      assertThat(refused).isGreaterThanOrEqualTo(10);
      out.onCompleted();
      assertThat(err.get()).isNull();
    }
  }
}
