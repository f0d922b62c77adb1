package io.herald.client;

/**
 * What the broker does when this subscription's buffer on the broker is full.
 *
 * <p>The trade-off: {@link #DROP_OLDEST} and {@link #DROP_NEWEST} isolate — a slow subscriber never
 * slows the topic or its other subscribers; it loses events and its gap listener is told exactly
 * which. {@link #BLOCK} loses nothing for this subscriber but paces the whole topic, and then its
 * publishers, by it; if its buffer stays full longer than the topic's {@code max_block} it is
 * evicted as a slow consumer ({@link HeraldException.SlowConsumerException}).
 */
public enum OverflowPolicy {
  /** The topic's default (DROP_OLDEST unless the topic says otherwise). */
  TOPIC_DEFAULT,
  DROP_OLDEST,
  DROP_NEWEST,
  BLOCK
}
