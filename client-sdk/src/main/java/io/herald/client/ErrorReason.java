package io.herald.client;

import java.util.Locale;

/**
 * Why the broker refused a call or ended a stream: the reason of the {@code google.rpc.ErrorInfo}
 * every broker error carries ({@code herald.v1.ErrorReason}, where each value is documented with its
 * metadata). Branch on it, not on the message. {@link #retryable()} says whether the same operation
 * may succeed later; it depends on the reason alone, so two errors with the same status code (say
 * RESOURCE_EXHAUSTED) may differ: {@link #MESSAGE_TOO_LARGE} never succeeds, {@link #INBOX_FULL}
 * may once the topic drains.
 */
public enum ErrorReason {
  /**
   * No reason: an error the SDK made itself (a closed publisher, a full pending buffer, a deadline),
   * a transport failure, or a reason this SDK does not know yet. {@link HeraldException#isRetryable()}
   * then follows the {@link ErrorCode}.
   */
  UNSPECIFIED(false),
  /** A request field is missing, malformed or out of range (metadata {@code field}, {@code index}). */
  INVALID_FIELD(false),
  /** The request bytes do not decode. */
  MALFORMED_REQUEST(false),
  /** A request message over 4 MiB (metadata {@code limit}, {@code value}). */
  MESSAGE_TOO_LARGE(false),
  /** An event over the topic's max event size (metadata {@code topic}, {@code index}, {@code limit}, {@code value}). */
  EVENT_TOO_LARGE(false),
  /** A stream's frames broke its protocol. */
  PROTOCOL_VIOLATION(false),
  /** The topic does not exist or was deleted (metadata {@code topic}). */
  TOPIC_NOT_FOUND(false),
  /** The topic exists already (metadata {@code topic}). */
  TOPIC_ALREADY_EXISTS(false),
  /** The topic does not allow BLOCK subscriptions (metadata {@code topic}). */
  BLOCK_NOT_ALLOWED(false),
  /** A start position's epoch is newer than the topic's (metadata {@code topic}, {@code epoch}, {@code topicEpoch}). */
  EPOCH_AHEAD(false),
  /** A BLOCK subscription was evicted as a slow consumer (metadata {@code topic}, {@code maxBlock}). */
  SLOW_CONSUMER(false),
  /** The topic's dispatch loop failed too often; an operator must re-create it (metadata {@code topic}). */
  TOPIC_OUT_OF_SERVICE(false),
  /** gRPC itself or a standard service refused the call (unknown method, health check of an unknown service). */
  UNSUPPORTED_REQUEST(false),
  /** The broker authenticates callers and this one presented no credential it accepts (metadata {@code methods}). */
  UNAUTHENTICATED(false),
  /** The caller's principal has no grant for this operation on this topic (metadata {@code principal}, {@code topic}, {@code permission}). */
  PERMISSION_DENIED(false),
  /** A REJECT topic's inbox is full: the broker sheds load (metadata {@code topic}, {@code inboxMaxEvents}, {@code inboxMaxBytes}). */
  INBOX_FULL(true),
  /** A BLOCK topic's inbox and wait line are full (metadata {@code topic} and the line's depth and bounds). */
  WAIT_LINE_FULL(true),
  /** The broker is shutting down: retry on another broker, or on this one once it is back. */
  SHUTTING_DOWN(true),
  /** The topic cannot record its sequence reservation (e.g. a full disk); nothing was accepted (metadata {@code topic}). */
  SEQUENCE_RESERVATION_UNAVAILABLE(true),
  /** The broker could not write a topic change to its metadata store. */
  METADATA_UNAVAILABLE(true),
  /** The topic's dispatch loop is restarting; nothing of the batch was accepted (metadata {@code topic}). */
  LOOP_RESTARTED(true),
  /** The broker failed in a way it did not expect (a bug); a retry may succeed. */
  INTERNAL(true),
  /**
   * The topic is moving between nodes, its owner is not sure it still owns it, or the broker that
   * took the call could not reach (or lost) the owner; a forwarded batch may or may not have been
   * accepted: retry (metadata {@code topic}, {@code owner}).
   */
  OWNER_UNAVAILABLE(true);

  private final boolean retryable;

  ErrorReason(boolean retryable) {
    this.retryable = retryable;
  }

  /** Whether the same operation may succeed if tried again later (false for {@link #UNSPECIFIED}). */
  public boolean retryable() {
    return retryable;
  }

  /** The reason for an ErrorInfo reason string such as {@code "INBOX_FULL"}; {@link #UNSPECIFIED} if empty or unknown. */
  public static ErrorReason of(String reason) {
    if (reason == null || reason.isEmpty()) {
      return UNSPECIFIED;
    }
    try {
      return valueOf(reason.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return UNSPECIFIED;
    }
  }
}
