package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Ordering, policies and their drop accounting, isolation: through real gRPC on loopback. */
@Timeout(60)
class DeliveryTest {
  private TestBroker b;

  @BeforeEach
  void start() throws Exception {
    b = new TestBroker();
  }

  @AfterEach
  void stop() throws Exception {
    b.close();
  }

  private static SubscribeInit.Builder init(String topic, OverflowPolicy policy) {
    return SubscribeInit.newBuilder().setTopic(topic).setOverflowPolicy(policy);
  }

  @Test
  void blockSubscribersSeeContiguousSequencesInPublishOrderUnderConcurrentPublishers() throws Exception {
    b.createTopic("orders", TopicConfig.newBuilder().setSubscriberBufferMaxEvents(64).setInboxMaxEvents(256).build());
    List<TestSubscriber> subs = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      TestSubscriber s = TestSubscriber.started(b.subscriber(), init("orders", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
      s.grant(1_000_000);
      subs.add(s);
    }
    int publishers = 4;
    int perPublisher = 3_000;
    ExecutorService pool = Executors.newFixedThreadPool(publishers);
    List<Future<List<PublishAck>>> acks = new ArrayList<>();
    for (int p = 0; p < publishers; p++) {
      String prefix = "p" + p;
      acks.add(pool.submit(() -> b.publish("orders", prefix, perPublisher, 50)));
    }
    Map<String, Long> seqById = new HashMap<>();
    for (Future<List<PublishAck>> f : acks) {
      for (PublishAck a : f.get()) {
        seqById.put(a.getId(), a.getSequence());
      }
    }
    pool.shutdown();
    int total = publishers * perPublisher;
    for (TestSubscriber s : subs) {
      List<DeliveredEvent> got = s.awaitEvents(total);
      assertThat(got).hasSize(total);
      assertThat(s.gaps()).isEmpty();
      Map<String, Integer> lastIndexByPublisher = new HashMap<>();
      for (int i = 0; i < total; i++) {
        DeliveredEvent e = got.get(i);
        assertThat(e.getSequence()).isEqualTo(i + 1L);
        assertThat(seqById.get(e.getEvent().getId())).isEqualTo(e.getSequence());
        // each publisher's events arrive in the order it published them
        String[] parts = e.getEvent().getData().toStringUtf8().split("-");
        int index = Integer.parseInt(parts[1]);
        Integer prev = lastIndexByPublisher.put(parts[0], index);
        assertThat(prev == null ? -1 : prev).isLessThan(index);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = OverflowPolicy.class, names = {"OVERFLOW_POLICY_DROP_OLDEST", "OVERFLOW_POLICY_DROP_NEWEST"})
  void dropPoliciesAccountForEveryLostEventWithGapNotices(OverflowPolicy policy) throws Exception {
    b.createTopic("t");
    TestSubscriber s = TestSubscriber.started(b.subscriber(), init("t", policy).setBufferMaxEvents(10).build());
    int published = 1_000;
    b.publish("t", "e", published, 100); // acks mean sequenced: every offer has been made
    s.grant(published);
    s.awaitAccounted(published);

    List<DeliveredEvent> events = s.events();
    assertThat(events).hasSize(10);
    assertThat(s.lostCount()).isEqualTo(published - 10);
    GapReason expected = policy == OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST ? GapReason.GAP_REASON_EVICTED : GapReason.GAP_REASON_DROPPED;
    assertThat(s.gaps()).allSatisfy(g -> assertThat(g.getReason()).isEqualTo(expected));
    if (policy == OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST) {
      assertThat(events).extracting(DeliveredEvent::getSequence).containsExactly(991L, 992L, 993L, 994L, 995L, 996L, 997L, 998L, 999L, 1000L);
    } else {
      assertThat(events).extracting(DeliveredEvent::getSequence).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    }
    assertCoversExactly(s.frames(), published);
    TopicStats stats = b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats();
    assertThat(stats.getPublished()).isEqualTo(published);
    assertThat(stats.getDelivered()).isEqualTo(10);
    assertThat(stats.getDropped()).isEqualTo(published - 10);
  }

  /** Frames in order: every sequence 1..n appears once, as an event or inside the gap notice before it. */
  static void assertCoversExactly(List<Object> frames, long n) {
    long next = 1;
    for (Object f : frames) {
      if (f instanceof GapNotice g) {
        assertThat(g.getFirstSequence()).isEqualTo(next);
        assertThat(g.getCount()).isEqualTo(g.getLastSequence() - g.getFirstSequence() + 1);
        next = g.getLastSequence() + 1;
      } else {
        assertThat(((DeliveredEvent) f).getSequence()).isEqualTo(next);
        next++;
      }
    }
    assertThat(next - 1).isEqualTo(n);
  }

  @Test
  void slowDropSubscriberDoesNotSlowAFastOne() throws Exception {
    b.createTopic("t", TopicConfig.newBuilder().setInboxMaxEvents(100).build());
    TestSubscriber slow = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST).setBufferMaxEvents(5).build());
    TestSubscriber fast = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST).build());
    fast.keepGranting(1_000);
    // within one default buffer (10,000): a DROP subscriber whose writer falls a whole buffer behind
    // drops by design, so only the slow one may drop here; the BLOCK test below runs longer
    int published = 8_000;
    // the slow subscriber never grants credit; publishing still completes and the fast one gets all
    b.publish("t", "e", published, 200);
    List<DeliveredEvent> got = fast.awaitEvents(published);
    assertThat(got).extracting(DeliveredEvent::getSequence).isSorted().hasSize(published);
    assertThat(fast.gaps()).isEmpty();
    assertThat(slow.events()).isEmpty();
    slow.grant(100);
    slow.awaitAccounted(published);
    assertThat(slow.events()).hasSize(5);
    assertThat(slow.lostCount()).isEqualTo(published - 5);
  }

  @Test
  void stalledSubscriberNeitherSlowsNorDropsABlockSubscriberWithTheDefaultBuffer() throws Exception {
    Duration maxBlock = Duration.ofSeconds(10);
    b.createTopic("t", TopicConfig.newBuilder()
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(maxBlock.toSeconds())).build());
    // stalled: never grants credit, so its default buffer (10,000) fills and then drops the oldest
    TestSubscriber stalled = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST).build());
    // a normal consumer with the default buffer: lossless, keeps granting as it receives
    TestSubscriber normal = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
    normal.keepGranting(1_000);

    int published = 30_000; // three times the stalled one's buffer
    int batch = 100;
    long slowestAckNanos = 0;
    for (int i = 0; i < published; i += batch) {
      long t0 = System.nanoTime();
      assertThat(b.publish("t", "e" + i, batch, batch)).hasSize(batch);
      slowestAckNanos = Math.max(slowestAckNanos, System.nanoTime() - t0);
    }
    // never held up by the stalled subscriber: a BLOCK wait on it would take max_block
    assertThat(Duration.ofNanos(slowestAckNanos)).isLessThan(maxBlock.dividedBy(4));

    List<DeliveredEvent> got = normal.awaitEvents(published);
    assertThat(got).extracting(DeliveredEvent::getSequence).containsExactlyElementsOf(
        java.util.stream.LongStream.rangeClosed(1, published).boxed().toList());
    assertThat(normal.gaps()).isEmpty();
    assertThat(normal.ended).isNotDone();
    assertThat(stalled.ended).isNotDone();
    TopicStats stats = b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats();
    assertThat(stats.getSlowConsumerEvictions()).isZero();
    assertThat(stats.getSubscriberCount()).isEqualTo(2);

    // the stalled one lost only its own: it gets its buffer's newest events and gap notices for the rest
    stalled.grant(published);
    stalled.awaitAccounted(published);
    assertThat(stalled.events()).hasSize(10_000);
    assertCoversExactly(stalled.frames(), published);
  }

  @Test
  void blockPolicyLosesNothingAndEvictsAfterMaxBlock() throws Exception {
    b.createTopic("t", TopicConfig.newBuilder()
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setNanos(300_000_000))
        .setSubscriberBufferMaxEvents(20).build());
    TestSubscriber stuck = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
    TestSubscriber healthy = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
    healthy.grant(1_000);
    // 100 events: the stuck one fills its 20-event buffer, holds the topic for max_block, and is evicted
    List<PublishAck> acks = b.publish("t", "e", 100, 10);
    assertThat(acks).hasSize(100);
    Status end = stuck.awaitEnd();
    assertThat(end.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(end.getDescription()).contains("slow consumer").contains("max_block");
    List<DeliveredEvent> got = healthy.awaitEvents(100);
    assertThat(got).extracting(DeliveredEvent::getSequence).containsExactlyElementsOf(
        java.util.stream.LongStream.rangeClosed(1, 100).boxed().toList());
    TopicStats stats = b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats();
    assertThat(stats.getSlowConsumerEvictions()).isEqualTo(1);
    assertThat(stats.getSubscriberCount()).isEqualTo(1);
    // the evicted subscriber's 20 buffered events count as dropped
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
        assertThat(b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats().getDropped()).isEqualTo(20));
  }

  @Test
  void creditBoundsWhatTheBrokerSends() throws Exception {
    b.createTopic("t");
    TestSubscriber s = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST).build());
    b.publish("t", "e", 100, 100);
    s.grant(7);
    s.awaitEvents(7);
    // the broker holds the rest until more credit comes: publish a marker and check nothing more arrived
    b.publish("t", "more", 1, 1);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> s.events().size() == 7);
    s.grant(3);
    assertThat(s.awaitEvents(10)).hasSize(10);
    await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> s.events().size() == 10);
  }

  @Test
  void byteCreditLimitsBytesSentWithOneEventOvershoot() throws Exception {
    b.createTopic("t");
    // each DeliveredEvent of a 1000-byte payload is a little over 1000 bytes
    TestSubscriber s = TestSubscriber.started(b.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST)
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1000).setBytes(2500)).build());
    String payload = "x".repeat(1000);
    b.publish("t", payload, 10, 10);
    s.awaitEvents(3);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> s.events().size() == 3);
    s.grant(0, 3000);
    s.awaitEvents(6);
    await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> s.events().size() == 6);
  }
}
