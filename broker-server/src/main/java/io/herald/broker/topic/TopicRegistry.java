package io.herald.broker.topic;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.EpochCause;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live topics of this broker, kept in step with the {@link MetadataStore}: a committed create
 * starts a topic and its dispatch loop, an update swaps its settings, a delete closes it. Lookups
 * are lock-free and nothing here blocks a caller: the listener methods run on the store's thread
 * and never wait (a deleted topic's loop ends by itself), and auto-create answers with a future.
 */
public final class TopicRegistry implements MetadataStore.Listener {
  private static final Logger log = LoggerFactory.getLogger(TopicRegistry.class);

  private final MetadataStore metadata;
  private final boolean autoCreate;
  private final ConcurrentHashMap<String, Topic> topics = new ConcurrentHashMap<>();
  private volatile Lifecycle lifecycle = new Lifecycle() { };
  private volatile boolean closing;
  /** Set by {@link #closeAll}: topics committed after it are not started. Guarded by this. */
  private boolean closed;

  /** Told when topics start and stop (the metrics). Called on the metadata thread; must not block. */
  public interface Lifecycle {
    default void started(Topic t) { }

    default void stopped(Topic t) { }
  }

  /** Set before {@link #start()}. */
  public void onLifecycle(Lifecycle l) {
    this.lifecycle = l;
  }

  public TopicRegistry(MetadataStore metadata, boolean autoCreate) {
    this.metadata = metadata;
    this.autoCreate = autoCreate;
  }

  /** Subscribes to metadata changes; existing topics are started. */
  public void start() {
    metadata.addListener(this);
  }

  @Override
  public void created(TopicRecord r) {
    String name = r.name();
    if (closing) {
      // committed while the broker shuts down (an auto-create in flight): not started here; the
      // next start loads it
      log.info("topic '{}' created while shutting down; it starts with the next broker", name);
      return;
    }
    long incarnation = r.createEpoch();
    Topic t = new Topic(r, new Topic.Bookkeeping() {
      @Override
      public CompletableFuture<Void> recordFloor(long floor) {
        return metadata.setSequenceFloor(name, incarnation, floor);
      }

      @Override
      public CompletableFuture<TopicRecord> newEpoch(long startSequence, EpochCause cause) {
        return metadata.newEpoch(name, incarnation, startSequence, cause);
      }
    });
    Topic prev;
    synchronized (this) { // against closeAll taking its list: a topic is either in it or not started
      if (closed) {
        return;
      }
      prev = topics.putIfAbsent(name, t);
    }
    if (prev == null) {
      lifecycle.started(t);
      t.start();
      log.info("topic '{}' created (epoch {}, {} at sequence {})", name, r.epoch(), r.epochCause(), r.epochStartSequence());
    }
  }

  @Override
  public void updated(TopicRecord r) {
    Topic t = topics.get(r.name());
    if (t != null) {
      t.updateSettings(r.settings());
      log.info("topic '{}' updated", r.name());
    }
  }

  @Override
  public void deleted(String name) {
    Topic t = topics.remove(name);
    if (t != null) {
      // never waits: the loop finishes the batch it is on and ends by itself
      t.close(Errors.topicNotFound(name, "topic '" + name + "' was deleted before the batch was sequenced"),
          CloseReason.TOPIC_DELETED);
      t.terminated().whenComplete((v, e) -> lifecycle.stopped(t));
      log.info("topic '{}' deleted", name);
    }
  }

  /** The live topic, or empty. */
  public Optional<TopicHandle> get(String name) {
    return Optional.ofNullable(topics.get(name));
  }

  /**
   * The topic for a data-plane call, without blocking: completed at once when the topic is live;
   * with auto-create on, completed when the store has created it (on the store's thread). Fails
   * with NOT_FOUND if unknown (and auto-create is off), UNAVAILABLE while the broker shuts down.
   * The name must already be valid.
   */
  public CompletableFuture<TopicHandle> resolve(String name) {
    CompletableFuture<? extends TopicHandle> o = resolveOverridesForTests.get(name); // TEST HOOK, see below
    if (o != null) {
      return o.thenApply(h -> h);
    }
    Topic t = topics.get(name);
    if (t != null) {
      return CompletableFuture.completedFuture(t);
    }
    if (closing) {
      // not "not found": the topic is there, this broker is going away; a retry elsewhere helps
      return CompletableFuture.failedFuture(Errors.shuttingDown("broker is shutting down; reconnect (to another broker) and retry"));
    }
    if (!autoCreate) {
      return CompletableFuture.failedFuture(notFound(name));
    }
    return metadata.create(name, TopicSettings.DEFAULTS).handle((r, e) -> {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (cause != null && !(cause instanceof StatusRuntimeException sre && sre.getStatus().getCode() == Status.Code.ALREADY_EXISTS)) {
        throw cause instanceof RuntimeException re ? re : new CompletionException(cause);
      }
      Topic created = topics.get(name);
      if (created == null) {
        throw notFound(name); // deleted again meanwhile
      }
      return created;
    });
  }

  // ---- TEST HOOK (relay tests only; to be replaced by the ownership wiring) ----
  private final ConcurrentHashMap<String, CompletableFuture<? extends TopicHandle>> resolveOverridesForTests = new ConcurrentHashMap<>();

  /** TEST HOOK: {@link #resolve} answers {@code handle} for {@code name} (e.g. a relay's {@code ready()}); null removes it. */
  public void overrideResolveForTests(String name, CompletableFuture<? extends TopicHandle> handle) {
    if (handle == null) {
      resolveOverridesForTests.remove(name);
    } else {
      resolveOverridesForTests.put(name, handle);
    }
  }
  // ---- end of TEST HOOK ----

  private static StatusRuntimeException notFound(String name) {
    return Errors.topicNotFound(name, "topic '" + name + "' does not exist; create it first (herald topic create "
        + name + ") or start the broker with --auto-create-topics");
  }

  /** Every live topic this node owns. */
  public List<Topic> all() {
    return new ArrayList<>(topics.values());
  }

  /** The live topic this node owns, for tests and metrics. */
  public Optional<Topic> local(String name) {
    return Optional.ofNullable(topics.get(name));
  }

  public int size() {
    return topics.size();
  }

  // ------------------------------------------------------------------ shutdown, from the outside in

  /** Step 1: refuse new publishes on every topic. */
  public void stopAccepting(StatusRuntimeException status) {
    closing = true;
    for (Topic t : topics.values()) {
      t.stopAccepting(status);
    }
  }

  /** Step 2: wait (bounded) for every inbox to be sequenced. False if the deadline passed first. */
  public boolean awaitInboxesEmpty(long deadlineNanos) throws InterruptedException {
    for (Topic t : topics.values()) {
      long left = deadlineNanos - System.nanoTime();
      if (!t.awaitInboxEmpty(Math.max(left, 0), TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return true;
  }

  /** Step 3: let writers send what is buffered, then end their streams. */
  public void drainSubscribers() {
    for (Topic t : topics.values()) {
      t.drainSubscribers(CloseReason.SHUTDOWN);
    }
  }

  /**
   * Step 4: close every topic and wait (bounded) for its loop to end, then record each topic's
   * exact next sequence and that the stop was clean, so that after a graceful restart sequences
   * continue in the same epoch without a jump and a resuming subscriber's gap notice counts exactly
   * the events it lost. If a loop did not end in time, the stop is not recorded as clean (the next
   * start treats it as a crash: new epochs above the reserved floors). Not on a transport thread.
   */
  public void closeAll(StatusRuntimeException status) {
    boolean clean = true;
    List<Topic> all;
    synchronized (this) {
      closed = true;
      all = new ArrayList<>(topics.values());
    }
    for (Topic t : all) {
      t.close(status, CloseReason.SHUTDOWN);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    List<CompletableFuture<Void>> floors = new ArrayList<>(all.size());
    for (Topic t : all) {
      try {
        t.terminated().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        floors.add(metadata.setSequenceFloor(t.name(), t.createEpoch(), t.nextSequence())); // coalesced into few writes
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        clean = false;
      } catch (Exception e) {
        log.warn("topic '{}': its dispatch loop did not end in time ({}); the next start treats it as a crash", t.name(), e.toString());
        clean = false;
      }
    }
    try {
      CompletableFuture.allOf(floors.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      clean = false;
    } catch (Exception e) {
      log.warn("could not record the topics' exact next sequences ({}); the next start treats it as a crash", e.toString());
      clean = false;
    }
    if (clean) {
      try {
        metadata.recordCleanStop().get(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Exception e) {
        log.warn("could not record a clean stop ({}); the next start treats it as a crash", e.toString());
      }
    }
    topics.clear();
  }
}
