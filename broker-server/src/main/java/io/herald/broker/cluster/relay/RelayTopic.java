package io.herald.broker.cluster.relay;

import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.GapReason;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.topic.TopicMirror;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.SubscriptionStarted;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import io.herald.proto.v1.TopicStats;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A topic this node does not own but has local subscribers on: ONE upstream subscription to the
 * owner (the public {@code herald.v1.SubscribeService}, as any client), fanned out locally through
 * a {@link TopicMirror}, so every local subscription has its own buffer, policy, credit, start
 * position and gap notices, and sees what it would see on the owner: the same (epoch, sequence) and
 * the same event bytes, the owner's gap notices with the same reason and count, and its own drops
 * as its own gaps. Publishing is not this class's business: {@link #offer} refuses with UNAVAILABLE.
 *
 * <h2>The upstream subscription</h2>
 * It is named {@code relay:<node>} (so the owner's {@code herald subscription list} shows it),
 * starts at the owner's EARLIEST retained event when the relay starts (so the local retention ring
 * mirrors the owner's and a local subscriber at any start position finds what it would find there;
 * {@link #ready()} completes once it has fed what the owner had sequenced when the relay started,
 * read with the admin API's {@code GetTopic}, so a LATEST start here is as current as on the
 * owner), uses the BLOCK policy (DROP_NEWEST if the topic forbids BLOCK; the owner's drops then
 * reach every local subscriber as DROPPED gaps) and credit in events and bytes: {@link
 * Options#creditWindow()} and {@link Options#creditWindowBytes()} (at most the topic's subscriber
 * buffer, subscriber_buffer_max_events and _bytes) up front, and as much more as the
 * relay loop has fanned out, handed back in chunks of an eighth of the window (and whatever is
 * left whenever the loop runs out of frames). The loop waits for local BLOCK subscribers (within max_block, like a
 * dispatch loop) and gives no credit meanwhile, so the owner's buffer for the relay fills, the
 * owner's dispatch loop waits, its inbox fills and its publishers are slowed: a BLOCK subscriber on
 * this node paces the topic, end to end, exactly as on the owner. DROP subscribers never hold the
 * loop, so they never slow anyone. Inbound gRPC flow control is the second line: the relay asks
 * for {@value #REQUESTED_FRAMES} frames up front and as many more as the loop applied, in chunks of
 * half that (and the rest whenever it runs out of frames).
 *
 * <h2>Failure and owner change</h2>
 * When the upstream ends (owner stopped, connection lost, the relay evicted as a slow consumer) the
 * relay subscribes again, with a bounded exponential backoff ({@link Options}), at the address the
 * owner supplier gives, from (epoch of the last event, last sequence + 1); {@link #retarget} moves it
 * at once. Local streams stay open throughout: whatever the owner says about the missing range (a
 * RETENTION, CRASH_RECOVERY or OWNER_CHANGE gap notice) reaches them in-band, before the next event.
 * An owner that answers NOT_FOUND (topic deleted), or a TOPIC_RECREATED gap, closes the relay and
 * its local subscriptions with TOPIC_DELETED (the clients resubscribe and resolve the topic anew).
 *
 * <h2>Shared subscriptions (queue groups, later)</h2>
 * The relay is an ordinary client of the owner's public Subscribe API, and the local side is an
 * ordinary set of subscriptions, so assignment stays on the owner: a local queue-group member will
 * not take events from this broadcast stream but from one more upstream subscription per local
 * group, opened by the relay with the group's name (the owner sees this node as one member of the
 * group, weighted by its local members if it wants), whose events the relay hands to one local
 * member each. The broadcast stream above is unchanged by that; only {@code connect} and a
 * per-group mirror are added.
 *
 * <h2>Threads</h2>
 * One virtual thread per relay, {@code herald-relay-<topic>}, applies every upstream frame and owns
 * the upstream call (init, credit, cancel) and its channel: the one-loop-per-topic rule. gRPC
 * callbacks (on the transport thread, direct executor) only put frames in the loop's queue, which
 * holds at most the frames requested (a few) per call. A throwable in the loop closes the relay and
 * its local subscriptions with RELAY_CLOSED (UNAVAILABLE): a relay holds nothing the owner does
 * not, so its clients resume elsewhere, or here once the wiring made a new relay.
 *
 * <p>Thread-safe. {@link TopicHandle} methods never block.
 */
public final class RelayTopic implements TopicHandle {
  private static final Logger log = LoggerFactory.getLogger(RelayTopic.class);

  /** Deadline of the owner's GetTopic when the relay starts. */
  static final int ADMIN_DEADLINE_SECONDS = 5;

  /** Upstream frames requested from gRPC ahead of the loop (the queue's bound per call). */
  static final int REQUESTED_FRAMES = 16;

  /**
   * Tuning of a relay.
   *
   * @param creditWindow upstream event credit outstanding at most (events received, not yet
   *     fanned out, plus credit the owner may still use); each costs up to one event of memory
   * @param minBackoff first wait before subscribing again after the upstream ended
   * @param maxBackoff the longest wait (the backoff doubles up to it)
   */
  public record Options(int creditWindow, long creditWindowBytes, Duration minBackoff, Duration maxBackoff) {
    /**
     * Default credit window, in events: {@value}, bounded per topic by its subscriber buffer
     * (subscriber_buffer_max_events and _bytes), so a BLOCK subscriber on this node lets the topic
     * run ahead no further than a subscriber's buffer on the owner would. Relay fan-out measured
     * 0.49-0.80 M delivered/s with 8,192 against 0.43-0.62 M with 1,024 (credit handed back in
     * chunks of an eighth: bigger frames, fewer wake-ups per event on both nodes).
     */
    public static final int DEFAULT_CREDIT_WINDOW = 8192;
    /** Default credit window in bytes (16 MiB): bounds what the window holds for large events. */
    public static final long DEFAULT_CREDIT_WINDOW_BYTES = 16L << 20;
    public static final Options DEFAULTS = new Options(DEFAULT_CREDIT_WINDOW, DEFAULT_CREDIT_WINDOW_BYTES, Duration.ofMillis(50),
        Duration.ofSeconds(2));

    /** With the default byte window. */
    public Options(int creditWindow, Duration minBackoff, Duration maxBackoff) {
      this(creditWindow, DEFAULT_CREDIT_WINDOW_BYTES, minBackoff, maxBackoff);
    }

    public Options {
      if (creditWindow < 1) {
        throw new IllegalArgumentException("creditWindow must be >= 1, was " + creditWindow);
      }
      if (creditWindowBytes < 1) {
        throw new IllegalArgumentException("creditWindowBytes must be >= 1, was " + creditWindowBytes);
      }
      if (minBackoff.isNegative() || maxBackoff.compareTo(minBackoff) < 0) {
        throw new IllegalArgumentException("backoff must be 0 <= min <= max, was " + minBackoff + " .. " + maxBackoff);
      }
    }
  }

  private static final MethodDescriptor<SubscribeRequest, UpstreamFrame> METHOD = SubscribeServiceGrpc.getSubscribeMethod()
      .toBuilder(ProtoUtils.marshaller(SubscribeRequest.getDefaultInstance()), UpstreamFrame.MARSHALLER)
      .build();

  /** A plaintext Netty channel per owner address (the default channel factory). */
  public static ManagedChannel plaintextChannel(String address) {
    return NettyChannelBuilder.forTarget(address).usePlaintext().build();
  }

  private final String name;
  private final long createEpoch;
  private final String subscriberName;
  private final Supplier<String> ownerAddress;
  private final Function<String, ManagedChannel> channels;
  private final Options options;
  private final TopicMirror mirror;
  private volatile TopicSettings settings;
  /** The newest epoch seen from the owner (started frames, events). */
  private volatile long epoch;
  private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private final CompletableFuture<RelayTopic> ready = new CompletableFuture<>();
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  /** Events received from the owner, not yet fanned out (all calls). */
  private final AtomicLong queuedEvents = new AtomicLong();
  private final AtomicLong reconnects = new AtomicLong();
  private volatile Upstream upstream;
  private volatile CloseReason closed;

  /**
   * @param name the topic
   * @param settings the topic's settings (buffers, policies, max_block, retention apply locally)
   * @param createEpoch the topic's incarnation (its create epoch), for TOPIC_RECREATED notices to
   *     local subscribers resuming from an earlier one; 0 if not known
   * @param node this node's name: the upstream subscriber is {@code relay:<node>}
   * @param ownerAddress where the owner is now ({@code host:port}); asked before every
   *     (re)subscription, so it should follow the topic's owner
   * @param channels opens a channel to an address; the relay owns (and shuts down) what it opens.
   *     {@link #plaintextChannel} by default
   */
  public RelayTopic(String name, TopicSettings settings, long createEpoch, String node, Supplier<String> ownerAddress,
      Function<String, ManagedChannel> channels, Options options) {
    this.name = Objects.requireNonNull(name, "name");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.createEpoch = createEpoch;
    this.subscriberName = "relay:" + node;
    this.ownerAddress = Objects.requireNonNull(ownerAddress, "ownerAddress");
    this.channels = Objects.requireNonNull(channels, "channels");
    this.options = Objects.requireNonNull(options, "options");
    this.mirror = new TopicMirror(name);
    this.thread = Thread.ofVirtual().name("herald-relay-" + name).unstarted(this::run);
  }

  /** With {@link #plaintextChannel} and {@link Options#DEFAULTS}. */
  public RelayTopic(String name, TopicSettings settings, long createEpoch, String node, Supplier<String> ownerAddress) {
    this(name, settings, createEpoch, node, ownerAddress, RelayTopic::plaintextChannel, Options.DEFAULTS);
  }

  /** Starts the relay loop, which subscribes to the owner. Once. */
  public RelayTopic start() {
    thread.start();
    return this;
  }

  /**
   * Completes, on the relay's thread, once the relay has fed everything the owner had sequenced
   * when the relay started (its {@code next_sequence} then): from then on the local history is
   * the owner's and a local LATEST start is as current as one on the owner. Local subscriptions
   * may register from then on; before, {@link #register} refuses with UNAVAILABLE. Fails if the
   * relay closes first. Hand the relay out only after it (e.g. {@code
   * TopicRegistry.resolve} answers with this future).
   */
  public CompletableFuture<RelayTopic> ready() {
    return ready;
  }

  /** Moves the upstream subscription to {@code address} now (the owner changed); never blocks. */
  public void retarget(String address) {
    queue.add(new Retarget(Objects.requireNonNull(address, "address")));
  }

  public void updateSettings(TopicSettings s) {
    this.settings = Objects.requireNonNull(s, "settings");
  }

  // ------------------------------------------------------------------ TopicHandle

  @Override
  public String name() {
    return name;
  }

  @Override
  public TopicSettings settings() {
    return settings;
  }

  @Override
  public long epoch() {
    return epoch;
  }

  /** Always refuses: publishes to a topic this node does not own are forwarded, not relayed. */
  @Override
  public Admission offer(PublishBatch batch) {
    throw Status.UNAVAILABLE.withDescription("topic '" + name + "' is owned by another broker; this one only relays its"
        + " subscriptions: publish to the owner").asRuntimeException();
  }

  @Override
  public boolean withdraw(PublishBatch batch) {
    return false;
  }

  @Override
  public Subscription newSubscription(String id, String subscriberName, String peer, Policy policy,
      long maxEvents, long maxBytes, long creditEvents, long creditBytes) {
    return mirror.newSubscription(id, subscriberName, peer, policy, maxEvents, maxBytes, creditEvents, creditBytes);
  }

  /** As {@code Topic.register}, against the relayed history; UNAVAILABLE before {@link #ready()}. */
  @Override
  public Start register(Subscription sub, StartKind kind, long sequence, long positionEpoch) {
    if (closed != null) {
      throw Errors.topicNotFound(name, "topic '" + name + "' is no longer relayed by this broker (" + closed + "); subscribe again");
    }
    if (!ready.isDone()) {
      throw Status.UNAVAILABLE.withDescription("this broker is still connecting to the owner of topic '" + name + "'; retry")
          .asRuntimeException();
    }
    long current = epoch;
    Gap firstGap = null;
    StartKind k = kind;
    long from = sequence;
    if (kind == StartKind.SEQUENCE && positionEpoch != 0 && positionEpoch != current) {
      if (positionEpoch > current) {
        throw Errors.error(ErrorReason.ERROR_REASON_EPOCH_AHEAD, "start_position.epoch " + positionEpoch + " is newer than topic '" + name
            + "''s epoch " + current + " as this broker relays it; this broker may be behind: retry on another broker, or resume from the"
            + " topic's current epoch", "topic", name, "epoch", Long.toUnsignedString(positionEpoch), "topicEpoch", current);
      }
      if (positionEpoch < createEpoch) {
        firstGap = new Gap(sequence, 0, GapReason.TOPIC_RECREATED, positionEpoch, true);
        k = StartKind.SEQUENCE;
        from = 1;
      }
    }
    long start = mirror.register(sub, k, from, current, positionEpoch == 0 || firstGap != null ? current : positionEpoch, firstGap);
    return new Start(current, start);
  }

  @Override
  public void unregister(Subscription sub) {
    mirror.unregister(sub);
  }

  @Override
  public List<Subscription> subscriptions() {
    return mirror.subscriptions();
  }

  @Override
  public long waitingEvents() {
    return 0;
  }

  @Override
  public long waitingBytes() {
    return 0;
  }

  /** The sequence after the last one relayed (events and gaps). */
  @Override
  public long nextSequence() {
    return mirror.nextSequence();
  }

  /**
   * As a topic's stats, for what this node holds: published counts events relayed, the inbox
   * depth shows events received from the owner and not yet fanned out.
   */
  @Override
  public TopicStats stats() {
    return TopicStats.newBuilder()
        .setPublished(mirror.relayed())
        .setDelivered(mirror.delivered())
        .setDropped(mirror.dropped())
        .setInboxDepthEvents(queuedEvents.get())
        .setSubscriberCount(mirror.subscriptions().size())
        .setNextSequence(nextSequence())
        .setFirstRetainedSequence(mirror.firstRetainedSequence())
        .setRetainedEvents(mirror.retainedEvents())
        .setRetainedBytes(mirror.retainedBytes())
        .setSlowConsumerEvictions(mirror.evictions())
        .build();
  }

  // ------------------------------------------------------------------ metrics

  /** Upstream subscriptions open now: 1 while the owner's stream is up (started and not ended), else 0. */
  public int relayStreamsOpen() {
    Upstream u = upstream;
    return u != null && u.open ? 1 : 0;
  }

  /** Event credit the owner may still use on the upstream stream (granted, not yet received). */
  public long upstreamCreditEvents() {
    Upstream u = upstream;
    return u == null ? 0 : Math.max(0, u.granted.get() - u.received.get());
  }

  /** Events held on this node for the topic: received from the owner and not yet fanned out, plus local subscription buffers. */
  public long bufferedEvents() {
    return queuedEvents.get() + mirror.bufferedEvents();
  }

  /** How many times the relay subscribed to the owner again (after a failure or a retarget). */
  public long reconnects() {
    return reconnects.get();
  }

  /** The local fan-out, for tests and metrics (counters, invariants). */
  public TopicMirror mirror() {
    return mirror;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Lets every local subscription's writer send what is buffered, then end its stream with {@code reason}. */
  public void drainSubscribers(CloseReason reason) {
    mirror.drainSubscribers(reason);
  }

  /**
   * Ends the relay without blocking: local subscriptions close with {@code reason} (which releases
   * the loop if it waits on a BLOCK buffer), the loop cancels the upstream stream, shuts its
   * channel down and ends ({@link #terminated()}). Idempotent; the first reason wins.
   */
  public void close(CloseReason reason) {
    if (closed == null) {
      closed = reason;
    }
    mirror.close(reason);
    queue.add(CLOSE);
    ready.completeExceptionally(Errors.topicNotFound(name, "the relay of topic '" + name + "' closed (" + reason + ")"));
    if (thread.getState() == Thread.State.NEW) {
      terminated.complete(null);
    }
  }

  /** Why the relay closed, or null while it runs. */
  public CloseReason closeReason() {
    return closed;
  }

  /** Completes when the relay's loop has ended (after {@link #close}, or a fatal upstream answer). */
  public CompletableFuture<Void> terminated() {
    return terminated;
  }

  // ------------------------------------------------------------------ the relay loop

  private static final Object CLOSE = new Object();

  private record Retarget(String address) { }

  private record Frame(Upstream from, UpstreamFrame frame) { }

  private record Ended(Upstream from, Status status) { }

  // loop state (relay thread only)
  private ManagedChannel channel;
  private String channelAddress;
  /** Epoch and sequence of the last event (or gap end) applied; 0 before the first started frame. */
  private long lastEpoch;
  private long lastSequence;
  private boolean started;
  /** The owner's next sequence when the relay started: {@link #ready} once fed up to it. */
  private long readyAt;
  private Policy upstreamPolicy;

  private void run() {
    String address = null;
    long backoffNanos = options.minBackoff().toNanos();
    int failures = 0; // in a row
    try {
      while (closed == null) {
        Status ended;
        String moved = null;
        if (address == null) {
          address = ownerAddress.get();
        }
        try {
          connect(address);
          ended = null;
        } catch (StatusRuntimeException e) {
          ended = e.getStatus(); // the owner's GetTopic refused
        } catch (RuntimeException e) {
          // no address, or a channel that cannot be built: like an owner that cannot be reached
          ended = Status.UNAVAILABLE.withDescription("cannot open a channel to the owner at " + address + ": " + e).withCause(e);
        }
        // apply this call's frames until it ends, a retarget or a close
        while (ended == null && moved == null && closed == null) {
          Object item = queue.poll();
          if (item == null) {
            // nothing more to apply now: hand the owner the credit and frame requests held back
            Upstream current = upstream;
            if (current != null && closed == null) {
              current.flush();
            }
            item = queue.take();
          }
          if (item instanceof Retarget r) {
            moved = r.address();
          } else if (item instanceof Frame f) {
            if (f.frame().events != null) {
              queuedEvents.addAndGet(-f.frame().events.size());
            }
            if (f.from() == upstream) {
              apply(f.from(), f.frame());
              if (f.frame().started != null) {
                backoffNanos = options.minBackoff().toNanos(); // it works again
                failures = 0;
              }
            }
          } else if (item instanceof Ended e && e.from() == upstream) {
            ended = e.status();
          }
          // CLOSE: the loop condition sees `closed`; an older call's frames and ends: dropped
        }
        Upstream u = upstream;
        upstream = null;
        if (u != null) {
          u.open = false;
          u.cancel();
        }
        if (closed != null) {
          break;
        }
        reconnects.incrementAndGet();
        if (moved != null) {
          log.info("relay of topic '{}' moves from {} to {}", name, address, moved);
          address = moved;
          continue;
        }
        if (fatal(ended, address)) {
          break;
        }
        if (ended.getCode() == Status.Code.FAILED_PRECONDITION && upstreamPolicy == Policy.BLOCK
            && ended.getDescription() != null && ended.getDescription().contains("OVERFLOW_POLICY_BLOCK")) {
          // the owner's topic forbids BLOCK (its settings are newer than ours): relay with DROP_NEWEST
          log.warn("relay of topic '{}': the owner refuses a BLOCK subscription; relaying with DROP_NEWEST (the owner's drops reach"
              + " local subscribers as DROPPED gaps)", name);
          upstreamPolicy = Policy.DROP_NEWEST;
        }
        if (++failures == 1) {
          log.info("relay of topic '{}' lost its upstream at {} ({}: {}); subscribing again, backing off up to {} ms", name, address,
              ended.getCode(), ended.getDescription(), options.maxBackoff().toMillis());
        } else {
          log.debug("relay of topic '{}': attempt {} at {} failed ({}: {})", name, failures, address, ended.getCode(), ended.getDescription());
        }
        // wait, unless a retarget or a close comes first
        long deadline = System.nanoTime() + backoffNanos;
        while (closed == null && moved == null) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            break;
          }
          Object item = queue.poll(left, TimeUnit.NANOSECONDS);
          if (item instanceof Retarget r) {
            moved = r.address();
          } else if (item instanceof Frame f && f.frame().events != null) {
            queuedEvents.addAndGet(-f.frame().events.size()); // a stale frame
          }
        }
        backoffNanos = Math.min(Math.max(backoffNanos * 2, 1), options.maxBackoff().toNanos());
        address = moved; // null: ask the supplier where the owner is now
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close(CloseReason.SHUTDOWN);
    } catch (Throwable t) {
      log.error("relay loop of topic '{}' failed; closing the relay and its local subscriptions (they resubscribe)", name, t);
      close(CloseReason.RELAY_CLOSED);
    } finally {
      Upstream u = upstream;
      upstream = null;
      if (u != null) {
        u.open = false;
        u.cancel();
      }
      if (channel != null) {
        channel.shutdownNow();
        channel = null;
      }
      queue.clear();
      queuedEvents.set(0);
      if (!ready.isDone()) {
        ready.completeExceptionally(Errors.topicNotFound(name, "the relay of topic '" + name + "' closed before it connected"));
      }
      terminated.complete(null);
    }
  }

  /** True (and the relay closed) when the owner's answer means the topic is gone. */
  private boolean fatal(Status st, String address) {
    if (st.getCode() != Status.Code.NOT_FOUND) {
      return false;
    }
    String now = ownerAddress.get();
    if (now != null && !now.equals(address)) {
      return false; // the topic moved: that address no longer has it
    }
    log.info("relay of topic '{}': the owner at {} says it does not exist ({}); closing the relay", name, address, st.getDescription());
    close(CloseReason.TOPIC_DELETED);
    return true;
  }

  /** Opens the upstream subscription at {@code address}: EARLIEST the first time, after the last applied position later. */
  private void connect(String address) {
    if (channel != null && !address.equals(channelAddress)) {
      channel.shutdownNow();
      channel = null;
    }
    if (channel == null) {
      channel = channels.apply(address);
      channelAddress = address;
    }
    if (upstreamPolicy == null) {
      upstreamPolicy = settings.blockPolicyAllowed() ? Policy.BLOCK : Policy.DROP_NEWEST;
    }
    if (!started) {
      // where the owner is now: the relay is ready once it has fed up to here (a virtual thread
      // may wait for this; nothing else runs on it)
      readyAt = TopicAdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(ADMIN_DEADLINE_SECONDS, TimeUnit.SECONDS)
          .getTopic(GetTopicRequest.newBuilder().setName(name).build()).getTopic().getStats().getNextSequence();
    }
    StartPosition.Builder sp = StartPosition.newBuilder();
    if (!started) {
      sp.setKind(StartPositionKind.START_POSITION_KIND_EARLIEST);
    } else {
      sp.setKind(StartPositionKind.START_POSITION_KIND_SEQUENCE).setSequence(lastSequence + 1).setEpoch(lastEpoch);
    }
    // the relay is one subscriber of the owner: its window is at most what the topic lets a
    // subscriber buffer, so a BLOCK subscriber here paces the topic as soon as one would on the owner
    int window = (int) Math.min(options.creditWindow(), settings.subscriberBufferMaxEvents());
    long windowBytes = Math.min(options.creditWindowBytes(), settings.subscriberBufferMaxBytes());
    SubscribeInit init = SubscribeInit.newBuilder()
        .setTopic(name)
        .setOverflowPolicy(upstreamPolicy == Policy.BLOCK ? OverflowPolicy.OVERFLOW_POLICY_BLOCK : OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST)
        .setStartPosition(sp)
        .setInitialCredit(Credit.newBuilder().setEvents(window).setBytes(windowBytes))
        .setSubscriberName(subscriberName)
        .build();
    Upstream u = new Upstream(window, windowBytes);
    u.granted.set(window);
    upstream = u;
    ClientCalls.asyncBidiStreamingCall(channel.newCall(METHOD, CallOptions.DEFAULT.withExecutor(MoreExecutors.directExecutor())), u);
    u.send(SubscribeRequest.newBuilder().setInit(init).build());
  }

  private void apply(Upstream u, UpstreamFrame f) throws InterruptedException {
    if (f.started != null) {
      started(u, f.started);
    } else if (f.gap != null) {
      gap(f.gap);
    } else {
      events(u, f.events);
    }
    if (started && !ready.isDone() && closed == null && mirror.nextSequence() >= readyAt) {
      log.info("relay of topic '{}' is ready: it has what the owner had sequenced when it started (up to {})", name, readyAt - 1);
      ready.complete(this);
    }
    u.applied();
  }

  private void started(Upstream u, SubscriptionStarted s) {
    u.open = true;
    epoch = Math.max(epoch, s.getStartEpoch());
    if (!started) {
      // the owner's earliest retained event (or its next one): the local history starts there
      mirror.resetTo(s.getStartSequence());
      lastSequence = s.getStartSequence() - 1;
      lastEpoch = s.getStartEpoch();
      started = true;
      log.info("relay of topic '{}' subscribed to the owner at {} as '{}' ({} from ({}, {}))", name, channelAddress,
          subscriberName, upstreamPolicy, s.getStartEpoch(), s.getStartSequence());
    } else {
      log.info("relay of topic '{}' subscribed again to the owner at {}, from ({}, {})", name, channelAddress, lastEpoch, lastSequence + 1);
    }
  }

  private void gap(Gap g) {
    if (g.last() == 0 || g.reason() == GapReason.TOPIC_RECREATED) {
      // the topic was deleted and created again while the relay was away: its sequences start over
      log.info("relay of topic '{}': the owner says the topic was re-created; closing the relay", name);
      close(CloseReason.TOPIC_DELETED);
      return;
    }
    if (g.last() <= lastSequence) {
      return;
    }
    mirror.skip(g);
    lastSequence = g.last();
  }

  private void events(Upstream u, List<Sequenced> run) throws InterruptedException {
    if (run.isEmpty()) {
      return;
    }
    List<Sequenced> fresh = run;
    if (run.get(0).sequence() <= lastSequence) {
      // never expected (a resumed stream starts after the last applied one): keep only what is new
      fresh = run.stream().filter(e -> e.sequence() > lastSequence).toList();
    }
    if (!fresh.isEmpty()) {
      Sequenced last = fresh.get(fresh.size() - 1);
      mirror.deliver(fresh, settings);
      lastSequence = last.sequence();
      lastEpoch = last.epoch();
      if (last.epoch() > epoch) {
        epoch = last.epoch();
      }
    }
    if (closed == null) {
      long bytes = 0;
      for (Sequenced e : run) {
        bytes += e.size();
      }
      u.fannedOut(run.size(), bytes);
    }
  }

  /**
   * One upstream Subscribe call. gRPC calls the observer methods (direct executor, transport
   * thread): they only count and queue. Everything else (init, credit, request, cancel) is the
   * relay loop's.
   */
  private final class Upstream implements ClientResponseObserver<SubscribeRequest, UpstreamFrame> {
    final AtomicLong granted = new AtomicLong();
    /** This stream's credit window (events, bytes): the options' bounded by the topic's subscriber buffer. */
    private final int window;
    private final long windowBytes;

    Upstream(int window, long windowBytes) {
      this.window = window;
      this.windowBytes = windowBytes;
    }

    final AtomicLong received = new AtomicLong();
    volatile boolean open;
    private ClientCallStreamObserver<SubscribeRequest> requests;

    @Override
    public void beforeStart(ClientCallStreamObserver<SubscribeRequest> r) {
      this.requests = r;
      r.disableAutoRequestWithInitial(REQUESTED_FRAMES);
    }

    void send(SubscribeRequest r) {
      requests.onNext(r);
    }

    // relay loop only: credit and frame requests are handed back in chunks (an eighth of the
    // window, half the frames), and whatever is held back when the loop runs out of frames
    // (flush), so a busy relay sends a credit message per thousand events, not one per frame
    private long creditEvents;
    private long creditBytes;
    private int framesApplied;

    void fannedOut(long events, long bytes) {
      creditEvents += events;
      creditBytes += bytes;
      if (creditEvents >= Math.max(1, window / 8) || creditBytes >= windowBytes / 8) {
        grant();
      }
    }

    void applied() {
      if (++framesApplied >= REQUESTED_FRAMES / 2) {
        requests.request(framesApplied);
        framesApplied = 0;
      }
    }

    void flush() {
      if (creditEvents > 0 || creditBytes > 0) {
        grant();
      }
      if (framesApplied > 0) {
        requests.request(framesApplied);
        framesApplied = 0;
      }
    }

    private void grant() {
      granted.addAndGet(creditEvents);
      send(SubscribeRequest.newBuilder().setCredit(Credit.newBuilder().setEvents(creditEvents).setBytes(creditBytes)).build());
      creditEvents = 0;
      creditBytes = 0;
    }

    void cancel() {
      requests.cancel("relay of topic '" + name + "' moves on", null);
    }

    @Override
    public void onNext(UpstreamFrame f) {
      if (f.events != null) {
        received.addAndGet(f.events.size());
        queuedEvents.addAndGet(f.events.size());
      }
      queue.add(new Frame(this, f));
    }

    @Override
    public void onError(Throwable t) {
      queue.add(new Ended(this, Status.fromThrowable(t)));
    }

    @Override
    public void onCompleted() {
      queue.add(new Ended(this, Status.OK.withDescription("the owner completed the stream")));
    }
  }
}
