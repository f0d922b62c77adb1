package io.herald.client;

/**
 * Why a call failed, with the same names and numbers as gRPC status codes, so that the broker's
 * answer and the SDK's error mean the same thing. {@link #retryable()} says whether trying again
 * later can help.
 */
public enum ErrorCode {
  OK(0, false),
  CANCELLED(1, false),
  UNKNOWN(2, true),
  INVALID_ARGUMENT(3, false),
  DEADLINE_EXCEEDED(4, true),
  NOT_FOUND(5, false),
  ALREADY_EXISTS(6, false),
  PERMISSION_DENIED(7, false),
  RESOURCE_EXHAUSTED(8, true),
  FAILED_PRECONDITION(9, false),
  ABORTED(10, true),
  OUT_OF_RANGE(11, false),
  UNIMPLEMENTED(12, false),
  INTERNAL(13, true),
  UNAVAILABLE(14, true),
  DATA_LOSS(15, false),
  UNAUTHENTICATED(16, false);

  private final int value;
  private final boolean retryable;

  ErrorCode(int value, boolean retryable) {
    this.value = value;
    this.retryable = retryable;
  }

  /** The gRPC status code number. */
  public int value() {
    return value;
  }

  /** Whether the same request may succeed later (the broker is busy, restarting or out of reach). */
  public boolean retryable() {
    return retryable;
  }

  /** The code for a gRPC status number; UNKNOWN for numbers outside 0-16. */
  public static ErrorCode of(int value) {
    for (ErrorCode c : values()) {
      if (c.value == value) {
        return c;
      }
    }
    return UNKNOWN;
  }
}
