package io.herald.broker.config;

import java.time.Duration;

/**
 * What one client connection may hold and for how long: a broker must not let a client that never
 * finishes its handshake, never sends a call, or floods stream resets hold its resources.
 * Immutable; validated on construction with messages that name the flags.
 *
 * @param handshakeTimeout a connection that has not finished its TLS handshake / HTTP/2 preface by
 *     then is closed ({@code --handshake-timeout}, default 10 s)
 * @param maxConnectionIdle a connection with no call for this long is closed with GOAWAY (a client
 *     reconnects on its next call) ({@code --max-connection-idle}, default 30 min; null: never)
 * @param maxConnectionAge a connection older than this is sent GOAWAY, so clients spread over new
 *     nodes ({@code --max-connection-age}; null, the default: never)
 * @param maxConnectionAgeGrace how long calls may go on after that GOAWAY before the connection is
 *     closed ({@code --max-connection-age-grace}, default 5 min; a subscription outlives it only by
 *     reconnecting, which the SDK does)
 * @param permitKeepAliveTime the most frequent client keepalive ping the broker accepts; more
 *     frequent pings end the connection ({@code --permit-keepalive-time}, default 10 s)
 * @param maxRstPerWindow at most this many stream resets a client may send per {@code rstWindow}; more
 *     end the connection (HTTP/2 rapid reset) ({@code --max-rst-per-window}, default 1,000; 0: no limit)
 * @param rstWindow the window of that count (default 10 s)
 */
public record ConnectionLimits(Duration handshakeTimeout, Duration maxConnectionIdle, Duration maxConnectionAge,
    Duration maxConnectionAgeGrace, Duration permitKeepAliveTime, int maxRstPerWindow, Duration rstWindow) {

  public static final ConnectionLimits DEFAULTS = new ConnectionLimits(Duration.ofSeconds(10), Duration.ofMinutes(30), null,
      Duration.ofMinutes(5), Duration.ofSeconds(10), 1000, Duration.ofSeconds(10));

  public ConnectionLimits {
    positive("--handshake-timeout", handshakeTimeout);
    if (maxConnectionIdle != null) {
      positive("--max-connection-idle", maxConnectionIdle);
    }
    if (maxConnectionAge != null) {
      positive("--max-connection-age", maxConnectionAge);
    }
    positive("--max-connection-age-grace", maxConnectionAgeGrace);
    positive("--permit-keepalive-time", permitKeepAliveTime);
    if (maxRstPerWindow < 0) {
      throw new IllegalArgumentException("--max-rst-per-window must be 0 (no limit) or more; got " + maxRstPerWindow);
    }
    if (rstWindow.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("the reset window must be at least 1s; got " + rstWindow);
    }
  }

  private static void positive(String flag, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(flag + " must be positive; got " + d);
    }
  }

  public ConnectionLimits withHandshakeTimeout(Duration d) {
    return new ConnectionLimits(d, maxConnectionIdle, maxConnectionAge, maxConnectionAgeGrace, permitKeepAliveTime, maxRstPerWindow,
        rstWindow);
  }

  public ConnectionLimits withMaxConnectionIdle(Duration d) {
    return new ConnectionLimits(handshakeTimeout, d, maxConnectionAge, maxConnectionAgeGrace, permitKeepAliveTime, maxRstPerWindow,
        rstWindow);
  }

  public ConnectionLimits withMaxRstPerWindow(int n, Duration window) {
    return new ConnectionLimits(handshakeTimeout, maxConnectionIdle, maxConnectionAge, maxConnectionAgeGrace, permitKeepAliveTime, n,
        window);
  }

  /** One line for the startup log. */
  public String describe() {
    return "handshake-timeout=" + handshakeTimeout + " max-connection-idle=" + (maxConnectionIdle == null ? "never" : maxConnectionIdle)
        + " max-connection-age=" + (maxConnectionAge == null ? "never" : maxConnectionAge + " (grace " + maxConnectionAgeGrace + ")")
        + " permit-keepalive-time=" + permitKeepAliveTime + " max-rst-per-window=" + (maxRstPerWindow == 0 ? "off"
        : maxRstPerWindow + "/" + rstWindow);
  }
}
