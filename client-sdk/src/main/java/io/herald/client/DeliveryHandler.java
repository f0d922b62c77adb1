package io.herald.client;

/**
 * Handles one delivery. Called one at a time per subscription, in sequence order, on the client's
 * callback executor. Returning marks the event handled and gives its credit back to the broker.
 *
 * <p>If it throws, whatever it throws ({@link Exception} or {@link Error}): the throwable is logged
 * (WARN, with the topic and sequence) and passed to the subscription's
 * {@link SubscriptionBuilder#onHandlerError listener}, the event counts as handled (skipped), and
 * delivery goes on with the next event. Herald has no redelivery: an event whose handler failed is
 * not sent again, so handle errors that need a retry inside the handler, or close the subscription
 * from the listener and resubscribe later at {@code lastSequence() + 1} (the broker keeps what its
 * retention allows).
 */
@FunctionalInterface
public interface DeliveryHandler {
  void handle(Delivery delivery) throws Exception;
}
