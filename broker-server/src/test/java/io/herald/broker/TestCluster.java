package io.herald.broker;

import static org.awaitility.Awaitility.await;

import io.herald.broker.config.BrokerConfig;
import io.herald.broker.metadata.TopicRecord;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Brokers on loopback forming one cluster (a Raft group of their own), each with its data dir; for tests. */
final class TestCluster implements AutoCloseable {
  final Map<String, String> peers = new LinkedHashMap<>();
  private final Map<String, TestBroker> nodes = new LinkedHashMap<>();
  private final Path dir;
  private final Duration election;
  private final Duration liveness;
  private final java.util.function.UnaryOperator<BrokerConfig> tweak;

  /** Non-voting members (Raft listeners): id → Raft address; not in {@link #peers}. */
  final Map<String, String> listeners = new LinkedHashMap<>();

  /** {@code size} nodes n1..nN, started concurrently; returns once every one has joined. */
  TestCluster(Path dir, int size, Duration election, Duration liveness) throws Exception {
    this(dir, size, 0, election, liveness);
  }

  /**
   * {@code voters} voting nodes n1..nV and {@code nonVoting} listeners after them (n(V+1)..),
   * started concurrently; returns once every one has joined.
   */
  TestCluster(Path dir, int voters, int nonVoting, Duration election, Duration liveness) throws Exception {
    this(dir, voters, nonVoting, election, liveness, c -> c);
  }

  /** The same, each node's configuration changed by {@code tweak} (e.g. its security). */
  TestCluster(Path dir, int voters, int nonVoting, Duration election, Duration liveness, java.util.function.UnaryOperator<BrokerConfig> tweak)
      throws Exception {
    this.tweak = tweak;
    this.dir = dir;
    this.election = election;
    this.liveness = liveness;
    for (int i = 1; i <= voters + nonVoting; i++) {
      try (ServerSocket s = new ServerSocket(0)) {
        (i <= voters ? peers : listeners).put("n" + i, "127.0.0.1:" + s.getLocalPort());
      }
    }
    startAll();
  }

  /** Fast failure detection for tests: 500 ms elections, 2 s liveness. */
  TestCluster(Path dir, int size) throws Exception {
    this(dir, size, Duration.ofMillis(500), Duration.ofSeconds(2));
  }

  void startAll() throws Exception {
    List<Thread> starting = new ArrayList<>();
    List<Exception> failed = new ArrayList<>();
    List<String> ids = new ArrayList<>(peers.keySet());
    ids.addAll(listeners.keySet());
    for (String id : ids) {
      if (nodes.containsKey(id)) {
        continue;
      }
      starting.add(Thread.ofVirtual().start(() -> {
        try {
          TestBroker b = newNode(id);
          synchronized (nodes) {
            nodes.put(id, b);
          }
        } catch (Exception e) {
          synchronized (failed) {
            failed.add(e);
          }
        }
      }));
    }
    for (Thread t : starting) {
      t.join();
    }
    if (!failed.isEmpty()) {
      throw failed.get(0);
    }
    awaitJoined();
  }

  private TestBroker newNode(String id) throws Exception {
    return new TestBroker(c -> tweak.apply(c.withDataDir(dir.resolve(id))
        .withCluster((new BrokerConfig.Cluster(id, listeners.get(id), peers, election, null,
            BrokerConfig.Cluster.DEFAULT_LIVENESS_TIMEOUT, listeners.containsKey(id), null).withLivenessTimeout(liveness)))));
  }

  void start(String id) throws Exception {
    nodes.put(id, newNode(id));
    awaitJoined();
  }

  void awaitJoined() {
    await().atMost(Duration.ofSeconds(30)).until(() -> live().stream().allMatch(b -> b.broker.metadata().joined()));
  }

  TestBroker node(String id) {
    synchronized (nodes) {
      return nodes.get(id);
    }
  }

  List<TestBroker> live() {
    synchronized (nodes) {
      return new ArrayList<>(nodes.values());
    }
  }

  /** The record as node {@code id} knows it. */
  TopicRecord record(String id, String topic) {
    return node(id).broker.metadata().get(topic).orElseThrow();
  }

  /** The owner every live node agrees on (once each has applied the topic's creation and an owner is assigned). */
  String owner(String topic) {
    String[] owner = new String[1];
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      java.util.Set<String> owners = new java.util.HashSet<>();
      for (TestBroker b : live()) {
        var r = b.broker.metadata().get(topic);
        if (r.isEmpty()) {
          return false;
        }
        owners.add(r.get().owner());
      }
      owner[0] = owners.iterator().next();
      return owners.size() == 1 && !owner[0].isEmpty() && node(owner[0]) != null
          && node(owner[0]).broker.topics().local(topic).isPresent();
    });
    return owner[0];
  }

  /** Some live node other than {@code id}. */
  String other(String id) {
    for (String n : nodes.keySet()) {
      if (!n.equals(id)) {
        return n;
      }
    }
    throw new IllegalStateException("no node but " + id);
  }

  /** Kills the node as far as the cluster can tell (nothing handed over). */
  void halt(String id) {
    TestBroker b;
    synchronized (nodes) {
      b = nodes.remove(id);
    }
    b.channel.shutdownNow();
    b.broker.haltForTests();
  }

  /** Stops the node gracefully: it drains and hands its topics over. */
  void stop(String id) throws Exception {
    TestBroker b;
    synchronized (nodes) {
      b = nodes.remove(id);
    }
    b.close();
  }

  /** Stops every node gracefully, all at the same moment (as {@code docker compose down} does). */
  @Override
  public void close() {
    List<Thread> stopping = new ArrayList<>();
    for (TestBroker b : live()) {
      stopping.add(Thread.ofVirtual().start(() -> {
        try {
          b.close();
        } catch (Exception e) {
          // best effort
        }
      }));
    }
    for (Thread t : stopping) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    synchronized (nodes) {
      nodes.clear();
    }
  }
}
