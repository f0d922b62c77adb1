package io.herald.client.internal;

import io.herald.client.DeliveryHandler;
import io.herald.client.GapListener;
import io.herald.client.HandlerErrorListener;
import io.herald.client.HeraldException;
import io.herald.client.OverflowPolicy;
import io.herald.client.StartPosition;
import java.util.function.Consumer;

/** What a subscription was asked to be. Immutable. */
public record SubscriptionSpec(String topic, long maxOutstandingEvents, long maxOutstandingBytes, OverflowPolicy policy,
    int bufferEvents, long bufferBytes, StartPosition start, String name, DeliveryHandler handler, GapListener gapListener,
    HandlerErrorListener handlerErrorListener, Consumer<HeraldException> errorListener, boolean manualCredit) { }
