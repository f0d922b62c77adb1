package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ClusterNode;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.GetClusterStatusRequest;
import io.herald.proto.v1.GetClusterStatusResponse;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Topic ownership in a cluster of three in-JVM brokers on loopback: one owner per topic, agreed by
 * every node; an owner lost (killed, or cut off from the metadata) or drained moves its topics to
 * another node in a new epoch, and subscribers resuming from the old epoch are told what they lost.
 */
class ClusterOwnershipTest {
  @TempDir Path dir;
  private TestCluster cluster;

  @AfterEach
  void closeAll() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** The (new) owner, once every live node agrees it is not {@code old} and it runs the topic. */
  private String awaitMovedFrom(String topic, String old, Duration within) {
    String[] owner = new String[1];
    await().atMost(within).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
      Set<String> owners = cluster.live().stream().map(b -> b.broker.metadata().get(topic).orElseThrow().owner())
          .collect(Collectors.toSet());
      assertThat(owners).hasSize(1).doesNotContain(old, "");
      owner[0] = owners.iterator().next();
      assertThat(cluster.node(owner[0]).broker.topics().local(topic)).isPresent();
    });
    return owner[0];
  }

  @Test
  void everyNodeAgreesOnOneOwnerPerTopicAndTopicsSpreadOverTheNodes() throws Exception {
    cluster = new TestCluster(dir, 3);
    for (int i = 0; i < 30; i++) {
      cluster.node("n" + (1 + i % 3)).createTopic("t" + i);
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      for (int i = 0; i < 30; i++) {
        String topic = "t" + i;
        Set<String> owners = cluster.live().stream().map(b -> b.broker.metadata().get(topic).orElseThrow().owner())
            .collect(Collectors.toSet());
        assertThat(owners).as(topic).hasSize(1);
        String owner = owners.iterator().next();
        // exactly the owner runs the topic's loop
        for (String id : List.of("n1", "n2", "n3")) {
          assertThat(cluster.node(id).broker.topics().local(topic).isPresent()).as(topic + " on " + id).isEqualTo(id.equals(owner));
        }
        // the API says who owns it, on every node
        assertThat(cluster.node("n2").admin().getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getOwner())
            .isEqualTo(owner);
      }
    });
    GetClusterStatusResponse status = cluster.node("n3").admin().getClusterStatus(GetClusterStatusRequest.getDefaultInstance());
    assertThat(status.getNodesList()).extracting(ClusterNode::getNodeId).containsExactly("n1", "n2", "n3");
    assertThat(status.getNodesList()).allMatch(ClusterNode::getAlive);
    assertThat(status.getNodesList()).allSatisfy(n -> assertThat(n.getTopicsOwned()).isPositive()); // rendezvous spreads 30 topics
    assertThat(status.getNodesList().stream().mapToInt(ClusterNode::getTopicsOwned).sum()).isEqualTo(30);
    assertThat(status.getLeaderId()).isIn("n1", "n2", "n3");
    assertThat(status.getTerm()).isPositive();
    assertThat(status.getNodesList()).filteredOn(n -> n.getNodeId().equals(status.getLeaderId()))
        .extracting(ClusterNode::getRole).containsExactly("leader");
    assertThat(status.getNodesList()).allSatisfy(n -> assertThat(n.getAddress()).startsWith("127.0.0.1:"));
  }

  @Test
  void ownerKilledTopicMovesToAnotherNodeInANewEpochAndResumingSubscribersAreToldWhatIsLost() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n1").createTopic("orders");
    String first = cluster.owner("orders");
    List<PublishAck> acks = cluster.node(first).publish("orders", "e", 10, 10);
    long oldEpoch = acks.get(0).getEpoch();

    long killedAt = System.nanoTime();
    cluster.halt(first);
    // meanwhile: the topic is unavailable (retryable), never "not found"
    String survivor = cluster.live().get(0).broker.metadata().nodeId();
    assertThatThrownBy(() -> cluster.node(survivor).publish("orders", "x", 1, 1))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));

    String next = awaitMovedFrom("orders", first, Duration.ofSeconds(20));
    TopicRecord r = cluster.record(next, "orders");
    assertThat(r.epoch()).isGreaterThan(oldEpoch);
    assertThat(r.epochCause()).isEqualTo(EpochCause.EPOCH_CAUSE_OWNER_CHANGE);
    assertThat(r.epochStartSequence()).isGreaterThan(10); // above the reserved floor: nothing reused
    PublishAck a = cluster.node(next).publish("orders", "f", 1, 1).get(0);
    long failoverMillis = (System.nanoTime() - killedAt) / 1_000_000;
    assertThat(a.getEpoch()).isEqualTo(r.epoch());
    assertThat(a.getSequence()).isEqualTo(r.epochStartSequence());
    System.out.printf("owner killed -> first publish accepted by the new owner: %d ms (election 500 ms, liveness 2 s)%n", failoverMillis);

    // a subscriber that had 1..5 of the old epoch resumes on the new owner
    TestSubscriber s = TestSubscriber.started(cluster.node(next).subscriber(), TestSubscriber.resumeAt("orders", oldEpoch, 6));
    s.awaitEvents(1);
    GapNotice g = s.gaps().get(0);
    assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_OWNER_CHANGE);
    assertThat(g.getCountUnknown()).isTrue();
    assertThat(g.getFirstSequence()).isEqualTo(6);
    assertThat(g.getLastSequence()).isEqualTo(r.epochStartSequence() - 1);
    assertThat(s.events()).extracting(DeliveredEvent::getSequence).containsExactly(a.getSequence());
  }

  @Test
  void drainingOwnerHandsItsTopicsOverAtTheExactNextSequence() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n2").createTopic("orders");
    String first = cluster.owner("orders");
    long oldEpoch = cluster.node(first).publish("orders", "e", 10, 10).get(0).getEpoch();

    cluster.stop(first); // SIGTERM: drain, hand over, stop
    String next = awaitMovedFrom("orders", first, Duration.ofSeconds(20));
    TopicRecord r = cluster.record(next, "orders");
    assertThat(r.epoch()).isGreaterThan(oldEpoch);
    assertThat(r.epochCause()).isEqualTo(EpochCause.EPOCH_CAUSE_OWNER_CHANGE);
    assertThat(r.epochStartSequence()).isEqualTo(11); // exact: no hole
    assertThat(r.crashLostBelow()).isZero();
    PublishAck a = cluster.node(next).publish("orders", "f", 1, 1).get(0);
    assertThat(a.getSequence()).isEqualTo(11);

    // a subscriber that had everything resumes without losing anything
    TestSubscriber s = TestSubscriber.started(cluster.node(next).subscriber(), TestSubscriber.resumeAt("orders", oldEpoch, 11));
    s.awaitEvents(1);
    // told of the move before the new epoch's first event, with nothing lost
    assertThat(s.frames().get(0)).isInstanceOfSatisfying(GapNotice.class, g -> {
      assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_OWNER_CHANGE);
      assertThat(g.getCount()).isZero();
      assertThat(g.getCountUnknown()).isFalse();
      assertThat(g.getFirstSequence()).isEqualTo(11);
      assertThat(g.getEpoch()).isEqualTo(oldEpoch);
    });
    assertThat(s.gaps()).hasSize(1);
    assertThat(s.events()).extracting(DeliveredEvent::getSequence).containsExactly(11L);
    // the drained node is not alive; the other two are
    GetClusterStatusResponse status = cluster.node(next).admin().getClusterStatus(GetClusterStatusRequest.getDefaultInstance());
    assertThat(status.getNodesList()).filteredOn(n -> n.getNodeId().equals(first)).extracting(ClusterNode::getAlive).containsExactly(false);
  }

  /** A publish request of events "id-from".."id-(to-1)" with those publisher ids. */
  private static io.herald.proto.v1.PublishRequest withIds(String topic, int from, int to) {
    io.herald.proto.v1.PublishRequest.Builder b = io.herald.proto.v1.PublishRequest.newBuilder().setTopic(topic);
    for (int i = from; i < to; i++) {
      b.addEvents(TestBroker.event("e-" + i).toBuilder().setId("id-" + i).setSource("orders-service"));
    }
    return b.build();
  }

  @Test
  void aPublishersRetryAfterADrainHandOverIsRecognizedByTheNewOwner() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n1").createTopic("orders");
    String first = cluster.owner("orders");
    List<PublishAck> original = cluster.node(first).publisher().publish(withIds("orders", 0, 50)).getAcksList();

    cluster.stop(first); // SIGTERM: its dedup window travels with the topic
    String next = awaitMovedFrom("orders", first, Duration.ofSeconds(20));
    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.node(next).broker.topics().local("orders").isPresent());

    // the publisher did not see its acks (the connection broke) and retries, through another node
    String via = cluster.other(next);
    List<PublishAck> retried = cluster.node(via).publisher().publish(withIds("orders", 0, 50)).getAcksList();
    assertThat(retried).allSatisfy(a -> assertThat(a.getDuplicate()).as("recognized as a duplicate").isTrue());
    assertThat(retried).extracting(PublishAck::getSequence).containsExactlyElementsOf(original.stream().map(PublishAck::getSequence).toList());
    assertThat(retried).extracting(PublishAck::getEpoch).containsOnly(original.get(0).getEpoch());
    // new ids go on at the exact next sequence, in the new owner's epoch
    PublishAck fresh = cluster.node(via).publisher().publish(withIds("orders", 50, 51)).getAcks(0);
    assertThat(fresh.getDuplicate()).isFalse();
    assertThat(fresh.getSequence()).isEqualTo(51);
    assertThat(fresh.getEpoch()).isGreaterThan(original.get(0).getEpoch());
  }

  /**
   * The dedup ids go to the other nodes before the release, but a peer that does not answer (slow,
   * half-dead) must not cost the hand-over: the release goes on after a bounded wait, and the next
   * owner continues at the exact next sequence. Before, the release waited for every part (2 s
   * each, per node) and a node that never answered turned the drain into a lost owner.
   */
  @Test
  void aPeerThatNeverTakesTheDedupIdsDoesNotCostTheHandOver() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n1").createTopic("orders");
    String first = cluster.owner("orders");
    cluster.node(first).publisher().publish(withIds("orders", 0, 50));
    cluster.node(first).broker.topics().dedupHandOver(new io.herald.broker.topic.TopicRegistry.DedupHandOver() {
      @Override
      public java.util.concurrent.CompletableFuture<Void> handOver(io.herald.broker.topic.Topic t, java.util.Map<String, PublishAck> ids) {
        return new java.util.concurrent.CompletableFuture<>(); // never answered
      }

      @Override
      public java.util.Map<String, PublishAck> take(TopicRecord r) {
        return null;
      }
    });
    cluster.stop(first);
    String next = awaitMovedFrom("orders", first, Duration.ofSeconds(20));
    TopicRecord r = cluster.record(next, "orders");
    assertThat(r.epochStartSequence()).as("the new epoch starts at the exact next sequence (a hand-over, not a loss): %s", r).isEqualTo(51);
    assertThat(r.crashLostBelow()).as("nothing counted as lost").isZero();
  }

  @Test
  void anOwnerCutOffFromTheMetadataStopsAcceptingBeforeItsTopicsMove() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n3").createTopic("orders");
    String first = cluster.owner("orders");
    TestBroker stale = cluster.node(first);
    stale.publish("orders", "e", 5, 5);
    // its metadata peer stops (a partition as far as it can tell): it may no longer be the owner
    stale.broker.metadata().close();
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThatThrownBy(() -> stale.publish("orders", "x", 1, 1))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(Errors.info(e).getReason()).isEqualTo("OWNER_UNAVAILABLE");
        }));
    // the others move the topic; the stale node keeps refusing: never two owners accepting
    String survivor = cluster.other(first);
    await().atMost(Duration.ofSeconds(20)).until(() -> !cluster.record(survivor, "orders").owner().equals(first));
    String next = cluster.record(survivor, "orders").owner();
    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.node(next).broker.topics().local("orders").isPresent());
    assertThat(cluster.node(next).publish("orders", "f", 1, 1).get(0).getSequence()).isGreaterThan(5);
    assertThatThrownBy(() -> stale.publish("orders", "y", 1, 1)).isInstanceOf(StatusRuntimeException.class);
  }

  @Test
  void topicsSurviveARestartOfTheWholeCluster() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n1").createTopic("orders");
    String owner = cluster.owner("orders");
    long epoch = cluster.node(owner).publish("orders", "e", 3, 3).get(0).getEpoch();
    cluster.close(); // every node drains; nobody is left to take the topic: it stays where it was, exactly
    cluster.startAll();
    String now = awaitMovedFrom("orders", "", Duration.ofSeconds(20));
    PublishAck a = cluster.node(now).publish("orders", "f", 1, 1).get(0);
    assertThat(a.getSequence()).isEqualTo(4); // exact: a clean stop of the whole cluster loses nothing
    assertThat(a.getEpoch()).isGreaterThanOrEqualTo(epoch);
  }

  @Test
  void aSubscriberOnANodeThatDoesNotOwnTheTopicIsServedByOneRelayThatFollowsTheOwner() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n1").createTopic("orders");
    String first = cluster.owner("orders");
    String relayNode = cluster.other(first);
    TestBroker owner = cluster.node(first);
    owner.publish("orders", "e", 5, 5);
    long oldEpoch = cluster.record(first, "orders").epoch();

    // two subscribers on a node that does not own the topic: one upstream subscription on the owner
    SubscribeInit fromStart = SubscribeInit.newBuilder().setTopic("orders")
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST))
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1_000)).build();
    TestSubscriber a = TestSubscriber.started(cluster.node(relayNode).subscriber(), fromStart);
    TestSubscriber b = TestSubscriber.started(cluster.node(relayNode).subscriber(), fromStart);
    // and one on the third node: whichever of the two becomes the new owner, the other keeps relaying
    String third = List.of("n1", "n2", "n3").stream().filter(n -> !n.equals(first) && !n.equals(relayNode)).findFirst().orElseThrow();
    TestSubscriber c = TestSubscriber.started(cluster.node(third).subscriber(), fromStart);
    owner.publish("orders", "f", 5, 5);
    a.awaitEvents(10);
    b.awaitEvents(10);
    assertThat(a.events()).extracting(DeliveredEvent::getSequence).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    c.awaitEvents(10);
    assertThat(owner.broker.topics().local("orders").orElseThrow().subscriptions())
        .extracting(sub -> sub.name()).containsExactlyInAnyOrder("relay:" + relayNode, "relay:" + third);

    // the owner is killed: the local streams stay open, the relay moves to the new owner and the
    // subscribers are told in-band
    cluster.halt(first);
    String next = awaitMovedFrom("orders", first, Duration.ofSeconds(20));
    long start = cluster.record(next, "orders").epochStartSequence();
    cluster.node(next).publish("orders", "g", 1, 1);
    // one of the two subscribing nodes is the new owner (its relay now follows its own loop), the
    // other relays from it: on both, the streams stay open and get the notice in-band
    for (TestSubscriber s : List.of(a, c)) {
      s.awaitEvents(11);
      assertThat(s.gaps()).singleElement().satisfies(g -> {
        assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_OWNER_CHANGE);
        assertThat(g.getCountUnknown()).isTrue();
        assertThat(g.getFirstSequence()).isEqualTo(11);
        assertThat(g.getEpoch()).isEqualTo(oldEpoch);
      });
      assertThat(s.events().get(10).getSequence()).isEqualTo(start);
      assertThat(s.events().get(10).getEpoch()).isGreaterThan(oldEpoch);
      assertThat(s.ended).isNotDone();
    }
  }

  @Test
  void createOnOneNodePublishOnASecondSubscribeOnTheThird() throws Exception {
    cluster = new TestCluster(dir, 3);
    cluster.node("n1").createTopic("orders");
    String owner = cluster.owner("orders");
    List<String> others = List.of("n1", "n2", "n3").stream().filter(n -> !n.equals(owner)).toList();
    String publishOn = others.get(0);
    String subscribeOn = others.get(1);
    TestSubscriber s = TestSubscriber.started(cluster.node(subscribeOn).subscriber(), SubscribeInit.newBuilder().setTopic("orders")
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST))
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1_000)).build());
    // neither the publishing nor the subscribing node owns the topic: forwarded, then relayed
    List<PublishAck> acks = cluster.node(publishOn).publish("orders", "e", 100, 10);
    assertThat(acks).extracting(PublishAck::getSequence).containsExactlyElementsOf(
        java.util.stream.LongStream.rangeClosed(1, 100).boxed().toList());
    s.awaitEvents(100);
    assertThat(s.events()).extracting(DeliveredEvent::getSequence).containsExactlyElementsOf(
        java.util.stream.LongStream.rangeClosed(1, 100).boxed().toList());
    assertThat(s.events().get(99).getEvent().getData().toStringUtf8()).isEqualTo("e-99");
    assertThat(s.gaps()).isEmpty();
    // one forward stream from the publishing node, one relay subscription from the subscribing one
    assertThat(cluster.node(publishOn).broker.metrics().scrape()).contains("herald_forward_streams{direction=\"out\"} 1.0");
    assertThat(cluster.node(owner).broker.topics().local("orders").orElseThrow().subscriptions())
        .extracting(sub -> sub.name()).containsExactly("relay:" + subscribeOn);
  }

  /**
   * Read-your-writes across nodes: a client told "created" by one node and sent straight to another
   * (the SDK's next endpoint) is served there, never told NOT_FOUND because that node has not yet
   * applied the change (followers learn of a commit only with the leader's next message). Many
   * topics, each created through one node and used at once through the next.
   */
  @Test
  void aTopicCreatedThroughOneNodeIsServedAtOnceByTheOthers() throws Exception {
    cluster = new TestCluster(dir, 3);
    List<String> ids = List.of("n1", "n2", "n3");
    for (int i = 0; i < 30; i++) {
      String topic = "fresh-" + i;
      cluster.node(ids.get(i % 3)).createTopic(topic);
      TestBroker next = cluster.node(ids.get((i + 1) % 3));
      TestBroker third = cluster.node(ids.get((i + 2) % 3));
      assertThat(next.admin().getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getName())
          .as("GetTopic of %s right after its create", topic).isEqualTo(topic);
      assertThat(third.publish(topic, "e", 1, 1)).as("publish to %s right after its create", topic).hasSize(1);
    }
    // and a topic that does not exist is still NOT_FOUND, on every node
    for (String id : ids) {
      assertThatThrownBy(() -> cluster.node(id).publish("never-created", "e", 1, 1))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }
    // a node cut off from the metadata cannot know what was created meanwhile: UNAVAILABLE (retry,
    // elsewhere), never NOT_FOUND, which a client takes as final
    TestBroker cut = cluster.node("n3");
    cut.broker.metadata().close();
    cluster.node("n1").createTopic("created-while-cut-off");
    for (String topic : List.of("created-while-cut-off", "never-created")) {
      assertThatThrownBy(() -> cut.publish(topic, "e", 1, 1)).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> assertThat(e.getStatus().getCode()).as("publish to %s on a cut-off node: %s", topic, e.getStatus()).isEqualTo(Status.Code.UNAVAILABLE));
      assertThatThrownBy(() -> cut.admin().getTopic(GetTopicRequest.newBuilder().setName(topic).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).as("GetTopic %s on a cut-off node: %s", topic, e.getStatus()).isEqualTo(Status.Code.UNAVAILABLE));
    }
  }
  /**
   * A burst of lookups for topics that do not exist (a misconfigured fleet, a typo in a loop) on a
   * follower: each must hear NOT_FOUND only after the node caught up with the leader, but the reads
   * to the leader are shared: a read answers every lookup that arrived before it was sent. Before,
   * each lookup sent its own ordered read, and past the Raft client's window of 100 the caller (a
   * Netty event loop) blocked, stalling every other client on that loop.
   */
  @Test
  void aBurstOfLookupsForUnknownTopicsSharesItsReadsOfTheLeader() throws Exception {
    cluster = new TestCluster(dir, 3);
    TestBroker follower = cluster.live().stream().filter(b -> !((io.herald.broker.metadata.RaftMetadataStore) b.broker.metadata()).isLeader())
        .findFirst().orElseThrow();
    follower.createTopic("present");
    long readsBefore = follower.broker.metadata().leaderReads();
    var stub = io.herald.proto.v1.TopicAdminServiceGrpc.newFutureStub(follower.channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    int burst = 2_000;
    List<com.google.common.util.concurrent.ListenableFuture<io.herald.proto.v1.GetTopicResponse>> lookups = new java.util.ArrayList<>();
    for (int i = 0; i < burst; i++) {
      lookups.add(stub.getTopic(GetTopicRequest.newBuilder().setName("missing-" + i).build()));
    }
    // another client on the same node meanwhile
    assertThat(follower.admin().getTopic(GetTopicRequest.newBuilder().setName("present").build()).getTopic().getName()).isEqualTo("present");
    for (var f : lookups) {
      assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(StatusRuntimeException.class)
          .satisfies(e -> assertThat(Status.fromThrowable(e.getCause()).getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }
    long reads = follower.broker.metadata().leaderReads() - readsBefore;
    assertThat(reads).as("reads of the leader for %d concurrent lookups", burst).isBetween(1L, burst / 10L);
  }
}
