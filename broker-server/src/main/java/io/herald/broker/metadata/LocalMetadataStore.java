package io.herald.broker.metadata;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.Topic;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Topic metadata of a single broker, in memory, and in {@code <data-dir>/topics.json} when a data
 * directory is set (written atomically on every change, read at start), so topics survive a
 * restart. The file is a {@code herald.v1.ListTopicsResponse} in proto3 JSON; each topic's
 * {@code stats.next_sequence} holds its sequence floor. Changes complete synchronously. Thread-safe: one lock guards the map and the file;
 * listeners are called under it, so they see changes in commit order.
 */
public final class LocalMetadataStore implements MetadataStore {
  private static final Logger log = LoggerFactory.getLogger(LocalMetadataStore.class);
  static final String FILE = "topics.json";

  private final ReentrantLock lock = new ReentrantLock();
  @GuardedBy("lock")
  private final TreeMap<String, TopicRecord> topics = new TreeMap<>();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final Path file;

  /** In memory only. */
  public LocalMetadataStore() {
    this.file = null;
  }

  /** Persisted under {@code dataDir} (created if missing); loads what is there. */
  public LocalMetadataStore(Path dataDir) {
    try {
      Files.createDirectories(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create data directory " + dataDir + ": " + e.getMessage(), e);
    }
    this.file = dataDir.resolve(FILE);
    lock.lock(); // not shared yet: taken so that every access to the map is checked the same way
    try {
      load();
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private void load() {
    if (!Files.exists(file)) {
      return;
    }
    try {
      ListTopicsResponse.Builder b = ListTopicsResponse.newBuilder();
      JsonFormat.parser().merge(Files.readString(file, StandardCharsets.UTF_8), b);
      for (Topic t : b.getTopicsList()) {
        TopicSettings s = TopicSettings.DEFAULTS.merge(t.getConfig());
        Instant created = Instant.ofEpochSecond(t.getCreateTime().getSeconds(), t.getCreateTime().getNanos());
        long floor = Math.max(1, t.getStats().getNextSequence());
        topics.put(t.getName(), new TopicRecord(t.getName(), s, created, floor));
      }
      log.info("loaded {} topics from {}", topics.size(), file);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("cannot read topic metadata from " + file + ": " + e.getMessage()
          + " (fix or move the file to start with no topics)", e);
    }
  }

  @GuardedBy("lock")
  private void persist() {
    if (file == null) {
      return;
    }
    ListTopicsResponse.Builder b = ListTopicsResponse.newBuilder();
    for (TopicRecord r : topics.values()) {
      b.addTopics(Topic.newBuilder()
          .setName(r.name())
          .setConfig(r.settings().toProto())
          .setStats(io.herald.proto.v1.TopicStats.newBuilder().setNextSequence(r.sequenceFloor()))
          .setCreateTime(Timestamp.newBuilder().setSeconds(r.createTime().getEpochSecond()).setNanos(r.createTime().getNano())));
    }
    try {
      Path tmp = file.resolveSibling(FILE + ".tmp");
      Files.writeString(tmp, JsonFormat.printer().print(b), StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    } catch (IOException e) {
      throw Status.INTERNAL.withDescription("cannot write topic metadata to " + file + ": " + e.getMessage()).asRuntimeException();
    }
  }

  @Override
  public CompletableFuture<TopicRecord> create(String name, TopicSettings settings) {
    lock.lock();
    try {
      if (topics.containsKey(name)) {
        return CompletableFuture.failedFuture(Status.ALREADY_EXISTS.withDescription("topic '" + name + "' already exists").asRuntimeException());
      }
      TopicRecord r = new TopicRecord(name, settings, Instant.now(), 1);
      topics.put(name, r);
      try {
        persist();
      } catch (RuntimeException e) {
        topics.remove(name);
        return CompletableFuture.failedFuture(e);
      }
      for (Listener l : listeners) {
        l.created(r);
      }
      return CompletableFuture.completedFuture(r);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<TopicRecord> update(String name, UnaryOperator<TopicSettings> change) {
    lock.lock();
    try {
      TopicRecord old = topics.get(name);
      if (old == null) {
        return CompletableFuture.failedFuture(notFound(name));
      }
      TopicRecord r;
      try {
        r = old.withSettings(change.apply(old.settings()));
        topics.put(name, r);
        persist();
      } catch (RuntimeException e) {
        topics.put(name, old);
        return CompletableFuture.failedFuture(e);
      }
      for (Listener l : listeners) {
        l.updated(r);
      }
      return CompletableFuture.completedFuture(r);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<Void> delete(String name) {
    lock.lock();
    try {
      TopicRecord old = topics.remove(name);
      if (old == null) {
        return CompletableFuture.failedFuture(notFound(name));
      }
      try {
        persist();
      } catch (RuntimeException e) {
        topics.put(name, old);
        return CompletableFuture.failedFuture(e);
      }
      for (Listener l : listeners) {
        l.deleted(name);
      }
      return CompletableFuture.completedFuture(null);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<Void> setSequenceFloor(String name, long floor) {
    lock.lock();
    try {
      TopicRecord old = topics.get(name);
      if (old == null || old.sequenceFloor() == floor) {
        return CompletableFuture.completedFuture(null);
      }
      topics.put(name, old.withSequenceFloor(floor));
      try {
        persist();
      } catch (RuntimeException e) {
        topics.put(name, old);
        return CompletableFuture.failedFuture(e);
      }
      return CompletableFuture.completedFuture(null);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Optional<TopicRecord> get(String name) {
    lock.lock();
    try {
      return Optional.ofNullable(topics.get(name));
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<TopicRecord> list(String afterName, int limit) {
    lock.lock();
    try {
      var view = afterName == null ? topics.values() : topics.tailMap(afterName, false).values();
      List<TopicRecord> out = new ArrayList<>(Math.min(limit, view.size()));
      for (TopicRecord r : view) {
        if (out.size() >= limit) {
          break;
        }
        out.add(r);
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void addListener(Listener listener) {
    lock.lock();
    try {
      listeners.add(listener);
      for (TopicRecord r : topics.values()) {
        listener.created(r);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    listeners.clear();
  }

  private static RuntimeException notFound(String name) {
    return Status.NOT_FOUND.withDescription("topic '" + name + "' does not exist").asRuntimeException();
  }
}
