package io.herald.broker.subscription;

/**
 * What a subscription's buffer does when it is full. The trade-off is documented on the proto enum
 * {@code herald.v1.OverflowPolicy}: DROP_* isolate (a slow subscriber loses events, is told so by gap
 * notices, and never slows the others); BLOCK is lossless but paces the whole topic by the
 * subscriber until {@code max_block} passes and the subscriber is evicted as a slow consumer.
 */
public enum Policy {
  DROP_OLDEST,
  DROP_NEWEST,
  BLOCK
}
