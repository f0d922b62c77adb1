package io.herald.client;

/**
 * The root of every error the SDK reports: unchecked, with the {@link ErrorCode} the broker (or the
 * SDK itself) gave and whether a retry can help. Subclasses exist for the cases a service usually
 * handles on its own; everything else is a plain {@code HeraldException} with its code.
 */
public class HeraldException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;
  private final boolean retryable;

  public HeraldException(ErrorCode code, String message) {
    this(code, message, code.retryable(), null);
  }

  public HeraldException(ErrorCode code, String message, boolean retryable, Throwable cause) {
    super(code + ": " + message, cause);
    this.code = code;
    this.retryable = retryable;
  }

  /** What went wrong, as a gRPC status code. */
  public ErrorCode code() {
    return code;
  }

  /** Whether the same operation may succeed if tried again later. */
  public boolean isRetryable() {
    return retryable;
  }

  /** The topic does not exist (NOT_FOUND). Not retryable: create the topic first. */
  public static final class TopicNotFoundException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public TopicNotFoundException(String message, Throwable cause) {
      super(ErrorCode.NOT_FOUND, message, false, cause);
    }
  }

  /** The topic exists already (ALREADY_EXISTS). */
  public static final class TopicExistsException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public TopicExistsException(String message, Throwable cause) {
      super(ErrorCode.ALREADY_EXISTS, message, false, cause);
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

  /** The broker evicted this subscription as a slow consumer (a BLOCK buffer stayed full past max_block). */
  public static final class SlowConsumerException extends HeraldException {
    private static final long serialVersionUID = 1L;

    public SlowConsumerException(String message, Throwable cause) {
      super(ErrorCode.RESOURCE_EXHAUSTED, message, false, cause);
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
