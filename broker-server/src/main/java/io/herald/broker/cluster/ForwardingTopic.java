package io.herald.broker.cluster;

import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.topic.AckRun;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.TopicStats;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A topic another broker owns, as this broker's services see it: publishes are forwarded to the
 * owner over this broker's one {@link PeerLink} to it and answered with the owner's acks or refusal
 * (code, reason and metadata as the owner made them). {@link #offer} follows the {@link TopicHandle}
 * contract with the link's window in the role of the inbox: ADMITTED (queued on the link), WAITING
 * (the link's window is full: the listener's {@code admitted()} says when it enters), FULL (REJECT
 * topic and a full window), LINE_FULL (the link's wait line is full too); a link that is down
 * refuses with UNAVAILABLE OWNER_UNAVAILABLE. The owner's inbox then applies the topic's own rules.
 *
 * <p>Subscriptions are not served here yet (a relay will be): those methods throw UNAVAILABLE.
 *
 * <p>Settings and epoch come from {@code record} (the metadata store's current record, read on
 * every call). When the topic's owner changes, {@link #retarget} points new publishes at the new
 * owner; batches already on the old owner's link are answered there (or fail with it).
 *
 * <p>Thread-safe; no method blocks.
 */
public final class ForwardingTopic implements TopicHandle {
  private final String name;
  private final Supplier<TopicRecord> record;
  private final PeerLinks links;
  private volatile String owner;
  private final AtomicLong waitingEvents = new AtomicLong();
  private final AtomicLong waitingBytes = new AtomicLong();
  /** The largest sequence in an ack this broker received for the topic (0: none yet). */
  private final AtomicLong lastAcked = new AtomicLong();

  /**
   * @param name the topic
   * @param record the topic's current metadata record (settings, epoch)
   * @param ownerAddress the owner's {@code host:port} for broker-to-broker calls
   * @param links this broker's peer links (one per peer, shared by every forwarding topic)
   */
  public ForwardingTopic(String name, Supplier<TopicRecord> record, String ownerAddress, PeerLinks links) {
    this.name = name;
    this.record = record;
    this.owner = ownerAddress;
    this.links = links;
  }

  /** Points new publishes at a new owner. */
  public void retarget(String ownerAddress) {
    this.owner = ownerAddress;
  }

  /** The owner's address publishes go to. */
  public String ownerAddress() {
    return owner;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public TopicSettings settings() {
    return record.get().settings();
  }

  @Override
  public long epoch() {
    return record.get().epoch();
  }

  @Override
  public Admission offer(PublishBatch batch) {
    return links.link(owner).offer(this, batch);
  }

  @Override
  public boolean withdraw(PublishBatch batch) {
    return links.withdraw(batch);
  }

  /** Called by a link, under its lock: a batch of this topic entered (+) or left (-) its line. */
  void waiting(long events, long bytes) {
    waitingEvents.addAndGet(events);
    waitingBytes.addAndGet(bytes);
  }

  /** Called by a link as acks arrive. */
  void acked(List<PublishAck> acks) {
    lastAcked.accumulateAndGet(AckRun.lastSequence(acks), Math::max);
  }

  private StatusRuntimeException relayUnavailable() {
    return PeerErrors.ownerUnavailable(name, owner, "topic '" + name + "' is owned by another broker (" + owner
        + ") and subscribing through this one (a relay) is not available yet: subscribe on the owner");
  }

  @Override
  public Subscription newSubscription(String id, String subscriberName, String peer, Policy policy,
      long maxEvents, long maxBytes, long creditEvents, long creditBytes) {
    throw relayUnavailable();
  }

  @Override
  public Start register(Subscription sub, StartKind kind, long sequence, long positionEpoch) {
    throw relayUnavailable();
  }

  @Override
  public void unregister(Subscription sub) { }

  @Override
  public List<Subscription> subscriptions() {
    return List.of();
  }

  /** Events of this topic waiting for room in its link's window. */
  @Override
  public long waitingEvents() {
    return waitingEvents.get();
  }

  @Override
  public long waitingBytes() {
    return waitingBytes.get();
  }

  /**
   * A lower bound known here: the sequence after the newest ack this broker received, or the
   * record's sequence floor when that is higher. The owner knows the exact value.
   */
  @Override
  public long nextSequence() {
    return Math.max(lastAcked.get() + 1, record.get().sequenceFloor());
  }

  /** What this broker knows: the wait line and {@link #nextSequence()}; the owner has the rest. */
  @Override
  public TopicStats stats() {
    return TopicStats.newBuilder()
        .setNextSequence(nextSequence())
        .setWaitingEvents(waitingEvents())
        .setWaitingBytes(waitingBytes())
        .build();
  }
}
