package io.herald.broker.topic;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.PublishAck;
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
 * The topics as this node serves them, kept in step with the {@link MetadataStore}: a topic this
 * node owns runs here (a {@link Topic} and its dispatch loop), started once this node's start is
 * recorded ({@link MetadataStore#joined()}); a topic another node owns is served through a {@link
 * RemoteTopic} (publishes forwarded to the owner, subscriptions relayed from it). Every committed
 * change reconciles what runs here with what the metadata says: a create starts a topic or a remote
 * handle, an owner change closes one and opens the other, a delete closes it. Lookups are lock-free
 * and nothing here blocks a caller: the listener methods run on the store's thread and never wait
 * (a closed topic's loop ends by itself), and auto-create answers with a future.
 */
public final class TopicRegistry implements MetadataStore.Listener {
  private static final Logger log = LoggerFactory.getLogger(TopicRegistry.class);

  /** A topic another node owns, as this node serves it. Methods never block. */
  public interface RemoteTopic extends TopicHandle {
    /** The topic's record changed (settings, owner, epoch); {@code ownerAddress} is null while the owner is unknown or down. */
    void moved(TopicRecord record, String ownerAddress);

    /** Ends the handle: its local subscriptions end with {@code reason}, unanswered publishes with {@code status}. */
    void close(StatusRuntimeException status, CloseReason reason);

    /** Completes when a local subscription may register (e.g. a relay mirrors the owner). */
    default CompletableFuture<TopicHandle> whenReadyToSubscribe() {
      return CompletableFuture.completedFuture(this);
    }

    /** Lets local subscriptions send what is buffered, then end with {@code reason} (shutdown). */
    default void drainSubscribers(CloseReason reason) { }
  }

  /** Makes the {@link RemoteTopic}s (the cluster's forwarding and relays). */
  public interface RemoteTopics {
    RemoteTopic open(TopicRecord record, String ownerAddress);
  }

  private final MetadataStore metadata;
  private final boolean autoCreate;
  /** Each topic: a {@link Topic} this node owns or a {@link RemoteTopic}. Written on the store's thread (and by closeAll). */
  private final ConcurrentHashMap<String, TopicHandle> topics = new ConcurrentHashMap<>();
  private volatile Lifecycle lifecycle = new Lifecycle() { };
  private volatile RemoteTopics remotes;
  private volatile boolean closing;
  /** Remote handles of topics that moved here, kept for the subscribers they still serve; closed with the registry. */
  private final java.util.Set<RemoteTopic> retired = ConcurrentHashMap.newKeySet();
  /** Set by {@link #closeAll}: nothing is started after it. Guarded by this. */
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

  /** Set before {@link #start()}: how topics other nodes own are served (forwarding and relays). */
  public void remoteTopics(RemoteTopics r) {
    this.remotes = r;
  }

  public TopicRegistry(MetadataStore metadata, boolean autoCreate) {
    this.metadata = metadata;
    this.autoCreate = autoCreate;
  }

  /** Subscribes to metadata changes; existing topics are started. {@link #remoteTopics} must be set. */
  public void start() {
    java.util.Objects.requireNonNull(remotes, "remoteTopics(...) before start()");
    metadata.addListener(this);
  }

  @Override
  public void created(TopicRecord r) {
    reconcile(r);
  }

  @Override
  public void updated(TopicRecord r) {
    reconcile(r);
  }

  @Override
  public void membershipChanged() {
    // this node joined, or nodes came and went: owners' addresses and whether this node may run its
    // topics may have changed
    for (TopicRecord r : metadata.list(null, Integer.MAX_VALUE)) {
      reconcile(r);
    }
  }

  @Override
  public void deleted(String name) {
    TopicHandle h;
    synchronized (this) {
      h = topics.remove(name);
    }
    for (RemoteTopic r : retired) {
      if (r.name().equals(name)) {
        retired.remove(r);
        r.close(Errors.topicNotFound(name, "topic '" + name + "' was deleted"), CloseReason.TOPIC_DELETED);
      }
    }
    if (h != null) {
      StatusRuntimeException st = Errors.topicNotFound(name, "topic '" + name + "' was deleted before the batch was sequenced");
      stop(h, st, CloseReason.TOPIC_DELETED);
      log.info("topic '{}' deleted", name);
    }
  }

  /** Makes what serves {@code r} here match the record: its own loop if this node owns it, else a remote handle. */
  private synchronized void reconcile(TopicRecord r) {
    String name = r.name();
    if (closed || closing) {
      return; // committed while the broker shuts down: the next start (or the new owner) takes it
    }
    TopicHandle cur = topics.get(name);
    boolean here = r.owner().equals(metadata.nodeId()) && metadata.joined();
    if (here) {
      if (cur instanceof Topic t && t.createEpoch() == r.createEpoch()) {
        if (!t.settings().equals(r.settings())) {
          t.updateSettings(r.settings());
          log.info("topic '{}' updated", name);
        }
        return;
      }
      Topic t = newTopic(r);
      java.util.Map<String, PublishAck> handedOver = dedup.take(r);
      if (handedOver != null) {
        t.seedDedup(handedOver);
        log.info("topic '{}' starts here with the {} dedup ids its previous owner handed over", name, handedOver.size());
      }
      topics.put(name, t);
      if (cur instanceof RemoteTopic rt) {
        // it moved here: subscribers served by the relay keep their streams; the relay now
        // subscribes to this node's own loop and passes the OWNER_CHANGE notice on. New subscribers
        // go to the loop directly; the relay closes once its last subscriber has gone
        rt.moved(r, metadata.address(metadata.nodeId()).orElse(null));
        retired.add(rt);
      } else if (cur != null) {
        stop(cur, moved(name, metadata.nodeId()), CloseReason.OWNER_MOVED);
      }
      lifecycle.started(t);
      t.start();
      log.info("topic '{}' runs here (epoch {}, {} at sequence {})", name, r.epoch(), r.epochCause(), r.epochStartSequence());
      return;
    }
    String address = r.owner().isEmpty() ? null : metadata.address(r.owner()).orElse(null);
    if (cur instanceof RemoteTopic rt) {
      rt.moved(r, address);
      return;
    }
    RemoteTopic rt = remotes.open(r, address);
    topics.put(name, rt);
    if (cur != null) {
      // it ran here: it moved away (handed over, or this node was taken for lost)
      stop(cur, moved(name, r.owner()), CloseReason.OWNER_MOVED);
      log.info("topic '{}' moved to node '{}' (epoch {}, {})", name, r.owner(), r.epoch(), r.epochCause());
    }
  }

  private Topic newTopic(TopicRecord r) {
    String name = r.name();
    long incarnation = r.createEpoch();
    Topic[] self = new Topic[1];
    self[0] = new Topic(r, new Topic.Bookkeeping() {
      @Override
      public CompletableFuture<Void> recordFloor(long floor) {
        return metadata.setSequenceFloor(name, incarnation, self[0].epoch(), floor);
      }

      @Override
      public CompletableFuture<TopicRecord> newEpoch(long startSequence, EpochCause cause) {
        return metadata.newEpoch(name, incarnation, self[0].epoch(), startSequence, cause);
      }

      @Override
      public CompletableFuture<TopicRecord> latest() {
        return metadata.catchUp().thenApply(v -> metadata.get(name).filter(r -> r.createEpoch() == incarnation).orElse(null));
      }

      @Override
      public boolean mayAccept() {
        return metadata.ownershipValid();
      }
    });
    return self[0];
  }

  private void stop(TopicHandle h, StatusRuntimeException status, CloseReason reason) {
    if (h instanceof Topic t) {
      // never waits: the loop finishes the batch it is on and ends by itself
      t.close(status, reason);
      t.terminated().whenComplete((v, e) -> lifecycle.stopped(t));
    } else if (h instanceof RemoteTopic rt) {
      rt.close(status, reason);
    }
  }

  private static StatusRuntimeException moved(String name, String owner) {
    return Errors.error(ErrorReason.ERROR_REASON_OWNER_UNAVAILABLE, "topic '" + name + "' moved to node '" + owner
        + "' before the batch was sequenced; nothing of it was accepted; retry", "topic", name, "owner", owner);
  }

  /**
   * As {@link #resolve}, for a subscriber: a topic another node owns answers once this node can
   * serve subscriptions to it (its relay mirrors the owner).
   */
  public CompletableFuture<TopicHandle> resolveForSubscription(String name) {
    return resolve(name).thenCompose(h -> h instanceof RemoteTopic r ? r.whenReadyToSubscribe() : CompletableFuture.completedFuture(h));
  }

  /** The live topic, or empty. */
  public Optional<TopicHandle> get(String name) {
    return Optional.ofNullable(topics.get(name));
  }

  /**
   * The topic for a data-plane call, without blocking: completed at once when the topic is live;
   * with auto-create on, completed when the store has created it (on the store's thread). Fails
   * with NOT_FOUND if unknown (and auto-create is off) once this node has caught up with the
   * metadata leader ({@link MetadataStore#catchUp}), so never for a topic another node just
   * answered as created; UNAVAILABLE when that cannot be confirmed (no leader reachable) and while
   * the broker shuts down.
   * The name must already be valid.
   */
  public CompletableFuture<TopicHandle> resolve(String name) {
    CompletableFuture<? extends TopicHandle> o = resolveOverridesForTests.get(name); // TEST HOOK, see below
    if (o != null) {
      return o.thenApply(h -> h);
    }
    TopicHandle t = topics.get(name);
    if (t != null) {
      return CompletableFuture.completedFuture(t);
    }
    if (closing) {
      // not "not found": the topic is there, this broker is going away; a retry elsewhere helps
      return CompletableFuture.failedFuture(Errors.shuttingDown("broker is shutting down; reconnect (to another broker) and retry"));
    }
    if (metadata.get(name).isPresent()) {
      return CompletableFuture.failedFuture(notServedYet(name));
    }
    if (autoCreate) {
      return metadata.create(name, TopicSettings.DEFAULTS).handle((r, e) -> {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause != null && !(cause instanceof StatusRuntimeException sre && sre.getStatus().getCode() == Status.Code.ALREADY_EXISTS)) {
          throw cause instanceof RuntimeException re ? re : new CompletionException(cause);
        }
        return null;
      }).thenCompose(v -> afterCatchUp(name));
    }
    // unknown here: this node may lag the leader by a heartbeat (another node answered its create a
    // moment ago) or be cut off from the metadata; only the leader can say NOT_FOUND
    return afterCatchUp(name);
  }

  /** Looks {@code name} up once this node has applied what the metadata leader has; NOT_FOUND only then. */
  private CompletableFuture<TopicHandle> afterCatchUp(String name) {
    TopicHandle known = topics.get(name);
    if (known != null) {
      return CompletableFuture.completedFuture(known);
    }
    return metadata.catchUp().handle((v, e) -> {
      if (e != null) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        throw Errors.error(ErrorReason.ERROR_REASON_METADATA_UNAVAILABLE, "cannot tell whether topic '" + name
            + "' exists: this node does not reach the metadata leader (" + Status.fromThrowable(cause).getDescription()
            + "); retry, or use another broker", cause);
      }
      TopicHandle t = topics.get(name);
      if (t != null) {
        return t;
      }
      if (closing) {
        throw Errors.shuttingDown("broker is shutting down; reconnect (to another broker) and retry");
      }
      if (metadata.get(name).isPresent()) {
        throw notServedYet(name);
      }
      throw notFound(name);
    });
  }

  private static StatusRuntimeException notServedYet(String name) {
    // known, but this node does not serve it yet (it has not joined)
    return Errors.error(ErrorReason.ERROR_REASON_OWNER_UNAVAILABLE, "topic '" + name
        + "' is not available on this node yet (it is starting); retry", "topic", name);
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

  /**
   * How dedup windows travel with topics handed over (a graceful stop): sent to the other nodes
   * before a release, taken by the node that starts the topic. Without one (a broker without
   * peers) nothing travels.
   */
  public interface DedupHandOver {
    /** Ids handed over per topic at most (the youngest of its window). */
    int MAX_IDS = 100_000;
    /** Ids handed over at most by one stopping node, over all its topics (topics past it travel without). */
    int TOTAL_IDS = 1_000_000;
    /** How long the releases wait for the ids to arrive, in all; a release then goes on without them. */
    java.time.Duration HAND_OVER_WAIT = java.time.Duration.ofSeconds(3);

    /** Sends {@code ids} of {@code t} (after its loop ended); completes when sent, or given up (bounded). */
    CompletableFuture<Void> handOver(Topic t, java.util.Map<String, PublishAck> ids);

    /** The ids handed over for the topic of {@code r}, or null. */
    java.util.Map<String, PublishAck> take(TopicRecord r);
  }

  private volatile DedupHandOver dedup = new DedupHandOver() {
    @Override
    public CompletableFuture<Void> handOver(Topic t, java.util.Map<String, PublishAck> ids) {
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public java.util.Map<String, PublishAck> take(TopicRecord r) {
      return null;
    }
  };

  /** Sets how dedup windows travel with topics (before {@code start}). */
  public void dedupHandOver(DedupHandOver d) {
    this.dedup = d;
  }

  /** Every live topic this node owns. */
  public List<Topic> all() {
    List<Topic> out = new ArrayList<>();
    for (TopicHandle h : topics.values()) {
      if (h instanceof Topic t) {
        out.add(t);
      }
    }
    return out;
  }

  /** Every topic another node owns that this node serves. */
  public List<RemoteTopic> remote() {
    List<RemoteTopic> out = new ArrayList<>();
    for (TopicHandle h : topics.values()) {
      if (h instanceof RemoteTopic r) {
        out.add(r);
      }
    }
    return out;
  }

  /** The live topic if this node owns it, for tests and metrics. */
  public Optional<Topic> local(String name) {
    return topics.get(name) instanceof Topic t ? Optional.of(t) : Optional.empty();
  }

  /** Topics this node owns. */
  public int size() {
    return all().size();
  }

  // ------------------------------------------------------------------ shutdown, from the outside in

  /** Step 1: refuse new publishes on every topic. */
  public void stopAccepting(StatusRuntimeException status) {
    closing = true;
    for (Topic t : all()) {
      t.stopAccepting(status);
    }
  }

  /** Step 2: wait (bounded) for every inbox to be sequenced. False if the deadline passed first. */
  public boolean awaitInboxesEmpty(long deadlineNanos) throws InterruptedException {
    for (Topic t : all()) {
      long left = deadlineNanos - System.nanoTime();
      if (!t.awaitInboxEmpty(Math.max(left, 0), TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return true;
  }

  /** Step 3: let writers send what is buffered, then end their streams. */
  public void drainSubscribers() {
    for (Topic t : all()) {
      t.drainSubscribers(CloseReason.SHUTDOWN);
    }
    for (RemoteTopic r : remote()) {
      r.drainSubscribers(CloseReason.SHUTDOWN);
    }
    for (RemoteTopic r : retired) {
      r.drainSubscribers(CloseReason.SHUTDOWN);
    }
  }

  /**
   * Step 4: close every topic and wait (bounded) for its loop to end, then hand each over at its
   * exact next sequence ({@link MetadataStore#release}): another node continues it in a new epoch
   * with nothing lost, or, with no other node, this node continues it in the same epoch at its next
   * start, and a resuming subscriber's gap notice counts exactly the events it lost. A topic whose
   * loop did not end in time is not handed over: it moves as if this node were lost (unknown
   * loss above its reserved floor). Remote handles are closed. Without {@code handOver} (tests of
   * a crash) nothing is recorded. Not on a transport thread.
   */
  public void closeAll(StatusRuntimeException status, boolean handOver) {
    List<TopicHandle> handles;
    synchronized (this) {
      closed = true;
      handles = new ArrayList<>(topics.values());
      handles.addAll(retired);
      retired.clear();
    }
    List<Topic> local = new ArrayList<>();
    for (TopicHandle h : handles) {
      if (h instanceof Topic t) {
        t.close(status, CloseReason.SHUTDOWN);
        local.add(t);
      } else if (h instanceof RemoteTopic r) {
        r.close(status, CloseReason.SHUTDOWN);
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    // the dedup ids of every topic together: at most TOTAL_IDS, and the releases wait for them at
    // most HAND_OVER_WAIT from here (a slow peer must not turn a hand-over into a lost owner)
    long dedupDeadline = System.nanoTime() + DedupHandOver.HAND_OVER_WAIT.toNanos();
    int idBudget = DedupHandOver.TOTAL_IDS;
    List<CompletableFuture<?>> releases = new ArrayList<>(local.size());
    for (Topic t : local) {
      try {
        t.terminated().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (!handOver) {
          continue;
        }
        // the dedup ids go first, to every node that may take the topic (the metadata picks one
        // as it applies the release), so the new owner still recognizes a publisher's retries
        java.util.Map<String, PublishAck> ids = idBudget > 0 ? t.dedupWindow(Math.min(DedupHandOver.MAX_IDS, idBudget)) : java.util.Map.of();
        idBudget -= ids.size();
        CompletableFuture<Void> sent = dedup.handOver(t, ids)
            .completeOnTimeout(null, Math.max(0, dedupDeadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        releases.add(sent.thenCompose(v -> metadata.release(t.name(), t.createEpoch(), t.epoch(), t.nextSequence())).exceptionally(e -> {
          log.warn("topic '{}' not handed over ({}); it moves as if this node were lost", t.name(), e.toString());
          return null;
        }));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (Exception e) {
        log.warn("topic '{}': its dispatch loop did not end in time ({}); it moves as if this node were lost", t.name(), e.toString());
      }
    }
    try {
      CompletableFuture.allOf(releases.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.warn("could not hand every topic over ({}); those left move as if this node were lost", e.toString());
    }
    topics.clear();
  }
}
