package io.herald.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.herald.client.internal.WireAccess;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * An event as a service publishes it: the core attributes of CloudEvents 1.0 plus a payload and
 * extension attributes. Immutable and thread-safe. {@link #data()} returns a copy;
 * {@link #dataBuffer()} is a read-only view without one.
 *
 * <p>An event needs a {@link #type()}: {@code publish} refuses one without it
 * ({@link ErrorReason#INVALID_FIELD}). Everything else may be empty.
 *
 * <p>The {@link #id()} makes publish retries safe: the broker acknowledges a repeated id from the
 * same {@link #source()} within the topic's dedup window with the first sequence and does not
 * deliver it twice (events from different sources may share an id). An event built without an id
 * gets a random UUID when it is built, so publishing the same {@code Event} object again is
 * recognized as a retry; build a new one for a new occurrence.
 */
public final class Event {
  static {
    WireAccess.register(new WireAccess() {
      @Override
      protected Event event(io.herald.proto.v1.Event wire) {
        return new Event(wire);
      }

      @Override
      protected io.herald.proto.v1.Event wire(Event event) {
        return event.wire;
      }

      @Override
      protected Delivery delivery(String topic, long sequence, long epoch, long seconds, int nanos, ByteString event) {
        return new Delivery(topic, sequence, epoch, seconds, nanos, event);
      }
    });
  }

  /** Decodes an event received from the broker. */
  static Event parse(ByteString bytes) {
    try {
      return new Event(io.herald.proto.v1.Event.parseFrom(bytes));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException("malformed event from the broker: " + e.getMessage(), e);
    }
  }

  /** The wire form is the representation: events received are not copied, events published are not converted. */
  private final io.herald.proto.v1.Event wire;

  private Event(io.herald.proto.v1.Event wire) {
    this.wire = wire;
  }

  /** An event with a type and a payload (copied); everything else empty. */
  public static Event of(String type, byte[] data) {
    return builder().type(type).data(data).build();
  }

  public static Builder builder() {
    return new Builder(io.herald.proto.v1.Event.newBuilder());
  }

  /** A builder starting from this event's values. */
  public Builder toBuilder() {
    return new Builder(wire.toBuilder());
  }

  /** The id: the one given to the builder, or a random UUID assigned when the event was built. */
  public String id() {
    return wire.getId();
  }

  public String source() {
    return wire.getSource();
  }

  public String type() {
    return wire.getType();
  }

  public String subject() {
    return wire.getSubject();
  }

  /** When the occurrence happened, or null. */
  public Instant time() {
    return wire.hasTime() ? Instant.ofEpochSecond(wire.getTime().getSeconds(), wire.getTime().getNanos()) : null;
  }

  public String dataContentType() {
    return wire.getDataContentType();
  }

  /** A copy of the payload. */
  public byte[] data() {
    return wire.getData().toByteArray();
  }

  /** The payload as a read-only buffer, without copying it. */
  public ByteBuffer dataBuffer() {
    return wire.getData().asReadOnlyByteBuffer();
  }

  /** Payload size in bytes. */
  public int dataSize() {
    return wire.getData().size();
  }

  /** Extension attributes (e.g. W3C {@code traceparent}); unmodifiable. */
  public Map<String, String> attributes() {
    return wire.getAttributesMap();
  }

  @Override
  public boolean equals(Object o) {
    return this == o || (o instanceof Event e && wire.equals(e.wire));
  }

  @Override
  public int hashCode() {
    return wire.hashCode();
  }

  @Override
  public String toString() {
    return "Event{id=" + id() + ", type=" + type() + ", source=" + source() + ", " + dataSize() + " bytes}";
  }

  /**
   * Builds an {@link Event}. Not thread-safe. Null strings become ""; every field not set is empty,
   * except the id (a random UUID). The serialised event (data, attributes and the rest) must fit
   * the topic's {@link TopicSettings.Builder#maxEventBytes max event size} (default
   * {@value TopicSettings#DEFAULT_MAX_EVENT_BYTES} bytes; a larger one fails its publish with
   * {@link ErrorCode#INVALID_ARGUMENT}) and at most {@value Batching#MAX_BYTES_LIMIT} bytes, which
   * {@code publish} refuses at once.
   */
  public static final class Builder {
    private final io.herald.proto.v1.Event.Builder b;

    private Builder(io.herald.proto.v1.Event.Builder b) {
      this.b = b;
    }

    /** Identifies the event for dedup, with its source (see {@link Event}); default a random UUID, set by {@link #build()}. */
    public Builder id(String id) {
      b.setId(id == null ? "" : id);
      return this;
    }

    public Builder source(String source) {
      b.setSource(source == null ? "" : source);
      return this;
    }

    /** Required: what happened, e.g. {@code com.example.order.created}; an event without one cannot be published. */
    public Builder type(String type) {
      b.setType(type == null ? "" : type);
      return this;
    }

    public Builder subject(String subject) {
      b.setSubject(subject == null ? "" : subject);
      return this;
    }

    /** When the occurrence happened, as the publisher says; default none. */
    public Builder time(Instant time) {
      if (time == null) {
        b.clearTime();
      } else {
        b.setTime(Timestamp.newBuilder().setSeconds(time.getEpochSecond()).setNanos(time.getNano()));
      }
      return this;
    }

    public Builder dataContentType(String contentType) {
      b.setDataContentType(contentType == null ? "" : contentType);
      return this;
    }

    /** The payload, copied. */
    public Builder data(byte[] data) {
      b.setData(data == null ? ByteString.EMPTY : ByteString.copyFrom(data));
      return this;
    }

    /** The payload from a buffer's remaining bytes, copied; the buffer's position is not moved. */
    public Builder data(ByteBuffer data) {
      b.setData(ByteString.copyFrom(data.duplicate()));
      return this;
    }

    /** Adds an extension attribute; the key must not be empty. */
    public Builder attribute(String key, String value) {
      if (key == null || key.isEmpty()) {
        throw new IllegalArgumentException("attribute key must not be empty");
      }
      b.putAttributes(key, Objects.requireNonNull(value, "attribute value"));
      return this;
    }

    public Builder attributes(Map<String, String> attributes) {
      attributes.forEach(this::attribute);
      return this;
    }

    /** The event; a random UUID is its id if none was given. */
    public Event build() {
      if (b.getId().isEmpty()) {
        b.setId(randomId());
      }
      return new Event(b.build());
    }
  }

  /** A random (version 4) UUID, without SecureRandom's cost and lock on every event. */
  static String randomId() {
    java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
    long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new java.util.UUID(msb, lsb).toString();
  }
}
