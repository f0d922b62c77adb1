package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Timestamp;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.herald.broker.cluster.relay.RelayTopic;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.EventBatch;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.SubscriptionInfo;
import io.herald.proto.v1.SubscriptionStarted;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster relay, through real gRPC on loopback: broker B owns the topic; broker C resolves it
 * to a {@link RelayTopic} pointed at B (through {@code TopicRegistry.overrideResolveForTests}, until
 * the ownership wiring exists), and C's subscribers see what B's see.
 */
@Timeout(120)
class RelayTest {

  private static SubscribeInit.Builder init(String topic, OverflowPolicy policy) {
    return SubscribeInit.newBuilder().setTopic(topic).setOverflowPolicy(policy);
  }

  private static SubscribeInit.Builder at(String topic, OverflowPolicy policy, StartPositionKind kind, long sequence) {
    return init(topic, policy).setStartPosition(StartPosition.newBuilder().setKind(kind).setSequence(sequence));
  }

  private static String address(TestBroker b) {
    return "127.0.0.1:" + b.broker.port();
  }

  /** A relay on {@code c} for {@code topic}, owned by the broker {@code owner} names; ready and resolvable on c. */
  private static RelayTopic relay(TestBroker c, TestBroker b, String topic, AtomicReference<String> owner, RelayTopic.Options options)
      throws Exception {
    io.herald.broker.topic.Topic t = b.broker.topics().local(topic).orElseThrow();
    RelayTopic relay = new RelayTopic(topic, t.settings(), t.createEpoch(), "c", owner::get, RelayTopic::plaintextChannel, options).start();
    c.broker.topics().overrideResolveForTests(topic, relay.ready());
    relay.ready().get(10, TimeUnit.SECONDS);
    return relay;
  }

  private static RelayTopic relay(TestBroker c, TestBroker b, String topic) throws Exception {
    return relay(c, b, topic, new AtomicReference<>(address(b)), RelayTopic.Options.DEFAULTS);
  }

  private static void close(RelayTopic relay) throws Exception {
    relay.close(CloseReason.SHUTDOWN);
    relay.terminated().get(10, TimeUnit.SECONDS);
  }

  private static List<SubscriptionInfo> subscriptions(TestBroker b, String topic) {
    return b.admin().listSubscriptions(ListSubscriptionsRequest.newBuilder().setTopic(topic).build()).getSubscriptionsList();
  }

  private static long relaySubscriptions(TestBroker b, String topic) {
    return subscriptions(b, topic).stream().filter(s -> s.getSubscriberName().equals("relay:c")).count();
  }

  private static TopicStats stats(TestBroker b, String topic) {
    return b.admin().getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getStats();
  }

  /** The frames up to and including sequence {@code last}, once they arrived. */
  private static List<Object> framesThrough(TestSubscriber s, long last) {
    await().atMost(Duration.ofSeconds(30)).until(() -> s.frames().stream().anyMatch(f ->
        f instanceof DeliveredEvent e ? e.getSequence() >= last : ((GapNotice) f).getLastSequence() >= last));
    return s.frames();
  }

  @Test
  void eightSubscribersOnARelayNodeSeeExactlyWhatASubscriberOnTheOwnerSees() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder().setRetention(io.herald.proto.v1.Retention.newBuilder().setMaxEvents(20)).build());
      b.publish("t", "old", 30, 10); // the owner retains 11..30
      RelayTopic relay = relay(c, b, "t");
      assertThat(relay.nextSequence()).isEqualTo(31);

      // from sequence 1: a RETENTION gap for 1..10 first, then everything (BLOCK: lossless from history too)
      SubscribeInit from1 = at("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK, StartPositionKind.START_POSITION_KIND_SEQUENCE, 1).build();
      TestSubscriber onOwner = TestSubscriber.started(b.subscriber(), from1);
      onOwner.keepGranting(1_000);
      List<TestSubscriber> onRelay = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        TestSubscriber s = TestSubscriber.started(c.subscriber(), from1);
        s.keepGranting(1_000);
        onRelay.add(s);
      }
      b.publish("t", "new", 2_000, 50);

      List<Object> expected = framesThrough(onOwner, 2_030);
      assertThat(expected.get(0)).isInstanceOfSatisfying(GapNotice.class, g -> {
        assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_RETENTION);
        assertThat(g.getFirstSequence()).isEqualTo(1);
        assertThat(g.getLastSequence()).isEqualTo(10);
      });
      DeliveryTest.assertCoversExactly(expected, 2_030);
      for (TestSubscriber s : onRelay) {
        assertThat(framesThrough(s, 2_030)).isEqualTo(expected); // same sequences, epochs, bytes and gap notices
        assertThat(s.started.get().getStartSequence()).isEqualTo(onOwner.started.get().getStartSequence());
        assertThat(s.started.get().getStartEpoch()).isEqualTo(onOwner.started.get().getStartEpoch());
      }
      // the owner sees its own subscriber and exactly one relay subscription, BLOCK
      assertThat(subscriptions(b, "t")).hasSize(2);
      assertThat(subscriptions(b, "t")).filteredOn(i -> i.getSubscriberName().equals("relay:c")).singleElement()
          .satisfies(i -> assertThat(i.getOverflowPolicy()).isEqualTo(OverflowPolicy.OVERFLOW_POLICY_BLOCK));
      assertThat(relay.subscriptions()).hasSize(8);
      assertThat(relay.relayStreamsOpen()).isEqualTo(1);
      relay.mirror().checkInvariants();
      close(relay);
      // closing the relay ends its local streams with a reason and its upstream subscription
      for (TestSubscriber s : onRelay) {
        assertThat(s.awaitEnd().getCode()).isEqualTo(io.grpc.Status.Code.UNAVAILABLE);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> relaySubscriptions(b, "t") == 0);
    }
  }

  /**
   * The relay is one subscriber of the owner: its credit window is the default (8,192 events) only
   * where the topic lets a subscriber buffer as much; a topic with 100-event subscriber buffers gets
   * a 100-event relay window, so a BLOCK subscriber on the relay node paces it as early as one on
   * the owner would.
   */
  @Test
  void theRelayWindowIsAtMostTheTopicsSubscriberBuffer() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("small", TopicConfig.newBuilder().setSubscriberBufferMaxEvents(100).build());
      b.createTopic("large", TopicConfig.newBuilder().setSubscriberBufferMaxEvents(100_000).build());
      RelayTopic small = relay(c, b, "small");
      RelayTopic large = relay(c, b, "large");
      assertThat(small.upstreamCreditEvents()).isEqualTo(100);
      assertThat(large.upstreamCreditEvents()).isEqualTo(RelayTopic.Options.DEFAULT_CREDIT_WINDOW);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        assertThat(subscriptions(b, "small")).singleElement().extracting(SubscriptionInfo::getCreditEvents).isEqualTo(100L);
        assertThat(subscriptions(b, "large")).singleElement().extracting(SubscriptionInfo::getCreditEvents)
            .isEqualTo((long) RelayTopic.Options.DEFAULT_CREDIT_WINDOW);
      });
      close(small);
      close(large);
    }
  }

  @Test
  void aStuckBlockSubscriberOnTheRelayNodeSlowsThePublisherOnTheOwner() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
          .setSubscriberBufferMaxEvents(100)
          .setInboxMaxEvents(100)
          .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
          .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
          .build());
      RelayTopic relay = relay(c, b, "t", new AtomicReference<>(address(b)),
          new RelayTopic.Options(100, Duration.ofMillis(50), Duration.ofSeconds(2)));
      // a BLOCK subscriber on C that grants no credit
      TestSubscriber stuck = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
      BackpressureTest.EagerPublisher pub = new BackpressureTest.EagerPublisher("t", 1_000_000);
      b.publisherAsync().publishStream(pub);

      // C's buffer fills, the relay stops granting credit, the relay's buffer on B fills, B's loop
      // waits, B's inbox fills, and the publisher's transport stops being ready, and stays so
      await().atMost(Duration.ofSeconds(30)).until(() -> stats(b, "t").getInboxDepthEvents() >= 90);
      await().atMost(Duration.ofSeconds(30)).until(() -> !pub.ready() && pub.sentBatches.get() > 0);
      long sentWhenStopped = pub.sentBatches.get();
      await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> !pub.ready());
      assertThat(pub.sentBatches.get()).isEqualTo(sentWhenStopped);
      assertThat(sentWhenStopped * 10 * 1024).isLessThan(8L << 20);
      SubscriptionInfo up = subscriptions(b, "t").get(0);
      assertThat(up.getSubscriberName()).isEqualTo("relay:c");
      assertThat(up.getBufferDepthEvents()).isEqualTo(100);
      assertThat(up.getCreditEvents()).isZero();
      assertThat(relay.upstreamCreditEvents()).isZero();
      assertThat(relay.subscriptions().get(0).stats().bufferedEvents()).isEqualTo(100);
      assertThat(relay.bufferedEvents()).isGreaterThanOrEqualTo(100).isLessThanOrEqualTo(200);
      // acked: C's buffer + what the relay holds (credit window) + B's relay buffer + one batch in the loop
      assertThat(pub.ackedEvents.get()).isLessThanOrEqualTo(100 + 100 + 100 + 10);
      assertThat(pub.error.get()).isNull();

      // credit flows again on C: so does the publisher on B, and nothing was lost
      stuck.keepGranting(1_000);
      await().atMost(Duration.ofSeconds(30)).until(() -> pub.sentBatches.get() > sentWhenStopped + 100);
      assertThat(pub.error.get()).isNull();
      long acked = pub.ackedEvents.get();
      await().atMost(Duration.ofSeconds(30)).until(() -> stuck.events().size() >= acked);
      // one snapshot: the publisher is still sending, so frames() and events() read apart disagree
      List<Object> frames = stuck.frames();
      assertThat(frames).noneMatch(f -> f instanceof GapNotice);
      DeliveryTest.assertCoversExactly(frames, frames.size());
      close(relay);
    }
  }

  @Test
  void aStuckDropSubscriberOnTheRelayNodeNeverSlowsThePublisherAndGetsItsOwnGaps() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setSubscriberBufferMaxEvents(100)
          .setInboxMaxEvents(100)
          .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
          .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
          .build());
      RelayTopic relay = relay(c, b, "t", new AtomicReference<>(address(b)),
          new RelayTopic.Options(100, Duration.ofMillis(50), Duration.ofSeconds(2)));
      TestSubscriber stuck = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST).build());
      TestSubscriber fast = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
      fast.keepGranting(1_000);
      // 5,000 events of 1 KiB through buffers of 100: every one is acked though C's DROP subscriber reads nothing
      BackpressureTest.EagerPublisher pub = new BackpressureTest.EagerPublisher("t", 500);
      b.publisherAsync().publishStream(pub);
      await().atMost(Duration.ofSeconds(60)).until(() -> pub.ackedEvents.get() == 5_000);
      assertThat(pub.error.get()).isNull();
      fast.awaitEvents(5_000);
      assertThat(fast.gaps()).isEmpty();

      // the stuck one kept its first 100 and was told about the rest, as its own DROPPED gap
      stuck.grant(10_000);
      List<Object> frames = framesThrough(stuck, 5_000);
      DeliveryTest.assertCoversExactly(frames, 5_000);
      assertThat(stuck.events()).hasSize(100);
      assertThat(stuck.gaps()).singleElement().satisfies(g -> {
        assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_DROPPED);
        assertThat(g.getFirstSequence()).isEqualTo(101);
        assertThat(g.getCount()).isEqualTo(4_900);
      });
      // nothing was lost upstream: the relay's own subscription on B dropped nothing
      assertThat(subscriptions(b, "t").get(0).getDropped()).isZero();
      assertThat(relay.mirror().dropped()).isEqualTo(4_900);
      close(relay);
    }
  }

  @Test
  void whenTheOwnerDeletesTheTopicLocalStreamsEndWithNotFoundAndTheRelayStops() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("t");
      RelayTopic relay = relay(c, b, "t");
      TestSubscriber s = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST).build());
      s.keepGranting(100);
      b.publish("t", "e", 3, 3);
      s.awaitEvents(3);
      b.admin().deleteTopic(io.herald.proto.v1.DeleteTopicRequest.newBuilder().setName("t").build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
      relay.terminated().get(10, TimeUnit.SECONDS);
      assertThat(relay.closeReason()).isEqualTo(CloseReason.TOPIC_DELETED);
      assertThat(relay.relayStreamsOpen()).isZero();
      // a subscription that still finds the closed relay is refused with NOT_FOUND
      TestSubscriber late = TestSubscriber.open(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST).build());
      assertThat(late.awaitEnd().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
    }
  }

  @Test
  void aBlockSubscriberOnTheRelayNodeStuckPastMaxBlockIsEvictedThereAndTheTopicGoesOn() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setSubscriberBufferMaxEvents(100)
          .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(1))
          .build());
      RelayTopic relay = relay(c, b, "t", new AtomicReference<>(address(b)),
          new RelayTopic.Options(100, Duration.ofMillis(50), Duration.ofSeconds(2)));
      TestSubscriber stuck = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
      // lossless and keeping up (a DROP one of 100 events may lose the burst that follows the eviction, as on the owner)
      TestSubscriber fast = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
      fast.keepGranting(1_000);
      b.publish("t", "e", 1_000, 100);
      // evicted on C, as the owner would evict it, with the same status
      io.grpc.Status end = stuck.awaitEnd();
      assertThat(end.getCode()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED);
      assertThat(end.getDescription()).contains("slow consumer");
      assertThat(relay.mirror().evictions()).isEqualTo(1);
      // the others did not lose anything (the relay resubscribes from where it was if the owner evicted it too)
      DeliveryTest.assertCoversExactly(framesThrough(fast, 1_000), 1_000);
      assertThat(fast.gaps()).isEmpty();
      close(relay);
    }
  }

  @Test
  void aTopicThatForbidsBlockIsRelayedWithDropNewest() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder().setBlockPolicyAllowed(false).build());
      RelayTopic relay = relay(c, b, "t");
      assertThat(subscriptions(b, "t")).singleElement().satisfies(i -> {
        assertThat(i.getSubscriberName()).isEqualTo("relay:c");
        assertThat(i.getOverflowPolicy()).isEqualTo(OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST);
      });
      TestSubscriber s = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST).build());
      s.keepGranting(100);
      b.publish("t", "e", 10, 10);
      assertThat(s.awaitEvents(10)).extracting(DeliveredEvent::getSequence).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
      close(relay);
    }
  }

  /** A crash: the data dir as it was while the broker ran (nothing handed over, no clean stop recorded). */
  private static Path crashCopy(Path dir) throws Exception {
    Path copy = dir.resolveSibling(dir.getFileName() + "-crash");
    try (var paths = Files.walk(dir)) { // the Raft log and snapshots as they are on disk now
      for (Path p : (Iterable<Path>) paths::iterator) {
        Path to = copy.resolve(dir.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(to);
        } else if (!p.getFileName().toString().equals("in_use.lock")) {
          Files.copy(p, to);
        }
      }
    }
    return copy;
  }

  @Test
  void whenTheOwnerStopsAndComesBackTheLocalStreamStaysOpenAndGetsTheGapInBand(@TempDir Path dir) throws Exception {
    try (TestBroker c = new TestBroker()) {
      TestBroker b = new TestBroker(cfg -> cfg.withDataDir(dir));
      b.createTopic("t");
      long epoch = b.publish("t", "e", 10, 10).get(0).getEpoch();
      AtomicReference<String> owner = new AtomicReference<>(address(b));
      RelayTopic relay = relay(c, b, "t", owner, RelayTopic.Options.DEFAULTS);
      TestSubscriber s = TestSubscriber.started(c.subscriber(),
          at("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST, StartPositionKind.START_POSITION_KIND_SEQUENCE, 1).build());
      s.keepGranting(1_000);
      Path copy = crashCopy(dir); // what B's disk says while 1..10 exist
      b.publish("t", "f", 5, 5);
      s.awaitEvents(15);

      b.close(); // B goes away; the relay keeps trying
      await().atMost(Duration.ofSeconds(10)).until(() -> relay.relayStreamsOpen() == 0);
      try (TestBroker b2 = new TestBroker(cfg -> cfg.withDataDir(copy))) { // B comes back, after a crash, elsewhere
        owner.set(address(b2));
        await().atMost(Duration.ofSeconds(30)).until(() -> relaySubscriptions(b2, "t") == 1);
        long floor = b2.publish("t", "g", 3, 3).get(0).getSequence();
        assertThat(floor).isGreaterThan(15);
        List<Object> frames = framesThrough(s, floor + 2);
        assertThat(s.ended).isNotDone();
        // 1..15, then the owner's gap notice, in-band, then the new owner's events
        assertThat(frames).hasSize(15 + 1 + 3);
        assertThat(frames.get(15)).isInstanceOfSatisfying(GapNotice.class, g -> {
          assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_CRASH_RECOVERY);
          assertThat(g.getFirstSequence()).isEqualTo(16);
          assertThat(g.getLastSequence()).isEqualTo(floor - 1);
          assertThat(g.getEpoch()).isEqualTo(epoch);
          assertThat(g.getCountUnknown()).isTrue();
        });
        assertThat(((DeliveredEvent) frames.get(16)).getEpoch()).isGreaterThan(epoch);
        assertThat(relay.epoch()).isGreaterThan(epoch);
        assertThat(relay.reconnects()).isPositive();
        close(relay);
      }
    }
  }

  @Test
  void retargetingMovesTheRelayToTheNewOwnerWithoutEndingLocalStreams(@TempDir Path dir) throws Exception {
    try (TestBroker c = new TestBroker(); TestBroker b = new TestBroker(cfg -> cfg.withDataDir(dir))) {
      b.createTopic("t");
      b.publish("t", "e", 10, 10);
      Path copy = crashCopy(dir);
      AtomicReference<String> owner = new AtomicReference<>(address(b));
      RelayTopic relay = relay(c, b, "t", owner, RelayTopic.Options.DEFAULTS);
      TestSubscriber s = TestSubscriber.started(c.subscriber(), init("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST).build());
      s.keepGranting(1_000);
      b.publish("t", "f", 5, 5); // 11..15
      s.awaitEvents(5);
      try (TestBroker b2 = new TestBroker(cfg -> cfg.withDataDir(copy))) { // the topic's new owner
        owner.set(address(b2));
        relay.retarget(address(b2));
        await().atMost(Duration.ofSeconds(10)).until(() -> relaySubscriptions(b2, "t") == 1 && relaySubscriptions(b, "t") == 0);
        long floor = b2.publish("t", "g", 1, 1).get(0).getSequence();
        List<Object> frames = framesThrough(s, floor);
        assertThat(s.ended).isNotDone();
        assertThat(frames).hasSize(5 + 1 + 1);
        assertThat(frames.get(5)).isInstanceOfSatisfying(GapNotice.class, g -> {
          assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_CRASH_RECOVERY);
          assertThat(g.getFirstSequence()).isEqualTo(16);
          assertThat(g.getLastSequence()).isEqualTo(floor - 1);
        });
        close(relay);
      }
    }
  }

  @Test
  void startPositionsOnTheRelayNodeGiveWhatTheOwnerGives() throws Exception {
    try (TestBroker b = new TestBroker(); TestBroker c = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder().setRetention(io.herald.proto.v1.Retention.newBuilder().setMaxEvents(50)).build());
      b.publish("t", "old", 100, 10); // the owner retains 51..100
      RelayTopic relay = relay(c, b, "t");
      // ready: it has what the owner had when it started, so a LATEST start here is as current as there
      assertThat(relay.nextSequence()).isEqualTo(101);
      List<SubscribeInit> starts = new ArrayList<>();
      for (StartPositionKind k : new StartPositionKind[] {StartPositionKind.START_POSITION_KIND_EARLIEST, StartPositionKind.START_POSITION_KIND_LATEST}) {
        starts.add(at("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK, k, 0).build());
      }
      for (long seq : new long[] {10, 51, 70, 100, 101, 130}) {
        starts.add(at("t", OverflowPolicy.OVERFLOW_POLICY_BLOCK, StartPositionKind.START_POSITION_KIND_SEQUENCE, seq).build());
      }
      List<TestSubscriber> onOwner = new ArrayList<>();
      List<TestSubscriber> onRelay = new ArrayList<>();
      for (SubscribeInit i : starts) {
        TestSubscriber o = TestSubscriber.started(b.subscriber(), i);
        TestSubscriber r = TestSubscriber.started(c.subscriber(), i);
        o.keepGranting(1_000);
        r.keepGranting(1_000);
        onOwner.add(o);
        onRelay.add(r);
      }
      b.publish("t", "new", 60, 10); // 101..160
      for (int i = 0; i < starts.size(); i++) {
        SubscriptionStarted so = onOwner.get(i).started.get();
        SubscriptionStarted sr = onRelay.get(i).started.get();
        assertThat(sr.getStartSequence()).as("start of %s", starts.get(i).getStartPosition()).isEqualTo(so.getStartSequence());
        assertThat(sr.getStartEpoch()).isEqualTo(so.getStartEpoch());
        assertThat(framesThrough(onRelay.get(i), 160)).as("frames of %s", starts.get(i).getStartPosition())
            .isEqualTo(framesThrough(onOwner.get(i), 160));
      }
      assertThat(relaySubscriptions(b, "t")).isEqualTo(1);
      close(relay);
    }
  }

  /**
   * A stand-in owner that sends what a new owner sends after a move: events of the old epoch, an
   * OWNER_CHANGE gap notice, events of the new epoch; the relay passes the notice through as is.
   */
  @Test
  void anOwnerChangeNoticeReachesLocalSubscribersAsTheOwnerSentIt() throws Exception {
    Server fake = NettyServerBuilder.forAddress(new java.net.InetSocketAddress("127.0.0.1", 0))
        .addService(new SubscribeServiceGrpc.SubscribeServiceImplBase() {
          @Override
          public StreamObserver<SubscribeRequest> subscribe(StreamObserver<SubscribeResponse> out) {
            return new StreamObserver<>() {
              @Override
              public void onNext(SubscribeRequest r) {
                if (!r.hasInit()) {
                  return;
                }
                out.onNext(SubscribeResponse.newBuilder().setStarted(SubscriptionStarted.newBuilder()
                    .setSubscriptionId("sub-1").setStartSequence(1).setStartEpoch(5)).build());
                out.onNext(batch(5, 1, 2, 3));
                out.onNext(SubscribeResponse.newBuilder().setGap(GapNotice.newBuilder().setFirstSequence(4).setLastSequence(6)
                    .setCount(3).setReason(GapReason.GAP_REASON_OWNER_CHANGE).setEpoch(5)).build());
                out.onNext(batch(9, 7));
              }

              @Override
              public void onError(Throwable t) { }

              @Override
              public void onCompleted() { }
            };
          }
        })
        .addService(new io.herald.proto.v1.TopicAdminServiceGrpc.TopicAdminServiceImplBase() {
          @Override
          public void getTopic(GetTopicRequest r, StreamObserver<io.herald.proto.v1.GetTopicResponse> out) {
            out.onNext(io.herald.proto.v1.GetTopicResponse.newBuilder().setTopic(io.herald.proto.v1.Topic.newBuilder()
                .setName(r.getName()).setStats(TopicStats.newBuilder().setNextSequence(1))).build());
            out.onCompleted();
          }
        }).build().start();
    try (TestBroker c = new TestBroker()) {
      RelayTopic relay = new RelayTopic("t", TopicSettings.DEFAULTS, 0, "c", () -> "127.0.0.1:" + fake.getPort()).start();
      c.broker.topics().overrideResolveForTests("t", relay.ready());
      TestSubscriber s = TestSubscriber.started(c.subscriber(),
          at("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST, StartPositionKind.START_POSITION_KIND_EARLIEST, 0).build());
      s.keepGranting(100);
      List<Object> frames = framesThrough(s, 7);
      assertThat(frames).hasSize(5);
      assertThat(frames.get(3)).isEqualTo(GapNotice.newBuilder().setFirstSequence(4).setLastSequence(6)
          .setCount(3).setReason(GapReason.GAP_REASON_OWNER_CHANGE).setEpoch(5).build());
      assertThat(((DeliveredEvent) frames.get(4)).getEpoch()).isEqualTo(9);
      assertThat(relay.epoch()).isEqualTo(9);
      // publishing is not the relay's business: it refuses, and its subscribers are not disturbed
      assertThat(org.assertj.core.api.Assertions.catchThrowableOfType(io.grpc.StatusRuntimeException.class,
          () -> c.publish("t", "p", 1, 1)).getStatus().getCode()).isEqualTo(io.grpc.Status.Code.UNAVAILABLE);
      // a subscriber that starts later, inside the relayed history, reads the same notice from it
      TestSubscriber late = TestSubscriber.started(c.subscriber(),
          at("t", OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST, StartPositionKind.START_POSITION_KIND_SEQUENCE, 2).build());
      late.keepGranting(100);
      assertThat(framesThrough(late, 7)).isEqualTo(frames.subList(1, 5));
      close(relay);
    } finally {
      fake.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static SubscribeResponse batch(long epoch, long... sequences) {
    EventBatch.Builder b = EventBatch.newBuilder();
    for (long seq : sequences) {
      b.addEvents(DeliveredEvent.newBuilder().setSequence(seq).setEpoch(epoch)
          .setPublishTime(Timestamp.newBuilder().setSeconds(System.currentTimeMillis() / 1000))
          .setEvent(TestBroker.event("e" + seq)));
    }
    return SubscribeResponse.newBuilder().setBatch(b).build();
  }
}
