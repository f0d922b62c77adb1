package io.herald.broker.cluster;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.herald.broker.metadata.ClusterView;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.transport.Drainer;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the {@link PeerLinks} when the metadata marks a peer down (the leader's liveness timeout):
 * the link to it fails what it holds with UNAVAILABLE at once, so the publishers whose batches were
 * forwarded to a lost owner retry (towards the topic's new owner) instead of waiting 20-40 s for
 * TCP or keepalive to notice. Told on each transition to down, once; and when such a node is up
 * again, so a link still backing off from it reconnects at once.
 *
 * <h2>Threads</h2>
 * A metadata listener: {@link #membershipChanged()} runs on the metadata apply thread, under the
 * store's state machine lock. It only works out which peers went down or came up and queues those
 * transitions; {@code PeerLinks.peerDown} (which fails up to a window and a line of batches, and
 * their listeners run publish-path code) and {@code peerUp} run on {@code executor}, one task at a
 * time (a {@link Drainer}), in the order the transitions were seen, so a peer's down and up are
 * never swapped. The queue holds at most one transition per peer for each membership change not yet
 * handed on. After {@code executor} is shut down, transitions are dropped (the broker is stopping;
 * closing the links fails what they hold).
 *
 * <p>Thread-safe.
 */
public final class PeerLoss implements MetadataStore.Listener {
  private static final Logger log = LoggerFactory.getLogger(PeerLoss.class);

  /** A peer seen to go down, or to come up again after being down. */
  private record Transition(String address, boolean down) { }

  private final String self;
  private final MetadataStore metadata;
  private final PeerLinks links;
  private final Drainer teller;
  /** Addresses of the nodes last seen down. */
  @GuardedBy("this")
  private final Set<String> down = new HashSet<>();
  /** Transitions seen and not yet told to the links, oldest first. */
  @GuardedBy("this")
  private final ArrayDeque<Transition> pending = new ArrayDeque<>();

  /**
   * @param executor runs the links' {@code peerDown}/{@code peerUp} (the broker's writer pool); never
   *     the metadata apply thread, and not owned here (its owner shuts it down)
   */
  public PeerLoss(String self, MetadataStore metadata, PeerLinks links, Executor executor) {
    this.self = self;
    this.metadata = metadata;
    this.links = links;
    this.teller = new Drainer(executor, this::tellLinks, t -> log.error("telling the peer links of a peer down or up failed: {}",
        Drainer.describe(t), t));
  }

  /** On the metadata apply thread: queues the transitions, never blocks. */
  @Override
  public void membershipChanged() {
    if (queueTransitions()) {
      teller.signal();
    }
  }

  /** Compares the nodes down now with those last seen down; true if it queued a transition. */
  private synchronized boolean queueTransitions() {
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
    int before = pending.size();
    for (String address : down) {
      if (up.contains(address)) {
        pending.addLast(new Transition(address, false));
      }
    }
    for (String address : now) {
      if (!down.contains(address)) {
        pending.addLast(new Transition(address, true));
      }
    }
    down.clear();
    down.addAll(now);
    return pending.size() > before;
  }

  /** On the executor, one run at a time: tells the links every queued transition, in order. */
  private void tellLinks() {
    while (true) {
      Transition t;
      synchronized (this) {
        t = pending.pollFirst();
      }
      if (t == null) {
        return;
      }
      try {
        if (t.down()) {
          log.info("peer at {} marked down: failing what was forwarded to it (UNAVAILABLE, retryable)", t.address());
          links.peerDown(t.address());
        } else {
          log.info("peer at {} is up again: forwarding to it resumes at once", t.address());
          links.peerUp(t.address());
        }
      } catch (RuntimeException e) {
        log.error("telling the link to {} that the peer is {} failed: {}", t.address(), t.down() ? "down" : "up", e.toString(), e);
      }
    }
  }
}
