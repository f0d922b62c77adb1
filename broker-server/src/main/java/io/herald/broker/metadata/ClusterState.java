package io.herald.broker.metadata;

import io.grpc.Status;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.cluster.v1.MetadataSnapshot;
import io.herald.proto.cluster.v1.NodeState;
import io.herald.proto.cluster.v1.StoredNode;
import io.herald.proto.cluster.v1.StoredTopic;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.TopicConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The replicated cluster metadata: topics (settings, owner, epoch, floor) and nodes (address,
 * state, boot), changed only by {@link #apply} of log entries. Deterministic: the result of an
 * entry depends only on the state and the entry (the proposer's clock reading travels in the
 * entry), so every peer computes the same state, and re-applying the entries after a snapshot on
 * restart reproduces it. Not thread-safe: the owner (the state machine) serialises access.
 *
 * <h2>Ownership</h2>
 * A topic is owned by one node, chosen by rendezvous hashing of (topic, node id) over the nodes
 * that are UP, when it is created and whenever its owner is lost ({@code DOWN}), leaves or hands it
 * over; it is not moved back when a node returns (no rebalancing: a move costs subscribers an epoch
 * change). Every owner change starts a new epoch (OWNER_CHANGE): after a hand-over at the exact
 * next sequence, after a lost owner at its reserved floor, with the sequences below marked as lost
 * in an unknown number. Floor writes carry the epoch they were reserved in and are refused in any
 * other: a stale owner cannot reserve sequences once the topic moved.
 */
final class ClusterState {
  static final byte CREATE = 1;
  static final byte UPDATE = 2;
  static final byte DELETE = 3;
  static final byte FLOOR = 4;
  static final byte NEW_EPOCH = 5;
  static final byte JOIN = 6;
  static final byte NODE_STATE = 7;
  static final byte RELEASE = 8;
  /**
   * A create whose epoch starts above every epoch a deleted topic reached ({@link #deletedEpochMark}).
   * {@link #CREATE} keeps its first meaning (above the live topics' epochs only): a log written
   * before the mark existed replays to the same state.
   */
  static final byte CREATE_ABOVE_DELETED = 9;

  /** A node as the metadata knows it. */
  record Node(String id, String address, NodeState state, String boot) {
    boolean up() {
      return state == NodeState.NODE_STATE_UP;
    }

    /** UP or DRAINING: it is there and keeps what it owns until it hands it over. */
    boolean present() {
      return state == NodeState.NODE_STATE_UP || state == NodeState.NODE_STATE_DRAINING;
    }
  }

  /** What an applied entry changed, for the listeners (told after apply, in order). */
  sealed interface Change permits Created, Updated, Deleted, Membership { }

  record Created(TopicRecord topic) implements Change { }

  record Updated(TopicRecord topic) implements Change { }

  record Deleted(String name) implements Change { }

  record Membership() implements Change { }

  final TreeMap<String, TopicRecord> topics = new TreeMap<>();
  /**
   * The highest epoch a deleted topic reached. A create starts above it and above every live
   * topic's epoch, so a topic re-created through a node whose clock is behind never gets an epoch
   * at or below its previous incarnation's (positions a subscriber kept would look newer).
   */
  private long deletedEpochMark;
  final TreeMap<String, Node> nodes = new TreeMap<>();

  // ------------------------------------------------------------------ entries

  interface Writer {
    void write(DataOutputStream out) throws IOException;
  }

  static byte[] encode(byte op, Writer w) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      out.writeByte(op);
      w.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return b.toByteArray();
  }

  static void writeBytes(DataOutputStream out, byte[] bytes) throws IOException {
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  private static byte[] readBytes(DataInputStream in) throws IOException {
    byte[] b = new byte[in.readInt()];
    in.readFully(b);
    return b;
  }

  /** A successful reply: 0, then the record (if any). */
  static byte[] ok(TopicRecord r) {
    byte[] body = r == null ? new byte[0] : r.toStored().toByteArray();
    byte[] out = new byte[body.length + 1];
    System.arraycopy(body, 0, out, 1, body.length);
    return out;
  }

  /** A refused change: the status code, then the description. */
  static byte[] failed(Status.Code code, String description) {
    byte[] d = description.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[d.length + 1];
    out[0] = (byte) code.value();
    System.arraycopy(d, 0, out, 1, d.length);
    return out;
  }

  /** Applies one entry; appends what changed to {@code changes}; answers the reply. */
  byte[] apply(byte[] data, List<Change> changes) throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
    byte op = in.readByte();
    String key = in.readUTF();
    return switch (op) {
      case CREATE -> create(key, in, changes, false);
      case CREATE_ABOVE_DELETED -> create(key, in, changes, true);
      case UPDATE -> update(key, in, changes);
      case DELETE -> delete(key, changes);
      case FLOOR -> floor(key, in);
      case NEW_EPOCH -> newEpoch(key, in, changes);
      case JOIN -> join(key, in, changes);
      case NODE_STATE -> nodeState(key, in, changes);
      case RELEASE -> release(key, in, changes);
      default -> failed(Status.Code.INTERNAL, "unknown metadata operation " + op + " (a newer broker wrote this entry?)");
    };
  }

  private byte[] create(String name, DataInputStream in, List<Change> changes, boolean aboveDeleted) throws IOException {
    TopicSettings settings = TopicSettings.DEFAULTS.merge(TopicConfig.parseFrom(readBytes(in)));
    long seconds = in.readLong();
    int nanos = in.readInt();
    if (topics.containsKey(name)) {
      return failed(Status.Code.ALREADY_EXISTS, "topic '" + name + "' already exists");
    }
    long lastEpoch = aboveDeleted ? deletedEpochMark : 0;
    for (TopicRecord t : topics.values()) {
      lastEpoch = Math.max(lastEpoch, t.epoch());
    }
    Instant created = Instant.ofEpochSecond(seconds, nanos);
    // the proposer's clock, not this node's: every peer computes the same epoch
    long epoch = Math.max(lastEpoch + 1, created.toEpochMilli());
    String owner = pick(name, null);
    TopicRecord r = TopicRecord.created(name, settings, created, epoch, owner == null ? "" : owner);
    topics.put(name, r);
    changes.add(new Created(r));
    return ok(r);
  }

  private byte[] update(String name, DataInputStream in, List<Change> changes) throws IOException {
    long incarnation = in.readLong();
    TopicSettings expected = TopicSettings.DEFAULTS.merge(TopicConfig.parseFrom(readBytes(in)));
    TopicSettings settings = TopicSettings.DEFAULTS.merge(TopicConfig.parseFrom(readBytes(in)));
    TopicRecord old = topics.get(name);
    if (old == null || old.createEpoch() != incarnation) {
      return failed(Status.Code.NOT_FOUND, "topic '" + name + "' does not exist");
    }
    if (!old.settings().equals(expected)) {
      // another update committed first: the proposer applies its change again to the new settings
      return failed(Status.Code.ABORTED, "topic '" + name + "' was updated concurrently");
    }
    TopicRecord r = old.withSettings(settings);
    topics.put(name, r);
    if (!old.settings().equals(settings)) {
      changes.add(new Updated(r));
    }
    return ok(r);
  }

  private byte[] delete(String name, List<Change> changes) {
    TopicRecord gone = topics.remove(name);
    if (gone == null) {
      return failed(Status.Code.NOT_FOUND, "topic '" + name + "' does not exist");
    }
    deletedEpochMark = Math.max(deletedEpochMark, gone.epoch());
    changes.add(new Deleted(name));
    return ok(null);
  }

  private byte[] floor(String name, DataInputStream in) throws IOException {
    long incarnation = in.readLong();
    long epoch = in.readLong();
    long floor = in.readLong();
    TopicRecord old = topics.get(name);
    if (old == null || old.createEpoch() != incarnation) {
      return ok(null); // a deleted topic's loop: nothing to record
    }
    if (old.epoch() != epoch) {
      return failed(Status.Code.FAILED_PRECONDITION, "topic '" + name + "' is in epoch " + old.epoch() + " owned by '"
          + old.owner() + "', not in epoch " + epoch + ": sequences of an older epoch cannot be reserved");
    }
    if (floor > old.sequenceFloor()) {
      topics.put(name, old.withSequenceFloor(floor));
    }
    return ok(null);
  }

  private byte[] newEpoch(String name, DataInputStream in, List<Change> changes) throws IOException {
    long incarnation = in.readLong();
    long epoch = in.readLong();
    long start = in.readLong();
    EpochCause cause = EpochCause.forNumber(in.readInt());
    long clock = in.readLong();
    TopicRecord old = topics.get(name);
    if (old == null || old.createEpoch() != incarnation) {
      return failed(Status.Code.NOT_FOUND, "topic '" + name + "' does not exist");
    }
    if (old.epoch() != epoch) {
      return failed(Status.Code.FAILED_PRECONDITION, "topic '" + name + "' is in epoch " + old.epoch() + ", not " + epoch);
    }
    TopicRecord r = old.withNewEpoch(Math.max(old.epoch() + 1, clock), start, cause == null ? EpochCause.EPOCH_CAUSE_UNSPECIFIED : cause);
    topics.put(name, r);
    changes.add(new Updated(r));
    return ok(r);
  }

  private byte[] join(String nodeId, DataInputStream in, List<Change> changes) throws IOException {
    String address = in.readUTF();
    String boot = in.readUTF();
    long clock = in.readLong();
    Node old = nodes.get(nodeId);
    nodes.put(nodeId, new Node(nodeId, address, NodeState.NODE_STATE_UP, boot));
    if (old != null && !old.boot().equals(boot)) {
      // a restart: what it owned continues in the same epoch after a clean stop, else in a new
      // CRASH_RECOVERY epoch above the reserved floor
      for (TopicRecord t : List.copyOf(topics.values())) {
        if (!t.owner().equals(nodeId)) {
          continue;
        }
        TopicRecord r = t.cleanStop() ? t.withCleanStop(false)
            : t.withNewEpoch(Math.max(t.epoch() + 1, clock), t.sequenceFloor(), EpochCause.EPOCH_CAUSE_CRASH_RECOVERY, nodeId, true);
        topics.put(t.name(), r);
        changes.add(new Updated(r));
      }
    }
    assignOrphans(clock, changes);
    changes.add(new Membership());
    return ok(null);
  }

  private byte[] nodeState(String nodeId, DataInputStream in, List<Change> changes) throws IOException {
    NodeState state = NodeState.forNumber(in.readInt());
    long clock = in.readLong();
    Node old = nodes.get(nodeId);
    if (old == null || state == null) {
      return failed(Status.Code.NOT_FOUND, "node '" + nodeId + "' has not joined");
    }
    NodeState from = old.state();
    boolean allowed = switch (state) {
      case NODE_STATE_DOWN -> from == NodeState.NODE_STATE_UP || from == NodeState.NODE_STATE_DRAINING;
      case NODE_STATE_UP -> from == NodeState.NODE_STATE_DOWN; // heard again (paused, partitioned); a restart joins
      case NODE_STATE_DRAINING -> from == NodeState.NODE_STATE_UP;
      case NODE_STATE_LEFT -> from != NodeState.NODE_STATE_LEFT;
      default -> false;
    };
    if (!allowed) {
      return ok(null); // already there, or overtaken (e.g. DOWN after LEFT): nothing to do
    }
    nodes.put(nodeId, new Node(nodeId, old.address(), state, old.boot()));
    if (state == NodeState.NODE_STATE_DOWN || state == NodeState.NODE_STATE_LEFT) {
      // lost (or left without handing everything over): its topics go on elsewhere above their
      // reserved floors; what it had sequenced and not delivered is lost, in an unknown number
      for (TopicRecord t : List.copyOf(topics.values())) {
        if (t.owner().equals(nodeId)) {
          moveLost(t, clock, changes);
        }
      }
    }
    assignOrphans(clock, changes);
    changes.add(new Membership());
    return ok(null);
  }

  private byte[] release(String name, DataInputStream in, List<Change> changes) throws IOException {
    String nodeId = in.readUTF();
    long incarnation = in.readLong();
    long epoch = in.readLong();
    long next = in.readLong();
    long clock = in.readLong();
    TopicRecord old = topics.get(name);
    if (old == null || old.createEpoch() != incarnation) {
      return ok(null); // deleted meanwhile
    }
    if (old.epoch() != epoch || !old.owner().equals(nodeId)) {
      return failed(Status.Code.FAILED_PRECONDITION, "topic '" + name + "' is owned by '" + old.owner() + "' in epoch "
          + old.epoch() + "; node '" + nodeId + "' in epoch " + epoch + " has nothing to hand over");
    }
    TopicRecord exact = old.withSequenceFloor(next);
    String successor = pick(name, nodeId);
    TopicRecord r = successor == null
        ? exact.withCleanStop(true) // nobody to take it: continues in this epoch when the node is back
        : exact.withNewEpoch(Math.max(old.epoch() + 1, clock), next, EpochCause.EPOCH_CAUSE_OWNER_CHANGE, successor, false);
    topics.put(name, r);
    changes.add(new Updated(r));
    return ok(r);
  }

  /**
   * A topic whose owner is not there: to another UP node, in a new epoch at its floor, if there is
   * one. The floor is exact after a clean stop (nothing lost); else what lies below it and was not
   * delivered is lost in an unknown number.
   */
  private void moveLost(TopicRecord t, long clock, List<Change> changes) {
    String successor = pick(t.name(), t.owner());
    if (successor == null) {
      return; // nobody to take it; assigned when a node comes up
    }
    TopicRecord r = t.withNewEpoch(Math.max(t.epoch() + 1, clock), t.sequenceFloor(), EpochCause.EPOCH_CAUSE_OWNER_CHANGE, successor,
        !t.cleanStop() && !t.owner().isEmpty());
    topics.put(t.name(), r);
    changes.add(new Updated(r));
  }

  /** Topics whose owner is not there (none, DOWN, LEFT) go to an UP node. */
  private void assignOrphans(long clock, List<Change> changes) {
    for (TopicRecord t : List.copyOf(topics.values())) {
      Node owner = nodes.get(t.owner());
      if (owner == null || !owner.present()) {
        moveLost(t, clock, changes);
      }
    }
  }

  /**
   * The UP node with the highest rendezvous score for {@code topic}, other than {@code except};
   * null when there is none. Stable: the same topic and nodes give the same owner on every peer.
   */
  String pick(String topic, String except) {
    String best = null;
    long bestScore = 0;
    for (Node n : nodes.values()) {
      if (!n.up() || n.id().equals(except)) {
        continue;
      }
      long score = score(topic, n.id());
      if (best == null || Long.compareUnsigned(score, bestScore) > 0) {
        best = n.id();
        bestScore = score;
      }
    }
    return best;
  }

  /** FNV-1a 64 over "topic\0node", then a splitmix64 finaliser. */
  static long score(String topic, String node) {
    long h = 0xcbf29ce484222325L;
    for (byte b : (topic + '\0' + node).getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    h ^= h >>> 30;
    h *= 0xbf58476d1ce4e5b9L;
    h ^= h >>> 27;
    h *= 0x94d049bb133111ebL;
    return h ^ (h >>> 31);
  }

  /** Topics owned by {@code nodeId}. */
  int ownedBy(String nodeId) {
    int n = 0;
    for (TopicRecord t : topics.values()) {
      if (t.owner().equals(nodeId)) {
        n++;
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ snapshots

  MetadataSnapshot toSnapshot() {
    MetadataSnapshot.Builder b = MetadataSnapshot.newBuilder().setDeletedEpochMark(deletedEpochMark);
    for (TopicRecord r : topics.values()) {
      b.addTopics(StoredTopic.newBuilder().setTopic(r.toStored()).setCleanStop(r.cleanStop()));
    }
    for (Node n : nodes.values()) {
      b.addNodes(StoredNode.newBuilder().setNodeId(n.id()).setAddress(n.address()).setState(n.state()).setBoot(n.boot()));
    }
    return b.build();
  }

  /** Replaces the state with the snapshot's; appends the difference to {@code changes}. */
  void load(MetadataSnapshot s, List<Change> changes) {
    TreeMap<String, TopicRecord> next = new TreeMap<>();
    for (StoredTopic t : s.getTopicsList()) {
      next.put(t.getTopic().getName(), TopicRecord.fromStored(t.getTopic()).withCleanStop(t.getCleanStop()));
    }
    for (Map.Entry<String, TopicRecord> e : topics.entrySet()) {
      TopicRecord now = next.get(e.getKey());
      if (now == null || now.createEpoch() != e.getValue().createEpoch()) {
        changes.add(new Deleted(e.getKey()));
      }
    }
    for (TopicRecord now : next.values()) {
      TopicRecord was = topics.get(now.name());
      if (was == null || was.createEpoch() != now.createEpoch()) {
        changes.add(new Created(now));
      } else if (!was.withSequenceFloor(now.sequenceFloor()).equals(now)) {
        changes.add(new Updated(now));
      }
    }
    topics.clear();
    topics.putAll(next);
    deletedEpochMark = s.getDeletedEpochMark();
    nodes.clear();
    for (StoredNode n : s.getNodesList()) {
      nodes.put(n.getNodeId(), new Node(n.getNodeId(), n.getAddress(), n.getState(), n.getBoot()));
    }
    changes.add(new Membership());
  }

  List<Node> nodeList() {
    return new ArrayList<>(nodes.values());
  }
}
