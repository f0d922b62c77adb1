package io.herald.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.client.Event;
import io.herald.client.HeraldClient;
import io.herald.client.TopicSettings;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.ComposeContainer;

/** The root docker-compose.yml, brought up as a user would, serves a publish/subscribe round trip. */
@RequiresDocker
@Timeout(300)
class ComposeIT {

  @Test
  void composeFileStartsABrokerThatServes() throws Exception {
    Path root = Path.of(System.getProperty("herald.root", "..")).toAbsolutePath().normalize();
    int port = BrokerContainer.freePort();
    int http = BrokerContainer.freePort();
    try (ComposeContainer compose = new ComposeContainer(new File(root.resolve("docker-compose.yml").toString()))
        .withEnv("HERALD_PORT", Integer.toString(port))
        .withEnv("HERALD_HTTP_PORT", Integer.toString(http))
        .withPull(false)
        .withBuild(true)) {
      compose.start();
      try (HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:" + port).build()) {
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> client.admin().listAllTopics() != null);
        client.admin().createTopic("compose", TopicSettings.defaults());
        List<String> got = new CopyOnWriteArrayList<>();
        client.subscriber("compose").handler(d -> got.add(new String(d.event().data(), StandardCharsets.UTF_8))).subscribe();
        client.publisher("compose").create().publish(Event.of("t", "hello".getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> got.contains("hello"));
      }
    }
  }
}
