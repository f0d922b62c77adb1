package io.herald.broker.metadata;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.grpc.StatusRuntimeException;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.broker.transport.TransportThreads;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.Topic;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Topic metadata of a single broker, in memory, and in {@code <data-dir>/topics.json} when a data
 * directory is set, so topics survive a restart. The file is a {@code herald.v1.ListTopicsResponse}
 * in proto3 JSON; each topic's {@code stats.next_sequence} holds its sequence floor.
 *
 * <h2>Durability</h2>
 * Every change rewrites the file durably: write a temporary file, fsync it, rename it over the old
 * one, fsync the directory. A change's future completes only after that; if the write fails the
 * change is undone and its future fails with UNAVAILABLE naming the file and the error.
 *
 * <h2>Crash or clean stop</h2>
 * A graceful stop records every topic's exact next sequence and then writes the marker file
 * {@value #CLEAN_STOP} ({@link #recordCleanStop}). At start the marker is removed; when it was
 * missing, the broker stopped without recording (a crash), and every topic gets a new epoch with
 * cause CRASH_RECOVERY that starts at its floor.
 *
 * <h2>Threads</h2>
 * Changes run one at a time on the store's own virtual thread ({@code herald-metadata}), never on
 * the caller's: a transport thread that asks for a change is not blocked by the disk. {@link #lock}
 * guards the map; reads take it briefly. Listeners are called on the store's thread, outside the
 * lock, in commit order.
 */
public final class LocalMetadataStore implements MetadataStore {
  private static final Logger log = LoggerFactory.getLogger(LocalMetadataStore.class);
  static final String FILE = "topics.json";
  static final String CLEAN_STOP = "clean-stop";

  private final ReentrantLock lock = new ReentrantLock();
  @GuardedBy("lock")
  private final TreeMap<String, TopicRecord> topics = new TreeMap<>();
  /** True after a failed write: the records hold changes the file does not; the next write must not be skipped. */
  @GuardedBy("lock")
  private boolean diskBehind;
  /** Guards the floors waiting for a write; never held while writing, so asking for a floor never waits for the disk. */
  private final ReentrantLock floorLock = new ReentrantLock();
  @GuardedBy("floorLock")
  private final java.util.Map<String, long[]> pendingFloors = new java.util.HashMap<>();
  @GuardedBy("floorLock")
  private final List<CompletableFuture<Void>> pendingFloorFutures = new ArrayList<>();
  @GuardedBy("floorLock")
  private boolean floorWriteQueued;
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final Path dir;
  private final Path file;
  private final ExecutorService executor =
      Executors.newSingleThreadExecutor(Thread.ofVirtual().name("herald-metadata").factory());

  /** In memory only. */
  public LocalMetadataStore() {
    this.dir = null;
    this.file = null;
  }

  /** Persisted under {@code dataDir} (created if missing); loads what is there. */
  public LocalMetadataStore(Path dataDir) {
    try {
      Files.createDirectories(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create data directory " + dataDir + ": " + e.getMessage(), e);
    }
    this.dir = dataDir;
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
    Path marker = dir.resolve(CLEAN_STOP);
    boolean clean = Files.exists(marker);
    if (!Files.exists(file)) {
      deleteMarker(marker);
      return;
    }
    lock.lock();
    try {
      ListTopicsResponse.Builder b = ListTopicsResponse.newBuilder();
      JsonFormat.parser().merge(Files.readString(file, StandardCharsets.UTF_8), b);
      for (Topic t : b.getTopicsList()) {
        TopicSettings s = TopicSettings.DEFAULTS.merge(t.getConfig());
        Instant created = Instant.ofEpochSecond(t.getCreateTime().getSeconds(), t.getCreateTime().getNanos());
        long floor = Math.max(1, t.getStats().getNextSequence());
        // files written before epochs were recorded: those brokers used epoch 1
        long epoch = t.getEpoch() == 0 ? 1 : t.getEpoch();
        long createEpoch = t.getCreateEpoch() == 0 ? 1 : t.getCreateEpoch();
        EpochCause cause = t.getEpochCause() == EpochCause.EPOCH_CAUSE_UNSPECIFIED ? EpochCause.EPOCH_CAUSE_CREATED : t.getEpochCause();
        String owner = t.getOwner().isEmpty() ? TopicRecord.LOCAL_OWNER : t.getOwner();
        TopicRecord r = new TopicRecord(t.getName(), s, created, floor, owner, epoch,
            Math.max(1, t.getEpochStartSequence()), cause, createEpoch, t.getCrashLostBelow());
        if (!clean) {
          r = r.withNewEpoch(TopicRecord.nextEpoch(epoch), floor, EpochCause.EPOCH_CAUSE_CRASH_RECOVERY);
        }
        topics.put(t.getName(), r);
      }
      if (!clean && !topics.isEmpty()) {
        persist();
        log.warn("the broker did not stop cleanly last time: {} topics continue in a new epoch above their reserved sequence floors;"
            + " subscribers resuming from before the crash get a CRASH_RECOVERY gap notice", topics.size());
      }
      log.info("loaded {} topics from {}", topics.size(), file);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("cannot read topic metadata from " + file + ": " + e.getMessage()
          + " (fix or move the file to start with no topics)", e);
    } finally {
      lock.unlock();
    }
    deleteMarker(marker);
  }

  private void deleteMarker(Path marker) {
    try {
      if (Files.deleteIfExists(marker)) {
        fsyncDir();
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove " + marker + ": " + e.getMessage(), e);
    }
  }

  @GuardedBy("lock")
  private void persist() {
    if (file == null) {
      return;
    }
    TransportThreads.checkMayBlock("writing topic metadata");
    ListTopicsResponse.Builder b = ListTopicsResponse.newBuilder();
    for (TopicRecord r : topics.values()) {
      b.addTopics(r.toStored());
    }
    try {
      writeDurably(file, JsonFormat.printer().print(b).getBytes(StandardCharsets.UTF_8));
      diskBehind = false;
    } catch (InvalidProtocolBufferException e) {
      diskBehind = true;
      throw new IllegalStateException(e);
    } catch (IOException e) {
      diskBehind = true;
      throw Errors.error(ErrorReason.ERROR_REASON_METADATA_UNAVAILABLE, "cannot write topic metadata to " + file + ": " + e
          + " (check the data directory's disk space and permissions)");
    }
  }

  /** Temporary file, fsync, atomic rename, fsync of the directory. */
  private void writeDurably(Path target, byte[] content) throws IOException {
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.wrap(content);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    fsyncDir();
  }

  private void fsyncDir() throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  /** Runs a change on the store's thread; its future completes there. */
  private <T> CompletableFuture<T> submit(Supplier<T> change) {
    CompletableFuture<T> f = new CompletableFuture<>();
    try {
      executor.execute(() -> {
        try {
          f.complete(change.get());
        } catch (RuntimeException e) {
          f.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      f.completeExceptionally(Errors.shuttingDown("broker is shutting down; retry on another broker"));
    }
    return f;
  }

  @Override
  public CompletableFuture<TopicRecord> create(String name, TopicSettings settings) {
    return submit(() -> {
      TopicRecord r;
      lock.lock();
      try {
        if (topics.containsKey(name)) {
          throw Errors.error(ErrorReason.ERROR_REASON_TOPIC_ALREADY_EXISTS, "topic '" + name + "' already exists", "topic", name);
        }
        long lastEpoch = 0;
        for (TopicRecord t : topics.values()) {
          lastEpoch = Math.max(lastEpoch, t.epoch());
        }
        r = TopicRecord.created(name, settings, Instant.now(), TopicRecord.nextEpoch(lastEpoch));
        topics.put(name, r);
        try {
          persist();
        } catch (RuntimeException e) {
          topics.remove(name);
          throw e;
        }
      } finally {
        lock.unlock();
      }
      for (Listener l : listeners) {
        l.created(r);
      }
      return r;
    });
  }

  @Override
  public CompletableFuture<TopicRecord> update(String name, UnaryOperator<TopicSettings> change) {
    return submit(() -> {
      TopicRecord r;
      lock.lock();
      try {
        TopicRecord old = topics.get(name);
        if (old == null) {
          throw notFound(name);
        }
        r = old.withSettings(change.apply(old.settings()));
        topics.put(name, r);
        try {
          persist();
        } catch (RuntimeException e) {
          topics.put(name, old);
          throw e;
        }
      } finally {
        lock.unlock();
      }
      for (Listener l : listeners) {
        l.updated(r);
      }
      return r;
    });
  }

  @Override
  public CompletableFuture<Void> delete(String name) {
    return submit(() -> {
      lock.lock();
      try {
        TopicRecord old = topics.remove(name);
        if (old == null) {
          throw notFound(name);
        }
        try {
          persist();
        } catch (RuntimeException e) {
          topics.put(name, old);
          throw e;
        }
      } finally {
        lock.unlock();
      }
      for (Listener l : listeners) {
        l.deleted(name);
      }
      return null;
    });
  }

  /**
   * Floors are coalesced: every floor asked for while a write is queued goes into that one write
   * (a thousand topics starting at once cost a few writes, not a thousand). A floor that could not
   * be written fails its future; a floor that is recorded higher than asked is always safe.
   */
  @Override
  public CompletableFuture<Void> setSequenceFloor(String name, long incarnation, long floor) {
    if (file == null) {
      // nothing to make durable: record it at once (a dispatch loop asks for this)
      lock.lock();
      try {
        TopicRecord old = topics.get(name);
        if (old != null && old.createEpoch() == incarnation) {
          topics.put(name, old.withSequenceFloor(floor));
        }
      } finally {
        lock.unlock();
      }
      return CompletableFuture.completedFuture(null);
    }
    floorLock.lock();
    try {
      CompletableFuture<Void> f = new CompletableFuture<>();
      pendingFloors.put(name, new long[] {incarnation, floor});
      pendingFloorFutures.add(f);
      if (!floorWriteQueued) {
        try {
          executor.execute(this::writeFloors);
          floorWriteQueued = true;
        } catch (RejectedExecutionException e) {
          pendingFloors.clear();
          pendingFloorFutures.clear();
          f.completeExceptionally(Errors.shuttingDown("broker is shutting down"));
        }
      }
      return f;
    } finally {
      floorLock.unlock();
    }
  }

  /** On the store's thread: every floor asked for since the last write, in one durable write. */
  private void writeFloors() {
    List<CompletableFuture<Void>> done;
    java.util.Map<String, long[]> floors;
    floorLock.lock();
    try {
      floorWriteQueued = false;
      done = new ArrayList<>(pendingFloorFutures);
      pendingFloorFutures.clear();
      floors = new java.util.HashMap<>(pendingFloors);
      pendingFloors.clear();
    } finally {
      floorLock.unlock();
    }
    RuntimeException failure = null;
    lock.lock();
    try {
      boolean changed = diskBehind; // a floor kept in the records after a failed write is not on disk yet
      for (var e : floors.entrySet()) {
        TopicRecord old = topics.get(e.getKey());
        long incarnation = e.getValue()[0];
        long floor = e.getValue()[1];
        if (old != null && old.createEpoch() == incarnation && old.sequenceFloor() != floor) {
          topics.put(e.getKey(), old.withSequenceFloor(floor));
          changed = true;
        }
      }
      if (changed) {
        try {
          persist();
        } catch (RuntimeException e) {
          failure = e; // the records keep the new floors (higher is safe); diskBehind forces the next write
        }
      }
    } finally {
      lock.unlock();
    }
    for (CompletableFuture<Void> f : done) {
      if (failure == null) {
        f.complete(null);
      } else {
        f.completeExceptionally(failure);
      }
    }
  }

  @Override
  public CompletableFuture<TopicRecord> newEpoch(String name, long incarnation, long startSequence, EpochCause cause) {
    return submit(() -> {
      lock.lock();
      try {
        TopicRecord old = topics.get(name);
        if (old == null || old.createEpoch() != incarnation) {
          throw notFound(name);
        }
        TopicRecord r = old.withNewEpoch(TopicRecord.nextEpoch(old.epoch()), startSequence, cause);
        topics.put(name, r);
        try {
          persist();
        } catch (RuntimeException e) {
          topics.put(name, old);
          throw e;
        }
        return r;
      } finally {
        lock.unlock();
      }
    });
  }

  @Override
  public CompletableFuture<Void> recordCleanStop() {
    return submit(() -> {
      if (dir != null) {
        try {
          writeDurably(dir.resolve(CLEAN_STOP), new byte[0]);
        } catch (IOException e) {
          throw Errors.error(ErrorReason.ERROR_REASON_METADATA_UNAVAILABLE, "cannot write " + dir.resolve(CLEAN_STOP) + ": " + e);
        }
      }
      return null;
    });
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
      return TopicRecord.page(topics, afterName, limit);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void addListener(Listener listener) {
    // on the store's thread, so that no change slips between the replay and the registration
    CompletableFuture<Void> done = submit(() -> {
      List<TopicRecord> existing;
      lock.lock();
      try {
        existing = new ArrayList<>(topics.values());
      } finally {
        lock.unlock();
      }
      listeners.add(listener);
      for (TopicRecord r : existing) {
        listener.created(r);
      }
      return null;
    });
    TransportThreads.checkMayBlock("waiting for the metadata store");
    done.join();
  }

  @Override
  public void close() {
    executor.shutdown();
    try {
      if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
        log.warn("metadata store did not finish its last changes within 10 s");
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      executor.shutdownNow();
    }
    listeners.clear();
  }

  private static StatusRuntimeException notFound(String name) {
    return Errors.topicNotFound(name, "topic '" + name + "' does not exist");
  }
}
