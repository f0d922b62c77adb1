package io.herald.client.cloudevents;

import io.cloudevents.CloudEvent;
import io.cloudevents.CloudEventData;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.herald.client.Delivery;
import io.herald.client.Event;
import java.net.URI;
import java.time.ZoneOffset;

/**
 * Between Herald events and CloudEvents SDK types ({@code io.cloudevents:cloudevents-core}, an
 * optional dependency: add it to use this class). Herald's envelope carries CloudEvents' core
 * attributes; extension attributes map to Herald attributes and back. Stateless and thread-safe.
 */
public final class CloudEventsBridge {
  /** The {@code source} given to events published without one. */
  public static final String UNKNOWN_SOURCE = "urn:herald:unknown-source";

  private CloudEventsBridge() { }

  /** A Herald event with the CloudEvent's id, source, type, subject, time, content type, data and extensions. */
  public static Event fromCloudEvent(CloudEvent ce) {
    Event.Builder b = Event.builder()
        .id(ce.getId())
        .source(ce.getSource() == null ? "" : ce.getSource().toString())
        .type(ce.getType())
        .subject(ce.getSubject())
        .dataContentType(ce.getDataContentType());
    if (ce.getTime() != null) {
      b.time(ce.getTime().toInstant());
    }
    CloudEventData data = ce.getData();
    if (data != null) {
      b.data(data.toBytes());
    }
    for (String name : ce.getExtensionNames()) {
      Object v = ce.getExtension(name);
      if (v != null) {
        b.attribute(name, v.toString());
      }
    }
    return b.build();
  }

  /** A CloudEvent (spec 1.0) of a Herald event. Attribute names must be valid CloudEvents extension names. */
  public static CloudEvent toCloudEvent(Event e) {
    CloudEventBuilder b = CloudEventBuilder.v1()
        .withId(e.id())
        .withSource(URI.create(e.source().isEmpty() ? UNKNOWN_SOURCE : e.source()))
        .withType(e.type());
    if (!e.subject().isEmpty()) {
      b.withSubject(e.subject());
    }
    if (e.time() != null) {
      b.withTime(e.time().atOffset(ZoneOffset.UTC));
    }
    if (e.dataSize() > 0 || !e.dataContentType().isEmpty()) {
      b.withData(e.dataContentType().isEmpty() ? null : e.dataContentType(), e.data());
    }
    e.attributes().forEach(b::withExtension);
    return b.build();
  }

  /** The delivered event as a CloudEvent, with the topic position as extensions {@code heraldsequence} and {@code heraldepoch}. */
  public static CloudEvent toCloudEvent(Delivery d) {
    return CloudEventBuilder.from(toCloudEvent(d.event()))
        .withExtension("heraldsequence", d.sequence())
        .withExtension("heraldepoch", d.epoch())
        .build();
  }
}
