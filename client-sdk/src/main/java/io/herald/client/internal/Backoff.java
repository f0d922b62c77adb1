package io.herald.client.internal;

import io.herald.client.RetrySettings;
import java.util.concurrent.ThreadLocalRandom;

/** Exponential backoff with up to 20% jitter (never zero, so reconnect storms spread out). */
final class Backoff {
  private Backoff() { }

  static long delayMillis(RetrySettings r, int attempt) {
    double base = r.initialBackoff().toMillis() * Math.pow(r.multiplier(), Math.max(0, attempt));
    double capped = Math.min(base, r.maxBackoff().toMillis());
    double jitter = capped * 0.2 * ThreadLocalRandom.current().nextDouble();
    return Math.max(1, (long) (capped - jitter));
  }
}
