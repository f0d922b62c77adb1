package io.herald.broker.subscription;

/** Why a subscription did not get a range of events. */
public enum GapReason {
  /** DROP_NEWEST: new events refused by a full buffer. */
  DROPPED,
  /** DROP_OLDEST: buffered events pushed out by newer ones. */
  EVICTED,
  /** The start or resume position is older than what the topic retains. */
  RETENTION
}
