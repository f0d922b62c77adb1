package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.proto.v1.ClusterNode;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.GetClusterStatusRequest;
import io.herald.proto.v1.GetClusterStatusResponse;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker started with {@code --peers} that does not name it joins as a non-voting member (a Raft
 * listener): it gets the metadata, owns topics and serves clients like any node, but it does not
 * vote and the voters commit without it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ClusterListenerTest {
  @TempDir
  Path dir;

  private TestCluster cluster;

  @AfterEach
  void close() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aNonVotingMemberServesClientsOwnsTopicsAndIsNotNeededForCommits() throws Exception {
    cluster = new TestCluster(dir, 3, 1, Duration.ofMillis(500), Duration.ofSeconds(2));
    TestBroker n4 = cluster.node("n4");

    // every node lists it as a live listener; the leader is a voter
    GetClusterStatusResponse status = n4.admin().getClusterStatus(GetClusterStatusRequest.getDefaultInstance());
    assertThat(status.getNodesList()).extracting(ClusterNode::getNodeId).containsExactlyInAnyOrder("n1", "n2", "n3", "n4");
    assertThat(status.getNodesList()).filteredOn(n -> n.getNodeId().equals("n4"))
        .singleElement().satisfies(n -> {
          assertThat(n.getRole()).isEqualTo("listener");
          assertThat(n.getAlive()).isTrue();
        });
    assertThat(status.getLeaderId()).isIn("n1", "n2", "n3");
    assertThat(n4.broker.metadata().cluster().role()).isEqualTo("listener");

    // it creates, publishes and subscribes like any node; topics spread onto it too
    String ownedByListener = null;
    for (int i = 0; i < 40 && ownedByListener == null; i++) {
      String t = "t" + i;
      n4.createTopic(t);
      if (cluster.owner(t).equals("n4")) {
        ownedByListener = t;
      }
    }
    assertThat(ownedByListener).as("one of 40 topics is given to the listener").isNotNull();
    String topic = ownedByListener;
    TestSubscriber s = TestSubscriber.started(cluster.node("n2").subscriber(), SubscribeInit.newBuilder().setTopic(topic)
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST))
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(100)).build());
    List<PublishAck> acks = cluster.node("n1").publish(topic, "e", 10, 5); // forwarded to the listener
    assertThat(acks).extracting(PublishAck::getSequence).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    s.awaitEvents(10);
    assertThat(s.events()).extracting(DeliveredEvent::getSequence).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);

    // lost: the voters go on committing without it, and its topics move to them
    cluster.halt("n4");
    cluster.node("n1").createTopic("after-the-listener");
    await().atMost(Duration.ofSeconds(20)).until(() -> !cluster.record("n1", topic).owner().equals("n4"));
    String next = cluster.record("n1", topic).owner();
    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.node(next).broker.topics().local(topic).isPresent());
    assertThat(cluster.node(next).publish(topic, "f", 1, 1).get(0).getSequence()).isGreaterThan(10);
  }
}
