package io.herald.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.client.Event;
import io.herald.client.HeraldClient;
import io.herald.client.TopicInfo;
import io.herald.client.TopicSettings;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.ComposeContainer;

/**
 * The root docker-compose.yml, brought up as a user would: three nodes become ready, a topic
 * created on herald-1 is served by herald-2 and herald-3 (replicated metadata), and herald-1 serves
 * a publish/subscribe round trip. Every published port is a free one (HERALD_N_PORT, HERALD_N_HTTP_PORT).
 */
@RequiresDocker
@Timeout(300)
class ComposeIT {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private static boolean ready(int httpPort) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/readyz")).timeout(Duration.ofSeconds(3)).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void composeFileStartsAThreeNodeClusterThatServes() throws Exception {
    Path root = Path.of(System.getProperty("herald.root", "..")).toAbsolutePath().normalize();
    int[] grpc = new int[3];
    int[] http = new int[3];
    ComposeContainer compose = new ComposeContainer(new File(root.resolve("docker-compose.yml").toString()))
        .withPull(false)
        .withBuild(true);
    for (int i = 0; i < 3; i++) {
      grpc[i] = BrokerContainer.freePort();
      http[i] = BrokerContainer.freePort();
      compose = compose.withEnv("HERALD_" + (i + 1) + "_PORT", Integer.toString(grpc[i]))
          .withEnv("HERALD_" + (i + 1) + "_HTTP_PORT", Integer.toString(http[i]));
    }
    try (ComposeContainer c = compose) {
      c.start();
      for (int i = 0; i < 3; i++) {
        int port = http[i];
        await("herald-" + (i + 1) + " /readyz").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
            .until(() -> ready(port));
      }
      List<HeraldClient> clients = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          clients.add(HeraldClient.builder().endpoints("127.0.0.1:" + grpc[i]).callTimeout(Duration.ofSeconds(5)).build());
        }
        HeraldClient one = clients.get(0);
        // the first create may wait for the first Raft leader
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
            .until(() -> one.admin().createTopic("compose", TopicSettings.defaults()) != null);
        for (int i = 1; i < 3; i++) {
          HeraldClient other = clients.get(i);
          await("herald-" + (i + 1) + " serves the topic").atMost(Duration.ofSeconds(15)).ignoreExceptions()
              .until(() -> other.admin().listAllTopics().stream().map(TopicInfo::name).toList().contains("compose"));
        }
        List<String> got = new CopyOnWriteArrayList<>();
        one.subscriber("compose").handler(d -> got.add(new String(d.event().data(), StandardCharsets.UTF_8))).subscribe();
        one.publisher("compose").create().publish(Event.of("t", "hello".getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> got.contains("hello"));
        assertThat(got).containsExactly("hello");
      } finally {
        clients.forEach(HeraldClient::close);
      }
    }
  }
}
