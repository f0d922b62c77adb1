package io.herald.client;

import java.time.Duration;

/**
 * Reconnects and retries: exponential backoff from {@code initialBackoff}, times {@code multiplier}
 * per attempt, capped at {@code maxBackoff}, each wait with up to 20% random jitter.
 *
 * <p>{@code totalTimeout} bounds every publish: a receipt completes at most this long after
 * {@code publish} returned, with the broker's acknowledgement or, past it, with a retryable
 * {@link ErrorCode#DEADLINE_EXCEEDED} (the event may still have been sequenced; publishing it again
 * is safe, the broker dedups its id), or with the retryable refusal the broker last gave it (e.g.
 * {@link ErrorReason#INBOX_FULL}: nothing of it was accepted). This holds whatever the broker does, answering or not. The
 * clock starts with the first event of the event's batch, so a linger longer than the total timeout
 * makes no sense. Immutable.
 *
 * @param initialBackoff first wait, &gt; 0
 * @param maxBackoff longest wait, &gt;= {@code initialBackoff}
 * @param multiplier growth per attempt, 1..10
 * @param totalTimeout the longest a publish waits for its acknowledgement, &gt; 0
 */
public record RetrySettings(Duration initialBackoff, Duration maxBackoff, double multiplier, Duration totalTimeout) {
  /** 100 ms, doubling, up to 5 s; a publish is given up after 2 minutes. */
  public static final RetrySettings DEFAULT = new RetrySettings(Duration.ofMillis(100), Duration.ofSeconds(5), 2.0, Duration.ofMinutes(2));

  public RetrySettings {
    if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException("need 0 < initialBackoff <= maxBackoff; got " + initialBackoff + ", " + maxBackoff);
    }
    if (multiplier < 1.0 || multiplier > 10) {
      throw new IllegalArgumentException("multiplier must be 1..10; got " + multiplier);
    }
    if (totalTimeout.isNegative() || totalTimeout.isZero()) {
      throw new IllegalArgumentException("totalTimeout must be positive; got " + totalTimeout);
    }
  }
}
