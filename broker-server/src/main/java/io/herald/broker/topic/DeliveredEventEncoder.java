package io.herald.broker.topic;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Writes a {@code herald.v1.DeliveredEvent} straight into an exact-size array, without building
 * the message: {@code sequence = 1}, {@code epoch = 2}, {@code publish_time = 3} (pre-encoded once
 * per batch), {@code event = 4} (the publisher's bytes, copied as they are). A broker-assigned id
 * is appended to the event's bytes as field 1; protobuf parsers accept fields in any order, and
 * for a repeated singular field the last one wins, so the result parses as the event with that id.
 */
final class DeliveredEventEncoder {
  private static final int SEQUENCE = tag(1, WireFormat.WIRETYPE_VARINT);
  private static final int EPOCH = tag(2, WireFormat.WIRETYPE_VARINT);
  private static final int PUBLISH_TIME = tag(3, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int EVENT = tag(4, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int EVENT_ID = tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);

  private DeliveredEventEncoder() { }

  private static int tag(int field, int wireType) {
    return (field << 3) | wireType;
  }

  static byte[] encode(long sequence, long epoch, byte[] publishTime, ByteString event, ByteString assignedId) {
    int eventLength = event.size()
        + (assignedId == null ? 0 : 1 + CodedOutputStream.computeUInt32SizeNoTag(assignedId.size()) + assignedId.size());
    int size = 1 + CodedOutputStream.computeUInt64SizeNoTag(sequence)
        + 1 + CodedOutputStream.computeUInt64SizeNoTag(epoch)
        + 1 + CodedOutputStream.computeUInt32SizeNoTag(publishTime.length) + publishTime.length
        + 1 + CodedOutputStream.computeUInt32SizeNoTag(eventLength) + eventLength;
    byte[] out = new byte[size];
    CodedOutputStream o = CodedOutputStream.newInstance(out);
    try {
      o.writeUInt32NoTag(SEQUENCE);
      o.writeUInt64NoTag(sequence);
      o.writeUInt32NoTag(EPOCH);
      o.writeUInt64NoTag(epoch);
      o.writeUInt32NoTag(PUBLISH_TIME);
      o.writeUInt32NoTag(publishTime.length);
      o.writeRawBytes(publishTime);
      o.writeUInt32NoTag(EVENT);
      o.writeUInt32NoTag(eventLength);
      o.writeRawBytes(event);
      if (assignedId != null) {
        o.writeUInt32NoTag(EVENT_ID);
        o.writeUInt32NoTag(assignedId.size());
        o.writeRawBytes(assignedId);
      }
      o.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException("encoding a DeliveredEvent into an array of its exact size", e);
    }
    return out;
  }
}
