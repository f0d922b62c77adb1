package io.herald.broker.publish;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.v1.Event;
import java.util.List;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/** Checks a batch against the topic's limits and fills in missing event ids. */
final class BatchValidator {
  /** Events in one publish request; keeps one batch's acks and memory modest. */
  static final int MAX_EVENTS_PER_BATCH = 10_000;
  static final int MAX_ID_LENGTH = 256;
  static final int MAX_ATTRIBUTES = 64;

  private BatchValidator() { }

  static PublishBatch validate(String topic, List<Event> events, TopicSettings s, PublishBatch.Listener listener) {
    if (events.isEmpty()) {
      throw invalid("events is empty: a publish carries 1 to " + MAX_EVENTS_PER_BATCH + " events");
    }
    if (events.size() > MAX_EVENTS_PER_BATCH) {
      throw invalid("a publish carries at most " + MAX_EVENTS_PER_BATCH + " events; got " + events.size() + " (split the batch)");
    }
    ByteString[] assignedIds = new ByteString[events.size()];
    long bytes = 0;
    for (int i = 0; i < events.size(); i++) {
      Event e = events.get(i);
      int size = e.getSerializedSize();
      if (size > s.maxEventBytes()) {
        throw invalid("events[" + i + "] is " + size + " bytes; topic '" + topic + "' accepts at most " + s.maxEventBytes()
            + " bytes per event (max_event_bytes)");
      }
      int idBytes = e.getIdBytes().size(); // the raw bytes: no String is decoded on this path
      if (idBytes > MAX_ID_LENGTH) {
        throw invalid("events[" + i + "].id is " + idBytes + " bytes; the limit is " + MAX_ID_LENGTH);
      }
      if (e.getAttributesCount() > MAX_ATTRIBUTES) {
        throw invalid("events[" + i + "] has " + e.getAttributesCount() + " attributes; the limit is " + MAX_ATTRIBUTES);
      }
      if (e.getAttributesCount() > 0) {
        for (Map.Entry<String, String> a : e.getAttributesMap().entrySet()) {
          if (a.getKey().isEmpty()) {
            throw invalid("events[" + i + "].attributes has an empty key");
          }
        }
      }
      if (e.hasTime() && (e.getTime().getNanos() < 0 || e.getTime().getNanos() > 999_999_999)) {
        throw invalid("events[" + i + "].time has nanos " + e.getTime().getNanos() + " outside [0, 999999999]");
      }
      if (idBytes == 0) {
        assignedIds[i] = newId();
      }
      bytes += size;
    }
    return new PublishBatch(events, assignedIds, bytes, listener);
  }

  /** A random (version 4) UUID, as its 36 ASCII bytes, without SecureRandom's cost on the transport thread. */
  static ByteString newId() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return ByteString.copyFrom(new UUID(msb, lsb).toString(), StandardCharsets.US_ASCII);
  }

  static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }
}
