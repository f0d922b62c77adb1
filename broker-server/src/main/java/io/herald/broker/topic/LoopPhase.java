package io.herald.broker.topic;

/** The steps of a dispatch-loop batch where a test may inject a fault ({@link Topic#faultHookForTests}). */
public enum LoopPhase {
  /** Before the batch's events are sequenced: nothing of it is committed yet. */
  SEQUENCE,
  /** After the batch is committed (in the ring), before it is offered to the subscriptions. */
  FAN_OUT
}
