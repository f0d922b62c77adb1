package io.herald.client;

import java.time.Duration;

/**
 * Reconnects and retries: exponential backoff from {@code initialBackoff}, times {@code multiplier}
 * per attempt, capped at {@code maxBackoff}, each wait with up to 20% random jitter; a publish is
 * given up after {@code totalTimeout} (its receipt fails with a retryable error). Immutable.
 */
public record RetrySettings(Duration initialBackoff, Duration maxBackoff, double multiplier, Duration totalTimeout) {
  /** 100 ms, doubling, up to 5 s; publishes given up after 2 minutes. */
  public static final RetrySettings DEFAULT = new RetrySettings(Duration.ofMillis(100), Duration.ofSeconds(5), 2.0, Duration.ofMinutes(2));

  public RetrySettings {
    if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException("need 0 < initialBackoff <= maxBackoff; got " + initialBackoff + ", " + maxBackoff);
    }
    if (multiplier < 1.0 || multiplier > 10) {
      throw new IllegalArgumentException("multiplier must be 1..10; got " + multiplier);
    }
    if (totalTimeout.isNegative()) {
      throw new IllegalArgumentException("totalTimeout must be >= 0; got " + totalTimeout);
    }
  }
}
