package io.herald.broker.cluster;

import io.herald.broker.metadata.ClusterView;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.TopicRecord;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the {@link PeerLinks} when the metadata marks a peer down (the leader's liveness timeout):
 * the link to it fails what it holds with UNAVAILABLE at once, so the publishers whose batches were
 * forwarded to a lost owner retry (towards the topic's new owner) instead of waiting 20-40 s for
 * TCP or keepalive to notice. Told on each transition to down, once; and when such a node is up
 * again, so a link still backing off from it reconnects at once.
 *
 * <p>A metadata listener: called on the apply thread, never blocks. Thread-safe (the metadata calls
 * its listeners one at a time; the set is guarded by this anyway).
 */
public final class PeerLoss implements MetadataStore.Listener {
  private static final Logger log = LoggerFactory.getLogger(PeerLoss.class);

  private final String self;
  private final MetadataStore metadata;
  private final PeerLinks links;
  /** Addresses of the nodes last seen down. */
  private final Set<String> down = new HashSet<>();

  public PeerLoss(String self, MetadataStore metadata, PeerLinks links) {
    this.self = self;
    this.metadata = metadata;
    this.links = links;
  }

  @Override
  public void created(TopicRecord topic) { }

  @Override
  public void updated(TopicRecord topic) { }

  @Override
  public void deleted(String name) { }

  @Override
  public synchronized void membershipChanged() {
    Set<String> now = new HashSet<>();
    Set<String> up = new HashSet<>();
    for (ClusterView.Node n : metadata.cluster().nodes()) {
      if (!n.id().equals(self) && !n.address().isEmpty()) {
        if ("down".equals(n.state())) {
          now.add(n.address());
        } else if ("up".equals(n.state())) {
          up.add(n.address());
        }
      }
    }
    for (String address : down) {
      if (up.contains(address)) {
        log.info("peer at {} is up again: forwarding to it resumes at once", address);
        links.peerUp(address);
      }
    }
    for (String address : now) {
      if (!down.contains(address)) {
        log.info("peer at {} marked down: failing what was forwarded to it (UNAVAILABLE, retryable)", address);
        links.peerDown(address);
      }
    }
    down.clear();
    down.addAll(now);
  }
}
