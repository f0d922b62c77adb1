package io.herald.broker.metadata;

import io.herald.broker.topic.TopicSettings;
import io.herald.proto.v1.EpochCause;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;

/**
 * Where topic metadata lives. Every create, update and delete goes through here; the data plane
 * (topics, loops, buffers, writers) learns of changes only through the {@link Listener}. A single
 * broker is a cluster of one: both run {@link RaftMetadataStore}, a replicated state machine, which
 * is why changes answer with futures.
 *
 * <p>Implementations are thread-safe, and no method blocks its caller on I/O: changes are made on
 * the store's own thread and their futures complete once the change is durable (where the store
 * keeps data). Listener calls for one topic are made in commit order. Failed futures carry a
 * {@code io.grpc.StatusRuntimeException} (ALREADY_EXISTS, NOT_FOUND, UNAVAILABLE, ...).
 */
public interface MetadataStore extends AutoCloseable {

  /**
   * Told of every committed change, on the store's thread, in commit order. Must not block (no
   * joins, no waiting for a lock that a dispatch loop may hold): the store's thread serves every
   * other change meanwhile.
   */
  interface Listener {
    default void created(TopicRecord topic) { }

    default void updated(TopicRecord topic) { }

    default void deleted(String name) { }

    /** Nodes joined, left, were lost or came back; ownership may have moved with them. */
    default void membershipChanged() { }
  }

  CompletableFuture<TopicRecord> create(String name, TopicSettings settings);

  /** Applies {@code change} to the current settings; the operator may throw INVALID_ARGUMENT. */
  CompletableFuture<TopicRecord> update(String name, UnaryOperator<TopicSettings> change);

  CompletableFuture<Void> delete(String name);

  /**
   * Records that the topic's next sequence is at least {@code floor}, so that a restarted or new
   * owner continues above every sequence this one may have handed out. Completes when the floor is
   * durable (committed); a topic hands out sequences up to a floor only after that. No listener is
   * told. Completes at once when the topic is unknown or another incarnation (a deleted topic's
   * loop cannot move the floor of the topic re-created under its name); fails with
   * FAILED_PRECONDITION when the topic is no longer in {@code epoch} (it moved to another owner).
   */
  CompletableFuture<Void> setSequenceFloor(String name, long incarnation, long epoch, long floor);

  /**
   * Starts a new epoch of the topic at {@code startSequence} (a restarted dispatch loop), with this
   * node still the owner, and answers the updated record once it is durable. Fails with NOT_FOUND
   * for an unknown topic or another incarnation, FAILED_PRECONDITION when it is no longer in
   * {@code epoch}.
   */
  CompletableFuture<TopicRecord> newEpoch(String name, long incarnation, long epoch, long startSequence, EpochCause cause);

  /**
   * Hands a topic this node owns over (a graceful stop): its exact next sequence is {@code
   * nextSequence}; another live node continues it in a new epoch (OWNER_CHANGE) from there, with
   * nothing lost; with no other node, this node continues it in the same epoch when it starts again.
   * Call after the topic's loop ended. Fails with FAILED_PRECONDITION if it is not this node's in
   * {@code epoch} any more.
   */
  CompletableFuture<TopicRecord> release(String name, long incarnation, long epoch, long nextSequence);

  /** Marks this node as draining (it gets no new topics) before it hands its topics over. */
  CompletableFuture<Void> drain();

  /** Marks this node as gone after a drain; topics not handed over are moved as if it were lost. */
  CompletableFuture<Void> leave();

  /**
   * Blocks until no other node has been seen draining for an election timeout, or {@code bound}
   * passes. Called by a node that has
   * left, before it closes its metadata peer: nodes stopped together (a whole cluster stopped at
   * once) still have a majority for each one's hand-overs, which would otherwise time out and
   * leave their topics to move as if those nodes were lost.
   */
  default void awaitOthersDrained(java.time.Duration bound) throws InterruptedException { }

  /** This node's id. */
  String nodeId();

  /**
   * True once this process's start is recorded in the metadata (it joined, and a restart's
   * CRASH_RECOVERY epochs are committed): only then may it run the topics it owns.
   */
  boolean joined();

  /**
   * False when this node cannot be sure it still owns what the metadata says (it has not heard
   * from the metadata leader within its lease): its topics refuse publishes until it hears again,
   * so a stale owner stops accepting before the leader gives its topics to another node.
   */
  boolean ownershipValid();

  /** The gRPC address of node {@code nodeId} while it is up or draining; empty otherwise. */
  Optional<String> address(String nodeId);

  /** The cluster as this node sees it. */
  ClusterView cluster();

  /**
   * Completes once this node has applied every change the metadata leader had applied when asked:
   * what any node already answered (a create, an update) is then visible here. For a lookup that
   * found nothing locally, before it answers NOT_FOUND: a node lagging by a heartbeat, or cut off
   * from the metadata, must not tell a client that a topic it was just told exists does not. Fails
   * with UNAVAILABLE (METADATA_UNAVAILABLE) when no leader answers a read within two maximum
   * election timeouts (a caller may first wait for a read already in flight, as long again), or
   * this node does not catch up within two more: at most six in all.
   */
  CompletableFuture<Void> catchUp();

  /** Reads this node has sent to the metadata leader for {@link #catchUp} (coalesced); 0 without one. */
  default long leaderReads() {
    return 0;
  }

  Optional<TopicRecord> get(String name);

  /** Topics in name order, starting after {@code afterName} (null: from the first), at most {@code limit}. */
  List<TopicRecord> list(String afterName, int limit);

  /** Registers the listener and replays {@code created} for every existing topic, atomically. */
  void addListener(Listener listener);

  /** Stops the store's threads (hands Raft leadership to another peer first, where there is one). */
  @Override
  void close();
}
