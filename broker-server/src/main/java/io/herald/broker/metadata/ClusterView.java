package io.herald.broker.metadata;

import java.util.List;

/**
 * The cluster as one node sees it: an immutable snapshot for status, metrics and routing.
 *
 * @param self this node's id
 * @param nodes every node that ever joined, by id
 * @param leaderId the metadata (Raft) leader's id; empty when unknown (an election)
 * @param term this node's Raft term
 * @param role this node's Raft role: leader, follower, candidate, listener
 * @param commitIndex the last metadata log index this node knows committed
 * @param appliedIndex the last one it applied
 */
public record ClusterView(String self, List<Node> nodes, String leaderId, long term, String role, long commitIndex, long appliedIndex) {

  /**
   * A node.
   *
   * @param id its {@code --node-id}
   * @param address the gRPC address it advertises
   * @param voter a seed node ({@code --peers}) that votes in metadata elections
   * @param state up, down, draining or left
   * @param topicsOwned how many topics it owns
   */
  public record Node(String id, String address, boolean voter, String state, int topicsOwned) {
    public boolean alive() {
      return state.equals("up") || state.equals("draining");
    }
  }

  /** The node with {@code id}, or null. */
  public Node node(String id) {
    for (Node n : nodes) {
      if (n.id().equals(id)) {
        return n;
      }
    }
    return null;
  }
}
