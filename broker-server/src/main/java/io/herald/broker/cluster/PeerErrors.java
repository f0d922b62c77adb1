package io.herald.broker.cluster;

import com.google.protobuf.Any;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.PublishError;

/**
 * A refusal as it crosses between brokers: the owner turns its status into a {@link PublishError}
 * (code, message, ErrorInfo reason and metadata, as a publish stream answers a refused batch), and
 * the origin turns it back into the same status for its own publisher, so the publisher cannot
 * tell that its batch was forwarded. Stateless.
 */
final class PeerErrors {
  private PeerErrors() { }

  /** The owner's side: {@code status} as a response field. */
  static PublishError toProto(StatusRuntimeException status) {
    Status st = status.getStatus();
    PublishError.Builder e = PublishError.newBuilder().setCode(st.getCode().value())
        .setMessage(st.getDescription() == null ? st.getCode().name() : st.getDescription());
    ErrorInfo info = Errors.info(status);
    if (info != null) {
      e.setReason(info.getReason()).putAllMetadata(info.getMetadataMap());
    } else {
      e.setReason(Errors.reasonName(ErrorReason.ERROR_REASON_INTERNAL)); // not made by Errors: a bug
    }
    return e.build();
  }

  /** The origin's side: the owner's status, with the same code, message, reason and metadata. */
  static StatusRuntimeException fromProto(PublishError e) {
    ErrorInfo.Builder info = ErrorInfo.newBuilder().setDomain(Errors.DOMAIN)
        .setReason(e.getReason().isEmpty() ? Errors.reasonName(ErrorReason.ERROR_REASON_INTERNAL) : e.getReason())
        .putAllMetadata(e.getMetadataMap());
    Status.Code code = Status.fromCodeValue(e.getCode()).getCode();
    if (code == Status.Code.OK) {
      code = Status.Code.INTERNAL; // an error without a code: never sent by the owner, so a bug
    }
    return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
        .setCode(code.value())
        .setMessage(e.getMessage())
        .addDetails(Any.pack(info.build()))
        .build());
  }

  /** UNAVAILABLE OWNER_UNAVAILABLE: the owner could not be reached, or was lost. */
  static StatusRuntimeException ownerUnavailable(String topic, String owner, String message) {
    return Errors.error(ErrorReason.ERROR_REASON_OWNER_UNAVAILABLE, message, "topic", topic, "owner", owner);
  }
}
