package io.herald.broker.cluster;

import io.grpc.StatusRuntimeException;
import io.herald.broker.cluster.relay.RelayTopic;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.topic.TopicRegistry;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.TopicStats;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A topic another node owns, as this node serves it: publishes go to the owner through a {@link
 * ForwardingTopic} (one stream per peer, {@link PeerLinks}), subscriptions are served by a {@link RelayTopic} (one
 * upstream subscription to the owner for all local subscribers, each with its own buffer and
 * policy), opened when the first local subscriber comes and closed when the last has been gone for
 * {@link #RELAY_IDLE}. When the owner changes, the relay moves with it: local streams stay open and
 * get the new owner's OWNER_CHANGE notice in-band.
 *
 * <p>Thread-safe; no method blocks.
 */
public final class ClusterTopic implements TopicRegistry.RemoteTopic {
  private static final Logger log = LoggerFactory.getLogger(ClusterTopic.class);
  /** How long a relay with no local subscribers stays subscribed (a subscriber reconnecting keeps its history). */
  static final Duration RELAY_IDLE = Duration.ofSeconds(30);
  /** How long a new local subscriber waits for the relay to mirror the owner before it gets UNAVAILABLE. */
  static final Duration RELAY_READY_TIMEOUT = Duration.ofSeconds(10);

  private final String node;
  /** Publishes to the owner, over the one stream per peer ({@link PeerLinks}). */
  private final ForwardingTopic forwarding;
  private final ScheduledExecutorService timer;
  private final java.util.function.Function<String, io.grpc.ManagedChannel> relayChannels;
  private volatile TopicRecord record;
  private volatile String address;
  /** The relay while there are (or recently were) local subscribers; guarded by this for changes. */
  private volatile RelayTopic relay;
  private boolean closed;
  private StatusRuntimeException closedStatus;

  public ClusterTopic(TopicRecord record, String ownerAddress, String node, PeerLinks links, ScheduledExecutorService timer) {
    this(record, ownerAddress, node, links, timer, RelayTopic::plaintextChannel);
  }

  /**
   * @param relayChannels opens the relay's channel to the owner (plaintext, or with the cluster's TLS
   *     and token); the relay shuts down what it opens
   */
  public ClusterTopic(TopicRecord record, String ownerAddress, String node, PeerLinks links, ScheduledExecutorService timer,
      java.util.function.Function<String, io.grpc.ManagedChannel> relayChannels) {
    this.relayChannels = relayChannels;
    this.record = record;
    this.address = ownerAddress;
    this.node = node;
    this.forwarding = new ForwardingTopic(record.name(), () -> this.record, ownerAddress == null ? "" : ownerAddress, links);
    this.timer = timer;
  }

  private StatusRuntimeException ownerUnavailable(String what) {
    TopicRecord r = record;
    return Errors.error(ErrorReason.ERROR_REASON_OWNER_UNAVAILABLE, "topic '" + r.name() + "' is owned by node '" + r.owner() + "'"
        + (address == null ? ", which is not reachable now" : " at " + address) + ": " + what + "; retry (here or on any node)",
        "topic", r.name(), "owner", r.owner());
  }

  // ------------------------------------------------------------------ ownership

  @Override
  public synchronized void moved(TopicRecord r, String ownerAddress) {
    TopicRecord old = record;
    record = r;
    String was = address;
    address = ownerAddress;
    if (ownerAddress != null && !ownerAddress.equals(was)) {
      forwarding.retarget(ownerAddress); // new publishes go to the new owner; those on the old link get its answer
    }
    RelayTopic rl = relay;
    if (rl != null) {
      if (!old.settings().equals(r.settings())) {
        rl.updateSettings(r.settings());
      }
      if (ownerAddress != null && !ownerAddress.equals(was)) {
        rl.retarget(ownerAddress); // local streams stay open; the new owner's notice arrives in-band
      }
    }
  }

  @Override
  public synchronized void close(StatusRuntimeException status, CloseReason reason) {
    closed = true;
    closedStatus = status;
    RelayTopic rl = relay;
    relay = null;
    if (rl != null) {
      rl.close(reason);
    }
  }

  @Override
  public void drainSubscribers(CloseReason reason) {
    RelayTopic rl = relay;
    if (rl != null) {
      rl.drainSubscribers(reason);
    }
  }

  /** For a subscriber: completes with this handle once the relay mirrors the owner (opened if needed). */
  @Override
  public CompletableFuture<TopicHandle> whenReadyToSubscribe() {
    RelayTopic rl;
    synchronized (this) {
      if (closed) {
        return CompletableFuture.failedFuture(closedStatus != null ? closedStatus : ownerUnavailable("this node stopped serving it"));
      }
      rl = relay;
      if (rl == null || rl.closeReason() != null) {
        TopicRecord r = record;
        rl = new RelayTopic(r.name(), r.settings(), r.createEpoch(), node, () -> address, relayChannels, RelayTopic.Options.DEFAULTS);
        relay = rl;
        rl.start();
        log.info("topic '{}': relay from owner '{}' ({}) opened for local subscribers", r.name(), r.owner(), address);
      }
    }
    RelayTopic opened = rl;
    return rl.ready().<TopicHandle>thenApply(x -> this)
        .orTimeout(RELAY_READY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .exceptionallyCompose(e -> {
          Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          if (opened.closeReason() == CloseReason.TOPIC_DELETED && c instanceof StatusRuntimeException sre) {
            return CompletableFuture.failedFuture(sre);
          }
          return CompletableFuture.failedFuture(ownerUnavailable("its relay could not mirror the owner within "
              + RELAY_READY_TIMEOUT.toSeconds() + " s (" + c.getMessage() + ")"));
        });
  }

  private RelayTopic relayOrRefuse() {
    RelayTopic rl = relay;
    if (rl == null) {
      throw ownerUnavailable("its relay is not open");
    }
    return rl;
  }

  /** Closes the relay if it still has no local subscriber {@link #RELAY_IDLE} after the last left. */
  private void scheduleIdleCheck(RelayTopic rl) {
    try {
      timer.schedule(() -> {
        synchronized (this) {
          if (relay == rl && rl.subscriptions().isEmpty()) {
            relay = null;
            rl.close(CloseReason.CLIENT_CANCELLED);
            log.info("topic '{}': relay closed, no local subscribers for {} s", record.name(), RELAY_IDLE.toSeconds());
          }
        }
      }, RELAY_IDLE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // shutting down: the registry closes the relay
    }
  }

  // ------------------------------------------------------------------ TopicHandle

  @Override
  public String name() {
    return record.name();
  }

  @Override
  public TopicSettings settings() {
    return record.settings();
  }

  @Override
  public long epoch() {
    RelayTopic rl = relay;
    return rl != null ? Math.max(rl.epoch(), record.epoch()) : record.epoch();
  }

  @Override
  public Admission offer(PublishBatch batch) {
    String a = address;
    if (a == null) {
      throw ownerUnavailable("publishes cannot be forwarded");
    }
    return forwarding.offer(batch);
  }

  @Override
  public boolean withdraw(PublishBatch batch) {
    return forwarding.withdraw(batch);
  }

  @Override
  public Subscription newSubscription(String id, String subscriberName, String peer, Policy policy,
      long maxEvents, long maxBytes, long creditEvents, long creditBytes) {
    return relayOrRefuse().newSubscription(id, subscriberName, peer, policy, maxEvents, maxBytes, creditEvents, creditBytes);
  }

  @Override
  public Start register(Subscription sub, StartKind kind, long sequence, long positionEpoch) {
    return relayOrRefuse().register(sub, kind, sequence, positionEpoch);
  }

  @Override
  public void unregister(Subscription sub) {
    RelayTopic rl = relay;
    if (rl != null) {
      rl.unregister(sub);
      if (rl.subscriptions().isEmpty()) {
        scheduleIdleCheck(rl);
      }
    }
  }

  @Override
  public List<Subscription> subscriptions() {
    RelayTopic rl = relay;
    return rl == null ? List.of() : rl.subscriptions();
  }

  @Override
  public long waitingEvents() {
    return forwarding.waitingEvents();
  }

  @Override
  public long waitingBytes() {
    return forwarding.waitingBytes();
  }

  @Override
  public long nextSequence() {
    RelayTopic rl = relay;
    return rl != null ? rl.nextSequence() : record.sequenceFloor();
  }

  @Override
  public TopicStats stats() {
    RelayTopic rl = relay;
    return rl != null ? rl.stats() : TopicStats.newBuilder().setNextSequence(record.sequenceFloor()).build();
  }

  // ------------------------------------------------------------------ metrics

  /** 1 while the relay's upstream subscription is open. */
  public int relayStreams() {
    RelayTopic rl = relay;
    return rl == null ? 0 : rl.relayStreamsOpen();
  }

  public long relayCreditEvents() {
    RelayTopic rl = relay;
    return rl == null ? 0 : rl.upstreamCreditEvents();
  }

  public long relayBufferedEvents() {
    RelayTopic rl = relay;
    return rl == null ? 0 : rl.bufferedEvents();
  }
}
