package io.herald.client.internal;

import io.grpc.Status;
import io.herald.client.ErrorCode;
import io.herald.client.HeraldException;

/** Maps gRPC failures and broker error codes to the SDK's exceptions. */
public final class Errors {
  private Errors() { }

  public static HeraldException from(Throwable t) {
    if (t instanceof HeraldException h) {
      return h;
    }
    Status s = Status.fromThrowable(t);
    return from(ErrorCode.of(s.getCode().value()), s.getDescription() == null ? s.getCode().name() : s.getDescription(), t);
  }

  public static HeraldException from(ErrorCode code, String message, Throwable cause) {
    return switch (code) {
      case NOT_FOUND -> new HeraldException.TopicNotFoundException(message, cause);
      case ALREADY_EXISTS -> new HeraldException.TopicExistsException(message, cause);
      default -> new HeraldException(code, message, code.retryable(), cause);
    };
  }
}
