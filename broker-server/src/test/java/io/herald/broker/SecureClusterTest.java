package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.herald.broker.security.SecurityConfig;
import io.herald.broker.security.TestPki;
import io.herald.broker.security.TokenFile;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeServiceGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A three-node cluster with TLS everywhere (client port, broker-to-broker links, Raft with mutual
 * TLS), tokens and an ACL: the brokers form the metadata group, forward a publish taken on one node
 * to the topic's owner and relay its events to a subscriber on the third, each presenting its peer
 * token; a client's grants are checked by the node it calls, whichever node owns the topic.
 */
@Timeout(180)
class SecureClusterTest {
  static final String PEER_TOKEN = "hrld_peer-0123456789abcdefghijklmnopqrstuvwxyz";

  @TempDir
  Path dir;
  TestCluster cluster;
  final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void tearDown() {
    channels.forEach(ManagedChannel::shutdownNow);
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aSecuredClusterForwardsAndRelaysBetweenItsBrokers() throws Exception {
    TestPki pki = new TestPki(dir, "herald");
    TestPki.Issued cert = pki.server("broker"); // one certificate for the three (all on 127.0.0.1)
    Path tokens = dir.resolve("tokens.txt");
    Files.writeString(tokens, "alice sha256:" + TokenFile.sha256Hex(SecurityTest.ALICE_TOKEN) + " producers\n"
        + "bob sha256:" + TokenFile.sha256Hex(SecurityTest.BOB_TOKEN) + "\n"
        + "broker sha256:" + TokenFile.sha256Hex(PEER_TOKEN) + " herald-peers\n");
    Path peerToken = dir.resolve("peer-token");
    Files.writeString(peerToken, PEER_TOKEN + "\n");
    Path acl = dir.resolve("acl.yaml");
    Files.writeString(acl, """
        - group: producers
          topics: ["orders.*"]
          allow: [publish, subscribe, admin]
        """);
    SecurityConfig sec = new SecurityConfig(cert.certFile(), cert.keyFile(), null, SecurityConfig.ClientAuth.NONE, Duration.ofSeconds(1),
        Set.of("token"), tokens, null, null, null, acl, null, pki.caFile(), peerToken);
    cluster = new TestCluster(dir, 3, 0, Duration.ofMillis(500), Duration.ofSeconds(2), c -> c.withSecurity(sec));

    ManagedChannel n1 = channel(pki, "n1");
    SecurityTest.admin(n1, SecurityTest.ALICE_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("orders.eu").build());
    String owner = cluster.owner("orders.eu");
    List<String> others = new ArrayList<>(List.of("n1", "n2", "n3"));
    others.remove(owner);
    ManagedChannel pubNode = channel(pki, others.get(0));
    ManagedChannel subNode = channel(pki, others.get(1));

    TestSubscriber sub = TestSubscriber.started(SubscribeServiceGrpc.newStub(subNode).withCallCredentials(SecurityTest.bearer(
        SecurityTest.ALICE_TOKEN)), SubscribeInit.newBuilder().setTopic("orders.eu").build());
    sub.grant(100);
    assertThat(SecurityTest.publisher(pubNode, SecurityTest.ALICE_TOKEN).publish(SecurityTest.publish("orders.eu", "forwarded"))
        .getAcksCount()).isEqualTo(1);
    assertThat(sub.awaitEvents(1)).extracting(e -> e.getEvent().getId()).containsExactly("forwarded");

    // Raft speaks TLS only: a plaintext call to a Raft port fails to connect (plaintext Raft would answer UNIMPLEMENTED)
    ManagedChannel plainRaft = io.grpc.netty.NettyChannelBuilder.forTarget(cluster.peers.get(owner)).usePlaintext().build();
    channels.add(plainRaft);
    assertThatThrownBy(() -> io.grpc.health.v1.HealthGrpc.newBlockingStub(plainRaft).withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
        .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));

    // a client's grants are checked where it calls, not waved through by the owner
    assertThatThrownBy(() -> SecurityTest.publisher(pubNode, SecurityTest.BOB_TOKEN).publish(SecurityTest.publish("orders.eu", "b")))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
  }

  private ManagedChannel channel(TestPki pki, String node) throws Exception {
    ManagedChannel c = Grpc.newChannelBuilderForAddress("127.0.0.1", cluster.node(node).broker.port(),
        TlsChannelCredentials.newBuilder().trustManager(pki.caFile().toFile()).build()).overrideAuthority("localhost").build();
    channels.add(c);
    return c;
  }
}
