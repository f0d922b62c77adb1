/**
 * Broker-to-broker data plane: publishes to a topic this broker does not own are forwarded to the
 * owner over ONE flow-controlled {@code herald.cluster.v1.PeerService/Forward} stream per pair of
 * brokers, and answered the same way.
 *
 * <ul>
 *   <li>Origin side: {@link io.herald.broker.cluster.PeerLinks} owns one {@link
 *       io.herald.broker.cluster.PeerLink} (channel + stream + window + wait line) per peer address;
 *       {@link io.herald.broker.cluster.ForwardingTopic} is the {@link io.herald.broker.topic.TopicHandle}
 *       the publish service gets for a topic owned elsewhere.
 *   <li>Owner side: {@link io.herald.broker.cluster.PeerForwardService} reads forwarded batches
 *       (manual flow control) into locally owned topics and answers each by correlation id.
 * </ul>
 *
 * <h2>Wiring (in {@code Broker})</h2>
 * <pre>{@code
 * PeerLinks links = new PeerLinks(nodeId, PeerLinks.plaintext(transport::channelBuilder), writers, PeerLinks.Options.DEFAULTS);
 * PeerForwardService forward = new PeerForwardService(topics::resolve, writers); // resolves LOCALLY OWNED topics only
 * serverBuilder.addService(forward.definition());   // NOT through UndecodableRequests.guard (see PeerForwardService)
 * TopicHandle h = new ForwardingTopic(name, () -> currentRecord(name), ownerAddress, links); // h.retarget(addr) on owner change
 * // shutdown, outside in: links.stopAccepting() with topics.stopAccepting; links.awaitDrained(deadline) with the
 * // inbox drain; forward.closeAll(unavailable) with publishService.closeAll; links.close() before transport.shutdown
 * // metrics: herald_forward_streams = links.openStreams() (out) / forward.streamCount() (in);
 * // herald_forward_inflight_batches = links.inFlightBatches(); herald_forward_inflight_bytes = links.inFlightBytes()
 * }</pre>
 */
package io.herald.broker.cluster;
