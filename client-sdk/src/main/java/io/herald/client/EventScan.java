package io.herald.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/** Reads single fields of an encoded {@code herald.v1.Event} without decoding the message. */
final class EventScan {
  private static final int DATA = 7;
  private static final int ATTRIBUTES = 8;

  private EventScan() { }

  static ByteBuffer data(ByteString event) {
    try {
      CodedInputStream in = event.newCodedInput();
      ByteString data = ByteString.EMPTY;
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (WireFormat.getTagFieldNumber(tag) == DATA && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          data = in.readBytes(); // the last one wins, as in a full parse
        } else {
          in.skipField(tag);
        }
      }
      return data.asReadOnlyByteBuffer();
    } catch (IOException e) {
      throw new UncheckedIOException("malformed event from the broker", e);
    }
  }

  static String attribute(ByteString event, String key) {
    try {
      CodedInputStream in = event.newCodedInput();
      String found = null;
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (WireFormat.getTagFieldNumber(tag) == ATTRIBUTES && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          CodedInputStream entry = in.readBytes().newCodedInput();
          String k = "";
          String v = "";
          for (int t = entry.readTag(); t != 0; t = entry.readTag()) {
            switch (WireFormat.getTagFieldNumber(t)) {
              case 1 -> k = entry.readStringRequireUtf8();
              case 2 -> v = entry.readStringRequireUtf8();
              default -> entry.skipField(t);
            }
          }
          if (k.equals(key)) {
            found = v;
          }
        } else {
          in.skipField(tag);
        }
      }
      return found;
    } catch (IOException e) {
      throw new UncheckedIOException("malformed event from the broker", e);
    }
  }
}
