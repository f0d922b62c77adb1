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
 * broker uses {@link LocalMetadataStore}; the cluster backs this with a replicated state machine,
 * which is why changes answer with futures.
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
    void created(TopicRecord topic);

    void updated(TopicRecord topic);

    void deleted(String name);
  }

  CompletableFuture<TopicRecord> create(String name, TopicSettings settings);

  /** Applies {@code change} to the current settings; the operator may throw INVALID_ARGUMENT. */
  CompletableFuture<TopicRecord> update(String name, UnaryOperator<TopicSettings> change);

  CompletableFuture<Void> delete(String name);

  /**
   * Records that the topic's next sequence is at least {@code floor}, so that a restarted owner
   * continues above every sequence it may have handed out. Completes when the floor is durable; a
   * topic hands out sequences up to a floor only after that. No listener is told (it is the data
   * plane's own bookkeeping). Ignored (completes at once) when the topic is unknown or is another
   * incarnation than {@code incarnation} (its create epoch): a deleted topic's loop cannot move
   * the floor of the topic re-created under its name.
   */
  CompletableFuture<Void> setSequenceFloor(String name, long incarnation, long floor);

  /**
   * Starts a new epoch of the topic incarnation at {@code startSequence} (a restarted dispatch
   * loop; later an ownership change) and answers the updated record once it is durable. No
   * listener is told. Fails with NOT_FOUND for an unknown topic or another incarnation.
   */
  CompletableFuture<TopicRecord> newEpoch(String name, long incarnation, long startSequence, EpochCause cause);

  /**
   * Records that every topic's sequence floor is now exact (a graceful stop, after the last
   * {@link #setSequenceFloor}): the next start continues every topic in its epoch. Without it, the
   * next start treats the topics as crashed and gives each a new epoch.
   */
  CompletableFuture<Void> recordCleanStop();

  Optional<TopicRecord> get(String name);

  /** Topics in name order, starting after {@code afterName} (null: from the first), at most {@code limit}. */
  List<TopicRecord> list(String afterName, int limit);

  /** Registers the listener and replays {@code created} for every existing topic, atomically. */
  void addListener(Listener listener);

  /** Stops the store's thread after the changes already submitted. */
  @Override
  void close();
}
