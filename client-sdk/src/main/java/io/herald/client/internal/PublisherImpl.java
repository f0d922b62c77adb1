package io.herald.client.internal;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.client.Batching;
import io.herald.client.ErrorCode;
import io.herald.client.ErrorReason;
import io.herald.client.Event;
import io.herald.client.HeraldException;
import io.herald.client.PublishReceipt;
import io.herald.client.Publisher;
import io.herald.client.RetrySettings;
import io.herald.client.WhenFull;
import io.herald.proto.v1.AckRange;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A batching publisher over one {@code PublishStream}.
 *
 * <h2>State</h2>
 * Everything below is guarded by {@link #lock}. Events go into the {@code open} batch; a batch is
 * sealed when full or when its linger passes, and queued in {@code toSend}. The sender sends queued
 * batches while the stream is ready and fewer than {@code maxInFlight} await responses. A response
 * completes the batch's receipts (in order, on a per-publisher serial view of the callback
 * executor) and frees its pending room. When the stream breaks, the batches in flight go back to
 * a retry queue sent ahead of {@code toSend}, in order, and a new stream opens after a backoff; the broker dedups
 * their ids, so nothing is delivered twice. A batch the broker refuses with a retryable reason
 * (e.g. INBOX_FULL: a REJECT topic shedding load) is resent after a backoff; one refused for good
 * (e.g. EVENT_TOO_LARGE) fails its receipts at once. Whether a refusal is retryable follows its
 * {@link ErrorReason}, not its status code. A stream the broker ends for good (UNAUTHENTICATED, a
 * non-retryable reason) fails what was sent or queued at once; with nothing left to send, the next
 * stream opens only when the next event is published (after the backoff). Receipts are completed exactly once, by the one place that removes a batch from the
 * queue that holds it.
 *
 * <h2>Deadline</h2>
 * Every batch has a deadline: the retry settings' total timeout after its first event was
 * published. One timer ({@code expiryTimer}) fires at the earliest deadline of all pending batches
 * and fails what is due with a retryable DEADLINE_EXCEEDED, wherever it is: open, queued, waiting
 * for a retry, or on the wire; a batch waiting to be resent after a retryable refusal fails with
 * that refusal (e.g. INBOX_FULL), which says more. A batch on the wire that is due means the stream has not answered
 * for that long: the stream is dropped (its other batches go back to the retry queue) and a new
 * one opens after a backoff. So every receipt completes within the total timeout, whatever the
 * broker does.
 *
 * <h2>Sending</h2>
 * Nothing calls into gRPC under {@link #lock}. Decisions are taken under it (which batch goes
 * next, with which id, on which stream; open, half-close or cancel a stream) and the work is done
 * outside it by one thread at a time, the <em>sender</em>: whichever thread finds work and no sender
 * ({@link #claimSender}) runs {@link #send}, which takes one item under the lock and does it
 * (building and serialising the message, {@code onNext}) without the lock, until none is left.
 * Stream operations ({@code streamOps}) go before batches, in order. So the network thread, which
 * needs the lock for acks and {@code onReady}, never waits for a serialisation on another thread;
 * when the network thread is the sender itself (after an ack or {@code onReady}), it serialises the
 * batches the stream is ready for, as gRPC's flow-control pattern does. A batch is checked against
 * {@code isReady()} just before it is taken, so no more is written than the stream accepts.
 *
 * <h2>Bounds</h2>
 * {@code pendingEvents}/{@code pendingBytes} count every event accepted by {@link #publish} and not
 * yet completed; {@code publish} waits (or fails) while they are at the limit.
 */
public final class PublisherImpl implements Publisher, ClientCore.Resource {
  private static final Logger log = LoggerFactory.getLogger(PublisherImpl.class);

  private final ClientCore core;
  private final String topic;
  private final Batching batching;
  private final long maxPendingEvents;
  private final long maxPendingBytes;
  private final WhenFull whenFull;
  private final RetrySettings retry;
  private final int maxInFlight;
  private final SerialExecutor receipts;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition room = lock.newCondition();
  // @GuardedBy("lock")
  private long pendingEvents;
  private long pendingBytes;
  private Batch open;
  private ScheduledFuture<?> lingerTimer;
  private ScheduledFuture<?> expiryTimer;
  private final ArrayDeque<Batch> toSend = new ArrayDeque<>();
  /** Batches to send again, in their original order, ahead of {@code toSend}. */
  private final ArrayDeque<Batch> retryQueue = new ArrayDeque<>();
  private final ArrayDeque<Batch> inFlight = new ArrayDeque<>();
  /** Stream operations (open, half-close, cancel) for the sender, ahead of any batch. */
  private final ArrayDeque<Runnable> streamOps = new ArrayDeque<>();
  /** A thread is the sender: the only one calling into a stream. */
  private boolean sending;
  private Stream stream;
  private boolean reconnectScheduled;
  private long pausedUntilNanos;
  private int attempt;
  private long nextBatchId = 1;
  private boolean closed;
  private final List<CompletableFuture<Void>> flushes = new ArrayList<>();

  public PublisherImpl(ClientCore core, String topic, Batching batching, long maxPendingEvents, long maxPendingBytes,
      WhenFull whenFull, RetrySettings retry, int maxInFlight) {
    this.core = core;
    this.topic = topic;
    this.batching = batching;
    this.maxPendingEvents = maxPendingEvents;
    this.maxPendingBytes = maxPendingBytes;
    this.whenFull = whenFull;
    this.retry = retry;
    this.maxInFlight = maxInFlight;
    this.receipts = new SerialExecutor(core.callbacks());
  }

  /**
   * Opens the stream. Called once, after the client registered this publisher: a client that
   * closes meanwhile closes this publisher too, and if it has done so already, nothing opens.
   */
  public void start() {
    boolean send = false;
    lock.lock();
    try {
      if (!closed && stream == null) {
        openStream();
        send = claimSender();
      }
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
  }

  @Override
  public String topic() {
    return topic;
  }

  /** One event on its way: wire form, size, receipt. */
  private static final class Pending {
    final io.herald.proto.v1.Event proto;
    final int size;
    final CompletableFuture<PublishReceipt> receipt = new CompletableFuture<>();

    Pending(io.herald.proto.v1.Event proto) {
      this.proto = proto;
      this.size = proto.getSerializedSize();
    }
  }

  /** Events sent together; gets a new id each time it is sent. */
  private static final class Batch {
    final List<Pending> events = new ArrayList<>();
    /** When its receipts fail if not acknowledged: total timeout after its first event. */
    final long deadlineNanos;
    long bytes;
    long id;
    /** The broker's retryable refusal it waits to be resent after; null once it is sent again. */
    HeraldException refusal;

    Batch(long deadlineNanos) {
      this.deadlineNanos = deadlineNanos;
    }
  }

  @Override
  public CompletableFuture<PublishReceipt> publish(Event event) {
    // events carry their id from the moment they are built: the wire form goes as it is
    Pending p = new Pending(core.tracing().inject(WireAccess.toWire(event)));
    if (p.proto.getType().isEmpty()) {
      return CompletableFuture.failedFuture(new HeraldException(ErrorCode.INVALID_ARGUMENT, ErrorReason.INVALID_FIELD,
          Map.of("field", "type"), "the event has no type; the broker requires one (e.g. Event.of(\"order.created\", bytes))", null));
    }
    if (p.size > Batching.MAX_BYTES_LIMIT) {
      return CompletableFuture.failedFuture(new HeraldException(ErrorCode.INVALID_ARGUMENT, ErrorReason.EVENT_TOO_LARGE,
          Map.of("topic", topic, "limit", Long.toString(Batching.MAX_BYTES_LIMIT), "value", Integer.toString(p.size)),
          "event is " + p.size + " bytes; the largest event that fits a message is " + Batching.MAX_BYTES_LIMIT + " bytes", null));
    }
    boolean send = false;
    lock.lock();
    try {
      if (closed) {
        return CompletableFuture.failedFuture(new HeraldException.ClosedException("publisher for '" + topic + "' is closed"));
      }
      if (!waitForRoom(p.size)) {
        return CompletableFuture.failedFuture(new HeraldException.PublishBufferFullException(
            "pending buffer of publisher for '" + topic + "' is full (" + pendingEvents + " events / " + pendingBytes + " bytes, limit "
                + maxPendingEvents + " / " + maxPendingBytes + "; whenFull " + whenFull + "): the broker is not keeping up or is unreachable"));
      }
      if (closed) {
        return CompletableFuture.failedFuture(new HeraldException.ClosedException("publisher for '" + topic + "' is closed"));
      }
      pendingEvents++;
      pendingBytes += p.size;
      if (open != null && open.bytes + p.size > batching.maxBytes()) {
        // the event would take the batch past its byte bound: the batch goes as it is, the event
        // starts the next one (so no batch passes maxBytes, and none passes the broker's message
        // limit; an event larger than maxBytes goes alone)
        seal();
        send = claimSender();
      }
      if (open == null) {
        open = new Batch(System.nanoTime() + retry.totalTimeout().toNanos());
        if (expiryTimer == null) {
          armExpiry();
        }
        if (!batching.linger().isZero()) {
          lingerTimer = core.schedule(this::lingerExpired, Math.max(1, batching.linger().toMillis()));
        }
      }
      open.events.add(p);
      open.bytes += p.size;
      if (stream == null && !reconnectScheduled) {
        scheduleReconnect(); // idle after a permanent refusal (see onStreamEnd)
      }
      if (open.events.size() >= batching.maxEvents() || open.bytes >= batching.maxBytes()) {
        seal();
        send |= claimSender();
      } else if (batching.linger().isZero()) {
        // no linger: send now if the stream has room; otherwise the batch grows until it does
        send |= claimSender();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return CompletableFuture.failedFuture(new HeraldException(ErrorCode.CANCELLED, "interrupted while waiting for room", false, e));
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
    return p.receipt;
  }

  // @GuardedBy("lock")
  private boolean waitForRoom(int size) throws InterruptedException {
    long nanos = whenFull.maxBlock().toNanos();
    while (pendingEvents > 0 && (pendingEvents + 1 > maxPendingEvents || pendingBytes + size > maxPendingBytes)) {
      if (closed || nanos <= 0) {
        return closed;
      }
      nanos = room.awaitNanos(nanos);
    }
    return true;
  }

  private void lingerExpired() {
    boolean send = false;
    lock.lock();
    try {
      lingerTimer = null;
      if (open != null) {
        seal();
        send = claimSender();
      }
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
  }

  // @GuardedBy("lock")
  private void seal() {
    if (lingerTimer != null) {
      lingerTimer.cancel(false);
      lingerTimer = null;
    }
    toSend.addLast(open);
    open = null;
  }

  /**
   * Makes the caller the sender if there is none; the caller must then call {@link #send} after
   * releasing the lock. Returns false if another thread is the sender (it will find the new work).
   */
  // @GuardedBy("lock")
  private boolean claimSender() {
    if (sending) {
      return false;
    }
    sending = true;
    return true;
  }

  /** The sender's loop: one item at a time, taken under the lock, done outside it. */
  private void send() {
    while (true) {
      Runnable work;
      lock.lock();
      try {
        work = nextWork();
        if (work == null) {
          sending = false;
          return;
        }
      } finally {
        lock.unlock();
      }
      try {
        work.run();
      } catch (RuntimeException e) {
        // a stream that ended meanwhile may refuse; its end is handled by onStreamEnd
        log.debug("publisher for '{}': stream operation failed", topic, e);
      } catch (Error e) {
        lock.lock();
        try {
          sending = false; // so that the next thread with work can send
        } finally {
          lock.unlock();
        }
        throw e;
      }
    }
  }

  /** The next stream operation, or the next batch if the stream takes one now; null if none. */
  // @GuardedBy("lock")
  private Runnable nextWork() {
    if (!streamOps.isEmpty()) {
      return streamOps.pollFirst();
    }
    Stream s = stream;
    if (s == null || s.out == null || System.nanoTime() < pausedUntilNanos || inFlight.size() >= maxInFlight || !s.out.isReady()) {
      return null;
    }
    if (open != null && batching.linger().isZero() && retryQueue.isEmpty() && toSend.isEmpty()) {
      seal();
    }
    if (retryQueue.isEmpty() && toSend.isEmpty()) {
      return null;
    }
    Batch b = retryQueue.isEmpty() ? toSend.pollFirst() : retryQueue.pollFirst();
    b.id = nextBatchId++;
    b.refusal = null;
    inFlight.addLast(b);
    long id = b.id;
    List<Pending> events = b.events; // not changed once sealed
    return () -> s.out.onNext(request(id, events));
  }

  private PublishStreamRequest request(long batchId, List<Pending> events) {
    // compact_acks: a batch sequenced in one run comes back as one AckRange, not an ack per event
    PublishStreamRequest.Builder b = PublishStreamRequest.newBuilder().setBatchId(batchId).setTopic(topic).setCompactAcks(true);
    for (Pending p : events) {
      b.addEvents(p.proto);
    }
    return b.build();
  }

  /** Queues the opening of a new stream for the sender; the caller claims the sender. */
  // @GuardedBy("lock")
  private void openStream() {
    if (closed && inFlight.isEmpty() && toSend.isEmpty() && retryQueue.isEmpty() && open == null) {
      return;
    }
    Stream s = new Stream();
    stream = s;
    streamOps.addLast(() -> PublishServiceGrpc.newStub(core.channel()).publishStream(s));
  }

  private void onResponse(Stream s, PublishStreamResponse r) {
    Batch b;
    boolean send = false;
    lock.lock();
    try {
      if (s != stream || inFlight.isEmpty() || inFlight.peekFirst().id != r.getBatchId()) {
        if (s == stream) {
          log.warn("publisher for '{}': response for batch {} does not match the oldest in flight; ignored", topic, r.getBatchId());
        }
        return;
      }
      b = inFlight.pollFirst();
      attempt = 0;
      if (r.hasError()) {
        HeraldException refusal = Errors.from(r.getError(), "batch refused by the broker: ");
        if (refusal.isRetryable() && !expired(b)) {
          b.refusal = refusal;
          // resend after a pause, ahead of everything not yet sent (batches already in flight behind
          // it that succeed are sequenced first: a REJECT topic may reorder across batches)
          retryQueue.addLast(b);
          pausedUntilNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Backoff.delayMillis(retry, attempt++));
          core.schedule(this::resume, TimeUnit.NANOSECONDS.toMillis(pausedUntilNanos - System.nanoTime()) + 1);
          return;
        }
        fail(b, refusal);
      } else if (r.hasRange()) {
        if (r.getRange().getCount() != b.events.size() || r.getAcksCount() != 0) {
          fail(b, new HeraldException(ErrorCode.INTERNAL, "broker answered a range of " + r.getRange().getCount() + " acks (and "
              + r.getAcksCount() + " acks) for " + b.events.size() + " events"));
        } else {
          complete(b, r.getRange());
        }
      } else if (r.getAcksCount() != b.events.size()) {
        fail(b, new HeraldException(ErrorCode.INTERNAL, "broker answered " + r.getAcksCount() + " acks for " + b.events.size() + " events"));
      } else {
        complete(b, r.getAcksList());
      }
      send = claimSender();
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
  }

  private void resume() {
    boolean send;
    lock.lock();
    try {
      send = claimSender();
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
  }

  private static boolean expired(Batch b, long now) {
    return now - b.deadlineNanos >= 0;
  }

  private static boolean expired(Batch b) {
    return expired(b, System.nanoTime());
  }

  /** Schedules {@link #expireDue} at the earliest deadline of the pending batches, if any. */
  // @GuardedBy("lock")
  private void armExpiry() {
    long earliest = Long.MAX_VALUE;
    boolean any = false;
    for (Batch b : pendingBatches()) {
      if (!any || b.deadlineNanos - earliest < 0) {
        earliest = b.deadlineNanos;
        any = true;
      }
    }
    if (any) {
      long delayMillis = Math.max(0, TimeUnit.NANOSECONDS.toMillis(earliest - System.nanoTime()) + 1);
      expiryTimer = core.schedule(this::expireDue, delayMillis);
    }
  }

  /** Every batch not yet completed. {@code toSend} is in creation order, so its first is its oldest. */
  // @GuardedBy("lock")
  private List<Batch> pendingBatches() {
    List<Batch> all = new ArrayList<>(inFlight.size() + retryQueue.size() + 2);
    all.addAll(inFlight);
    all.addAll(retryQueue);
    if (!toSend.isEmpty()) {
      all.add(toSend.peekFirst());
    }
    if (open != null) {
      all.add(open);
    }
    return all;
  }

  /** The expiry timer: fails every batch past its deadline; drops a stream that left one unanswered. */
  private void expireDue() {
    boolean send = false;
    lock.lock();
    try {
      expiryTimer = null;
      long now = System.nanoTime();
      if (open != null && expired(open, now)) {
        if (lingerTimer != null) {
          lingerTimer.cancel(false);
          lingerTimer = null;
        }
        fail(open, deadlineExceeded("never sent: it was still being batched"));
        open = null;
      }
      failExpired(toSend, now, "never sent: no stream to the broker had room for it");
      failExpired(retryQueue, now, "not sent again in time after a failure"); // or its refusal
      boolean unanswered = false;
      for (Batch b : inFlight) {
        unanswered |= expired(b, now);
      }
      if (unanswered) {
        // the stream has not answered for the whole total timeout: drop it, keep what still has time
        Stream dropped = stream;
        stream = null;
        if (dropped != null) {
          streamOps.addLast(() -> dropped.out.cancel("no answer within the total timeout", null));
          send = claimSender();
        }
        failExpired(inFlight, now, "sent, and the broker did not answer");
        while (!inFlight.isEmpty()) {
          retryQueue.addLast(inFlight.pollFirst());
        }
        log.warn("publisher for '{}': the broker left a batch unanswered for {}; reopening the stream", topic, retry.totalTimeout());
        scheduleReconnect();
      }
      armExpiry();
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
  }

  // @GuardedBy("lock")
  private void failExpired(ArrayDeque<Batch> queue, long now, String why) {
    for (java.util.Iterator<Batch> it = queue.iterator(); it.hasNext(); ) {
      Batch b = it.next();
      if (expired(b, now)) {
        it.remove();
        fail(b, b.refusal != null ? b.refusal : deadlineExceeded(why));
      }
    }
  }

  private HeraldException deadlineExceeded(String why) {
    return new HeraldException(ErrorCode.DEADLINE_EXCEEDED, "not acknowledged within the total timeout of " + retry.totalTimeout()
        + " (" + why + "); it may still have been sequenced: publishing it again is safe, the broker dedups its id", true, null);
  }

  // @GuardedBy("lock")
  private void scheduleReconnect() {
    if (!reconnectScheduled) {
      reconnectScheduled = true;
      core.schedule(this::reconnect, Backoff.delayMillis(retry, attempt++));
    }
  }

  // @GuardedBy("lock")
  private void complete(Batch b, List<PublishAck> acks) {
    release(b);
    List<Pending> events = b.events;
    receipts.execute(() -> {
      for (int i = 0; i < events.size(); i++) {
        Pending p = events.get(i);
        p.receipt.complete(Convert.receipt(acks.get(i), p.proto.getId()));
      }
    });
    checkFlushes();
  }

  // @GuardedBy("lock")
  private void complete(Batch b, AckRange range) {
    release(b);
    List<Pending> events = b.events;
    long first = range.getFirstSequence();
    long epoch = range.getEpoch();
    Instant at = Convert.instant(range.getPublishTime());
    receipts.execute(() -> {
      for (int i = 0; i < events.size(); i++) {
        Pending p = events.get(i);
        p.receipt.complete(new PublishReceipt(p.proto.getId(), first + i, epoch, at, false));
      }
    });
    checkFlushes();
  }

  // @GuardedBy("lock")
  private void fail(Batch b, HeraldException e) {
    release(b);
    List<Pending> events = b.events;
    receipts.execute(() -> {
      for (Pending p : events) {
        p.receipt.completeExceptionally(e);
      }
    });
    checkFlushes();
  }

  // @GuardedBy("lock")
  private void release(Batch b) {
    pendingEvents -= b.events.size();
    pendingBytes -= b.bytes;
    room.signalAll();
  }

  // @GuardedBy("lock")
  private void checkFlushes() {
    if (pendingEvents == 0 && !flushes.isEmpty()) {
      List<CompletableFuture<Void>> done = new ArrayList<>(flushes);
      flushes.clear();
      receipts.execute(() -> done.forEach(f -> f.complete(null)));
    }
  }

  private void onStreamEnd(Stream s, Throwable error) {
    lock.lock();
    try {
      if (s != stream) {
        return;
      }
      stream = null;
      // everything on the wire goes back, in order, ahead of what was not sent yet
      while (!inFlight.isEmpty()) {
        retryQueue.addLast(inFlight.pollFirst());
      }
      HeraldException e = error == null ? new HeraldException(ErrorCode.UNAVAILABLE, "stream ended") : Errors.from(error);
      boolean retryable = e.isRetryable() || e.code() == ErrorCode.CANCELLED && !closed;
      if (!retryable || closed) {
        // what waits would go nowhere: fail it now (batches with time left wait for the next
        // stream; the expiry timer bounds how long)
        for (Batch b : new ArrayList<>(retryQueue)) {
          fail(b, e);
        }
        retryQueue.clear();
        for (Batch b : new ArrayList<>(toSend)) {
          fail(b, e);
        }
        toSend.clear();
      }
      if (closed && toSend.isEmpty() && retryQueue.isEmpty() && open == null) {
        return;
      }
      if (!retryable && open == null) {
        // refused for good (UNAUTHENTICATED, say) with nothing left to send: no stream until the
        // next publish (which opens one after the backoff), rather than a refused stream every
        // few seconds while idle
        log.debug("publisher for '{}': stream ended ({}); reconnecting on the next publish", topic, e.getMessage());
        return;
      }
      log.debug("publisher for '{}': stream ended ({}); reconnecting", topic, e.getMessage());
      scheduleReconnect();
    } finally {
      lock.unlock();
    }
  }

  private void reconnect() {
    boolean send = false;
    lock.lock();
    try {
      reconnectScheduled = false;
      if (stream == null && !core.isClosed()) {
        openStream();
        send = claimSender();
      }
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
  }

  @Override
  public CompletableFuture<Void> flush() {
    CompletableFuture<Void> f;
    boolean send;
    lock.lock();
    try {
      if (open != null) {
        seal();
      }
      send = claimSender();
      if (pendingEvents == 0) {
        f = CompletableFuture.completedFuture(null);
      } else {
        f = new CompletableFuture<>();
        flushes.add(f);
      }
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
    return f;
  }

  @Override
  public long pendingEvents() {
    lock.lock();
    try {
      return pendingEvents;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(10));
  }

  @Override
  public void closeFor(Duration timeout) {
    close(timeout);
  }

  @Override
  public void close(Duration timeout) {
    CompletableFuture<Void> flushed;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      room.signalAll();
    } finally {
      lock.unlock();
    }
    flushed = flush();
    try {
      flushed.get(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      log.warn("publisher for '{}' closed with {} events not acknowledged after {}", topic, pendingEvents(), timeout);
    } catch (Exception e) {
      log.debug("flush on close failed", e);
    }
    boolean send = false;
    lock.lock();
    try {
      HeraldException gone = new HeraldException.ClosedException("publisher for '" + topic + "' closed before the broker acknowledged the event");
      for (Batch b : new ArrayList<>(inFlight)) {
        fail(b, gone);
      }
      inFlight.clear();
      for (Batch b : new ArrayList<>(retryQueue)) {
        fail(b, gone);
      }
      retryQueue.clear();
      for (Batch b : new ArrayList<>(toSend)) {
        fail(b, gone);
      }
      toSend.clear();
      Stream s = stream;
      stream = null;
      if (s != null) {
        streamOps.addLast(() -> s.out.onCompleted());
        send = claimSender();
      }
    } finally {
      lock.unlock();
    }
    if (send) {
      send();
    }
    core.unregister(this);
  }

  /** One stream attempt. Callbacks arrive on the network thread; decisions are taken under the lock. */
  private final class Stream implements ClientResponseObserver<PublishStreamRequest, PublishStreamResponse> {
    // set in beforeStart, which runs inside publishStream(), on the sender; read under the lock
    volatile ClientCallStreamObserver<PublishStreamRequest> out;

    @Override
    public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> requestStream) {
      out = requestStream;
      requestStream.setOnReadyHandler(() -> {
        boolean send = false;
        lock.lock();
        try {
          if (stream == this) {
            send = claimSender();
          }
        } finally {
          lock.unlock();
        }
        if (send) {
          send();
        }
      });
    }

    @Override
    public void onNext(PublishStreamResponse r) {
      onResponse(this, r);
    }

    @Override
    public void onError(Throwable t) {
      onStreamEnd(this, t);
    }

    @Override
    public void onCompleted() {
      onStreamEnd(this, null);
    }
  }
}
