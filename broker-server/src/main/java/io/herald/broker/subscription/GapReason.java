package io.herald.broker.subscription;

/** Why a subscription did not get a range of events (the wire's {@code GapReason}). */
public enum GapReason {
  /** DROP_NEWEST: new events refused by a full buffer (or not read from history in time). */
  DROPPED,
  /** DROP_OLDEST: buffered events pushed out by newer ones (or trimmed from history before read). */
  EVICTED,
  /** The start or resume position is older than what the topic retains. */
  RETENTION,
  /** The topic's owner crashed: sequenced events were lost; how many is not known. */
  CRASH_RECOVERY,
  /** The position belongs to an earlier incarnation of the topic's name. */
  TOPIC_RECREATED,
  /** The dispatch loop failed and was restarted; the subscription missed these sequenced events. */
  LOOP_RESTARTED,
  /** The topic moved to another owner (a new epoch); these sequenced events are lost. */
  OWNER_CHANGE
}
