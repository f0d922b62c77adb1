package io.herald.client;

/** Why a subscription did not get a range of events. */
public enum GapReason {
  /** DROP_NEWEST: the broker-side buffer was full and refused new events. */
  DROPPED,
  /** DROP_OLDEST: buffered events were pushed out by newer ones. */
  EVICTED,
  /** The start or resume position was older than what the topic still retains. */
  RETENTION,
  /** A reason this SDK version does not know. */
  UNKNOWN
}
