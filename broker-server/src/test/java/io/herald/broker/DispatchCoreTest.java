package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.topic.LoopPhase;
import io.herald.broker.topic.Topic;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The dispatch loop's contracts: BLOCK deadlines and permission, lossless BLOCK catch-up, dedup expiry, supervision. */
@Timeout(120)
class DispatchCoreTest {
  private TestBroker b;

  @BeforeEach
  void start() throws Exception {
    b = new TestBroker();
  }

  @AfterEach
  void stop() throws Exception {
    b.close();
  }

  private static com.google.protobuf.Duration seconds(long s) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(s).build();
  }

  private TopicStats stats(String topic) {
    return b.admin().getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getStats();
  }

  private Topic topic(String name) {
    return b.broker.topics().local(name).orElseThrow();
  }

  @Test
  void stuckBlockSubscribersHoldABatchForOneMaxBlockTogetherNotOneEach() throws Exception {
    b.createTopic("t", TopicConfig.newBuilder().setMaxBlock(seconds(1)).setSubscriberBufferMaxEvents(1).build());
    List<TestSubscriber> stuck = new java.util.ArrayList<>();
    for (int i = 0; i < 4; i++) {
      stuck.add(TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
          .setOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK).build()));
    }
    b.publish("t", "fill", 1, 1); // every buffer now holds one event and no credit comes
    long start = System.nanoTime();
    b.publish("t", "held", 1, 1); // waits for room in all four, then evicts all four
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    // one shared deadline: about 1 s, where waiting on each in turn took 4 s
    assertThat(millis).isBetween(900L, 2_500L);
    for (TestSubscriber s : stuck) {
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    }
    assertThat(stats("t").getSlowConsumerEvictions()).isEqualTo(4);
  }

  @Test
  void aTopicCanRefuseBlockSubscribers() throws Exception {
    b.createTopic("open", TopicConfig.getDefaultInstance());
    assertThat(b.admin().getTopic(GetTopicRequest.newBuilder().setName("open").build()).getTopic().getConfig().getBlockPolicyAllowed()).isTrue();
    b.createTopic("noblock", TopicConfig.newBuilder().setBlockPolicyAllowed(false).build());
    TestSubscriber s = TestSubscriber.open(b.subscriber(), SubscribeInit.newBuilder().setTopic("noblock")
        .setOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
    Status st = s.awaitEnd();
    assertThat(st.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(st.getDescription()).contains("block_policy_allowed").contains("DROP_OLDEST");
    // a DROP subscriber is fine
    TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("noblock")
        .setOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST).build()).cancel();
    // and the topic's default cannot be BLOCK then
    assertThatThrownBy(() -> b.admin().createTopic(CreateTopicRequest.newBuilder().setName("bad").setConfig(TopicConfig.newBuilder()
        .setBlockPolicyAllowed(false).setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  @Test
  void blockSubscriberCatchingUpFromHistoryLosesNothingWhileTheTopicMovesOn() throws Exception {
    b.createTopic("t", TopicConfig.newBuilder().setRetention(Retention.newBuilder().setMaxEvents(1_000)).build());
    b.publish("t", "old", 1_000, 100);
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
        .setOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST))
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(100)).build());
    // a reader granting 100 at a time as it goes, while 4,000 more are published
    AtomicInteger granted = new AtomicInteger(100);
    CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
      while (granted.get() < 5_000) {
        int have = s.events().size();
        if (have >= granted.get()) {
          s.grant(100);
          granted.addAndGet(100);
        } else {
          Thread.onSpinWait();
        }
      }
    });
    b.publish("t", "new", 4_000, 100);
    List<DeliveredEvent> got = s.awaitEvents(5_000);
    reader.get(30, TimeUnit.SECONDS);
    assertThat(s.gaps()).isEmpty();
    for (int i = 0; i < 5_000; i++) {
      assertThat(got.get(i).getSequence()).isEqualTo(i + 1);
    }
    topic("t").checkInvariants();
  }

  @Test
  void aBlockReaderThatJoinsWhileTheTopicWaitsForAnotherLosesNothing() throws Exception {
    b.createTopic("t", TopicConfig.newBuilder().setMaxBlock(seconds(1))
        .setRetention(Retention.newBuilder().setMaxEvents(5)).build());
    b.publish("t", "old", 5, 5);
    SubscribeInit.Builder earliestBlock = SubscribeInit.newBuilder().setTopic("t")
        .setOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST));
    TestSubscriber stuck = TestSubscriber.started(b.subscriber(), earliestBlock.build()); // never reads
    CompletableFuture<List<PublishAck>> pub = CompletableFuture.supplyAsync(() -> b.publish("t", "new", 5, 1));
    // the topic is now held back by the stuck reader; a second BLOCK reader joins meanwhile
    await().atMost(Duration.ofSeconds(5)).until(() -> stats("t").getRetainedEvents() > 5 || pub.isDone());
    TestSubscriber late = TestSubscriber.started(b.subscriber(), earliestBlock
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(3)).build());
    assertThat(stuck.awaitEnd().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    late.grant(100); // the late reader keeps up from here on
    pub.get(30, TimeUnit.SECONDS);
    List<DeliveredEvent> got = late.awaitEvents(10);
    assertThat(late.gaps()).isEmpty();
    assertThat(got).extracting(DeliveredEvent::getSequence).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    topic("t").checkInvariants();
  }

  @Test
  void dropSubscriberOutrunByRetentionWhileReplayingGetsItsPolicysReasonNotRetention() throws Exception {
    b.createTopic("t", TopicConfig.newBuilder().setRetention(Retention.newBuilder().setMaxEvents(100)).build());
    b.publish("t", "old", 100, 100);
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
        .setOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST)
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST)).build());
    b.publish("t", "new", 300, 100); // the history it was about to read is trimmed under it
    s.grant(1_000);
    s.awaitAccounted(400);
    List<GapNotice> gaps = s.gaps();
    assertThat(gaps).isNotEmpty();
    assertThat(gaps).allSatisfy(g -> assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_EVICTED));
    assertThat(s.events().size() + s.lostCount()).isEqualTo(400);
    assertThat(stats("t").getDropped()).isEqualTo(s.lostCount());
  }

  @Test
  void dedupIdsExpireByTimeOnAnIdleTopic() throws Exception {
    b.createTopic("t", TopicConfig.newBuilder().setDedupWindow(seconds(1)).build());
    PublishRequest.Builder req = PublishRequest.newBuilder().setTopic("t");
    for (int i = 0; i < 50; i++) {
      req.addEvents(Event.newBuilder().setId("id-" + i).setType("test").setData(ByteString.copyFromUtf8("x")));
    }
    b.publisher().publish(req.build());
    assertThat(stats("t").getDedupIds()).isEqualTo(50);
    // no more traffic: the ids go by time alone
    await().atMost(Duration.ofSeconds(15)).until(() -> stats("t").getDedupIds() == 0);
  }

  @Test
  void aLoopThatFailsBeforeSequencingIsRestartedInANewEpochAndThePublisherMayRetry() throws Exception {
    b.createTopic("t");
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1_000)).build());
    long epoch = s.started.get().getStartEpoch();
    b.publish("t", "a", 10, 10);
    AtomicInteger faults = new AtomicInteger(1);
    topic("t").faultHookForTests((phase, batch) -> {
      if (phase == LoopPhase.SEQUENCE && faults.getAndDecrement() > 0) {
        throw new OutOfMemoryError("injected");
      }
    });
    assertThatThrownBy(() -> b.publish("t", "b", 10, 10))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    List<PublishAck> acks = b.publish("t", "b", 10, 10); // the retry
    assertThat(acks.get(0).getSequence()).isEqualTo(11);
    assertThat(acks.get(0).getEpoch()).isGreaterThan(epoch);
    List<DeliveredEvent> got = s.awaitEvents(20);
    assertThat(s.gaps()).isEmpty(); // nothing was sequenced by the failed attempt
    assertThat(got.get(19).getEpoch()).isEqualTo(acks.get(0).getEpoch());
    assertThat(stats("t").getLoopRestarts()).isEqualTo(1);
  }

  @Test
  void aLoopThatFailsWhileFanningOutAcksTheBatchAndTellsWhoMissedIt() throws Exception {
    b.createTopic("t");
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1_000)).build());
    AtomicInteger faults = new AtomicInteger(1);
    topic("t").faultHookForTests((phase, batch) -> {
      if (phase == LoopPhase.FAN_OUT && faults.getAndDecrement() > 0) {
        throw new IllegalStateException("injected");
      }
    });
    List<PublishAck> first = b.publish("t", "a", 10, 10); // sequenced, then the fan-out failed
    assertThat(first).hasSize(10);
    b.publish("t", "b", 5, 5);
    s.awaitAccounted(15);
    GapNotice g = s.gaps().get(0);
    assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_LOOP_RESTARTED);
    assertThat(g.getFirstSequence()).isEqualTo(1);
    assertThat(g.getLastSequence()).isEqualTo(10);
    assertThat(g.getCountUnknown()).isFalse();
    List<DeliveredEvent> got = s.events();
    assertThat(got).extracting(DeliveredEvent::getSequence).containsExactly(11L, 12L, 13L, 14L, 15L);
    assertThat(got.get(0).getEpoch()).isGreaterThan(first.get(0).getEpoch());
    // a catching-up reader still finds those ten in the history
    TestSubscriber late = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST))
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1_000)).build());
    assertThat(late.awaitEvents(15)).hasSize(15);
    assertThat(late.gaps()).isEmpty();
  }

  @Test
  void aLoopThatKeepsFailingClosesItsTopicWithInternal() throws Exception {
    b.createTopic("t");
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    topic("t").faultHookForTests((phase, batch) -> {
      if (phase == LoopPhase.SEQUENCE) {
        throw new IllegalStateException("injected, always");
      }
    });
    for (int i = 0; i < 6; i++) {
      assertThatThrownBy(() -> b.publish("t", "x", 1, 1)).isInstanceOf(StatusRuntimeException.class);
    }
    assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThatThrownBy(() -> b.publish("t", "x", 1, 1))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
          assertThat(e.getStatus().getDescription()).contains("out of service");
        });
    // other topics are not disturbed
    b.createTopic("other");
    assertThat(b.publish("other", "y", 3, 3)).hasSize(3);
    assertThat(b.broker.metrics().scrape()).contains("herald_dispatch_loop_restarts_total");
  }
}
