package io.herald.broker.subscription;

/** Where a subscription starts. */
public enum StartKind {
  /** Events sequenced after the subscription is registered. */
  LATEST,
  /** The oldest retained event. */
  EARLIEST,
  /** A given sequence (a RETENTION gap first if it is no longer retained). */
  SEQUENCE
}
