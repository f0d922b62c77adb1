package io.herald.client;

/** Why a subscription did not get a range of events. */
public enum GapReason {
  /** DROP_NEWEST: the broker-side buffer was full and refused new events. */
  DROPPED,
  /** DROP_OLDEST: buffered events were pushed out by newer ones. */
  EVICTED,
  /** The start or resume position was older than what the topic still retains. */
  RETENTION,
  /**
   * The broker that owned the topic crashed: events it had sequenced and this subscription had not
   * received are lost. How many is not known: {@link Gap#countUnknown()} is true and {@link
   * Gap#count()} is an upper bound.
   */
  CRASH_RECOVERY,
  /**
   * The position belonged to an earlier incarnation of the topic (deleted and created again): what
   * followed it is gone; the end is not known ({@link Gap#lastSequence()} and {@link Gap#count()}
   * are 0). The subscription goes on with the new incarnation from its first retained event.
   */
  TOPIC_RECREATED,
  /** The topic's dispatch loop failed and was restarted; these sequenced events were not delivered. */
  LOOP_RESTARTED,
  /**
   * The topic moved to another owner broker (a new epoch): events the old owner sequenced and this
   * subscription had not received are lost. The count is exact unless {@link Gap#countUnknown()}.
   */
  OWNER_CHANGE,
  /** A reason this SDK version does not know. */
  UNKNOWN
}
