package io.herald.client;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Publishes events to one topic, batching them over one flow-controlled stream.
 *
 * <p>Thread-safe: any number of threads may publish. Receipts complete in publish order on the
 * client's callback executor, each exactly once. What the publisher holds is bounded by its
 * pending limits ({@link PublisherBuilder#maxPending}); when full it blocks or fails as chosen with
 * {@link PublisherBuilder#whenFull}. Transient failures (broker restart, connection loss, a REJECT
 * topic shedding load: refusals whose {@link ErrorReason} is retryable) are retried with backoff;
 * since every event carries an id the broker dedups, a retry never delivers an event twice. A
 * refusal for good (e.g. {@link ErrorReason#EVENT_TOO_LARGE}) fails the batch's receipts at once. A
 * receipt that fails says, through {@link HeraldException#reason()} and
 * {@link HeraldException#isRetryable()}, why and whether trying again could help.
 *
 * <p>Sending is done by one thread at a time, without the publisher's lock: whichever thread
 * finds work first (a {@code publish} or {@code flush} caller, the timer after a linger, or the
 * network thread after an acknowledgement) serialises and writes the batches the stream is ready
 * for. So a {@code publish} call may take the time to write a few batches, its own and others'.
 */
public interface Publisher extends AutoCloseable {
  /** The topic this publisher writes to. */
  String topic();

  /**
   * Queues an event for publishing. The future completes when the broker has sequenced it, or
   * fails with a {@link HeraldException} (e.g. {@link HeraldException.PublishBufferFullException}).
   * May block for up to the {@link WhenFull} duration when the pending buffer is full. Once this
   * returns, the future completes within the retry settings' {@link RetrySettings#totalTimeout()
   * total timeout} whatever the broker does (past it: retryable {@link ErrorCode#DEADLINE_EXCEEDED},
   * or the retryable refusal the broker kept giving, e.g. {@link ErrorReason#INBOX_FULL}).
   */
  CompletableFuture<PublishReceipt> publish(Event event);

  /** Sends what is batched now; the future completes when everything published before is acknowledged. */
  CompletableFuture<Void> flush();

  /** Events accepted by the publisher and not yet acknowledged. */
  long pendingEvents();

  /** Flushes for up to {@code timeout}, then fails what is left with {@link HeraldException.ClosedException}. Idempotent. */
  void close(Duration timeout);

  /** {@link #close(Duration)} with 10 seconds. */
  @Override
  void close();
}
