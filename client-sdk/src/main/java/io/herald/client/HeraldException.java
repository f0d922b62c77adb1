package io.herald.client;

import java.util.Map;

/**
 * The root of every error the SDK reports: unchecked, with the {@link ErrorCode} the broker (or the
 * SDK itself) gave, the broker's {@link ErrorReason} and its metadata (the topic, a limit, a value),
 * and whether a retry can help. Branch on {@link #reason()}: the code alone does not say whether a
 * retry helps (RESOURCE_EXHAUSTED is {@link ErrorReason#MESSAGE_TOO_LARGE}, permanent, or {@link
 * ErrorReason#INBOX_FULL}, retryable). Subclasses exist for the cases a service usually handles on
 * its own; everything else is a plain {@code HeraldException}. Immutable.
 */
public class HeraldException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;
  private final ErrorReason reason;
  private final Map<String, String> metadata;
  private final boolean retryable;

  /** An error without a broker reason, retryable as its code says. */
  public HeraldException(ErrorCode code, String message) {
    this(code, message, code.retryable(), null);
  }

  /** An error without a broker reason (the SDK's own), retryable as given. */
  public HeraldException(ErrorCode code, String message, boolean retryable, Throwable cause) {
    super(code + ": " + message, cause);
    this.code = code;
    this.reason = ErrorReason.UNSPECIFIED;
    this.metadata = Map.of();
    this.retryable = retryable;
  }

  /**
   * An error with the broker's reason and metadata; retryable as the reason says ({@link
   * ErrorReason#retryable()}), or as the code says when the reason is {@link ErrorReason#UNSPECIFIED}.
   */
  public HeraldException(ErrorCode code, ErrorReason reason, Map<String, String> metadata, String message, Throwable cause) {
    super(code + (reason == ErrorReason.UNSPECIFIED || reason.name().equals(code.name()) ? "" : " " + reason) + ": " + message, cause);
    this.code = code;
    this.reason = reason;
    this.metadata = Map.copyOf(metadata);
    this.retryable = reason == ErrorReason.UNSPECIFIED ? code.retryable() : reason.retryable();
  }

  /** What went wrong, as a gRPC status code. */
  public ErrorCode code() {
    return code;
  }

  /** Why, as the broker said ({@link ErrorReason#UNSPECIFIED} for the SDK's own errors and transport failures). */
  public ErrorReason reason() {
    return reason;
  }

  /**
   * The broker's details, e.g. {@code topic}, {@code limit}, {@code value} (see each {@link
   * ErrorReason}); empty when there are none. Unmodifiable.
   */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Whether the same operation may succeed if tried again later: derived from {@link #reason()}, else the code. */
  public boolean isRetryable() {
    return retryable;
  }

  /** The topic does not exist (NOT_FOUND, {@link ErrorReason#TOPIC_NOT_FOUND}). Not retryable: create the topic first. */
  public static final class TopicNotFoundException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public TopicNotFoundException(String message, Throwable cause) {
      this(message, Map.of(), cause);
    }

    public TopicNotFoundException(String message, Map<String, String> metadata, Throwable cause) {
      super(ErrorCode.NOT_FOUND, ErrorReason.TOPIC_NOT_FOUND, metadata, message, cause);
    }
  }

  /** The topic exists already (ALREADY_EXISTS, {@link ErrorReason#TOPIC_ALREADY_EXISTS}). */
  public static final class TopicExistsException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public TopicExistsException(String message, Throwable cause) {
      this(message, Map.of(), cause);
    }

    public TopicExistsException(String message, Map<String, String> metadata, Throwable cause) {
      super(ErrorCode.ALREADY_EXISTS, ErrorReason.TOPIC_ALREADY_EXISTS, metadata, message, cause);
    }
  }

  /**
   * The publisher's pending buffer stayed full (fail-fast, or blocked longer than allowed).
   * Retryable: the buffer drains as the broker acknowledges.
   */
  public static final class PublishBufferFullException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public PublishBufferFullException(String message) {
      super(ErrorCode.RESOURCE_EXHAUSTED, message, true, null);
    }
  }

  /**
   * The broker evicted this subscription as a slow consumer (a BLOCK buffer stayed full past
   * max_block; {@link ErrorReason#SLOW_CONSUMER}). Not retryable: the subscription has ended.
   */
  public static final class SlowConsumerException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public SlowConsumerException(String message, Throwable cause) {
      this(message, Map.of(), cause);
    }

    public SlowConsumerException(String message, Map<String, String> metadata, Throwable cause) {
      super(ErrorCode.RESOURCE_EXHAUSTED, ErrorReason.SLOW_CONSUMER, metadata, message, cause);
    }
  }

  /** The client, publisher or subscription was closed before the operation finished. */
  public static final class ClosedException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public ClosedException(String message) {
      super(ErrorCode.CANCELLED, message, false, null);
    }
  }
}
