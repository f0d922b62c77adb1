package io.herald.broker.metadata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.broker.topic.TopicSettings;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Three Raft peers in one JVM on loopback. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RaftMetadataStoreTest {
  /** Shorter than the defaults, still well above a loaded test machine's scheduling hiccups. */
  static final RaftMetadataStore.Options OPTIONS = RaftMetadataStore.Options.DEFAULTS
      .withElectionTimeouts(Duration.ofMillis(500), Duration.ofMillis(1000));

  @TempDir
  Path dir;

  final List<RaftMetadataStore> stores = new ArrayList<>();
  final Map<String, Set<String>> seen = new ConcurrentHashMap<>();
  Map<String, String> peers;

  @AfterEach
  void closeAll() {
    // each close takes up to ~1 s (Ratis shutting its channels down): close the peers side by side
    stores.parallelStream().forEach(RaftMetadataStore::close);
  }

  void start(RaftMetadataStore.Options options) throws IOException {
    if (peers == null) {
      peers = new LinkedHashMap<>();
      for (String id : List.of("n1", "n2", "n3")) {
        try (ServerSocket s = new ServerSocket(0)) {
          peers.put(id, "127.0.0.1:" + s.getLocalPort());
        }
      }
    }
    stores.clear();
    for (String id : peers.keySet()) {
      RaftMetadataStore s = new RaftMetadataStore(id, peers, null, "127.0.0.1:" + (7000 + stores.size()), dir.resolve(id), options);
      stores.add(s);
      Set<String> names = ConcurrentHashMap.newKeySet();
      seen.put(id, names);
      s.addListener(new MetadataStore.Listener() {
        @Override
        public void created(TopicRecord topic) {
          names.add(topic.name());
        }

        @Override
        public void updated(TopicRecord topic) {
        }

        @Override
        public void deleted(String name) {
          names.remove(name);
        }
      });
    }
  }

  @Test
  void createAndDeleteAreSeenOnEveryPeer() throws Exception {
    start(OPTIONS);
    TopicRecord r = stores.get(1).create("orders", TopicSettings.DEFAULTS).get(15, TimeUnit.SECONDS);
    assertThat(r.name()).isEqualTo("orders");
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      for (RaftMetadataStore s : stores) {
        assertThat(s.get("orders")).contains(r);
        assertThat(s.list(null, 10)).extracting(TopicRecord::name).containsExactly("orders");
        assertThat(seen.get(s.nodeId())).containsExactly("orders");
      }
    });
    // validation inside apply: a failed reply, not a dead server
    assertThat(stores.get(0).create("orders", TopicSettings.DEFAULTS))
        .failsWithin(Duration.ofSeconds(10)).withThrowableThat().withMessageContaining("ALREADY_EXISTS");

    stores.get(2).delete("orders").get(10, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      for (RaftMetadataStore s : stores) {
        assertThat(s.get("orders")).isEmpty();
        assertThat(seen.get(s.nodeId())).isEmpty();
      }
    });
    assertThat(stores.get(0).delete("orders"))
        .failsWithin(Duration.ofSeconds(10)).withThrowableThat().withMessageContaining("NOT_FOUND");
  }

  @Test
  void topicsSurviveRestartOfAllPeersFromTheirDataDirs() throws Exception {
    RaftMetadataStore.Options snapshotOften = OPTIONS.withSnapshotThreshold(4);
    start(snapshotOften);
    for (int i = 0; i < 10; i++) {
      stores.get(i % 3).create("t" + i, TopicSettings.DEFAULTS).get(15, TimeUnit.SECONDS);
    }
    stores.get(0).delete("t0").get(10, TimeUnit.SECONDS);
    TopicRecord t1 = stores.get(0).get("t1").orElseThrow();
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      for (RaftMetadataStore s : stores) {
        assertThat(s.list(null, 100)).hasSize(9);
      }
    });
    closeAll();
    // the log was cut into snapshots, so the restart below loads one and re-applies only the tail
    try (var files = java.nio.file.Files.walk(dir.resolve("n1"))) {
      assertThat(files.map(f -> f.getFileName().toString())).anyMatch(n -> n.matches("snapshot\\.\\d+_\\d+"));
    }

    start(snapshotOften);
    await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
      for (RaftMetadataStore s : stores) {
        assertThat(s.list(null, 100)).extracting(TopicRecord::name)
            .containsExactly("t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9");
        assertThat(s.get("t1")).contains(t1);
        assertThat(seen.get(s.nodeId())).hasSize(9);
      }
    });
    // and the restarted group still takes writes
    stores.get(2).create("after-restart", TopicSettings.DEFAULTS).get(15, TimeUnit.SECONDS);
  }

  @Test
  void writeThroughSurvivorSucceedsAfterLeaderCloses() throws Exception {
    start(OPTIONS);
    stores.get(0).create("before", TopicSettings.DEFAULTS).get(15, TimeUnit.SECONDS);
    RaftMetadataStore leader = stores.stream().filter(RaftMetadataStore::isLeader).findFirst().orElseThrow();
    leader.close();
    stores.remove(leader);

    long start = System.nanoTime();
    RaftMetadataStore survivor = stores.get(0);
    survivor.create("after", TopicSettings.DEFAULTS).get(10, TimeUnit.SECONDS);
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertThat(took).isLessThan(Duration.ofSeconds(10));
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      for (RaftMetadataStore s : stores) {
        assertThat(s.get("after")).isPresent();
        assertThat(seen.get(s.nodeId())).contains("before", "after");
      }
    });
  }

  /**
   * Thousands of lookups waiting for the same index, half of them timing out first: each that
   * times out leaves (review: leaving was O(n) each, so quadratic in all), the others complete when
   * the index is applied, and none is left behind.
   */
  @Test
  void manyWaitersOnOneIndexLeaveOrCompleteEachOnce() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      peers = Map.of("n1", "127.0.0.1:" + socket.getLocalPort());
    }
    start(OPTIONS);
    RaftMetadataStore store = stores.get(0);
    store.joinedFuture().get(30, TimeUnit.SECONDS);
    RaftMetadataStore.StateMachine sm = store.stateMachine();
    // a few entries ahead: Ratis applies entries of its own after a write (commit-index metadata)
    long next = sm.applied() + 10;
    int n = 20_000;
    List<java.util.concurrent.CompletableFuture<Void>> waits = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      waits.add(sm.appliedAt(next));
    }
    assertThat(sm.waiters()).isEqualTo(n);
    for (int i = n - 2; i >= 0; i -= 2) { // the even ones time out, newest first
      assertThat(waits.get(i).cancel(false)).isTrue();
    }
    assertThat(sm.waiters()).isEqualTo(n / 2);

    for (int i = 0; sm.applied() < next; i++) {
      store.create("applies-the-index-" + i, TopicSettings.DEFAULTS).get(15, TimeUnit.SECONDS);
    }
    for (int i = 0; i < n; i++) {
      java.util.concurrent.CompletableFuture<Void> w = waits.get(i);
      if (i % 2 == 0) {
        assertThat(w).as("wait %d, timed out", i).isCancelled();
      } else {
        assertThat(w).as("wait %d", i).succeedsWithin(Duration.ofSeconds(10));
      }
    }
    assertThat(sm.waiters()).isZero();
  }
}
