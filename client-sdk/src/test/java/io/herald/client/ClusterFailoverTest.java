package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client of a three-node cluster rides through the loss of a node: the topic's owner (the topic
 * moves), or the node the client is connected to (the client moves). Every publish is acknowledged
 * (retried with its id), the subscription stays or resumes from its last (epoch, sequence), nothing
 * is delivered twice, and every acknowledged event was either handled or lies in a gap notice.
 */
@Timeout(180)
class ClusterFailoverTest {
  @TempDir Path dir;
  private final Map<String, Broker> nodes = new LinkedHashMap<>();

  @AfterEach
  void closeAll() {
    nodes.values().parallelStream().forEach(Broker::close);
  }

  private void startCluster() throws Exception {
    Map<String, String> peers = new LinkedHashMap<>();
    for (String id : List.of("n1", "n2", "n3")) {
      try (ServerSocket s = new ServerSocket(0)) {
        peers.put(id, "127.0.0.1:" + s.getLocalPort());
      }
    }
    List<Thread> starting = new ArrayList<>();
    for (String id : peers.keySet()) {
      starting.add(Thread.ofVirtual().start(() -> {
        try {
          Broker b = Broker.start(BrokerConfig.defaults("127.0.0.1:0").withDataDir(dir.resolve(id)).withDrainTimeout(Duration.ofMillis(500))
              .withCluster(new BrokerConfig.Cluster(id, null, peers, Duration.ofMillis(500)).withLivenessTimeout(Duration.ofSeconds(2))));
          synchronized (nodes) {
            nodes.put(id, b);
          }
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }));
    }
    for (Thread t : starting) {
      t.join();
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> nodes.size() == 3 && nodes.values().stream().allMatch(b -> b.metadata().joined()));
  }

  private String endpoint(String id) {
    return "127.0.0.1:" + nodes.get(id).port();
  }

  private String ownerOf(String topic) {
    String[] owner = new String[1];
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      var r = nodes.values().iterator().next().metadata().get(topic);
      owner[0] = r.map(x -> x.owner()).orElse("");
      return !owner[0].isEmpty() && nodes.get(owner[0]).topics().local(topic).isPresent();
    });
    return owner[0];
  }

  @Test
  void theOwnerIsKilledWhileAClientOnAnotherNodePublishesAndSubscribes() throws Exception {
    startCluster();
    String owner;
    try (HeraldClient admin = HeraldClient.builder().endpoints(endpoint("n1")).build()) {
      admin.admin().createTopic("orders", TopicSettings.defaults());
    }
    owner = ownerOf("orders");
    List<String> others = nodes.keySet().stream().filter(n -> !n.equals(owner)).toList();
    run(others, owner);
  }

  @Test
  void theNodeTheClientIsConnectedToIsKilledAndTheClientMovesToAnother() throws Exception {
    startCluster();
    try (HeraldClient admin = HeraldClient.builder().endpoints(endpoint("n1")).build()) {
      admin.admin().createTopic("orders", TopicSettings.defaults());
    }
    String owner = ownerOf("orders");
    List<String> others = nodes.keySet().stream().filter(n -> !n.equals(owner)).toList();
    // the client's first endpoint is a node that does not own the topic; that node is killed
    run(others, others.get(0));
  }

  /** A client on {@code endpoints} publishes and subscribes while node {@code victim} is killed. */
  private void run(List<String> endpoints, String victim) throws Exception {
    HeraldClient client = HeraldClient.builder().endpoints(endpoints.stream().map(this::endpoint).toArray(String[]::new))
        .retry(new RetrySettings(Duration.ofMillis(20), Duration.ofMillis(300), 2.0, Duration.ofSeconds(60)))
        .build();
    try {
      Object lock = new Object();
      Set<String> handledPositions = new HashSet<>();
      List<String> duplicates = new ArrayList<>();
      List<Gap> gaps = new ArrayList<>();
      Subscription sub = client.subscriber("orders").maxOutstanding(200).overflow(OverflowPolicy.BLOCK)
          .startAt(StartPosition.earliest())
          .handler(d -> {
            synchronized (lock) {
              if (!handledPositions.add(d.epoch() + ":" + d.sequence())) {
                duplicates.add(d.epoch() + ":" + d.sequence());
              }
            }
          })
          .onGap(g -> {
            synchronized (lock) {
              gaps.add(g);
            }
          }).subscribe();
      Publisher pub = client.publisher("orders").batching(Batching.defaults().maxEvents(50)).maxPending(5_000, 64 << 20).create();
      int total = 4_000;
      List<CompletableFuture<PublishReceipt>> receipts = new ArrayList<>(total);
      Thread publisher = Thread.ofPlatform().name("test-publisher").start(() -> {
        for (int i = 0; i < total; i++) {
          receipts.add(pub.publish(Event.builder().id("ev-" + i).type("t").data(("p" + i).getBytes(StandardCharsets.UTF_8)).build()));
          if (i % 50 == 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(2_000_000); // ~25k events/s at most: the kill lands mid-stream
          }
        }
      });
      await().atMost(Duration.ofSeconds(30)).until(() -> {
        synchronized (lock) {
          return handledPositions.size() > 500;
        }
      });
      Broker killed = nodes.remove(victim);
      killed.haltForTests();
      publisher.join();
      pub.flush().get(90, TimeUnit.SECONDS);

      Set<String> acked = new HashSet<>();
      for (CompletableFuture<PublishReceipt> f : receipts) {
        PublishReceipt r = f.get(); // every publish succeeded, retried across the failover
        acked.add(r.epoch() + ":" + r.sequence());
      }
      // every acknowledged event is handled, or the subscriber was told it is lost
      await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
        synchronized (lock) {
          for (String a : acked) {
            if (!handledPositions.contains(a)) {
              long epoch = Long.parseLong(a.substring(0, a.indexOf(':')));
              long seq = Long.parseLong(a.substring(a.indexOf(':') + 1));
              assertThat(gaps).as("acked %s neither handled nor in a gap notice", a).anySatisfy(g -> {
                assertThat(g.epoch()).isEqualTo(epoch);
                assertThat(seq).isBetween(g.firstSequence(), g.lastSequence() == 0 ? Long.MAX_VALUE : g.lastSequence());
              });
            }
          }
        }
      });
      synchronized (lock) {
        assertThat(duplicates).isEmpty();
      }
      assertThat(sub.isActive()).isTrue();
    } finally {
      client.close();
    }
  }
}
