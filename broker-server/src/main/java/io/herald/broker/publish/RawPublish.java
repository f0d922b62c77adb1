package io.herald.broker.publish;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.herald.broker.transport.Messages;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A publish request as the broker reads it: batch id, topic, and each event's encoded bytes (slices
 * of the received message, not copies, never decoded into messages). The broker validates events
 * by scanning them and writes the same bytes into every {@code DeliveredEvent}, so an event is
 * neither decoded nor re-encoded on the way through. Same wire format as {@code PublishRequest}
 * and {@code PublishStreamRequest}; clients use the generated types.
 */
record RawPublish(long batchId, String topic, List<ByteString> events, boolean compactAcks) {

  /** {@code PublishRequest}: topic = 1, events = 2. */
  static final MethodDescriptor.Marshaller<RawPublish> UNARY = marshaller(0, 1, 2, 0);
  /** {@code PublishStreamRequest}: batch_id = 1, topic = 2, events = 3, compact_acks = 4. */
  static final MethodDescriptor.Marshaller<RawPublish> STREAM = marshaller(1, 2, 3, 4);

  /** Field numbers of the request's fields; 0 for one it does not have. */
  private static MethodDescriptor.Marshaller<RawPublish> marshaller(int batchIdField, int topicField, int eventsField, int compactAcksField) {
    return new MethodDescriptor.Marshaller<>() {
      @Override
      public InputStream stream(RawPublish value) {
        throw new IllegalStateException("publish requests are only received by the broker");
      }

      @Override
      public RawPublish parse(InputStream stream) {
        try {
          CodedInputStream in = CodedInputStream.newInstance(Messages.readAll(stream));
          in.enableAliasing(true);
          long batchId = 0;
          String topic = "";
          List<ByteString> events = new ArrayList<>();
          boolean compactAcks = false;
          for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            int type = WireFormat.getTagWireType(tag);
            if (field == batchIdField && type == WireFormat.WIRETYPE_VARINT) {
              batchId = in.readUInt64();
            } else if (field == topicField && type == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
              topic = in.readStringRequireUtf8();
            } else if (field == eventsField && type == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
              events.add(in.readBytes());
            } else if (field == compactAcksField && type == WireFormat.WIRETYPE_VARINT) {
              compactAcks = in.readBool();
            } else {
              in.skipField(tag);
            }
          }
          return new RawPublish(batchId, topic, events, compactAcks);
        } catch (IOException e) {
          throw Status.INVALID_ARGUMENT.withDescription("malformed publish request: " + e.getMessage()).asRuntimeException();
        }
      }
    };
  }
}
