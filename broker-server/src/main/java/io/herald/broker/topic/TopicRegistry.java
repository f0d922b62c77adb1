package io.herald.broker.topic;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.CloseReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live topics of this broker, kept in step with the {@link MetadataStore}: a committed create
 * starts a topic and its dispatch loop, an update swaps its settings, a delete closes it. Lookups
 * are lock-free. With auto-create on, publishing or subscribing to an unknown (valid) name creates
 * the topic with the broker defaults.
 */
public final class TopicRegistry implements MetadataStore.Listener {
  private static final Logger log = LoggerFactory.getLogger(TopicRegistry.class);

  private final MetadataStore metadata;
  private final boolean autoCreate;
  private final ConcurrentHashMap<String, Topic> topics = new ConcurrentHashMap<>();
  private volatile Lifecycle lifecycle = new Lifecycle() { };
  private volatile boolean closing;

  /** Told when topics start and stop (the metrics). Called on the metadata thread. */
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
    Topic t = new Topic(r.name(), r.settings(), r.createTime(), r.sequenceFloor(),
        floor -> metadata.setSequenceFloor(r.name(), floor).join());
    Topic prev = topics.putIfAbsent(r.name(), t);
    if (prev == null) {
      lifecycle.started(t);
      t.start();
      log.info("topic '{}' created", r.name());
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
      t.close(Status.NOT_FOUND.withDescription("topic '" + name + "' was deleted before the batch was sequenced").asRuntimeException(),
          CloseReason.TOPIC_DELETED);
      lifecycle.stopped(t);
      log.info("topic '{}' deleted", name);
    }
  }

  public Optional<Topic> get(String name) {
    return Optional.ofNullable(topics.get(name));
  }

  /**
   * The topic for a data-plane call: NOT_FOUND if unknown (and auto-create is off). The name must
   * already be valid.
   */
  public Topic resolve(String name) {
    Topic t = topics.get(name);
    if (t != null) {
      return t;
    }
    if (closing) {
      // not "not found": the topic is there, this broker is going away; a retry elsewhere helps
      throw Status.UNAVAILABLE.withDescription("broker is shutting down; reconnect (to another broker) and retry").asRuntimeException();
    }
    if (autoCreate) {
      try {
        metadata.create(name, TopicSettings.DEFAULTS).join();
      } catch (CompletionException e) {
        if (!(e.getCause() instanceof StatusRuntimeException sre && sre.getStatus().getCode() == Status.Code.ALREADY_EXISTS)) {
          throw e.getCause() instanceof RuntimeException re ? re : e;
        }
      }
      t = topics.get(name);
      if (t != null) {
        return t;
      }
    }
    throw Status.NOT_FOUND.withDescription("topic '" + name + "' does not exist; create it first (herald topic create "
        + name + ") or start the broker with --auto-create-topics").asRuntimeException();
  }

  public List<Topic> all() {
    return new ArrayList<>(topics.values());
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
   * Step 4: close every topic and stop its loop, then record each topic's exact next sequence, so
   * that after a graceful restart sequences continue without a jump and a resuming subscriber's
   * gap notice counts exactly the events it lost.
   */
  public void closeAll(StatusRuntimeException status) {
    for (Topic t : topics.values()) {
      t.close(status, CloseReason.SHUTDOWN);
      try {
        metadata.setSequenceFloor(t.name(), t.nextSequence()).join();
      } catch (RuntimeException e) {
        log.warn("could not record the next sequence of topic '{}': {}", t.name(), e.toString());
      }
    }
    topics.clear();
  }
}
