package io.herald.client;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Objects;

/**
 * One event as a subscription's handler receives it: its place in the topic and the event.
 * Immutable and thread-safe. The event's envelope is decoded on the first call to {@link #event()};
 * {@link #dataBuffer()} and {@link #attribute(String)} read the payload and single attributes
 * straight from the received bytes, so a handler that needs only those pays for no decoding.
 */
public final class Delivery {
  private final String topic;
  private final long sequence;
  private final long epoch;
  private final long publishSeconds;
  private final int publishNanos;
  private final ByteString wire;
  private volatile Event event;

  /** A delivery of an already built event (for tests and adapters). */
  public Delivery(String topic, long sequence, long epoch, Instant publishTime, Event event) {
    this.topic = Objects.requireNonNull(topic, "topic");
    this.sequence = sequence;
    this.epoch = epoch;
    this.publishSeconds = publishTime.getEpochSecond();
    this.publishNanos = publishTime.getNano();
    this.event = Objects.requireNonNull(event, "event");
    this.wire = null;
  }

  Delivery(String topic, long sequence, long epoch, long publishSeconds, int publishNanos, ByteString wire) {
    this.topic = topic;
    this.sequence = sequence;
    this.epoch = epoch;
    this.publishSeconds = publishSeconds;
    this.publishNanos = publishNanos;
    this.wire = wire;
  }

  public String topic() {
    return topic;
  }

  /** Its position in the topic; a handler sees strictly increasing sequences. */
  public long sequence() {
    return sequence;
  }

  /** The ownership epoch that assigned the sequence. */
  public long epoch() {
    return epoch;
  }

  /** When the broker sequenced it. */
  public Instant publishTime() {
    return Instant.ofEpochSecond(publishSeconds, publishNanos);
  }

  /** The event as published (decoded on first use). */
  public Event event() {
    Event e = event;
    if (e == null) {
      e = Event.parse(wire);
      event = e;
    }
    return e;
  }

  /** The payload as a read-only buffer, without decoding the rest of the event. */
  public ByteBuffer dataBuffer() {
    Event e = event;
    return e != null ? e.dataBuffer() : EventScan.data(wire);
  }

  /** One extension attribute, or null, without decoding the rest of the event. */
  public String attribute(String key) {
    Event e = event;
    return e != null ? e.attributes().get(key) : EventScan.attribute(wire, key);
  }

  @Override
  public boolean equals(Object o) {
    return this == o || (o instanceof Delivery d && topic.equals(d.topic) && sequence == d.sequence && epoch == d.epoch
        && event().equals(d.event()));
  }

  @Override
  public int hashCode() {
    return Objects.hash(topic, sequence, epoch);
  }

  @Override
  public String toString() {
    return "Delivery{topic=" + topic + ", sequence=" + sequence + ", epoch=" + epoch + ", publishTime=" + publishTime() + "}";
  }
}
