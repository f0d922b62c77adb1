package io.herald.broker.metadata;

import io.herald.broker.topic.TopicSettings;
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
 * <p>Implementations are thread-safe. Listener calls for one topic are made in commit order.
 * Failed futures carry a {@code io.grpc.StatusRuntimeException} (ALREADY_EXISTS, NOT_FOUND, ...).
 */
public interface MetadataStore extends AutoCloseable {

  /** Told of every committed change. Called on the committing thread; must not block. */
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
   * continues above every sequence it may have handed out. No listener is told (it is the data
   * plane's own bookkeeping). Unknown topics are ignored.
   */
  CompletableFuture<Void> setSequenceFloor(String name, long floor);

  Optional<TopicRecord> get(String name);

  /** Topics in name order, starting after {@code afterName} (null: from the first), at most {@code limit}. */
  List<TopicRecord> list(String afterName, int limit);

  /** Registers the listener and replays {@code created} for every existing topic, atomically. */
  void addListener(Listener listener);

  @Override
  void close();
}
