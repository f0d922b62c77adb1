package io.herald.client;

/**
 * Handles one delivery. Called one at a time per subscription, in sequence order, on the client's
 * callback executor. Returning marks the event handled and gives its credit back to the broker; an
 * exception is logged and counts as handled (Herald has no redelivery: handle errors inside).
 */
@FunctionalInterface
public interface DeliveryHandler {
  void handle(Delivery delivery) throws Exception;
}
