package io.herald.broker.subscription;

/** Why deliveries were lost by a subscription buffer; a metrics label. */
public enum DropReason {
  /** DROP_NEWEST refused an event. */
  DROPPED_NEWEST("dropped_newest"),
  /** DROP_OLDEST pushed a buffered event out. */
  EVICTED_OLDEST("evicted_oldest"),
  /** The subscription closed (evicted as a slow consumer, topic deleted, shutdown) with events still buffered. */
  SUBSCRIPTION_CLOSED("subscription_closed"),
  /** The dispatch loop failed while fanning events out; the subscription missed them (LOOP_RESTARTED gap). */
  LOOP_RESTARTED("loop_restarted");

  private final String label;

  DropReason(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }
}
