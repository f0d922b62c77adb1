package io.herald.broker.publish;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.grpc.StatusRuntimeException;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ErrorReason;
import java.util.List;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Checks a batch against the topic's limits and the event rules (a non-empty {@code type}; ids of
 * at most 256 bytes; ...), and fills in missing event ids.
 */
final class BatchValidator {
  /** Events in one publish request; keeps one batch's acks and memory modest. */
  static final int MAX_EVENTS_PER_BATCH = 10_000;
  static final int MAX_ID_LENGTH = 256;
  static final int MAX_ATTRIBUTES = 64;

  private BatchValidator() { }

  static PublishBatch validate(String topic, List<ByteString> events, TopicSettings s, PublishBatch.Listener listener) {
    if (events.isEmpty()) {
      throw Errors.error(ErrorReason.ERROR_REASON_INVALID_FIELD, "events is empty: a publish carries 1 to " + MAX_EVENTS_PER_BATCH + " events",
          "field", "events", "limit", MAX_EVENTS_PER_BATCH, "value", 0);
    }
    if (events.size() > MAX_EVENTS_PER_BATCH) {
      throw Errors.error(ErrorReason.ERROR_REASON_INVALID_FIELD, "a publish carries at most " + MAX_EVENTS_PER_BATCH + " events; got "
          + events.size() + " (split the batch)", "field", "events", "limit", MAX_EVENTS_PER_BATCH, "value", events.size());
    }
    ByteString[] ids = new ByteString[events.size()];
    ByteString[] sources = new ByteString[events.size()];
    boolean[] assigned = new boolean[events.size()];
    long bytes = 0;
    for (int i = 0; i < events.size(); i++) {
      ByteString e = events.get(i);
      int size = e.size();
      if (size > s.maxEventBytes()) {
        throw Errors.error(ErrorReason.ERROR_REASON_EVENT_TOO_LARGE, "events[" + i + "] is " + size + " bytes; topic '" + topic
            + "' accepts at most " + s.maxEventBytes() + " bytes per event (max_event_bytes)",
            "topic", topic, "index", i, "limit", s.maxEventBytes(), "value", size);
      }
      scan(i, e, ids, sources);
      if (ids[i].isEmpty()) {
        ids[i] = newId();
        assigned[i] = true;
      }
      bytes += size;
    }
    return new PublishBatch(events, ids, sources, assigned, bytes, listener);
  }

  /**
   * Checks one encoded {@code Event} without decoding it: well-formed fields, a non-empty type, the
   * id's length, UTF-8 id, source and type, the attribute count and keys, the time's nanos. Puts
   * the id's and the source's bytes (the last of each, as a parser would take them) in {@code
   * ids[i]} and {@code sources[i]}. Unknown fields pass through untouched.
   */
  private static void scan(int i, ByteString event, ByteString[] ids, ByteString[] sources) {
    try {
      CodedInputStream in = event.newCodedInput();
      ByteString id = ByteString.EMPTY;
      ByteString source = ByteString.EMPTY;
      ByteString type = ByteString.EMPTY;
      int attributes = 0;
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        int field = WireFormat.getTagFieldNumber(tag);
        boolean delimited = WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
        if (field == 1 && delimited) {
          id = in.readBytes();
          if (id.size() > MAX_ID_LENGTH) {
            throw invalid(i, "id", "events[" + i + "].id is " + id.size() + " bytes; the limit is " + MAX_ID_LENGTH);
          }
          if (!id.isValidUtf8()) {
            throw invalid(i, "id", "events[" + i + "].id is not valid UTF-8");
          }
        } else if (field == 2 && delimited) {
          source = in.readBytes();
          if (!source.isValidUtf8()) {
            throw invalid(i, "source", "events[" + i + "].source is not valid UTF-8");
          }
        } else if (field == 3 && delimited) {
          type = in.readBytes();
          if (!type.isValidUtf8()) {
            throw invalid(i, "type", "events[" + i + "].type is not valid UTF-8");
          }
        } else if (field == 5 && delimited) {
          CodedInputStream t = in.readBytes().newCodedInput();
          for (int tt = t.readTag(); tt != 0; tt = t.readTag()) {
            if (WireFormat.getTagFieldNumber(tt) == 2 && WireFormat.getTagWireType(tt) == WireFormat.WIRETYPE_VARINT) {
              int nanos = t.readInt32();
              if (nanos < 0 || nanos > 999_999_999) {
                throw invalid(i, "time", "events[" + i + "].time has nanos " + nanos + " outside [0, 999999999]");
              }
            } else {
              t.skipField(tt);
            }
          }
        } else if (field == 8 && delimited) {
          if (++attributes > MAX_ATTRIBUTES) {
            throw invalid(i, "attributes", "events[" + i + "] has more than " + MAX_ATTRIBUTES + " attributes");
          }
          CodedInputStream entry = in.readBytes().newCodedInput();
          boolean hasKey = false;
          for (int et = entry.readTag(); et != 0; et = entry.readTag()) {
            if (WireFormat.getTagFieldNumber(et) == 1 && WireFormat.getTagWireType(et) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
              hasKey = entry.readBytes().size() > 0;
            } else {
              entry.skipField(et);
            }
          }
          if (!hasKey) {
            throw invalid(i, "attributes", "events[" + i + "].attributes has an empty key");
          }
        } else {
          in.skipField(tag);
        }
      }
      if (type.isEmpty()) {
        throw invalid(i, "type", "events[" + i + "].type is empty: every event needs a type (as in CloudEvents), e.g. com.example.order.created");
      }
      ids[i] = id;
      sources[i] = source;
    } catch (java.io.IOException e) {
      throw invalid(i, null, "events[" + i + "] is not a valid herald.v1.Event: " + e.getMessage());
    }
  }

  /** A random (version 4) UUID, as its 36 ASCII bytes, without SecureRandom's cost on the transport thread. */
  static ByteString newId() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return ByteString.copyFrom(new UUID(msb, lsb).toString(), StandardCharsets.US_ASCII);
  }

  /** INVALID_FIELD for event {@code i}'s {@code field} (null: the event as a whole). */
  static StatusRuntimeException invalid(int i, String field, String message) {
    return Errors.error(ErrorReason.ERROR_REASON_INVALID_FIELD, message,
        "field", "events[" + i + "]" + (field == null ? "" : "." + field), "index", i);
  }
}
