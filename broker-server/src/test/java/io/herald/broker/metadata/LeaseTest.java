package io.herald.broker.metadata;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import java.util.Set;
import org.apache.ratis.proto.RaftProtos.FollowerInfoProto;
import org.apache.ratis.proto.RaftProtos.LeaderInfoProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.junit.jupiter.api.Test;

/**
 * The ownership lease from a node's Raft role info ({@link RaftMetadataStore#leaseHolds}). A
 * partitioned owner (CI, ClusterIT) kept acking publishes for its whole partition: as a follower
 * that knew no leader, Ratis reported a leader info without a peer id and an elapsed time that
 * restarts with each failed pre-vote, and that counted as contact with the leader.
 */
class LeaseTest {
  private static final Set<String> VOTERS = Set.of("n1", "n2", "n3");
  private static final long LEASE = 2_500;

  private static ServerRpcProto rpc(String id, long elapsedMs) {
    ServerRpcProto.Builder b = ServerRpcProto.newBuilder().setLastRpcElapsedTimeMs(elapsedMs);
    if (id != null) {
      b.setId(RaftPeerProto.newBuilder().setId(ByteString.copyFromUtf8(id)));
    }
    return b.build();
  }

  private static RoleInfoProto follower(ServerRpcProto leader) {
    return RoleInfoProto.newBuilder().setRole(RaftPeerRole.FOLLOWER)
        .setFollowerInfo(FollowerInfoProto.newBuilder().setLeaderInfo(leader)).build();
  }

  private static RoleInfoProto leader(ServerRpcProto... followers) {
    LeaderInfoProto.Builder b = LeaderInfoProto.newBuilder();
    for (ServerRpcProto f : followers) {
      b.addFollowerInfo(f);
    }
    return RoleInfoProto.newBuilder().setRole(RaftPeerRole.LEADER).setLeaderInfo(b).build();
  }

  @Test
  void aFollowerThatHeardFromItsLeaderWithinTheLeaseHoldsIt() {
    assertThat(RaftMetadataStore.leaseHolds(follower(rpc("n1", 100)), VOTERS, LEASE, null)).isTrue();
    assertThat(RaftMetadataStore.leaseHolds(follower(rpc("n1", LEASE + 1)), VOTERS, LEASE, null)).isFalse();
  }

  @Test
  void aFollowerThatKnowsNoLeaderDoesNotHoldTheLeaseHoweverRecentItsTimerSays() {
    assertThat(RaftMetadataStore.leaseHolds(follower(rpc(null, 0)), VOTERS, LEASE, null)).isFalse();
    assertThat(RaftMetadataStore.leaseHolds(follower(rpc("", 10)), VOTERS, LEASE, null)).isFalse();
    assertThat(RaftMetadataStore.leaseHolds(follower(ServerRpcProto.getDefaultInstance()), VOTERS, LEASE, null)).isFalse();
    assertThat(RaftMetadataStore.leaseHolds(RoleInfoProto.newBuilder().setRole(RaftPeerRole.FOLLOWER).build(), VOTERS, LEASE, null))
        .isFalse();
  }

  @Test
  void aCandidateNeverHoldsIt() {
    assertThat(RaftMetadataStore.leaseHolds(RoleInfoProto.newBuilder().setRole(RaftPeerRole.CANDIDATE).build(), VOTERS, LEASE, null))
        .isFalse();
  }

  @Test
  void aLeaderHoldsItOnlyWhileAMajorityAnswersWithinIt() {
    assertThat(RaftMetadataStore.leaseHolds(leader(rpc("n2", 100), rpc("n3", 9_000)), VOTERS, LEASE, null)).isTrue();
    assertThat(RaftMetadataStore.leaseHolds(leader(rpc("n2", 9_000), rpc("n3", 9_000)), VOTERS, LEASE, null)).isFalse();
    // a listener's answers do not count towards the majority
    assertThat(RaftMetadataStore.leaseHolds(leader(rpc("n4", 10), rpc("n2", 9_000), rpc("n3", 9_000)), VOTERS, LEASE, null)).isFalse();
  }
}
