package io.herald.client;

import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * An event as a service publishes it: the core attributes of CloudEvents 1.0 plus a payload and
 * extension attributes. Immutable and thread-safe; the payload array is copied in and out.
 *
 * <p>The {@link #id()} makes publish retries safe: the broker acknowledges a repeated id within
 * the topic's dedup window with the first sequence and does not deliver it twice. A publisher gives
 * every event without an id a random UUID before its first attempt.
 */
public final class Event {
  private final String id;
  private final String source;
  private final String type;
  private final String subject;
  private final Instant time;
  private final String dataContentType;
  private final byte[] data;
  private final Map<String, String> attributes;

  private Event(Builder b) {
    this.id = b.id;
    this.source = b.source;
    this.type = b.type;
    this.subject = b.subject;
    this.time = b.time;
    this.dataContentType = b.dataContentType;
    this.data = b.data;
    this.attributes = Collections.unmodifiableMap(new LinkedHashMap<>(b.attributes));
  }

  /** An event with a type and a payload; everything else empty. */
  public static Event of(String type, byte[] data) {
    return builder().type(type).data(data).build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from this event's values. */
  public Builder toBuilder() {
    Builder b = new Builder().id(id).source(source).type(type).subject(subject).time(time)
        .dataContentType(dataContentType);
    b.data = data;
    b.attributes.putAll(attributes);
    return b;
  }

  /** The id, or "" when the publisher will assign one. */
  public String id() {
    return id;
  }

  public String source() {
    return source;
  }

  public String type() {
    return type;
  }

  public String subject() {
    return subject;
  }

  /** When the occurrence happened, or null. */
  public Instant time() {
    return time;
  }

  public String dataContentType() {
    return dataContentType;
  }

  /** A copy of the payload. */
  public byte[] data() {
    return data.clone();
  }

  /** Payload size in bytes, without copying it. */
  public int dataSize() {
    return data.length;
  }

  byte[] dataUnsafe() {
    return data;
  }

  /** Extension attributes (e.g. W3C {@code traceparent}); unmodifiable. */
  public Map<String, String> attributes() {
    return attributes;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Event e)) {
      return false;
    }
    return id.equals(e.id) && source.equals(e.source) && type.equals(e.type) && subject.equals(e.subject)
        && Objects.equals(time, e.time) && dataContentType.equals(e.dataContentType) && Arrays.equals(data, e.data)
        && attributes.equals(e.attributes);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, type, Arrays.hashCode(data));
  }

  @Override
  public String toString() {
    return "Event{id=" + id + ", type=" + type + ", source=" + source + ", " + data.length + " bytes}";
  }

  /** Builds an {@link Event}. Not thread-safe. Null strings become "". */
  public static final class Builder {
    private String id = "";
    private String source = "";
    private String type = "";
    private String subject = "";
    private Instant time;
    private String dataContentType = "";
    private byte[] data = new byte[0];
    private final Map<String, String> attributes = new LinkedHashMap<>();

    private Builder() { }

    public Builder id(String id) {
      this.id = id == null ? "" : id;
      return this;
    }

    public Builder source(String source) {
      this.source = source == null ? "" : source;
      return this;
    }

    public Builder type(String type) {
      this.type = type == null ? "" : type;
      return this;
    }

    public Builder subject(String subject) {
      this.subject = subject == null ? "" : subject;
      return this;
    }

    public Builder time(Instant time) {
      this.time = time;
      return this;
    }

    public Builder dataContentType(String contentType) {
      this.dataContentType = contentType == null ? "" : contentType;
      return this;
    }

    /** The payload, copied. */
    public Builder data(byte[] data) {
      this.data = data == null ? new byte[0] : data.clone();
      return this;
    }

    /** Adds an extension attribute; the key must not be empty. */
    public Builder attribute(String key, String value) {
      if (key == null || key.isEmpty()) {
        throw new IllegalArgumentException("attribute key must not be empty");
      }
      attributes.put(key, Objects.requireNonNull(value, "attribute value"));
      return this;
    }

    public Builder attributes(Map<String, String> attributes) {
      attributes.forEach(this::attribute);
      return this;
    }

    public Event build() {
      return new Event(this);
    }
  }
}
