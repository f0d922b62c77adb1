package io.herald.broker.topic;

/** Reaches a topic's inbox from tests in other packages. */
public final class Inboxes {
  private Inboxes() { }

  /** Throws if the topic's inbox breaks one of its invariants ({@code Inbox.checkInvariants}). */
  public static void checkInvariants(Topic t) {
    t.inbox().checkInvariants(t.settings());
  }
}
