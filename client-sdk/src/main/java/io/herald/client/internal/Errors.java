package io.herald.client.internal;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.herald.client.ErrorCode;
import io.herald.client.ErrorReason;
import io.herald.client.HeraldException;
import io.herald.proto.v1.PublishError;
import java.util.Map;

/**
 * Maps gRPC failures and broker refusals to the SDK's exceptions, with the reason and metadata of
 * the broker's {@code google.rpc.ErrorInfo} (domain {@value #DOMAIN}).
 */
public final class Errors {
  /** The ErrorInfo domain of the broker's errors. */
  static final String DOMAIN = "herald.v1";

  private Errors() { }

  public static HeraldException from(Throwable t) {
    if (t instanceof HeraldException h) {
      return h;
    }
    Status s = Status.fromThrowable(t);
    ErrorCode code = ErrorCode.of(s.getCode().value());
    String message = s.getDescription() == null ? s.getCode().name() : s.getDescription();
    ErrorInfo info = errorInfo(t);
    if (info != null) {
      return from(code, ErrorReason.of(info.getReason()), info.getMetadataMap(), message, t);
    }
    // every refusal of the broker's carries an ErrorInfo; a RESOURCE_EXHAUSTED without one is
    // gRPC's own message size limit (the broker's transport, or this client's), which a retry
    // does not change
    // UNAUTHENTICATED without one is the client's own refusal to send a credential (no TLS), or
    // its credential source failing; PERMISSION_DENIED without one, a proxy's refusal: neither is
    // changed by a retry
    ErrorReason reason = switch (code) {
      case RESOURCE_EXHAUSTED -> ErrorReason.MESSAGE_TOO_LARGE;
      case UNAUTHENTICATED -> ErrorReason.UNAUTHENTICATED;
      case PERMISSION_DENIED -> ErrorReason.PERMISSION_DENIED;
      default -> ErrorReason.UNSPECIFIED;
    };
    return from(code, reason, Map.of(), message, t);
  }

  /** A batch refused on a publish stream. */
  public static HeraldException from(PublishError e, String prefix) {
    return from(ErrorCode.of(e.getCode()), ErrorReason.of(e.getReason()), e.getMetadataMap(), prefix + e.getMessage(), null);
  }

  public static HeraldException from(ErrorCode code, String message, Throwable cause) {
    return from(code, ErrorReason.UNSPECIFIED, Map.of(), message, cause);
  }

  public static HeraldException from(ErrorCode code, ErrorReason reason, Map<String, String> metadata, String message, Throwable cause) {
    if (reason == ErrorReason.SLOW_CONSUMER) {
      return new HeraldException.SlowConsumerException(message, metadata, cause);
    }
    boolean plain = reason == ErrorReason.UNSPECIFIED;
    if (reason == ErrorReason.TOPIC_NOT_FOUND || plain && code == ErrorCode.NOT_FOUND) {
      return new HeraldException.TopicNotFoundException(message, metadata, cause);
    }
    if (reason == ErrorReason.TOPIC_ALREADY_EXISTS || plain && code == ErrorCode.ALREADY_EXISTS) {
      return new HeraldException.TopicExistsException(message, metadata, cause);
    }
    return new HeraldException(code, reason, metadata, message, cause);
  }

  /** The broker's ErrorInfo in a failure's status details, or null. */
  private static ErrorInfo errorInfo(Throwable t) {
    com.google.rpc.Status s = StatusProto.fromThrowable(t);
    if (s == null) {
      return null;
    }
    for (Any a : s.getDetailsList()) {
      if (a.is(ErrorInfo.class)) {
        try {
          ErrorInfo info = a.unpack(ErrorInfo.class);
          if (DOMAIN.equals(info.getDomain())) {
            return info;
          }
        } catch (InvalidProtocolBufferException e) {
          return null;
        }
      }
    }
    return null;
  }
}
