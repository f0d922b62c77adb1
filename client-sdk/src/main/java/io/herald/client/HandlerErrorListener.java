package io.herald.client;

/**
 * Told when a subscription's {@link DeliveryHandler} throws, set with
 * {@link SubscriptionBuilder#onHandlerError}. Called on the handler's thread, in order with
 * deliveries, before the next event is handed to the handler; the failed event already counts as
 * handled (it is skipped, never redelivered). What this listener throws is logged and ignored.
 */
@FunctionalInterface
public interface HandlerErrorListener {
  /**
   * @param delivery the event the handler was given
   * @param error what it threw: an {@link Exception} or an {@link Error} alike
   */
  void onHandlerError(Delivery delivery, Throwable error);
}
