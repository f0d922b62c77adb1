package io.herald.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.herald.client.ErrorReason;
import io.herald.client.Event;
import io.herald.client.HeraldClient;
import io.herald.client.HeraldException;
import io.herald.client.TopicInfo;
import io.herald.client.TopicSettings;
import io.herald.client.Tls;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.ComposeContainer;

/**
 * The compose cluster switched to TLS as the README says: {@code deploy/tls/make-dev-certs.sh}
 * makes a dev CA, the broker certificate, tokens and an ACL; {@code docker-compose.yml} with
 * {@code docker-compose.tls.yml} starts three nodes that form their Raft group over mutual TLS. A
 * client with the CA and the admin token creates a topic on herald-1, publishes on herald-2 and
 * receives on herald-3 (forwarding and a relay, both over TLS with the peer token); a plaintext
 * client and a client without a token are refused.
 */
@RequiresDocker
@Timeout(300)
class SecureComposeIT {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @TempDir
  Path tls;

  private static boolean ready(int httpPort) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/readyz")).timeout(Duration.ofSeconds(3)).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void theComposeClusterServesOverTlsWithTokensAndRefusesOthers() throws Exception {
    Path root = Path.of(System.getProperty("herald.root", "..")).toAbsolutePath().normalize();
    Path out = tls.resolve("out");
    ProcessBuilder make = new ProcessBuilder("bash", root.resolve("deploy/tls/make-dev-certs.sh").toString()).redirectErrorStream(true)
        .redirectOutput(tls.resolve("make-dev-certs.log").toFile());
    make.environment().put("OUT", out.toString());
    Process p = make.start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(Files.readString(tls.resolve("make-dev-certs.log"))).isZero();
    String token = Files.readString(tls.resolve("out-private").resolve("admin-token")).trim();

    int[] grpc = new int[3];
    int[] http = new int[3];
    ComposeContainer compose = new ComposeContainer(new File(root.resolve("docker-compose.yml").toString()),
        new File(root.resolve("docker-compose.tls.yml").toString()))
        .withPull(false)
        .withBuild(true)
        .withEnv("HERALD_TLS_DIR", out.toString());
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
      Tls trust = Tls.trustCertificates(out.resolve("ca.pem"));
      List<HeraldClient> clients = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          clients.add(HeraldClient.builder().endpoints("127.0.0.1:" + grpc[i]).tls(trust).token(token).callTimeout(Duration.ofSeconds(5))
              .build());
        }
        HeraldClient one = clients.get(0);
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
            .until(() -> one.admin().createTopic("secure", TopicSettings.defaults()) != null);
        for (int i = 1; i < 3; i++) {
          HeraldClient other = clients.get(i);
          await("herald-" + (i + 1) + " serves the topic").atMost(Duration.ofSeconds(15)).ignoreExceptions()
              .until(() -> other.admin().listAllTopics().stream().map(TopicInfo::name).toList().contains("secure"));
        }
        List<String> got = new CopyOnWriteArrayList<>();
        clients.get(2).subscriber("secure").handler(d -> got.add(new String(d.event().data(), StandardCharsets.UTF_8))).subscribe();
        clients.get(1).publisher("secure").create().publish(Event.of("t", "hello".getBytes(StandardCharsets.UTF_8)))
            .get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> got.contains("hello"));
        assertThat(got).containsExactly("hello");

        try (HeraldClient noToken = HeraldClient.builder().endpoints("127.0.0.1:" + grpc[1]).tls(trust)
            .callTimeout(Duration.ofSeconds(5)).build()) {
          assertThatThrownBy(() -> noToken.admin().listAllTopics()).isInstanceOfSatisfying(HeraldException.class,
              e -> assertThat(e.reason()).isEqualTo(ErrorReason.UNAUTHENTICATED));
        }
        try (HeraldClient plaintext = HeraldClient.builder().endpoints("127.0.0.1:" + grpc[1]).callTimeout(Duration.ofSeconds(5))
            .build()) {
          assertThatThrownBy(() -> plaintext.admin().listAllTopics()).isInstanceOf(HeraldException.class);
        }
      } finally {
        clients.forEach(HeraldClient::close);
      }
    }
  }
}
