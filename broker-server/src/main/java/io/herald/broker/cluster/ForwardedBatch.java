package io.herald.broker.cluster;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.grpc.StatusRuntimeException;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.proto.cluster.v1.ForwardBatch;
import io.herald.proto.v1.ErrorReason;
import java.io.IOException;
import java.util.List;

/**
 * The owner's side of a forwarded batch: checks it and makes the {@link PublishBatch} its topic
 * sequences. The origin validated every event in full (the publish path's {@code BatchValidator})
 * before forwarding; the owner checks what it relies on and what may differ between the two brokers'
 * views of the topic: the counts, each event's size against its own {@code max_event_bytes}, the
 * ids, and that each event's top-level fields are well formed. It reads each publisher id and
 * source from the event bytes (the last occurrence, as a parser takes it) so that dedup sees
 * exactly what it sees for a publish this broker received itself. Stateless.
 */
final class ForwardedBatch {
  /** Events in one batch: the publish limit, which every forwarded batch was checked against. */
  static final int MAX_EVENTS = 10_000;
  /** Longest event id, in bytes (the publish limit). */
  static final int MAX_ID_BYTES = 256;

  private ForwardedBatch() { }

  /**
   * @throws StatusRuntimeException INVALID_ARGUMENT (INVALID_FIELD, EVENT_TOO_LARGE) naming the
   *     field, for a batch no topic may take
   */
  static PublishBatch toPublishBatch(ForwardBatch f, TopicSettings s, PublishBatch.Listener listener) {
    List<ByteString> events = f.getEventsList();
    int n = events.size();
    if (n == 0 || n > MAX_EVENTS) {
      throw Errors.error(ErrorReason.ERROR_REASON_INVALID_FIELD, "forwarded batch carries " + n + " events; 1 to " + MAX_EVENTS + " expected",
          "field", "events", "limit", MAX_EVENTS, "value", n);
    }
    if (f.getAssignedIdsCount() != n) {
      throw Errors.error(ErrorReason.ERROR_REASON_INVALID_FIELD, "forwarded batch carries " + f.getAssignedIdsCount()
          + " assigned_ids for " + n + " events; one per event expected", "field", "assigned_ids", "value", f.getAssignedIdsCount());
    }
    ByteString[] ids = new ByteString[n];
    ByteString[] sources = new ByteString[n];
    boolean[] assigned = new boolean[n];
    long bytes = 0;
    for (int i = 0; i < n; i++) {
      ByteString e = events.get(i);
      if (e.size() > s.maxEventBytes()) {
        throw Errors.error(ErrorReason.ERROR_REASON_EVENT_TOO_LARGE, "events[" + i + "] is " + e.size() + " bytes; topic '" + f.getTopic()
            + "' accepts at most " + s.maxEventBytes() + " bytes per event (max_event_bytes)",
            "topic", f.getTopic(), "index", i, "limit", s.maxEventBytes(), "value", e.size());
      }
      ByteString given = f.getAssignedIds(i);
      if (given.size() > MAX_ID_BYTES || !given.isValidUtf8()) {
        throw invalid(i, "assigned_ids[" + i + "]", "assigned_ids[" + i + "] is not an id (at most " + MAX_ID_BYTES + " bytes of UTF-8)");
      }
      scan(i, e, ids, sources);
      if (!given.isEmpty()) {
        ids[i] = given;
        assigned[i] = true;
      } else if (ids[i].isEmpty()) {
        throw invalid(i, "events[" + i + "].id", "events[" + i + "] has no id and the origin assigned none");
      }
      bytes += e.size();
    }
    return new PublishBatch(events, ids, sources, assigned, bytes, listener);
  }

  /** Reads event {@code i}'s id and source (fields 1 and 2), skipping the rest; fails on bytes that do not parse. */
  private static void scan(int i, ByteString event, ByteString[] ids, ByteString[] sources) {
    ByteString id = ByteString.EMPTY;
    ByteString source = ByteString.EMPTY;
    try {
      CodedInputStream in = event.newCodedInput();
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        int field = WireFormat.getTagFieldNumber(tag);
        boolean delimited = WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
        if (field == 1 && delimited) {
          id = in.readBytes();
        } else if (field == 2 && delimited) {
          source = in.readBytes();
        } else {
          in.skipField(tag);
        }
      }
    } catch (IOException e) {
      throw invalid(i, "events[" + i + "]", "events[" + i + "] is not a valid herald.v1.Event: " + e.getMessage());
    }
    if (id.size() > MAX_ID_BYTES || !id.isValidUtf8() || !source.isValidUtf8()) {
      throw invalid(i, "events[" + i + "].id", "events[" + i + "] has an id or source that is not UTF-8, or an id over " + MAX_ID_BYTES + " bytes");
    }
    ids[i] = id;
    sources[i] = source;
  }

  private static StatusRuntimeException invalid(int i, String field, String message) {
    return Errors.error(ErrorReason.ERROR_REASON_INVALID_FIELD, message, "field", field, "index", i);
  }
}
