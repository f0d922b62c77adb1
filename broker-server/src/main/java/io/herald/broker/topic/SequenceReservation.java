package io.herald.broker.topic;

import io.grpc.StatusRuntimeException;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ErrorReason;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.LongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How far a topic may hand out sequences: only up to a floor that is durable in the metadata store,
 * so that after a crash the topic continues above every sequence it may have used. Floors are
 * requested ahead, {@link #chunk} sequences at a time, when half of the current reservation is used,
 * so the store's write happens off the dispatch loop's critical path; the loop waits for a write
 * only when it runs out before the write lands. If a write fails, batches that need sequences beyond
 * the durable floor fail with UNAVAILABLE (logged once per failure streak) and the next such batch
 * tries the write again; a floor is never used before it is durable.
 *
 * <p>Dispatch loop only (not thread-safe); the store completes futures on its own thread.
 */
final class SequenceReservation {
  private static final Logger log = LoggerFactory.getLogger(SequenceReservation.class);

  private final String topic;
  private final LongFunction<CompletableFuture<Void>> record;
  private final long chunk;
  /** Sequences up to this one are covered by a durable floor. */
  private long durableUpTo;
  /** The floor of the write in flight (covers sequences below it), or 0. */
  private long requestedFloor;
  private CompletableFuture<Void> inFlight;
  private boolean failing;

  /**
   * @param firstSequence the next sequence the topic will hand out; the store already holds a floor
   *     at least this high
   * @param record writes a floor ("the next sequence is at least this") durably
   */
  SequenceReservation(String topic, long firstSequence, long chunk, LongFunction<CompletableFuture<Void>> record) {
    this.topic = topic;
    this.record = record;
    this.chunk = chunk;
    this.durableUpTo = firstSequence - 1;
  }

  /**
   * Makes sure sequences up to {@code last} may be handed out, waiting for the store if needed.
   *
   * @throws StatusRuntimeException UNAVAILABLE if the floor could not be recorded
   */
  void cover(long last) throws InterruptedException {
    collect();
    if (last > durableUpTo) {
      if (inFlight == null || requestedFloor <= last) {
        if (inFlight != null) {
          await(); // let the smaller one land first: floors only grow
        }
        request(last + chunk);
      }
      await();
      if (last > durableUpTo) {
        throw new IllegalStateException("floor " + (durableUpTo + 1) + " does not cover sequence " + last);
      }
    }
    if (inFlight == null && durableUpTo - last < chunk / 2) {
      request(durableUpTo + 1 + chunk); // ahead of need
    }
  }

  /** Picks up a write that completed in the background. */
  private void collect() {
    if (inFlight != null && inFlight.isDone()) {
      try {
        await();
      } catch (StatusRuntimeException e) {
        // a background write failed: logged; the next cover() that needs it tries again
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void request(long floor) {
    requestedFloor = floor;
    CompletableFuture<Void> f;
    try {
      f = record.apply(floor);
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    inFlight = f;
  }

  private void await() throws InterruptedException {
    CompletableFuture<Void> f = inFlight;
    long floor = requestedFloor;
    try {
      f.get();
      durableUpTo = Math.max(durableUpTo, floor - 1);
      if (failing) {
        failing = false;
        log.info("topic '{}': sequence floor {} recorded again; accepting publishes", topic, floor);
      }
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (!failing) {
        failing = true;
        log.error("topic '{}': cannot record sequence floor {} ({}); publishes that need new sequences fail with UNAVAILABLE until it can",
            topic, floor, cause.toString());
      }
      throw Errors.error(ErrorReason.ERROR_REASON_SEQUENCE_RESERVATION_UNAVAILABLE, "topic '" + topic
          + "' cannot record its sequence reservation in the metadata store (" + cause.getMessage()
          + "); nothing of this batch was accepted; retry later", "topic", topic);
    } finally {
      inFlight = null;
      requestedFloor = 0;
    }
  }

  /** Sequences up to this one are covered by a durable floor (for tests and stats). */
  long durableUpTo() {
    return durableUpTo;
  }
}
