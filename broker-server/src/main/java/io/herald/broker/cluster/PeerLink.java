package io.herald.broker.cluster;

import com.google.common.util.concurrent.MoreExecutors;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.broker.topic.AckRun;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.transport.Drainer;
import io.herald.broker.transport.Errors;
import io.herald.proto.cluster.v1.ForwardBatch;
import io.herald.proto.cluster.v1.ForwardAcks;
import io.herald.proto.cluster.v1.ForwardInit;
import io.herald.proto.cluster.v1.ForwardRequest;
import io.herald.proto.cluster.v1.ForwardResponse;
import io.herald.proto.cluster.v1.PeerServiceGrpc;
import io.herald.proto.v1.PublishAck;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This broker's forwarding end towards one peer: ONE {@code Forward} stream to the broker at
 * {@link #address()}, shared by every topic that broker owns and every publisher on this broker.
 * Made and closed by {@link PeerLinks}; {@link ForwardingTopic} offers batches to it.
 *
 * <h2>Window and wait line</h2>
 * A batch offered to the link enters its <em>window</em> (at most {@code maxInFlightBatches}
 * batches and {@code maxInFlightBytes} bytes queued to send or sent and not yet answered; an empty
 * window takes any one batch; one topic holds at most {@link #perTopicCap} of it, so a topic whose
 * owner stopped taking batches leaves room for the others) and is answered when the owner answers it. When the window is full a
 * batch waits in the link's <em>line</em> ({@link Admission#WAITING}: its listener's {@code
 * admitted()} says when it enters the window), or is refused at once: {@link Admission#FULL} for a
 * topic whose {@code publish_overflow} is REJECT, {@link Admission#LINE_FULL} when the line holds
 * {@code maxWaitingBatches} / {@code maxWaitingBytes} already (an empty line takes any batch). A
 * publish stream that gets WAITING reads nothing more until its batch enters, so the line holds at
 * most one batch per publish stream, plus one per unary call in flight; a cancelled publish
 * {@link #withdraw withdraws} its batch. Batches are written only while the stream {@code
 * isReady()} (the owner reads only while its topics admit them), in the order they entered the window.
 *
 * <h2>Failure and reconnection</h2>
 * A stream that fails or ends fails every batch of the window and the line with UNAVAILABLE
 * (OWNER_UNAVAILABLE, retryable; a sent batch may or may not have been sequenced: the publisher's
 * retry is safe for events with a publisher id, which dedup recognizes). The link then backs off:
 * the next offer after the backoff opens a new stream (an offer during it is refused with the same
 * status); the backoff starts at {@code initialBackoff}, doubles with each stream that fails
 * without ever being answered, up to {@code maxBackoff}, with ±20% jitter, and is reset by an answer.
 * A new stream waits for the peer's address and a connection (gRPC wait-for-ready: not failed by
 * the channel's last failure, e.g. a name that did not resolve while the peer was down) for at most
 * {@code connectTimeout}; then it is given up like a lost one.
 *
 * <h2>Threads</h2>
 * {@link #offer} and {@link #withdraw} are called by publish handlers (transport threads) and
 * never block. Responses and stream events arrive on the channel's event loop (direct executor);
 * they complete the batches' listeners there, so listeners must not block (the publish service's
 * do not). A batch that waited gets {@code admitted()} before its answer, always (an answer that
 * overtakes it is handed to the thread calling {@code admitted()}). Requests are written by one {@link Drainer} (the sender) on the {@code writers}
 * executor. Every field is guarded by {@link #lock}; no listener and no gRPC method (except {@code
 * isReady()}) is called under it.
 *
 * <p>Thread-safe.
 */
public final class PeerLink {
  private static final Logger log = LoggerFactory.getLogger(PeerLink.class);
  /** Requests the sender writes per turn before letting other tasks on the writer pool run. */
  private static final int WRITES_PER_TURN = 64;

  /** Where the link stands; moved only under {@link #lock}. */
  enum State {
    /** No stream yet: the next offer opens one. */
    IDLE,
    /** A stream is open (or opening). */
    OPEN,
    /** The last stream failed: the first offer after {@code retryAtNanos} opens a new one. */
    BACKOFF,
    /** Closed by its owner. Terminal. */
    CLOSED
  }

  private final String nodeId;
  private final String address;
  private final ManagedChannel channel;
  private final ScheduledExecutorService timer;
  private final PeerServiceGrpc.PeerServiceStub stub;
  private final PeerLinks.Options options;
  private final Drainer sender;
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled whenever the window and the line become empty (for {@link #awaitDrained}). */
  private final java.util.concurrent.locks.Condition drained = lock.newCondition();
  @GuardedBy("lock")
  private State state = State.IDLE;
  @GuardedBy("lock")
  private Stream stream;
  @GuardedBy("lock")
  private long retryAtNanos;
  /** The backoff after the next failure is twice this (0: the initial one). */
  @GuardedBy("lock")
  private long backoffNanos;
  @GuardedBy("lock")
  private long nextCorrelation;
  /** The window, by correlation id: queued to send ({@link #unsent}) or sent, not yet answered. */
  @GuardedBy("lock")
  private final LinkedHashMap<Long, Pending> window = new LinkedHashMap<>();
  /** Window entries not yet written, in the order they entered it. */
  @GuardedBy("lock")
  private final ArrayDeque<Pending> unsent = new ArrayDeque<>();
  @GuardedBy("lock")
  private long windowBytes;
  /** Window entries per topic (by name): at most {@link #perTopicCap()} each. */
  @GuardedBy("lock")
  private final java.util.HashMap<String, Integer> topicInWindow = new java.util.HashMap<>();
  /** Window bytes per topic (by name): at most {@link #perTopicBytes()} each (a topic's first batch excepted). */
  @GuardedBy("lock")
  private final java.util.HashMap<String, Long> topicBytesInWindow = new java.util.HashMap<>();
  /** Line entries per topic (by name): a topic's batches keep their order. */
  @GuardedBy("lock")
  private final java.util.HashMap<String, Integer> topicInLine = new java.util.HashMap<>();
  /** Batches waiting for window room, in arrival order; keyed by batch so a withdrawal is O(1). */
  @GuardedBy("lock")
  private final LinkedHashMap<PublishBatch, Pending> line = new LinkedHashMap<>();
  @GuardedBy("lock")
  private long lineBytes;
  @GuardedBy("lock")
  private long streamsOpened;
  /** Set by {@link #stopAccepting}: new offers are refused, what the link holds is still answered. */
  @GuardedBy("lock")
  private boolean draining;

  PeerLink(String nodeId, String address, ManagedChannel channel, Executor writers, ScheduledExecutorService timer,
      PeerLinks.Options options) {
    this.nodeId = nodeId;
    this.address = address;
    this.channel = channel;
    this.timer = timer;
    // callbacks never block: run them on the event loop that received them. Wait for ready: a
    // stream waits for the peer's address and a connection (bounded by connectTimeout) instead of
    // failing on the channel's last failure, e.g. a lookup that failed while the peer was down.
    this.stub = PeerServiceGrpc.newStub(channel).withExecutor(MoreExecutors.directExecutor()).withWaitForReady();
    this.options = options;
    this.sender = new Drainer(writers, this::send, this::sendFailed);
  }

  /** The peer's address ({@code host:port}). */
  public String address() {
    return address;
  }

  ManagedChannel channel() {
    return channel;
  }

  /**
   * Offers {@code batch} of {@code topic} (see the class comment). Never blocks. Listener calls may
   * happen before this returns (on another thread, or on this one if the stream fails at once).
   *
   * @throws StatusRuntimeException UNAVAILABLE OWNER_UNAVAILABLE while the link backs off after a
   *     failure; UNAVAILABLE SHUTTING_DOWN once the link is closed
   */
  Admission offer(ForwardingTopic topic, PublishBatch batch) {
    boolean rejectWhenFull = topic.settings().rejectWhenFull(); // read before the lock: it calls the record source
    Stream start = null;
    Admission a;
    lock.lock();
    try {
      if (state == State.CLOSED || draining) {
        throw Errors.shuttingDown("broker is shutting down; reconnect (to another broker) and retry");
      }
      switch (state) {
        case BACKOFF -> {
          long wait = retryAtNanos - System.nanoTime();
          if (wait > 0) {
            throw PeerErrors.ownerUnavailable(topic.name(), address, "the owner of topic '" + topic.name() + "' (" + address
                + ") is unreachable from this broker; reconnecting in " + Math.max(1, TimeUnit.NANOSECONDS.toMillis(wait))
                + " ms: retry with backoff");
          }
          start = open();
        }
        case IDLE -> start = open();
        case OPEN -> { }
        default -> throw new IllegalStateException("link state " + state + " after the closed check");
      }
      Pending p = new Pending(topic, batch);
      if (fitsWindow(batch.bytes()) && mayEnter(topic.name(), batch.bytes()) && lineHoldsOnlyCappedTopics()) {
        enterWindow(p);
        a = Admission.ADMITTED;
      } else if (rejectWhenFull) {
        a = Admission.FULL;
      } else if (!line.isEmpty() && (line.size() >= options.maxWaitingBatches() || lineBytes + batch.bytes() > options.maxWaitingBytes())) {
        a = Admission.LINE_FULL;
      } else {
        line.put(batch, p);
        lineBytes += batch.bytes();
        topicInLine.merge(topic.name(), 1, Integer::sum);
        topic.waiting(batch.size(), batch.bytes());
        a = Admission.WAITING;
      }
    } finally {
      lock.unlock();
    }
    if (start != null) {
      start.begin();
    }
    if (a == Admission.ADMITTED) {
      sender.signal();
    }
    return a;
  }

  /** Lock held. A new stream, current from now on; the caller begins it after releasing the lock. */
  @GuardedBy("lock")
  private Stream open() {
    stream = new Stream();
    state = State.OPEN;
    streamsOpened++;
    return stream;
  }

  @GuardedBy("lock")
  private boolean fitsWindow(long bytes) {
    return window.isEmpty() || (window.size() < options.maxInFlightBatches() && windowBytes + bytes <= options.maxInFlightBytes());
  }

  @GuardedBy("lock")
  private void enterWindow(Pending p) {
    p.correlationId = ++nextCorrelation;
    window.put(p.correlationId, p);
    unsent.addLast(p);
    windowBytes += p.batch.bytes();
    topicInWindow.merge(p.topic.name(), 1, Integer::sum);
    topicBytesInWindow.merge(p.topic.name(), p.batch.bytes(), Long::sum);
  }

  /**
   * Batches of one topic the window holds at most: a quarter of it (256 of 1,024 by default), so a
   * topic whose owner stopped taking its batches (a full BLOCK topic) holds part of the window, and
   * the owner's read-ahead ({@link PeerForwardService#MAX_UNADMITTED}, the whole default window)
   * keeps reading the shared stream for the other topics: head-of-line blocking needs four such
   * topics at once. (An eighth was measured to cost a busy topic half its forwarded rate.)
   */
  public int perTopicCap() {
    return Math.max(1, options.maxInFlightBatches() / 4);
  }

  /** Bytes of one topic the window holds at most (a quarter of it), its first batch excepted. */
  long perTopicBytes() {
    return Math.max(1, options.maxInFlightBytes() / 4);
  }

  /** Lock held. True if the window has room for a batch of {@code bytes} of {@code topic} within the topic's share. */
  @GuardedBy("lock")
  private boolean topicHasRoom(String topic, long bytes) {
    int n = topicInWindow.getOrDefault(topic, 0);
    return n == 0 || (n < perTopicCap() && topicBytesInWindow.getOrDefault(topic, 0L) + bytes <= perTopicBytes());
  }

  /** Lock held. True if a batch of {@code topic} may enter the window now (within its share, none of it waiting). */
  @GuardedBy("lock")
  private boolean mayEnter(String topic, long bytes) {
    return topicHasRoom(topic, bytes) && !topicInLine.containsKey(topic);
  }

  /** Lock held. True if every batch in the line waits for its topic's cap, not for window room (an empty line too). */
  @GuardedBy("lock")
  private boolean lineHoldsOnlyCappedTopics() {
    // as letIn decides: by each topic's first batch in the line (its later ones wait behind it)
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (Pending p : line.values()) {
      if (seen.add(p.topic.name()) && topicHasRoom(p.topic.name(), p.batch.bytes())) {
        return false;
      }
    }
    return true;
  }

  /** Lock held. A batch left the window. */
  @GuardedBy("lock")
  private void leftWindow(Pending p) {
    windowBytes -= p.batch.bytes();
    topicInWindow.computeIfPresent(p.topic.name(), (k, n) -> n == 1 ? null : n - 1);
    topicBytesInWindow.computeIfPresent(p.topic.name(), (k, b) -> b == p.batch.bytes() ? null : b - p.batch.bytes());
  }

  /** Lock held. A batch left the line. */
  @GuardedBy("lock")
  private void leftLine(Pending p) {
    lineBytes -= p.batch.bytes();
    topicInLine.computeIfPresent(p.topic.name(), (k, n) -> n == 1 ? null : n - 1);
  }

  /** Lock held. Wakes {@link #awaitDrained} when the link holds nothing. */
  @GuardedBy("lock")
  private void signalIfDrained() {
    if (window.isEmpty() && line.isEmpty()) {
      drained.signalAll();
    }
  }

  /**
   * Lock held. Moves batches from the line into the window in their order while they fit, passing
   * over those whose topic has its cap in the window (each topic's batches keep their order);
   * returns them.
   */
  @GuardedBy("lock")
  private List<Pending> letIn() {
    List<Pending> in = List.of();
    java.util.Set<String> capped = null;
    java.util.Iterator<Pending> it = line.values().iterator();
    while (it.hasNext()) {
      Pending head = it.next();
      String name = head.topic.name();
      if (capped != null && capped.contains(name)) {
        continue;
      }
      if (!topicHasRoom(name, head.batch.bytes())) {
        if (capped == null) {
          capped = new java.util.HashSet<>();
        }
        capped.add(name); // its later batches wait behind this one
        continue;
      }
      if (!fitsWindow(head.batch.bytes())) {
        break;
      }
      it.remove();
      leftLine(head);
      head.topic.waiting(-head.batch.size(), -head.batch.bytes());
      head.gate.set(Pending.ANNOUNCING); // before it can be sent, so before any answer
      enterWindow(head);
      if (in.isEmpty()) {
        in = new ArrayList<>(2);
      }
      in.add(head);
    }
    return in;
  }

  private void admitted(List<Pending> in) {
    for (Pending p : in) {
      p.batch.listener().admitted();
      Object deferred = p.gate.getAndSet(null);
      if (deferred instanceof Runnable answer) {
        answer.run(); // it was answered (or failed) while admitted() was on its way: now, in order
      }
    }
    if (!in.isEmpty()) {
      sender.signal();
    }
  }

  /**
   * Takes a waiting batch out of the line (its publisher cancelled): true if it was there (it is
   * then never sent and its listener is not called).
   */
  boolean withdraw(PublishBatch batch) {
    List<Pending> in;
    lock.lock();
    try {
      Pending p = line.remove(batch);
      if (p == null) {
        return false;
      }
      leftLine(p);
      p.topic.waiting(-batch.size(), -batch.bytes());
      in = letIn();
      signalIfDrained();
    } finally {
      lock.unlock();
    }
    admitted(in);
    return true;
  }

  /** The sender: writes init, then window entries in order, while the stream is ready. */
  private void send() {
    for (int written = 0; written < WRITES_PER_TURN; written++) {
      ClientCallStreamObserver<ForwardRequest> out;
      Stream s;
      Pending p = null;
      lock.lock();
      try {
        s = stream;
        if (state != State.OPEN || s == null || s.requests == null) {
          return;
        }
        out = s.requests;
        if (s.initSent) {
          if (unsent.isEmpty() || !out.isReady()) {
            return; // onReady or the next offer signals again
          }
          p = unsent.pollFirst();
        } else {
          s.initSent = true;
        }
      } finally {
        lock.unlock();
      }
      try {
        out.onNext(p == null
            ? ForwardRequest.newBuilder().setInit(ForwardInit.newBuilder().setNodeId(nodeId).setCompactAcks(true)).build()
            : ForwardRequest.newBuilder().setBatch(p.toProto()).build());
      } catch (RuntimeException e) {
        // the call was cancelled under us (the link closed, or the stream was lost and cancelled as it
        // started): that stream is done, and its batches were or will be failed with it
        sendFailed(s, out, e);
        return;
      }
    }
    sender.signal(); // more may be ready: another turn, behind the other tasks
  }

  /** Writing to stream {@code s} failed: if it is still the current one, it is given up (cancelled, its batches failed). */
  private void sendFailed(Stream s, ClientCallStreamObserver<ForwardRequest> out, Throwable t) {
    boolean current;
    lock.lock();
    try {
      current = stream == s;
    } finally {
      lock.unlock();
    }
    if (current) {
      log.warn("forward stream to {}: sending failed: {}", address, Drainer.describe(t));
      out.cancel("sending failed", t);
      lost(s, t);
    } else {
      log.debug("forward stream to {}: a write to a stream already given up failed: {}", address, t.toString());
    }
  }

  /** The sender threw outside a write (a bug): the current stream's state is unknown, so it is given up. */
  private void sendFailed(Throwable t) {
    Stream s;
    ClientCallStreamObserver<ForwardRequest> out;
    lock.lock();
    try {
      s = stream;
      out = s == null ? null : s.requests;
    } finally {
      lock.unlock();
    }
    if (s != null && out != null) {
      sendFailed(s, out, t);
    } else if (s != null) {
      lost(s, t);
    }
  }

  /** The owner answered a batch of {@code s}. On the channel's event loop. */
  private void answered(Stream s, ForwardResponse r) {
    Pending p;
    List<Pending> in;
    lock.lock();
    try {
      if (s != stream) {
        return; // a stream already given up: its batches were failed
      }
      p = window.remove(r.getCorrelationId());
      if (p == null) {
        in = List.of();
      } else {
        leftWindow(p);
        backoffNanos = 0; // the owner answers: healthy
        in = letIn();
        signalIfDrained();
      }
    } finally {
      lock.unlock();
    }
    if (p == null) {
      log.warn("forward stream to {}: answer for unknown batch {} ignored", address, r.getCorrelationId());
      return;
    }
    Pending answeredBatch = p;
    switch (r.getResultCase()) {
      case ACKS -> {
        ForwardAcks fa = r.getAcks();
        List<PublishAck> acks;
        if (fa.hasRange()) {
          try {
            acks = AckRun.of(fa.getRange(), p.batch);
          } catch (IllegalArgumentException e) {
            // an owner bug: the batch was sequenced there, but its acks cannot be made here
            log.error("forward stream to {}: batch {} answered with a malformed range ({}); its publisher is told it failed,"
                + " though the owner sequenced it", address, r.getCorrelationId(), e.getMessage());
            StatusRuntimeException err = Errors.internal("owner " + address + " answered batch " + r.getCorrelationId()
                + " with a malformed range (" + e.getMessage() + "); the owner may have sequenced it: publishing it again is safe"
                + " where the topic dedups ids", e);
            p.complete(() -> answeredBatch.batch.listener().failed(err));
            admitted(in);
            return;
          }
        } else {
          acks = fa.getAcksList();
        }
        p.topic.acked(acks);
        p.complete(() -> answeredBatch.batch.listener().sequenced(acks));
      }
      case ERROR -> {
        StatusRuntimeException e = PeerErrors.fromProto(r.getError());
        p.complete(() -> answeredBatch.batch.listener().failed(e));
      }
      default -> {
        StatusRuntimeException e = Errors.internal("owner " + address + " answered batch " + r.getCorrelationId()
            + " with neither acks nor an error", null);
        p.complete(() -> answeredBatch.batch.listener().failed(e));
      }
    }
    admitted(in);
  }

  /** Stream {@code s} failed or ended: fails what the link holds and backs off. */
  private void lost(Stream s, Throwable cause) {
    List<Pending> failed;
    long backoff;
    boolean wasHealthy;
    lock.lock();
    try {
      if (s != stream) {
        return;
      }
      stream = null;
      wasHealthy = backoffNanos == 0;
      backoffNanos = backoffNanos == 0 ? options.initialBackoff().toNanos() : Math.min(2 * backoffNanos, options.maxBackoff().toNanos());
      backoff = (long) (backoffNanos * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
      if (state == State.OPEN) {
        state = State.BACKOFF;
        retryAtNanos = System.nanoTime() + backoff;
      }
      failed = takeAll();
    } finally {
      lock.unlock();
    }
    String why = cause == null ? "the owner ended the stream" : Status.fromThrowable(cause).toString();
    if (wasHealthy && failed.isEmpty()) {
      log.info("forward stream to {} ended ({}); reconnecting on the next publish", address, why);
    } else if (wasHealthy) {
      log.warn("forward stream to {} lost ({}): {} batches failed with UNAVAILABLE; reconnecting on the next publish after {} ms",
          address, why, failed.size(), TimeUnit.NANOSECONDS.toMillis(backoff));
    } else {
      log.debug("forward stream to {} failed again ({}); next attempt after {} ms", address, why, TimeUnit.NANOSECONDS.toMillis(backoff));
    }
    for (Pending p : failed) {
      StatusRuntimeException e = PeerErrors.ownerUnavailable(p.topic.name(), address, "lost the forward stream to the owner of topic '"
          + p.topic.name() + "' (" + address + ": " + why + ") before the batch was answered; it may or may not have been"
          + " accepted: retry (events with a publisher id are recognized as duplicates)");
      p.complete(() -> p.batch.listener().failed(e));
    }
  }

  /** Lock held. Empties the window and the line; returns their batches, window first, for the caller to fail. */
  @GuardedBy("lock")
  private List<Pending> takeAll() {
    List<Pending> out = new ArrayList<>(window.size() + line.size());
    out.addAll(window.values());
    for (Pending p : line.values()) {
      p.topic.waiting(-p.batch.size(), -p.batch.bytes());
      out.add(p);
    }
    window.clear();
    unsent.clear();
    windowBytes = 0;
    topicInWindow.clear();
    topicBytesInWindow.clear();
    line.clear();
    lineBytes = 0;
    topicInLine.clear();
    drained.signalAll();
    return out;
  }

  /**
   * The metadata marked the peer down (not heard within the liveness timeout): its answers will not
   * come, so the current stream is given up now rather than when TCP or keepalive notices (20-40 s).
   * Every batch in the window and the line fails with UNAVAILABLE OWNER_UNAVAILABLE (retryable: the
   * publisher retries, towards the topic's new owner) and the link backs off as after any lost
   * stream. Never blocks; does nothing to a link without a stream or a closed one.
   */
  void peerDown() {
    Stream s;
    ClientCallStreamObserver<ForwardRequest> out;
    lock.lock();
    try {
      s = stream;
      out = s == null ? null : s.requests; // null while it starts: its begin() cancels it, replaced
    } finally {
      lock.unlock();
    }
    if (s == null) {
      return;
    }
    lost(s, Status.UNAVAILABLE.withDescription("the metadata marked the peer down (liveness timeout)").asRuntimeException());
    if (out != null) {
      out.cancel("the peer was marked down", null); // its late error finds the stream replaced: ignored
    }
  }

  /**
   * The connect check (on the links' timer): a stream with no transport stream {@code timeoutNanos}
   * after it started (the peer's name did not resolve, or no connection was made) is given up: its
   * batches fail with UNAVAILABLE OWNER_UNAVAILABLE and the link backs off. Nothing happens to a
   * stream that connected or was replaced meanwhile.
   */
  private void notConnected(Stream s, long timeoutNanos) {
    ClientCallStreamObserver<ForwardRequest> out;
    lock.lock();
    try {
      if (s != stream || s.connected) {
        return;
      }
      out = s.requests;
    } finally {
      lock.unlock();
    }
    String why = "no connection to the peer within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms (channel "
        + channel.getState(false) + ")";
    lost(s, Status.UNAVAILABLE.withDescription(why).asRuntimeException());
    if (out != null) {
      out.cancel(why, null); // its late error finds the stream replaced: ignored
    }
  }

  /**
   * The metadata has the peer up again (it restarted, or was heard again): a link backing off after
   * losing it reconnects at the next offer instead of after the rest of its backoff (up to 5 s: the
   * first publishes to a topic the restarted node now owns waited for it). Never blocks.
   */
  void peerUp() {
    lock.lock();
    try {
      if (state == State.BACKOFF) {
        retryAtNanos = System.nanoTime();
        backoffNanos = 0;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Refuses new offers (UNAVAILABLE SHUTTING_DOWN); what the link holds is still sent and answered. */
  void stopAccepting() {
    lock.lock();
    try {
      draining = true;
    } finally {
      lock.unlock();
    }
  }

  /** Waits until the link holds nothing (window and line empty) or the deadline passes; false then. */
  boolean awaitDrained(long deadlineNanos) throws InterruptedException {
    lock.lock();
    try {
      while (!window.isEmpty() || !line.isEmpty()) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        drained.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Closes the link: fails every batch it holds with {@code status}, cancels the stream. Never
   * blocks; idempotent. The channel is its owner's ({@link PeerLinks}) to shut down.
   */
  void close(StatusRuntimeException status) {
    List<Pending> failed;
    ClientCallStreamObserver<ForwardRequest> out;
    lock.lock();
    try {
      if (state == State.CLOSED) {
        return;
      }
      state = State.CLOSED;
      out = stream == null ? null : stream.requests;
      stream = null;
      failed = takeAll();
    } finally {
      lock.unlock();
    }
    for (Pending p : failed) {
      p.complete(() -> p.batch.listener().failed(status));
    }
    if (out != null) {
      out.cancel("peer link closed", null); // a stream still starting is cancelled by its begin()
    }
  }

  /** True while a forward stream to the peer is open (or opening). */
  public boolean streamOpen() {
    lock.lock();
    try {
      return stream != null;
    } finally {
      lock.unlock();
    }
  }

  /** Streams this link has opened so far (1 while the first one lives; more after reconnections). */
  public long streamsOpened() {
    lock.lock();
    try {
      return streamsOpened;
    } finally {
      lock.unlock();
    }
  }

  /** Batches in the window: queued to send, or sent and not yet answered. */
  public int inFlightBatches() {
    lock.lock();
    try {
      return window.size();
    } finally {
      lock.unlock();
    }
  }

  /** Event bytes of the batches in {@link #inFlightBatches()}. */
  public long inFlightBytes() {
    lock.lock();
    try {
      return windowBytes;
    } finally {
      lock.unlock();
    }
  }

  /** Batches waiting in the line for window room. */
  public int waitingBatches() {
    lock.lock();
    try {
      return line.size();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Checks what always holds between operations; throws {@link IllegalStateException} naming the
   * first broken invariant. For tests.
   * <ul>
   *   <li>the window's byte count is the sum of its batches, the line's too;
   *   <li>the window is within its bounds, or holds one batch;
   *   <li>a non-empty line stands behind a window that its head does not fit;
   *   <li>unsent batches are in the window; a closed link holds nothing; a link without a stream
   *       holds nothing in its window.
   * </ul>
   */
  public void checkInvariants() {
    lock.lock();
    try {
      long wb = 0;
      for (Pending p : window.values()) {
        wb += p.batch.bytes();
      }
      check(wb == windowBytes, "window bytes " + windowBytes + " but its batches hold " + wb);
      long lb = 0;
      for (Pending p : line.values()) {
        lb += p.batch.bytes();
      }
      check(lb == lineBytes, "line bytes " + lineBytes + " but its batches hold " + lb);
      check(window.size() <= 1 || (window.size() <= options.maxInFlightBatches() && windowBytes <= options.maxInFlightBytes()),
          "window of " + window.size() + " batches / " + windowBytes + " bytes beyond its bounds");
      java.util.Map<String, Integer> perTopic = new java.util.HashMap<>();
      for (Pending p : window.values()) {
        perTopic.merge(p.topic.name(), 1, Integer::sum);
      }
      check(perTopic.equals(topicInWindow), "per-topic window counts " + topicInWindow + " but the window holds " + perTopic);
      check(perTopic.values().stream().allMatch(n -> n <= perTopicCap()), "a topic beyond its cap in the window: " + perTopic);
      java.util.Map<String, Integer> inLine = new java.util.HashMap<>();
      for (Pending p : line.values()) {
        inLine.merge(p.topic.name(), 1, Integer::sum);
      }
      check(inLine.equals(topicInLine), "per-topic line counts " + topicInLine + " but the line holds " + inLine);
      java.util.Set<String> firsts = new java.util.HashSet<>();
      for (Pending p : line.values()) {
        if (firsts.add(p.topic.name()) && topicHasRoom(p.topic.name(), p.batch.bytes())) {
          check(!fitsWindow(p.batch.bytes()), "the first line batch below its topic's cap fits the window but waits");
          break;
        }
      }
      for (Pending p : unsent) {
        check(window.get(p.correlationId) == p, "an unsent batch is not in the window");
      }
      check(state != State.CLOSED || (window.isEmpty() && line.isEmpty()), "closed with batches held");
      check(stream != null || window.isEmpty(), "no stream but " + window.size() + " batches in the window");
    } finally {
      lock.unlock();
    }
  }

  private static void check(boolean holds, String broken) {
    if (!holds) {
      throw new IllegalStateException("peer link invariant broken: " + broken);
    }
  }

  /** A batch held by the link. */
  private static final class Pending {
    final ForwardingTopic topic;
    final PublishBatch batch;
    /** Set when it enters the window (under the link's lock). */
    long correlationId;
    /** {@link #gate} while a let-in batch's {@code admitted()} is being called. */
    static final Object ANNOUNCING = new Object();
    /**
     * Keeps {@code admitted()} before the answer: null, or {@link #ANNOUNCING} from the moment the
     * batch leaves the line until {@code admitted()} has returned, or the answer, deferred to
     * whoever calls {@code admitted()} because it came meanwhile.
     */
    final java.util.concurrent.atomic.AtomicReference<Object> gate = new java.util.concurrent.atomic.AtomicReference<>();

    Pending(ForwardingTopic topic, PublishBatch batch) {
      this.topic = topic;
      this.batch = batch;
    }

    /** Calls the listener with the answer now, or after {@code admitted()} if that is still on its way. */
    void complete(Runnable answer) {
      if (!gate.compareAndSet(ANNOUNCING, answer)) {
        answer.run();
      }
    }

    /** The frame: the events' bytes as received, and the ids this broker assigned. */
    ForwardBatch toProto() {
      ForwardBatch.Builder b = ForwardBatch.newBuilder()
          .setCorrelationId(correlationId)
          .setTopic(topic.name())
          .addAllEvents(batch.events());
      for (int i = 0; i < batch.size(); i++) {
        b.addAssignedIds(batch.assigned(i) ? batch.id(i) : ByteString.EMPTY);
      }
      return b.build();
    }
  }

  /** One Forward call. Its callbacks act only while it is the link's current stream. */
  private final class Stream implements ClientResponseObserver<ForwardRequest, ForwardResponse> {
    // Both guarded by the link's lock (a comment, not @GuardedBy: Error Prone cannot follow an
    // enclosing instance's lock from a local variable). requests is set by begin() once the call
    // has started (null before: the sender and close() leave the stream alone until then).
    ClientCallStreamObserver<ForwardRequest> requests;
    boolean initSent;
    /** Set once the call has a transport stream (its first onReady); read by the connect check. */
    volatile boolean connected;
    /** The connect check begin() scheduled; cancelled once connected. */
    volatile java.util.concurrent.ScheduledFuture<?> connectCheck;
    /** Set by beforeStart, read by begin(), on the thread that starts the call. */
    private ClientCallStreamObserver<ForwardRequest> starting;

    /** Starts the call; called without the lock (gRPC may call back at once). */
    void begin() {
      channel.resetConnectBackoff(); // the link has its own backoff: connect now, not at the channel's next attempt
      try {
        // in a forked context: the stream is shared by every publisher of this peer and must not be
        // cancelled with the call (a client's publish) whose handler happened to open it
        io.grpc.Context.current().fork().run(() -> stub.forward(this));
      } catch (RuntimeException e) {
        lost(this, e);
        return;
      }
      // only now, with the call started, may the sender (or close) use it
      ClientCallStreamObserver<ForwardRequest> out = starting;
      boolean current;
      lock.lock();
      try {
        current = stream == this;
        if (current) {
          requests = out;
        }
      } finally {
        lock.unlock();
      }
      if (current) {
        long timeout = options.connectTimeout().toNanos();
        try {
          connectCheck = timer.schedule(() -> notConnected(this, timeout), timeout, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // the links are closing: close() ends this stream
        }
        sender.signal();
      } else {
        out.cancel("the stream was given up while it started", null); // closed, or lost at once: harmless then
      }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<ForwardRequest> r) {
      r.setOnReadyHandler(() -> {
        if (!connected) {
          connected = true; // the call has a transport stream: the peer is reached
          java.util.concurrent.ScheduledFuture<?> check = connectCheck;
          if (check != null) {
            check.cancel(false);
          }
        }
        sender.signal();
      });
      starting = r; // not yet for the sender: the call is not started
    }

    @Override
    public void onNext(ForwardResponse r) {
      answered(this, r);
    }

    @Override
    public void onError(Throwable t) {
      lost(this, t);
    }

    @Override
    public void onCompleted() {
      lost(this, null);
    }
  }
}
