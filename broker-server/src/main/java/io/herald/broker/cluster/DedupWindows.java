package io.herald.broker.cluster;

import io.herald.broker.metadata.ClusterView;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.topic.Topic;
import io.herald.broker.topic.TopicRegistry;
import io.herald.proto.cluster.v1.DedupEntry;
import io.herald.proto.cluster.v1.HandOverRequest;
import io.herald.proto.cluster.v1.HandOverResponse;
import io.herald.proto.cluster.v1.PeerServiceGrpc;
import io.herald.proto.v1.PublishAck;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dedup windows that travel with topics handed over at a graceful stop: the stopping node sends a
 * topic's youngest ids ({@link TopicRegistry.DedupHandOver#MAX_IDS}) to every other live node, in
 * parts of {@link #PART_IDS}, over its peer links' channels ({@code HandOver}), before it releases
 * the topic; the node the metadata then gives the topic starts it with them ({@link HandOvers}).
 * Sending is bounded ({@link #SEND_TIMEOUT_MILLIS} per part); a node that does not answer in time
 * starts the topic with an empty window, as after a crash. Thread-safe.
 */
public final class DedupWindows implements TopicRegistry.DedupHandOver {
  private static final Logger log = LoggerFactory.getLogger(DedupWindows.class);
  /** Ids per HandOver call (~100 bytes each: well below the 4 MiB message limit). */
  static final int PART_IDS = 5_000;
  static final long SEND_TIMEOUT_MILLIS = 2_000;

  private final MetadataStore metadata;
  private final PeerLinks links;
  private final HandOvers received;

  public DedupWindows(MetadataStore metadata, PeerLinks links, HandOvers received) {
    this.metadata = metadata;
    this.links = links;
    this.received = received;
  }

  @Override
  public CompletableFuture<Void> handOver(Topic t, Map<String, PublishAck> ids) {
    if (ids.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    List<HandOverRequest> parts = parts(t, ids);
    List<CompletableFuture<Void>> sent = new ArrayList<>();
    for (ClusterView.Node n : metadata.cluster().nodes()) {
      if (n.id().equals(metadata.nodeId()) || !n.state().equals("up") || n.address().isEmpty()) {
        continue;
      }
      sent.add(send(n, parts, 0).exceptionally(e -> {
        log.warn("topic '{}': its dedup window ({} ids) did not reach node {} ({}); if that node takes the topic, retries of"
            + " events published before this stop are not recognized there", t.name(), ids.size(), n.id(), e.toString());
        return null;
      }));
    }
    return CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new));
  }

  private static List<HandOverRequest> parts(Topic t, Map<String, PublishAck> ids) {
    List<HandOverRequest> parts = new ArrayList<>(ids.size() / PART_IDS + 1);
    Iterator<Map.Entry<String, PublishAck>> it = ids.entrySet().iterator();
    while (it.hasNext()) {
      HandOverRequest.Builder b = HandOverRequest.newBuilder().setTopic(t.name()).setCreateEpoch(t.createEpoch())
          .setEpoch(t.epoch()).setNextSequence(t.nextSequence());
      for (int i = 0; i < PART_IDS && it.hasNext(); i++) {
        Map.Entry<String, PublishAck> e = it.next();
        b.addDedup(DedupEntry.newBuilder().setKey(e.getKey()).setAck(e.getValue()));
      }
      parts.add(b.setLast(!it.hasNext()).build());
    }
    return parts;
  }

  /** Sends the parts one after another (the last completes the window on the receiver). */
  private CompletableFuture<Void> send(ClusterView.Node n, List<HandOverRequest> parts, int i) {
    if (i == parts.size()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<HandOverResponse> f = new CompletableFuture<>();
    try {
      PeerServiceGrpc.newStub(links.link(n.address()).channel()).withDeadlineAfter(SEND_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)
          .handOver(parts.get(i), new io.grpc.stub.StreamObserver<>() {
            @Override
            public void onNext(HandOverResponse r) { }

            @Override
            public void onError(Throwable e) {
              f.completeExceptionally(e);
            }

            @Override
            public void onCompleted() {
              f.complete(null);
            }
          });
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return f.thenCompose(v -> send(n, parts, i + 1));
  }

  @Override
  public Map<String, PublishAck> take(TopicRecord r) {
    return received.take(r);
  }
}
