package io.herald.broker.metadata;

import static org.assertj.core.api.Assertions.assertThat;

import io.herald.broker.topic.TopicSettings;
import io.herald.proto.cluster.v1.MetadataSnapshot;
import io.herald.proto.v1.Topic;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The replicated state's rules that do not need a Raft group: applied to entries directly. */
class ClusterStateTest {

  static byte[] create(String name, Instant clock) {
    return create(ClusterState.CREATE_ABOVE_DELETED, name, clock);
  }

  static byte[] create(byte op, String name, Instant clock) {
    return ClusterState.encode(op, out -> {
      out.writeUTF(name);
      ClusterState.writeBytes(out, TopicSettings.DEFAULTS.toProto().toByteArray());
      out.writeLong(clock.getEpochSecond());
      out.writeInt(clock.getNano());
    });
  }

  static byte[] delete(String name) {
    return ClusterState.encode(ClusterState.DELETE, out -> out.writeUTF(name));
  }

  static TopicRecord applied(ClusterState s, byte[] entry) throws IOException {
    byte[] reply = s.apply(entry, new ArrayList<>());
    assertThat(reply[0]).as("reply status of %s", new String(reply, java.nio.charset.StandardCharsets.UTF_8)).isZero();
    return TopicRecord.fromStored(Topic.parseFrom(Arrays.copyOfRange(reply, 1, reply.length)));
  }

  @Test
  void aTopicCreatedAgainThroughANodeWhoseClockIsBehindStartsAboveItsPreviousIncarnation() throws Exception {
    ClusterState s = new ClusterState();
    Instant now = Instant.now();
    TopicRecord first = applied(s, create("orders", now));
    s.apply(delete("orders"), new ArrayList<>());
    // proposed by a node whose clock is a minute behind, with no other topic left to compare with
    TopicRecord again = applied(s, create("orders", now.minusSeconds(60)));
    assertThat(again.createEpoch()).isGreaterThan(first.epoch());

    // and the mark survives a snapshot (a node that installs it, or restarts from it)
    s.apply(delete("orders"), new ArrayList<>());
    MetadataSnapshot snap = s.toSnapshot();
    ClusterState restored = new ClusterState();
    restored.load(snap, new ArrayList<>());
    TopicRecord third = applied(restored, create("orders", now.minusSeconds(120)));
    assertThat(third.createEpoch()).isGreaterThan(again.epoch());
  }

  /**
   * An entry means what it meant when it was written: a log from before the deleted-epoch mark
   * (op CREATE) replays to the epochs the nodes computed then, so a node that replays it agrees
   * with the ones that applied it (and with their snapshots). Only new creates start above it.
   */
  @Test
  void aCreateWrittenBeforeTheMarkReplaysToTheSameEpoch() throws Exception {
    ClusterState s = new ClusterState();
    Instant now = Instant.now();
    TopicRecord first = applied(s, create(ClusterState.CREATE, "orders", now));
    s.apply(delete("orders"), new ArrayList<>());
    TopicRecord replayed = applied(s, create(ClusterState.CREATE, "orders", now.minusSeconds(60)));
    assertThat(replayed.createEpoch()).as("as computed before the mark: the proposer's clock").isEqualTo(now.minusSeconds(60).toEpochMilli())
        .isLessThan(first.epoch());
  }
}
