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
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class SubscriberTest {
  private Broker broker;
  private HeraldClient client;
  private Publisher pub;

  @BeforeEach
  void start() throws Exception {
    broker = Brokers.start();
    client = Brokers.client(broker);
    client.admin().createTopic("t", TopicSettings.defaults());
    pub = client.publisher("t").create();
  }

  @AfterEach
  void stop() {
    client.close();
    broker.close();
  }

  private void publish(int n) throws Exception {
    for (int i = 0; i < n; i++) {
      pub.publish(Event.of("test", ("e-" + i).getBytes(StandardCharsets.UTF_8)));
    }
    pub.flush().get(30, TimeUnit.SECONDS);
  }

  @Test
  void handlerIsCalledInOrderOneAtATimeOnTheCallbackExecutor() throws Exception {
    List<Long> seqs = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger concurrent = new AtomicInteger();
    AtomicInteger maxConcurrent = new AtomicInteger();
    AtomicReference<String> thread = new AtomicReference<>();
    client.subscriber("t").maxOutstanding(50).handler(d -> {
      int now = concurrent.incrementAndGet();
      maxConcurrent.accumulateAndGet(now, Math::max);
      thread.set(Thread.currentThread().getName());
      seqs.add(d.sequence());
      concurrent.decrementAndGet();
    }).subscribe();
    publish(3_000);
    await().atMost(Duration.ofSeconds(30)).until(() -> seqs.size() == 3_000);
    assertThat(seqs).isSorted().doesNotHaveDuplicates().first().isEqualTo(1L);
    assertThat(maxConcurrent.get()).isEqualTo(1);
    assertThat(thread.get()).startsWith("herald-client-callback-");
  }

  @Test
  void creditBoundsWhatTheClientHoldsWhileTheHandlerIsBlocked() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicLong handled = new AtomicLong();
    Subscription sub = client.subscriber("t").maxOutstanding(100).overflow(OverflowPolicy.DROP_NEWEST).handler(d -> {
      release.await();
      handled.incrementAndGet();
    }).subscribe();
    publish(5_000);
    // the broker sends at most the credit: 100 events wait in the client, the rest on the broker
    await().atMost(Duration.ofSeconds(10)).until(() -> sub.outstanding() == 100);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> sub.outstanding() == 100);
    SubscriptionInfo info = client.admin().listSubscriptions("t", "").items().get(0);
    assertThat(info.creditEvents()).isZero();
    assertThat(info.delivered()).isEqualTo(100);
    release.countDown();
    await().atMost(Duration.ofSeconds(30)).until(() -> handled.get() + sub.lastSequence() > 0 && sub.outstanding() == 0 && sub.lastSequence() == 5_000);
  }

  @Test
  void aByteLimitAloneKeepsTheSubscriptionFlowing() throws Exception {
    // 64 KiB of credit holds 32 events of 2 KiB: only byte grants can keep it going
    AtomicLong handled = new AtomicLong();
    Subscription sub = client.subscriber("t").maxOutstanding(1_000, 64 << 10).handler(d -> handled.incrementAndGet()).subscribe();
    for (int i = 0; i < 500; i++) {
      pub.publish(Event.of("test", new byte[2 << 10]));
    }
    pub.flush().get(30, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(handled.get()).isEqualTo(500));
    assertThat(sub.lastSequence()).isEqualTo(500);
    assertThat(sub.outstanding()).isZero();
  }

  @Test
  void aHandlerThatThrowsAnErrorSkipsTheEventIsReportedAndDeliveryGoesOn() throws Exception {
    List<Long> calls = Collections.synchronizedList(new ArrayList<>());
    List<String> reported = Collections.synchronizedList(new ArrayList<>());
    Subscription sub = client.subscriber("t").maxOutstanding(10).handler(d -> {
      calls.add(d.sequence());
      if (d.sequence() % 20 == 5) {
        throw new AssertionError("handler bug on " + d.sequence());
      }
      if (d.sequence() == 50) {
        throw new IllegalStateException("plain exception on 50");
      }
    }).onHandlerError((d, t) -> {
      reported.add(d.sequence() + " " + t.getClass().getSimpleName());
      if (d.sequence() == 45) {
        throw new OutOfMemoryError("the listener fails too"); // logged; delivery still goes on
      }
    }).subscribe();
    publish(100);
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(calls).hasSize(100));
    assertThat(calls).isSorted().doesNotHaveDuplicates();
    await().atMost(Duration.ofSeconds(5)).until(() -> sub.lastSequence() == 100 && sub.outstanding() == 0);
    assertThat(sub.isActive()).isTrue();
    assertThat(reported).containsExactly("5 AssertionError", "25 AssertionError", "45 AssertionError", "50 IllegalStateException",
        "65 AssertionError", "85 AssertionError");
  }

  @Test
  void gapsAreReportedInOrderAndAddUpWithWhatWasHandled() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    List<Object> seen = Collections.synchronizedList(new ArrayList<>());
    client.subscriber("t").maxOutstanding(5).overflow(OverflowPolicy.DROP_NEWEST).brokerBuffer(10)
        .handler(d -> {
          release.await();
          seen.add(d.sequence());
        })
        .onGap(seen::add)
        .subscribe();
    publish(1_000);
    release.countDown();
    await().atMost(Duration.ofSeconds(30)).until(() -> accounted(seen) == 1_000);
    long next = 1;
    for (Object o : seen) {
      if (o instanceof Gap g) {
        assertThat(g.firstSequence()).isEqualTo(next);
        assertThat(g.reason()).isEqualTo(GapReason.DROPPED);
        next = g.lastSequence() + 1;
      } else {
        assertThat((Long) o).isEqualTo(next);
        next++;
      }
    }
    // what the broker buffer (10) held plus, depending on whether its writer ran before the burst
    // filled the buffer, the 5 the client's credit let through
    assertThat(seen.stream().filter(o -> o instanceof Long).count()).isBetween(10L, 15L);
  }

  private static long accounted(List<Object> seen) {
    synchronized (seen) {
      return seen.stream().mapToLong(o -> o instanceof Gap g ? g.count() : 1).sum();
    }
  }

  @Test
  void startPositionsAreHonoured() throws Exception {
    publish(10);
    List<Long> fromEarliest = Collections.synchronizedList(new ArrayList<>());
    List<Long> fromSeven = Collections.synchronizedList(new ArrayList<>());
    client.subscriber("t").startAt(StartPosition.earliest()).handler(d -> fromEarliest.add(d.sequence())).subscribe();
    client.subscriber("t").startAt(StartPosition.sequence(7)).handler(d -> fromSeven.add(d.sequence())).subscribe();
    await().atMost(Duration.ofSeconds(10)).until(() -> fromEarliest.size() == 10 && fromSeven.size() == 4);
    assertThat(fromSeven).containsExactly(7L, 8L, 9L, 10L);
  }

  @Test
  void flowAdapterDeliversOnlyWhatWasRequested() throws Exception {
    publish(20);
    List<Long> got = Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Flow.Subscription> subscription = new CompletableFuture<>();
    client.subscriber("t").startAt(StartPosition.earliest()).asFlowPublisher().subscribe(new Flow.Subscriber<>() {
      @Override public void onSubscribe(Flow.Subscription s) { subscription.complete(s); }
      @Override public void onNext(Delivery item) { got.add(item.sequence()); }
      @Override public void onError(Throwable t) { }
      @Override public void onComplete() { }
    });
    Flow.Subscription s = subscription.get(5, TimeUnit.SECONDS);
    s.request(3);
    await().atMost(Duration.ofSeconds(10)).until(() -> got.size() == 3);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> got.size() == 3);
    s.request(2);
    await().atMost(Duration.ofSeconds(10)).until(() -> got.size() == 5);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> got.size() == 5);
    assertThat(got).containsExactly(1L, 2L, 3L, 4L, 5L);
    s.cancel();
  }

  @Test
  void subscribingToAnUnknownTopicThrowsTopicNotFound() {
    assertThatThrownBy(() -> client.subscriber("missing").handler(d -> { }).subscribe())
        .isInstanceOf(HeraldException.TopicNotFoundException.class).hasMessageContaining("missing");
  }

  @Test
  void deletingTheTopicEndsTheSubscriptionThroughOnError() throws Exception {
    CompletableFuture<HeraldException> error = new CompletableFuture<>();
    Subscription sub = client.subscriber("t").handler(d -> { }).onError(error::complete).subscribe();
    client.admin().deleteTopic("t");
    assertThat(error.get(10, TimeUnit.SECONDS)).isInstanceOf(HeraldException.TopicNotFoundException.class);
    await().atMost(Duration.ofSeconds(5)).until(() -> !sub.isActive());
  }

  @Test
  void evictedSlowConsumerIsToldSo() throws Exception {
    client.admin().createTopic("b", TopicSettings.builder().defaultPolicy(OverflowPolicy.BLOCK)
        .subscriberBufferMaxEvents(5).maxBlock(Duration.ofMillis(200)).build());
    CountDownLatch never = new CountDownLatch(1);
    CompletableFuture<HeraldException> error = new CompletableFuture<>();
    client.subscriber("b").maxOutstanding(1).handler(d -> never.await()).onError(error::complete).subscribe();
    Publisher p = client.publisher("b").create();
    for (int i = 0; i < 20; i++) {
      p.publish(Event.of("x", new byte[1]));
    }
    p.flush().get(10, TimeUnit.SECONDS);
    assertThat(error.get(10, TimeUnit.SECONDS)).isInstanceOf(HeraldException.SlowConsumerException.class)
        .hasMessageContaining("slow consumer");
    never.countDown();
  }
}
