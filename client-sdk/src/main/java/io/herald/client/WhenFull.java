package io.herald.client;

import java.time.Duration;

/**
 * What {@link Publisher#publish} does when the publisher's pending buffer (events accepted by the
 * SDK, not yet acknowledged by the broker) is full. There is no unbounded choice.
 */
public final class WhenFull {
  private final Duration maxBlock;

  private WhenFull(Duration maxBlock) {
    this.maxBlock = maxBlock;
  }

  /**
   * Block the calling thread until there is room, for at most {@code maxBlock} (&gt;= 0; zero is
   * {@link #fail()}); then fail the publish with {@link HeraldException.PublishBufferFullException}.
   * The publisher's default is {@value PublisherBuilder#DEFAULT_MAX_BLOCK_SECONDS} s.
   */
  public static WhenFull blockUpTo(Duration maxBlock) {
    if (maxBlock == null || maxBlock.isNegative()) {
      throw new IllegalArgumentException("maxBlock must be >= 0; got " + maxBlock);
    }
    return new WhenFull(maxBlock);
  }

  /** Fail the publish at once with {@link HeraldException.PublishBufferFullException}. */
  public static WhenFull fail() {
    return new WhenFull(Duration.ZERO);
  }

  /** How long publish may block; zero means fail at once. */
  public Duration maxBlock() {
    return maxBlock;
  }

  @Override
  public String toString() {
    return maxBlock.isZero() ? "fail" : "blockUpTo(" + maxBlock + ")";
  }
}
