package io.herald.client.internal;

import io.herald.client.Event;

/**
 * Lets the SDK's internals move between {@link Event} and its wire form without copying and
 * without putting wire types in {@code Event}'s public API. {@code Event} registers the only
 * instance when its class initializes. Not part of the public API.
 */
public abstract class WireAccess {
  private static volatile WireAccess instance;

  /** Called once, by {@link Event}. */
  public static void register(WireAccess access) {
    if (instance != null) {
      throw new IllegalStateException("already registered");
    }
    instance = access;
  }

  private static WireAccess get() {
    WireAccess a = instance;
    if (a == null) {
      Event.builder(); // initializes Event, which registers
      a = instance;
    }
    return a;
  }

  static Event toEvent(io.herald.proto.v1.Event wire) {
    return get().event(wire);
  }

  static io.herald.proto.v1.Event toWire(Event event) {
    return get().wire(event);
  }

  static io.herald.client.Delivery toDelivery(String topic, long sequence, long epoch, long seconds, int nanos,
      com.google.protobuf.ByteString event) {
    return get().delivery(topic, sequence, epoch, seconds, nanos, event);
  }

  protected abstract Event event(io.herald.proto.v1.Event wire);

  protected abstract io.herald.client.Delivery delivery(String topic, long sequence, long epoch, long seconds, int nanos,
      com.google.protobuf.ByteString event);

  protected abstract io.herald.proto.v1.Event wire(Event event);
}
