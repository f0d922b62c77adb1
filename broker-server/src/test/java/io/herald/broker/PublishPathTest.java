package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.topic.Inboxes;
import io.herald.broker.topic.Topic;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishResponse;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The publish path's state machines: streams that wait for inbox room, cancellation, the wait line. */
@Timeout(90)
class PublishPathTest {

  @AfterEach
  void disarm() {
    OfferHold.disarm();
  }

  /**
   * A publish stream that keeps up to {@code window} batches of one event unanswered, until it has
   * sent {@code maxBatches} or {@code stopAtNanos} has passed; then it half-closes once all are
   * answered. Requests are sent under the object's lock (the test thread starts it, the gRPC
   * callback thread continues it).
   */
  static final class WindowedPublisher implements ClientResponseObserver<PublishStreamRequest, PublishStreamResponse> {
    final AtomicLong sent = new AtomicLong();
    final AtomicLong answered = new AtomicLong();
    final AtomicReference<String> problem = new AtomicReference<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    private final String topic;
    private final int window;
    private final long maxBatches;
    private final long stopAtNanos;
    private ClientCallStreamObserver<PublishStreamRequest> out;
    private boolean halfClosed;

    WindowedPublisher(String topic, int window, long maxBatches, long stopAtNanos) {
      this.topic = topic;
      this.window = window;
      this.maxBatches = maxBatches;
      this.stopAtNanos = stopAtNanos;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> requestStream) {
      out = requestStream;
    }

    synchronized void pump() {
      boolean stop = sent.get() >= maxBatches || System.nanoTime() - stopAtNanos >= 0;
      while (!halfClosed && !stop && sent.get() - answered.get() < window) {
        long id = sent.incrementAndGet();
        out.onNext(PublishStreamRequest.newBuilder().setBatchId(id).setTopic(topic).addEvents(TestBroker.event("e" + id)).build());
        stop = sent.get() >= maxBatches;
      }
      if (!halfClosed && stop && answered.get() == sent.get()) {
        halfClosed = true;
        out.onCompleted();
      }
    }

    @Override
    public void onNext(PublishStreamResponse r) {
      long expected = answered.incrementAndGet();
      if (r.getBatchId() != expected) {
        problem.compareAndSet(null, "batch " + r.getBatchId() + " answered where " + expected + " was due");
      }
      if (r.hasError()) {
        problem.compareAndSet(null, "batch " + r.getBatchId() + " refused: " + r.getError());
      }
      pump();
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }
  }

  /** A raw publish stream that records its responses; requests are sent by the test thread. */
  static final class RecordingStream implements StreamObserver<PublishStreamResponse> {
    final List<PublishStreamResponse> responses = Collections.synchronizedList(new ArrayList<>());
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<PublishStreamRequest> out;

    static RecordingStream open(ManagedChannel channel) {
      RecordingStream s = new RecordingStream();
      s.out = PublishServiceGrpc.newStub(channel).publishStream(s);
      return s;
    }

    void send(long batchId, String topic) {
      out.onNext(PublishStreamRequest.newBuilder().setBatchId(batchId).setTopic(topic).addEvents(TestBroker.event("b" + batchId)).build());
    }

    PublishStreamResponse awaitAnswer(long batchId) {
      await().atMost(Duration.ofSeconds(10)).until(() -> answer(batchId) != null);
      return answer(batchId);
    }

    private PublishStreamResponse answer(long batchId) {
      synchronized (responses) {
        return responses.stream().filter(r -> r.getBatchId() == batchId).findFirst().orElse(null);
      }
    }

    @Override
    public void onNext(PublishStreamResponse r) {
      responses.add(r);
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }
  }

  private static TopicStats stats(TestBroker b, String topic) {
    return b.admin().getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getStats();
  }

  private static ManagedChannel channel(TestBroker b) {
    return NettyChannelBuilder.forAddress("127.0.0.1", b.broker.port()).usePlaintext().build();
  }

  /**
   * Many streams into a BLOCK topic whose inbox holds one batch: most batches wait in line, and the
   * dispatch loop lets them in while their handlers may still be recording that they wait (each
   * waiting offer is held for 0-100 µs at that point, as a preemption would, so both orders happen
   * often). Every stream must keep being read until every batch it sent is answered.
   */
  @Test
  void streamsWaitingForInboxRoomAreAlwaysReadAgain() throws Exception {
    AtomicLong waits = new AtomicLong();
    OfferHold.arm(() -> {
      waits.incrementAndGet();
      OfferHold.spin(ThreadLocalRandom.current().nextLong(TimeUnit.MICROSECONDS.toNanos(100)));
    });
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setInboxMaxEvents(1)
          .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
          .build());
      // two connections, so the handlers run on two transport threads
      List<ManagedChannel> channels = List.of(b.channel, channel(b));
      try {
        long stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        List<WindowedPublisher> pubs = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
          WindowedPublisher p = new WindowedPublisher("t", 4, 5_000, stopAt);
          PublishServiceGrpc.newStub(channels.get(i % channels.size())).publishStream(p);
          pubs.add(p);
        }
        pubs.forEach(WindowedPublisher::pump);

        // a stream that stalls keeps a batch unread for ever; the others are done in seconds
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).untilAsserted(() ->
            assertThat(pubs).allSatisfy(p -> assertThat(p.ended).isCompletedWithValue(Status.OK)));
        long total = 0;
        for (WindowedPublisher p : pubs) {
          assertThat(p.problem.get()).isNull();
          assertThat(p.answered.get()).isEqualTo(p.sent.get());
          total += p.sent.get();
        }
        assertThat(waits.get()).as("batches that waited for room").isGreaterThan(100);
        TopicStats s = stats(b, "t");
        assertThat(s.getPublished()).isEqualTo(total);
        assertThat(s.getInboxDepthEvents()).isZero();
      } finally {
        channels.get(1).shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * A topic "a" whose dispatch loop is stuck on a BLOCK subscriber without credit, with one batch
   * in progress, so that the next batch to "a" waits in line; and a free topic "b".
   */
  private static TestSubscriber stuckTopic(TestBroker b, RecordingStream s) throws Exception {
    return stuckTopic(b, s, TopicConfig.getDefaultInstance());
  }

  private static TestSubscriber stuckTopic(TestBroker b, RecordingStream s, TopicConfig more) throws Exception {
    b.createTopic("a", TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(1)
        .setInboxMaxEvents(1)
        .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .mergeFrom(more)
        .build());
    b.createTopic("b");
    TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("a").build());
    Topic a = b.broker.topics().local("a").orElseThrow();
    s.send(1, "a"); // fills the subscriber's buffer
    assertThat(s.awaitAnswer(1).hasError()).isFalse();
    s.send(2, "a"); // the loop waits with it for buffer room
    await().atMost(Duration.ofSeconds(10)).until(() -> a.published() == 2 && a.inboxDepthEvents() == 1);
    return sub;
  }

  /**
   * The batch is let in while its handler is held between the offer (WAITING) and recording it.
   * While held, the test touches the broker only in-process: the held thread is a transport thread.
   */
  @Test
  void streamIsReadAgainWhenItsWaitingBatchIsLetInBeforeTheHandlerRecordsTheWait() throws Exception {
    try (TestBroker b = new TestBroker()) {
      ManagedChannel ch = channel(b);
      try {
        RecordingStream s = RecordingStream.open(ch);
        TestSubscriber sub = stuckTopic(b, s);
        Topic a = b.broker.topics().local("a").orElseThrow();
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        OfferHold.arm(() -> {
          held.countDown();
          release.await(10, TimeUnit.SECONDS);
        });
        s.send(3, "a");
        assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
        OfferHold.disarm();
        // free the loop: batch 2 completes, batch 3 is let in and sequenced, all while the handler is held
        a.subscriptions().get(0).close(CloseReason.CLIENT_CANCELLED);
        await().atMost(Duration.ofSeconds(10)).until(() -> a.published() == 3 && a.inboxDepthEvents() == 0);
        release.countDown();

        assertThat(s.awaitAnswer(3).hasError()).isFalse();
        s.send(4, "b");
        assertThat(s.awaitAnswer(4).hasError()).isFalse();
        s.send(5, "b"); // read only if the stream is not left believing batch 3 still waits
        assertThat(s.awaitAnswer(5).hasError()).isFalse();
        s.out.onCompleted();
        assertThat(s.ended.get(10, TimeUnit.SECONDS).isOk()).isTrue();
        sub.cancel();
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /** Same shape, but the waiting batch fails (its topic stops accepting) while the handler is held. */
  @Test
  void streamIsReadAgainWhenItsWaitingBatchFailsBeforeTheHandlerRecordsTheWait() throws Exception {
    try (TestBroker b = new TestBroker()) {
      ManagedChannel ch = channel(b);
      try {
        RecordingStream s = RecordingStream.open(ch);
        TestSubscriber sub = stuckTopic(b, s);
        Topic a = b.broker.topics().local("a").orElseThrow();
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        OfferHold.arm(() -> {
          held.countDown();
          release.await(10, TimeUnit.SECONDS);
        });
        s.send(3, "a");
        assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
        OfferHold.disarm();
        a.stopAccepting(Status.UNAVAILABLE.withDescription("test: topic stops accepting").asRuntimeException());
        release.countDown();
        a.subscriptions().get(0).close(CloseReason.CLIENT_CANCELLED); // batch 2 completes

        assertThat(s.awaitAnswer(2).hasError()).isFalse();
        assertThat(s.awaitAnswer(3).getError().getCode()).isEqualTo(Status.Code.UNAVAILABLE.value());
        s.send(4, "b"); // read only if the stream is not left believing batch 3 still waits
        assertThat(s.awaitAnswer(4).hasError()).isFalse();
        s.out.onCompleted();
        assertThat(s.ended.get(10, TimeUnit.SECONDS).isOk()).isTrue();
        sub.cancel();
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Deleting a topic while its loop holds a batch (stuck on a BLOCK subscriber): the batch is
   * released after the inbox closed, and the depth must come back to 0, not go below it.
   */
  @Test
  void closingATopicWhileItsLoopHoldsABatchLeavesTheDepthAtZero() throws Exception {
    try (TestBroker b = new TestBroker()) {
      RecordingStream s = RecordingStream.open(b.channel);
      TestSubscriber sub = stuckTopic(b, s);
      Topic a = b.broker.topics().local("a").orElseThrow();
      Inboxes.checkInvariants(a);
      b.admin().deleteTopic(DeleteTopicRequest.newBuilder().setName("a").build());
      // the delete closed the subscription, so the loop finished batch 2 and released it
      assertThat(s.awaitAnswer(2).hasError()).isFalse();
      assertThat(sub.ended.get(10, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.NOT_FOUND);
      TopicStats stats = a.stats();
      assertThat(stats.getInboxDepthEvents()).isZero();
      assertThat(stats.getInboxDepthBytes()).isZero();
      assertThat(a.inboxDepthEvents()).isZero();
      Inboxes.checkInvariants(a);
      s.out.onCompleted();
      assertThat(s.ended.get(10, TimeUnit.SECONDS).isOk()).isTrue();
    }
  }

  /** A unary publish of one event of {@code bytes} bytes; its outcome completes the future. */
  private static CompletableFuture<Status> publishUnary(PublishServiceGrpc.PublishServiceStub stub, String topic, int bytes) {
    CompletableFuture<Status> done = new CompletableFuture<>();
    stub.publish(PublishRequest.newBuilder().setTopic(topic)
        .addEvents(Event.newBuilder().setType("big").setData(ByteString.copyFrom(new byte[bytes]))).build(),
        new StreamObserver<PublishResponse>() {
          @Override public void onNext(PublishResponse r) { }
          @Override public void onError(Throwable t) { done.complete(Status.fromThrowable(t)); }
          @Override public void onCompleted() { done.complete(Status.OK); }
        });
    return done;
  }

  /**
   * Publishes cancelled while they wait for inbox room (unary cancelled by the client, unary past
   * its deadline, streams cancelled) leave the wait line at once and are never sequenced, however
   * long the topic stays stuck and whenever it comes free.
   */
  @Test
  void cancelledPublishesLeaveTheWaitLineAndAreNeverSequenced() throws Exception {
    try (TestBroker b = new TestBroker()) {
      RecordingStream s = RecordingStream.open(b.channel);
      TestSubscriber sub = stuckTopic(b, s); // events 1 and 2 sequenced, the loop holds batch 2
      Topic a = b.broker.topics().local("a").orElseThrow();
      PublishServiceGrpc.PublishServiceStub stub = PublishServiceGrpc.newStub(b.channel);

      // in line for sure, then cancelled: 8 unary calls and 4 streams
      List<Context.CancellableContext> contexts = new ArrayList<>();
      List<CompletableFuture<Status>> unary = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        Context.CancellableContext ctx = Context.current().withCancellation();
        contexts.add(ctx);
        unary.add(ctx.call(() -> publishUnary(stub, "a", 64 * 1024)));
      }
      List<RecordingStream> streams = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        RecordingStream st = RecordingStream.open(b.channel);
        st.send(1, "a");
        streams.add(st);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> stats(b, "a").getWaitingEvents() == 12);
      Inboxes.checkInvariants(a);
      contexts.forEach(c -> c.cancel(null));
      streams.forEach(st -> ((ClientCallStreamObserver<PublishStreamRequest>) st.out).cancel("test: publisher gone", null));
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        TopicStats st = stats(b, "a");
        assertThat(st.getWaitingEvents()).isZero();
        assertThat(st.getWaitingBytes()).isZero();
      });
      Inboxes.checkInvariants(a);

      // the reported case: unary publishes of 512 KiB with a 20 ms deadline against the stuck topic
      for (int i = 0; i < 32; i++) {
        unary.add(publishUnary(stub.withDeadlineAfter(20, TimeUnit.MILLISECONDS), "a", 512 * 1024));
      }
      CompletableFuture.allOf(unary.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
      assertThat(unary).allSatisfy(f -> assertThat(f.get().getCode()).isIn(Status.Code.CANCELLED, Status.Code.DEADLINE_EXCEEDED));
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        TopicStats st = stats(b, "a");
        assertThat(st.getWaitingEvents()).isZero();
        assertThat(st.getWaitingBytes()).isZero();
      });
      Inboxes.checkInvariants(a);

      // the topic comes free: the next publish is the next event, nothing cancelled got in before it
      sub.grant(1_000);
      PublishResponse marker = b.publisher().publish(PublishRequest.newBuilder().setTopic("a").addEvents(TestBroker.event("marker")).build());
      assertThat(marker.getAcks(0).getSequence()).isEqualTo(3);
      sub.awaitEvents(3);
      assertThat(sub.events()).hasSize(3);
      TopicStats st = stats(b, "a");
      assertThat(st.getPublished()).isEqualTo(3);
      assertThat(st.getInboxDepthEvents()).isZero();
      Inboxes.checkInvariants(a);
      s.out.onCompleted();
      assertThat(s.ended.get(10, TimeUnit.SECONDS).isOk()).isTrue();
    }
  }

  /**
   * The wait line is bounded per topic in events and in bytes; beyond it a publish (unary or on a
   * stream) is refused at once with RESOURCE_EXHAUSTED and a message that names the bound, and a
   * stream goes on being read.
   */
  @Test
  void waitLineBeyondItsBoundRefusesPublishesWithResourceExhausted() throws Exception {
    try (TestBroker b = new TestBroker()) {
      RecordingStream s = RecordingStream.open(b.channel);
      TestSubscriber sub = stuckTopic(b, s, TopicConfig.newBuilder().setPublishWaitMaxEvents(3).setPublishWaitMaxBytes(1 << 20).build());
      Topic a = b.broker.topics().local("a").orElseThrow();
      PublishServiceGrpc.PublishServiceStub stub = PublishServiceGrpc.newStub(b.channel);

      CompletableFuture<Status> big1 = publishUnary(stub, "a", 512 * 1024);
      await().atMost(Duration.ofSeconds(10)).until(() -> a.waitingEvents() == 1);
      CompletableFuture<Status> big2 = publishUnary(stub, "a", 512 * 1024); // 1 MiB + framing: too many bytes
      Status bytesRefused = big2.get(10, TimeUnit.SECONDS);
      assertThat(bytesRefused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(bytesRefused.getDescription()).contains("topic 'a'", "wait for room", "publish_wait_max_bytes 1048576", "Retry later");

      CompletableFuture<Status> small1 = publishUnary(stub, "a", 10);
      CompletableFuture<Status> small2 = publishUnary(stub, "a", 10);
      await().atMost(Duration.ofSeconds(10)).until(() -> a.waitingEvents() == 3);
      Status eventsRefused = publishUnary(stub, "a", 10).get(10, TimeUnit.SECONDS);
      assertThat(eventsRefused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(eventsRefused.getDescription()).contains("3 events", "publish_wait_max_events 3");

      s.send(3, "a"); // refused too (answered in order, once batch 2 is), and the stream is read on
      await().atMost(Duration.ofSeconds(10)).until(() -> stats(b, "a").getRejected() == 3);
      assertThat(stats(b, "a").getWaitingEvents()).isEqualTo(3);
      Inboxes.checkInvariants(a);

      sub.grant(1_000); // the line drains in order
      assertThat(CompletableFuture.allOf(big1, small1, small2).thenApply(v -> List.of(big1.join(), small1.join(), small2.join()))
          .get(10, TimeUnit.SECONDS)).allSatisfy(x -> assertThat(x.isOk()).isTrue());
      assertThat(s.awaitAnswer(2).hasError()).isFalse();
      assertThat(s.awaitAnswer(3).getError().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED.value());
      s.send(4, "b");
      assertThat(s.awaitAnswer(4).hasError()).isFalse();
      assertThat(stats(b, "a").getWaitingEvents()).isZero();
      Inboxes.checkInvariants(a);
      s.out.onCompleted();
      assertThat(s.ended.get(10, TimeUnit.SECONDS).isOk()).isTrue();
    }
  }
}
