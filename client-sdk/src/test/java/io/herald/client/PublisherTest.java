package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.herald.broker.Broker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class PublisherTest {
  private Broker broker;
  private HeraldClient client;

  @BeforeEach
  void start() throws Exception {
    broker = Brokers.start();
    client = Brokers.client(broker);
    client.admin().createTopic("t", TopicSettings.defaults());
  }

  @AfterEach
  void stop() {
    client.close();
    broker.close();
  }

  private static Event ev(int i) {
    return Event.of("test", ("e-" + i).getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void batchesBySizeAndHoldsTheRestUntilLingerOrFlush() throws Exception {
    Publisher pub = client.publisher("t").batching(Batching.defaults().maxEvents(10).linger(Duration.ofSeconds(10))).create();
    List<CompletableFuture<PublishReceipt>> rs = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      rs.add(pub.publish(ev(i)));
    }
    CompletableFuture.allOf(rs.subList(0, 20).toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    // the last 5 wait for the 10 s linger, or a flush
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> rs.subList(20, 25).stream().noneMatch(CompletableFuture::isDone));
    assertThat(pub.pendingEvents()).isEqualTo(5);
    pub.flush().get(10, TimeUnit.SECONDS);
    assertThat(rs).allMatch(CompletableFuture::isDone);
    // one message per batch: the broker stamps a batch with one publish time
    List<PublishReceipt> receipts = rs.stream().map(CompletableFuture::join).toList();
    for (int b = 0; b < 3; b++) {
      int from = b * 10;
      int to = Math.min(25, from + 10);
      assertThat(receipts.subList(from, to)).extracting(PublishReceipt::publishTime).containsOnly(receipts.get(from).publishTime());
    }
  }

  @Test
  void lingerSendsAPartialBatch() throws Exception {
    Publisher pub = client.publisher("t").batching(Batching.defaults().maxEvents(100).linger(Duration.ofMillis(50))).create();
    PublishReceipt r = pub.publish(ev(1)).get(10, TimeUnit.SECONDS);
    assertThat(r.sequence()).isEqualTo(1);
  }

  @Test
  void receiptsCompleteInPublishOrderWithConsecutiveSequences() throws Exception {
    Publisher pub = client.publisher("t").batching(Batching.defaults().maxEvents(64)).create();
    List<Long> completionOrder = Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<PublishReceipt>> rs = new ArrayList<>();
    List<Event> sent = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      sent.add(ev(i));
      CompletableFuture<PublishReceipt> f = pub.publish(sent.get(i));
      f.thenAccept(r -> completionOrder.add(r.sequence()));
      rs.add(f);
    }
    pub.flush().get(20, TimeUnit.SECONDS);
    for (int i = 0; i < rs.size(); i++) {
      PublishReceipt r = rs.get(i).get();
      assertThat(r.sequence()).isEqualTo(i + 1L);
      // from the batch's one AckRange (the publisher asks for compact acks): the event's own id,
      // the topic's epoch and the time it was sequenced
      assertThat(r.id()).isEqualTo(sent.get(i).id()).isNotEmpty();
      assertThat(r.epoch()).isEqualTo(rs.get(0).get().epoch()).isPositive();
      assertThat(r.publishTime()).isNotNull().isAfter(java.time.Instant.EPOCH);
      assertThat(r.duplicate()).isFalse();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> completionOrder.size() == 2_000);
    assertThat(completionOrder).isSorted();
  }

  @Test
  void receiptContinuationsRunOnTheCallbackExecutorNotANetworkThread() throws Exception {
    Publisher pub = client.publisher("t").create();
    String thread = pub.publish(ev(1)).thenApply(r -> Thread.currentThread().getName()).get(10, TimeUnit.SECONDS);
    assertThat(thread).startsWith("herald-client-callback-");
  }

  @Test
  void anEventThatWouldPassTheByteBoundStartsTheNextBatch() throws Exception {
    // two 2 MiB events: together past the 3 MiB bound (and the broker's 4 MiB message limit)
    client.admin().createTopic("big", TopicSettings.builder().maxEventBytes(3 << 20).build());
    Publisher pub = client.publisher("big")
        .batching(Batching.defaults().maxBytes(Batching.MAX_BYTES_LIMIT).linger(Duration.ofSeconds(10))).create();
    CompletableFuture<PublishReceipt> first = pub.publish(Event.of("t", new byte[2 << 20]));
    CompletableFuture<PublishReceipt> second = pub.publish(Event.of("t", new byte[2 << 20]));
    // the first batch went when the second event did not fit; the second waits for its linger
    assertThat(first.get(10, TimeUnit.SECONDS).sequence()).isEqualTo(1);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> !second.isDone());
    pub.flush().get(10, TimeUnit.SECONDS);
    assertThat(second.get(10, TimeUnit.SECONDS).sequence()).isEqualTo(2);
    pub.close(Duration.ofMillis(100));
  }

  @Test
  void anEventWithoutATypeFailsAtOnce() {
    Publisher pub = client.publisher("t").create();
    assertThatThrownBy(() -> pub.publish(Event.builder().data(new byte[1]).build()).get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause().isInstanceOfSatisfying(HeraldException.class, e -> {
          assertThat(e.reason()).isEqualTo(ErrorReason.INVALID_FIELD);
          assertThat(e.metadata()).containsEntry("field", "type");
          assertThat(e.isRetryable()).isFalse();
        });
  }

  @Test
  void aRepeatedIdIsAcknowledgedAsADuplicate() throws Exception {
    Publisher pub = client.publisher("t").create();
    Event e = Event.builder().id("order-1").type("t").build();
    PublishReceipt first = pub.publish(e).get(10, TimeUnit.SECONDS);
    PublishReceipt again = pub.publish(e).get(10, TimeUnit.SECONDS);
    assertThat(again.duplicate()).isTrue();
    assertThat(again.sequence()).isEqualTo(first.sequence());
  }

  /** A BLOCK subscriber that grants no credit stalls the topic, so the publisher's pending buffer fills. */
  private void stallTopic() throws Exception {
    client.admin().createTopic("stalled", TopicSettings.builder()
        .defaultPolicy(OverflowPolicy.BLOCK).subscriberBufferMaxEvents(10).inboxMaxEvents(10).maxBlock(Duration.ofMinutes(10)).build());
    CountDownLatch never = new CountDownLatch(1);
    client.subscriber("stalled").maxOutstanding(1).handler(d -> never.await()).subscribe();
  }

  @Test
  void fullPendingBufferFailsFastWhenAskedTo() throws Exception {
    stallTopic();
    Publisher pub = client.publisher("stalled").batching(Batching.defaults().maxEvents(5).linger(Duration.ZERO))
        .maxPending(50, 1 << 20).whenFull(WhenFull.fail()).create();
    CompletableFuture<PublishReceipt> refused = null;
    for (int i = 0; i < 10_000 && refused == null; i++) {
      CompletableFuture<PublishReceipt> f = pub.publish(ev(i));
      if (f.isCompletedExceptionally()) {
        refused = f;
      }
    }
    assertThat(refused).isNotNull();
    CompletableFuture<PublishReceipt> r = refused;
    assertThatThrownBy(r::get).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOfSatisfying(HeraldException.PublishBufferFullException.class, e -> {
          assertThat(e.isRetryable()).isTrue();
          assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
          assertThat(e.getMessage()).contains("pending buffer").contains("50");
        });
    pub.close(Duration.ofMillis(100));
  }

  @Test
  void fullPendingBufferBlocksUpToTheLimitThenFails() throws Exception {
    stallTopic();
    Publisher pub = client.publisher("stalled").batching(Batching.defaults().maxEvents(5).linger(Duration.ZERO))
        .maxPending(50, 1 << 20).whenFull(WhenFull.blockUpTo(Duration.ofMillis(300))).create();
    // fill it: the broker takes what its buffers hold, then stops acknowledging
    // (topped up while acks for what the broker took still come in; bounded by the await)
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(10)).until(() -> {
      while (pub.pendingEvents() < 50) {
        pub.publish(ev(0));
      }
      return pub.pendingEvents() == 50;
    });
    long t0 = System.nanoTime();
    CompletableFuture<PublishReceipt> blocked = pub.publish(ev(-1));
    long waited = System.nanoTime() - t0;
    assertThat(blocked).isCompletedExceptionally();
    assertThat(Duration.ofNanos(waited)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
    assertThat(pub.pendingEvents()).isEqualTo(50);
    pub.close(Duration.ofMillis(100));
  }

  @Test
  void unknownTopicFailsReceiptsWithANonRetryableTypedError() throws Exception {
    Publisher pub = client.publisher("missing").create();
    assertThatThrownBy(() -> pub.publish(ev(1)).get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOfSatisfying(HeraldException.TopicNotFoundException.class, e -> {
          assertThat(e.isRetryable()).isFalse();
          assertThat(e.getMessage()).contains("missing");
        });
  }

  @Test
  void closeFlushesAndLaterPublishesFail() throws Exception {
    Publisher pub = client.publisher("t").batching(Batching.defaults().maxEvents(100).linger(Duration.ofSeconds(10))).create();
    CompletableFuture<PublishReceipt> r = pub.publish(ev(1));
    pub.close();
    assertThat(r.get(1, TimeUnit.SECONDS).sequence()).isEqualTo(1);
    assertThatThrownBy(() -> pub.publish(ev(2)).get()).cause().isInstanceOf(HeraldException.ClosedException.class);
    pub.close(); // idempotent
  }

  /**
   * A channel whose publish streams hold their {@code holdSend}-th outgoing message in
   * {@code sendMessage} (where gRPC serialises it) until {@code gate} opens, and hold the response
   * before it until that send has begun.
   */
  static final class GatedChannel extends io.grpc.ManagedChannel {
    final io.grpc.ManagedChannel delegate;
    final int holdSend;
    final CountDownLatch sending = new CountDownLatch(1);
    final CountDownLatch gate = new CountDownLatch(1);
    private final AtomicInteger sends = new AtomicInteger();

    GatedChannel(io.grpc.ManagedChannel delegate, int holdSend) {
      this.delegate = delegate;
      this.holdSend = holdSend;
    }

    @Override
    public <Q, A> io.grpc.ClientCall<Q, A> newCall(io.grpc.MethodDescriptor<Q, A> method, io.grpc.CallOptions options) {
      io.grpc.ClientCall<Q, A> call = delegate.newCall(method, options);
      if (!method.getFullMethodName().endsWith("/PublishStream")) {
        return call;
      }
      return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void start(Listener<A> listener, io.grpc.Metadata headers) {
          super.start(new io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            private int received;

            @Override
            public void onMessage(A message) {
              if (++received == holdSend - 1) {
                await(sending); // the network thread brings this ack in while the next send is held
              }
              super.onMessage(message);
            }
          }, headers);
        }

        @Override
        public void sendMessage(Q message) {
          if (sends.incrementAndGet() == holdSend) {
            sending.countDown();
            await(gate);
          }
          super.sendMessage(message);
        }
      };
    }

    private static void await(CountDownLatch latch) {
      try {
        latch.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override public String authority() { return delegate.authority(); }
    @Override public io.grpc.ManagedChannel shutdown() { return delegate.shutdown(); }
    @Override public boolean isShutdown() { return delegate.isShutdown(); }
    @Override public boolean isTerminated() { return delegate.isTerminated(); }
    @Override public io.grpc.ManagedChannel shutdownNow() { return delegate.shutdownNow(); }
    @Override public io.grpc.ConnectivityState getState(boolean connect) { return delegate.getState(connect); }

    @Override
    public void notifyWhenStateChanged(io.grpc.ConnectivityState source, Runnable callback) {
      delegate.notifyWhenStateChanged(source, callback);
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return delegate.awaitTermination(timeout, unit);
    }
  }

  private static <T> CompletableFuture<T> onNewThread(java.util.function.Supplier<T> task) {
    return CompletableFuture.supplyAsync(task, r -> Thread.ofPlatform().name("test-caller").start(r));
  }

  @Test
  void anAckIsHandledWhileAnotherThreadIsSendingABatch() throws Exception {
    GatedChannel channel = new GatedChannel(io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forAddress("127.0.0.1", broker.port()).usePlaintext().build(), 3);
    try (HeraldClient gated = HeraldClient.builder().channel(channel).build()) {
      Publisher pub = gated.publisher("t").batching(Batching.none()).create();
      pub.publish(ev(0)).get(10, TimeUnit.SECONDS); // the stream is up and idle
      CompletableFuture<PublishReceipt> first = pub.publish(ev(1)); // sent by this thread; its ack waits for the next send
      CompletableFuture<CompletableFuture<PublishReceipt>> second = onNewThread(() -> pub.publish(ev(2)));
      assertThat(channel.sending.await(10, TimeUnit.SECONDS)).isTrue();
      try {
        // send 3 is held in gRPC's sendMessage on another thread: the ack of batch 2 (network
        // thread) and callers that need the publisher's lock must not wait for it
        assertThat(first.get(5, TimeUnit.SECONDS).sequence()).isEqualTo(2);
        assertThat(onNewThread(pub::pendingEvents).get(5, TimeUnit.SECONDS)).isEqualTo(1);
      } finally {
        channel.gate.countDown();
      }
      assertThat(second.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS).sequence()).isEqualTo(3);
    } finally {
      channel.delegate.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
