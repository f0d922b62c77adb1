package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.broker.config.BrokerConfig;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.Topic;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Three brokers started with {@code --peers}: topic metadata made through one is served by all. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClusterMetadataTest {
  @TempDir
  Path dir;

  final List<TestBroker> brokers = new ArrayList<>();

  @AfterEach
  void closeAll() {
    brokers.parallelStream().forEach(b -> {
      try {
        b.close();
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
  }

  static String refused(Map<String, String> env, String... args) {
    java.io.StringWriter err = new java.io.StringWriter();
    picocli.CommandLine cl = Main.commandLine(args, env);
    cl.setErr(new java.io.PrintWriter(err, true));
    assertThat(cl.execute(args)).as("exit code; stderr: %s", err).isEqualTo(2);
    return err.toString();
  }

  @Test
  void clusterFlagsAreCheckedAtStart(@TempDir Path cfgDir) throws Exception {
    assertThat(refused(Map.of(), "--peers", "n1=127.0.0.1:7072", "--listen", "127.0.0.1:0")).contains("--node-id");
    assertThat(refused(Map.of("HERALD_PEERS", "n1=127.0.0.1:7072,n2=127.0.0.1:7172", "HERALD_NODE_ID", "n9"), "--listen", "127.0.0.1:0"))
        .contains("n9").contains("not among --peers");
    assertThat(refused(Map.of(), "--peers", "n1", "--node-id", "n1", "--listen", "127.0.0.1:0")).contains("id=host:port");
    // a non-voting member is asked for, not inferred from a typo in --node-id; and the voters must be able to reach it
    assertThat(refused(Map.of(), "--peers", "n1=127.0.0.1:7072", "--node-id", "n4", "--raft-listen", "127.0.0.1:7372", "--listen", "127.0.0.1:0"))
        .contains("not among --peers").contains("--listener");
    assertThat(refused(Map.of("HERALD_LISTENER", "true"), "--peers", "n1=127.0.0.1:7072", "--node-id", "n1", "--listen", "127.0.0.1:0"))
        .contains("--listener").contains("is a voter");
    assertThat(refused(Map.of(), "--listener", "--peers", "n1=127.0.0.1:7072", "--node-id", "n4", "--listen", "127.0.0.1:0"))
        .contains("--listener needs --raft-listen");
    assertThat(refused(Map.of(), "--listener", "--peers", "n1=127.0.0.1:7072", "--node-id", "n4", "--raft-listen", "0.0.0.0:7372",
        "--listen", "127.0.0.1:0")).contains("0.0.0.0:7372").contains("--raft-advertise");
    assertThat(refused(Map.of(), "--raft-advertise", "10.0.0.4:7372", "--peers", "n1=127.0.0.1:7072", "--node-id", "n1", "--listen",
        "127.0.0.1:0")).contains("--raft-advertise is for a non-voting member");
    assertThat(refused(Map.of(), "--liveness-timeout", "100ms", "--listen", "127.0.0.1:0")).contains("--liveness-timeout");
    Path yaml = cfgDir.resolve("herald.yaml");
    java.nio.file.Files.writeString(yaml, "peers: n1=127.0.0.1:7072\nnode-id: n1\nraft-election-timeout: 10ms\n");
    assertThat(refused(Map.of(), "--config", yaml.toString(), "--listen", "127.0.0.1:0")).contains("--raft-election-timeout");
  }

  @Test
  void topicCreatedThroughOneBrokerIsServedByEveryBroker() throws Exception {
    Map<String, String> peers = new LinkedHashMap<>();
    for (String id : List.of("n1", "n2", "n3")) {
      try (ServerSocket s = new ServerSocket(0)) {
        peers.put(id, "127.0.0.1:" + s.getLocalPort());
      }
    }
    for (String id : peers.keySet()) {
      brokers.add(new TestBroker(c -> c.withDataDir(dir.resolve(id))
          .withCluster(new BrokerConfig.Cluster(id, null, peers, Duration.ofMillis(500)))));
    }

    Topic created = brokers.get(0).createTopic("orders");
    assertThat(created.getName()).isEqualTo("orders");
    await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
      for (TestBroker b : brokers) {
        // the same incarnation everywhere (created before every node joined, it may have been
        // given its owner, and so a new epoch, just after)
        assertThat(b.admin().getTopic(GetTopicRequest.newBuilder().setName("orders").build()).getTopic().getCreateEpoch())
            .isEqualTo(created.getCreateEpoch());
        assertThat(b.admin().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList())
            .extracting(Topic::getName).containsExactly("orders");
        assertThat(b.broker.topics().get("orders")).isPresent();
      }
    });

    brokers.get(2).admin().deleteTopic(DeleteTopicRequest.newBuilder().setName("orders").build());
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      for (TestBroker b : brokers) {
        assertThat(b.admin().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList()).isEmpty();
        assertThat(b.broker.topics().get("orders")).isEmpty();
      }
    });
  }
}
