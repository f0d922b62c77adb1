package io.herald.broker.transport;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.herald.proto.v1.ErrorReason;

/**
 * Every error status the broker sends, made in one place: a status code plus one {@code
 * google.rpc.ErrorInfo} (AIP-193) in the status details, with a reason from {@link ErrorReason}
 * (its name without the {@code ERROR_REASON_} prefix), domain {@value #DOMAIN} and metadata such
 * as the topic, the limit and the value. Each reason has exactly one code ({@link #code}), so a
 * call site names the reason and cannot pair it with the wrong code.
 *
 * <p>Statuses made by gRPC itself or by the standard services (health, reflection) get their
 * ErrorInfo from {@link ErrorDetailsInterceptor}; refusals the gRPC transport sends without
 * reaching a call (a message beyond twice the size limit) cannot carry one.
 *
 * <p>Stateless and thread-safe.
 */
public final class Errors {
  /** The ErrorInfo domain of every Herald error. */
  public static final String DOMAIN = "herald.v1";
  /** Largest request message the broker takes, for every method (the API's limit). */
  public static final int MAX_MESSAGE_BYTES = 4 << 20;

  private static final String PREFIX = "ERROR_REASON_";
  /** The trailer gRPC carries status details in (as {@link StatusProto} reads and writes it). */
  private static final Metadata.Key<com.google.rpc.Status> DETAILS = Metadata.Key.of("grpc-status-details-bin",
      io.grpc.protobuf.ProtoUtils.metadataMarshaller(com.google.rpc.Status.getDefaultInstance()));

  private Errors() { }

  /**
   * A status exception with code {@link #code}({@code reason}), {@code message} and an ErrorInfo
   * with {@code reason} and the metadata given as key/value pairs ({@code "topic", name, "limit",
   * "4194304"}).
   */
  public static StatusRuntimeException error(ErrorReason reason, String message, Object... metadata) {
    return StatusProto.toStatusRuntimeException(rpcStatus(code(reason), reason, message, metadata));
  }

  /** The same with the cause kept for the broker's own logs (it is never sent). */
  public static StatusRuntimeException error(ErrorReason reason, String message, Throwable cause) {
    com.google.rpc.Status s = rpcStatus(code(reason), reason, message);
    Metadata trailers = new Metadata();
    trailers.put(DETAILS, s);
    return code(reason).toStatus().withDescription(message).withCause(cause).asRuntimeException(trailers);
  }

  /** The reason's string as sent: its name without the prefix, e.g. {@code INBOX_FULL}. */
  public static String reasonName(ErrorReason reason) {
    return reason.name().substring(PREFIX.length());
  }

  /**
   * The one status code of each reason. UNSUPPORTED_REQUEST, given by {@link
   * ErrorDetailsInterceptor} to refusals of gRPC itself, keeps their code; made here it is UNIMPLEMENTED.
   */
  public static Status.Code code(ErrorReason reason) {
    return switch (reason) {
      case ERROR_REASON_INVALID_FIELD, ERROR_REASON_MALFORMED_REQUEST, ERROR_REASON_EVENT_TOO_LARGE,
          ERROR_REASON_PROTOCOL_VIOLATION -> Status.Code.INVALID_ARGUMENT;
      case ERROR_REASON_MESSAGE_TOO_LARGE, ERROR_REASON_SLOW_CONSUMER, ERROR_REASON_INBOX_FULL,
          ERROR_REASON_WAIT_LINE_FULL -> Status.Code.RESOURCE_EXHAUSTED;
      case ERROR_REASON_TOPIC_NOT_FOUND -> Status.Code.NOT_FOUND;
      case ERROR_REASON_TOPIC_ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
      case ERROR_REASON_BLOCK_NOT_ALLOWED, ERROR_REASON_EPOCH_AHEAD -> Status.Code.FAILED_PRECONDITION;
      case ERROR_REASON_SHUTTING_DOWN, ERROR_REASON_SEQUENCE_RESERVATION_UNAVAILABLE, ERROR_REASON_METADATA_UNAVAILABLE,
          ERROR_REASON_LOOP_RESTARTED, ERROR_REASON_OWNER_UNAVAILABLE -> Status.Code.UNAVAILABLE;
      case ERROR_REASON_TOPIC_OUT_OF_SERVICE, ERROR_REASON_INTERNAL -> Status.Code.INTERNAL;
      case ERROR_REASON_UNSUPPORTED_REQUEST -> Status.Code.UNIMPLEMENTED;
      case ERROR_REASON_UNAUTHENTICATED -> Status.Code.UNAUTHENTICATED;
      case ERROR_REASON_PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
      case ERROR_REASON_UNSPECIFIED, UNRECOGNIZED -> throw new IllegalArgumentException("not a reason to send: " + reason);
    };
  }

  /** INTERNAL for a failure the broker did not expect; the cause stays in the broker's log. */
  public static StatusRuntimeException internal(String message, Throwable cause) {
    return error(ErrorReason.ERROR_REASON_INTERNAL, message, cause);
  }

  /**
   * The status a failed future carries, for its caller: a {@link StatusRuntimeException} as it is
   * (unwrapped from a {@link java.util.concurrent.CompletionException}), anything else INTERNAL,
   * its message prefixed by {@code context} when given.
   */
  public static StatusRuntimeException status(Throwable failure, String context) {
    Throwable t = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    if (t instanceof StatusRuntimeException sre) {
      return sre;
    }
    return internal(context == null ? t.toString() : context + t, t);
  }

  /** INVALID_ARGUMENT INVALID_FIELD naming the field. */
  public static StatusRuntimeException invalidField(String field, String message) {
    return error(ErrorReason.ERROR_REASON_INVALID_FIELD, message, "field", field);
  }

  /** NOT_FOUND TOPIC_NOT_FOUND. */
  public static StatusRuntimeException topicNotFound(String topic, String message) {
    return error(ErrorReason.ERROR_REASON_TOPIC_NOT_FOUND, message, "topic", topic);
  }

  /** UNAVAILABLE SHUTTING_DOWN. */
  public static StatusRuntimeException shuttingDown(String message) {
    return error(ErrorReason.ERROR_REASON_SHUTTING_DOWN, message);
  }

  /** The ErrorInfo of a status exception, or null if it has none (not one of ours). */
  public static ErrorInfo info(Throwable t) {
    Metadata trailers = Status.trailersFromThrowable(t);
    return trailers == null ? null : info(trailers);
  }

  /** The ErrorInfo in trailers, or null. */
  static ErrorInfo info(Metadata trailers) {
    com.google.rpc.Status s = trailers.get(DETAILS);
    if (s == null) {
      return null;
    }
    for (Any a : s.getDetailsList()) {
      if (a.is(ErrorInfo.class)) {
        try {
          return a.unpack(ErrorInfo.class);
        } catch (InvalidProtocolBufferException e) {
          return null;
        }
      }
    }
    return null;
  }

  /** Adds an ErrorInfo with {@code reason} to the status details in {@code trailers} (made if absent). */
  static void attach(Status status, ErrorReason reason, Metadata trailers) {
    String message = status.getDescription() == null ? status.getCode().name() : status.getDescription();
    com.google.rpc.Status ours = rpcStatus(status.getCode(), reason, message);
    com.google.rpc.Status theirs = trailers.get(DETAILS);
    trailers.discardAll(DETAILS);
    trailers.put(DETAILS, theirs == null ? ours : theirs.toBuilder().addAllDetails(ours.getDetailsList()).build());
  }

  private static com.google.rpc.Status rpcStatus(Status.Code code, ErrorReason reason, String message, Object... metadata) {
    if (metadata.length % 2 != 0) {
      throw new IllegalArgumentException("metadata comes in key/value pairs");
    }
    ErrorInfo.Builder info = ErrorInfo.newBuilder().setReason(reasonName(reason)).setDomain(DOMAIN);
    for (int i = 0; i < metadata.length; i += 2) {
      info.putMetadata(String.valueOf(metadata[i]), String.valueOf(metadata[i + 1]));
    }
    return com.google.rpc.Status.newBuilder()
        .setCode(code.value())
        .setMessage(message)
        .addDetails(Any.pack(info.build()))
        .build();
  }
}
