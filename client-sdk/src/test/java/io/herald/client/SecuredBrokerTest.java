package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import io.herald.broker.security.SecurityConfig;
import io.herald.broker.security.TestPki;
import io.herald.broker.security.TokenFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SDK against a secured broker (TLS, tokens, client certificates, an ACL) through real gRPC on
 * loopback: a token over TLS publishes and subscribes; no token or a wrong one is UNAUTHENTICATED
 * and a forbidden topic PERMISSION_DENIED, both permanent (a receipt fails at once, a subscription
 * is refused, nothing loops); a client certificate's CN is a principal; a rotated token file is
 * picked up; the token is never in a toString or an error; without TLS a token goes to loopback only.
 */
@Timeout(60)
class SecuredBrokerTest {
  static final String ALICE = "hrld_alice-0123456789abcdefghijklmnopqrstuvwxyz";
  static final String BOB = "hrld_bob-0123456789abcdefghijklmnopqrstuvwxyz";
  static final String NOBODY = "hrld_nobody-0123456789abcdefghijklmnopqrstuvwxyz";

  @TempDir
  Path dir;
  TestPki pki;
  Path tokens;
  Path audit;
  Broker broker;
  final List<HeraldClient> clients = new ArrayList<>();
  final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    pki = new TestPki(dir, "herald");
    tokens = dir.resolve("tokens.txt");
    Files.writeString(tokens, "alice sha256:" + TokenFile.sha256Hex(ALICE) + " producers\n"
        + "bob sha256:" + TokenFile.sha256Hex(BOB) + "\n");
    audit = dir.resolve("audit.log");
  }

  /** TLS with optional client certificates, tokens and mTLS, an ACL. */
  private void startSecured() throws Exception {
    TestPki.Issued server = pki.server("server");
    Path acl = dir.resolve("acl.yaml");
    Files.writeString(acl, """
        - group: producers
          topics: ["orders.*"]
          allow: [publish, subscribe, admin]
        - principal: bob
          topics: ["orders.eu"]
          allow: [subscribe]
        - principal: alice
          topics: ["telemetry.*"]
          allow: [admin, subscribe]
        - principal: device-7
          topics: ["telemetry.?"]
          allow: [publish]
        """);
    broker = Broker.start(BrokerConfig.defaults("127.0.0.1:0").withDrainTimeout(Duration.ZERO).withSecurity(new SecurityConfig(
        server.certFile(), server.keyFile(), pki.caFile(), SecurityConfig.ClientAuth.OPTIONAL, Duration.ofMillis(200),
        Set.of("token", "mtls"), tokens, null, null, null, acl, audit)));
  }

  /** Plaintext, tokens, no ACL (every authenticated principal may do everything). */
  private void startPlaintextWithTokens() throws Exception {
    broker = Broker.start(BrokerConfig.defaults("127.0.0.1:0").withDrainTimeout(Duration.ZERO).withSecurity(new SecurityConfig(
        null, null, null, SecurityConfig.ClientAuth.NONE, Duration.ofMillis(200), Set.of("token"), tokens, null, null, null, null, audit)));
  }

  @AfterEach
  void tearDown() {
    for (HeraldClient c : clients) {
      c.close(Duration.ofSeconds(2));
    }
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    if (broker != null) {
      broker.closeNow();
    }
  }

  private HeraldClient.Builder builder() {
    return HeraldClient.builder().endpoints("127.0.0.1:" + broker.port()).name("secured-test").callTimeout(Duration.ofSeconds(5));
  }

  private HeraldClient tlsClient(Consumer<HeraldClient.Builder> credential) {
    HeraldClient.Builder b = builder().tls(Tls.trustCertificates(pki.caFile()));
    credential.accept(b);
    return keep(b.build());
  }

  private HeraldClient keep(HeraldClient c) {
    clients.add(c);
    return c;
  }

  private static HeraldException failure(CompletableFuture<?> f) {
    ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    assertThat(e.getCause()).isInstanceOf(HeraldException.class);
    return (HeraldException) e.getCause();
  }

  private static void assertRefused(HeraldException e, ErrorReason reason) {
    assertThat(e.reason()).as(e.getMessage()).isEqualTo(reason);
    assertThat(e.code().name()).isEqualTo(reason.name());
    assertThat(e.isRetryable()).isFalse();
    assertThat(e.getMessage()).doesNotContain(ALICE).doesNotContain(BOB).doesNotContain(NOBODY);
  }

  private long auditLines(String outcome) throws Exception {
    return Files.exists(audit) ? Files.readAllLines(audit).stream().filter(l -> l.contains("\"outcome\":\"" + outcome + "\"")).count() : 0;
  }

  @Test
  void aTokenOverTlsPublishesAndSubscribes() throws Exception {
    startSecured();
    HeraldClient alice = tlsClient(b -> b.token(ALICE));
    alice.admin().createTopic("orders.eu", TopicSettings.defaults());
    List<String> got = new CopyOnWriteArrayList<>();
    alice.subscriber("orders.eu").handler(d -> got.add(new String(d.event().data(), StandardCharsets.UTF_8))).subscribe();
    Publisher pub = alice.publisher("orders.eu").create();
    PublishReceipt r = pub.publish(Event.of("order.created", "one".getBytes(StandardCharsets.UTF_8))).get(10, TimeUnit.SECONDS);
    assertThat(r.sequence()).isEqualTo(1);
    await().atMost(Duration.ofSeconds(10)).until(() -> got.contains("one"));
    // a subscriber with a subscribe-only grant (bob) gets it too
    List<String> bobs = new CopyOnWriteArrayList<>();
    Path bobToken = write("bob.token", BOB + "\n");
    tlsClient(b -> b.tokenFile(bobToken)).subscriber("orders.eu").startAt(StartPosition.earliest())
        .handler(d -> bobs.add(new String(d.event().data(), StandardCharsets.UTF_8))).subscribe();
    await().atMost(Duration.ofSeconds(10)).until(() -> bobs.contains("one"));
  }

  @Test
  void withoutATokenAPublishFailsAtOnceAndThePublisherDoesNotKeepReconnecting() throws Exception {
    startSecured();
    tlsClient(b -> b.token(ALICE)).admin().createTopic("orders.eu", TopicSettings.defaults());
    HeraldClient anonymous = tlsClient(b -> { });
    long t0 = System.nanoTime();
    Publisher pub = anonymous.publisher("orders.eu").create();
    HeraldException e = failure(pub.publish(Event.of("order.created", new byte[] {1})));
    assertRefused(e, ErrorReason.UNAUTHENTICATED);
    // refused, not retried until the publish's total timeout (2 minutes by default)
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(8));
    assertThat(e.getMessage()).contains("no credential");

    // idle after the refusal: no new stream (each would be refused and audited) until the next publish
    await().atMost(Duration.ofSeconds(5)).until(() -> auditLines("unauthenticated") >= 1);
    long refusals = auditLines("unauthenticated");
    await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> auditLines("unauthenticated") == refusals);
    // the next publish tries again, and is refused again
    assertRefused(failure(pub.publish(Event.of("order.created", new byte[] {2}))), ErrorReason.UNAUTHENTICATED);
    assertThat(auditLines("unauthenticated")).isGreaterThan(refusals);

    assertRefused(org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class,
        () -> anonymous.subscriber("orders.eu").handler(d -> { }).subscribe()), ErrorReason.UNAUTHENTICATED);
    assertRefused(org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class, () -> anonymous.admin().listAllTopics()),
        ErrorReason.UNAUTHENTICATED);
    HeraldClient wrong = tlsClient(b -> b.token(NOBODY));
    assertRefused(org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class, () -> wrong.admin().listAllTopics()),
        ErrorReason.UNAUTHENTICATED);
  }

  @Test
  void aForbiddenTopicIsPermissionDeniedForPublishSubscribeAndAdmin() throws Exception {
    startSecured();
    HeraldClient alice = tlsClient(b -> b.token(ALICE));
    alice.admin().createTopic("orders.eu", TopicSettings.defaults());
    alice.admin().createTopic("orders.us", TopicSettings.defaults());
    HeraldClient bob = tlsClient(b -> b.credentials(() -> BOB));
    long t0 = System.nanoTime();
    assertRefused(failure(bob.publisher("orders.eu").create().publish(Event.of("t", new byte[] {1}))), ErrorReason.PERMISSION_DENIED);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(8));
    HeraldException sub = org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class,
        () -> bob.subscriber("orders.us").handler(d -> { }).subscribe());
    assertRefused(sub, ErrorReason.PERMISSION_DENIED);
    assertThat(sub.metadata()).containsEntry("principal", "bob").containsEntry("topic", "orders.us");
    assertRefused(org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class,
        () -> bob.admin().createTopic("orders.eu2", TopicSettings.defaults())), ErrorReason.PERMISSION_DENIED);
    assertThat(bob.admin().listAllTopics()).extracting(TopicInfo::name).containsExactly("orders.eu");
  }

  @Test
  void aClientCertificateWhoseCnIsGrantedPublishes() throws Exception {
    startSecured();
    HeraldClient alice = tlsClient(b -> b.token(ALICE));
    alice.admin().createTopic("telemetry.a", TopicSettings.defaults());
    List<Long> seen = new CopyOnWriteArrayList<>();
    alice.subscriber("telemetry.a").handler(d -> seen.add(d.sequence())).subscribe();

    TestPki.Issued device = pki.client("device-7", "device-7");
    HeraldClient mtls = keep(builder().tls(Tls.trustCertificates(pki.caFile()).withClientCertificate(device.certFile(), device.keyFile()))
        .build());
    assertThat(mtls.publisher("telemetry.a").create().publish(Event.of("reading", new byte[] {7})).get(10, TimeUnit.SECONDS).sequence())
        .isEqualTo(1);
    await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains(1L));
    assertRefused(failure(mtls.publisher("telemetry.ab").create().publish(Event.of("reading", new byte[] {8}))),
        ErrorReason.PERMISSION_DENIED);

    TestPki.Issued stranger = pki.client("stranger", "stranger");
    HeraldClient other = keep(builder().tls(Tls.trustCertificates(pki.caFile()).withClientCertificate(stranger.certFile(),
        stranger.keyFile())).build());
    assertRefused(failure(other.publisher("telemetry.a").create().publish(Event.of("reading", new byte[] {9}))),
        ErrorReason.PERMISSION_DENIED);
  }

  @Test
  void aRotatedTokenFileIsSentFromTheNextCallOn() throws Exception {
    startSecured();
    Path file = write("client.token", BOB + "\n");
    HeraldClient c = tlsClient(b -> b.tokenFile(file));
    assertRefused(org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class,
        () -> c.admin().createTopic("orders.rotated", TopicSettings.defaults())), ErrorReason.PERMISSION_DENIED);
    TestPki.writeAtomically(file, "  " + ALICE + "\n");
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> c.admin().createTopic("orders.rotated",
        TopicSettings.defaults()).name().equals("orders.rotated"));
    // a version that is empty is not taken: the last good token stays
    TestPki.writeAtomically(file, "\n");
    await().atMost(Duration.ofSeconds(5)).during(Duration.ofMillis(1500))
        .until(() -> c.admin().getTopic("orders.rotated").name().equals("orders.rotated"));
  }

  @Test
  void theTokenIsNeverInAToStringOrAnError() throws Exception {
    startSecured();
    HeraldClient.Builder b = builder().tls(Tls.trustCertificates(pki.caFile())).token(NOBODY);
    assertThat(b.toString()).doesNotContain(NOBODY).contains("token (hidden)").contains("herald-ca.pem");
    HeraldClient c = keep(b.build());
    assertThat(c.toString()).doesNotContain(NOBODY).contains("token (hidden)");
    HeraldException e = org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class, () -> c.admin().listAllTopics());
    assertRefused(e, ErrorReason.UNAUTHENTICATED);
    assertThat(String.valueOf(e.getCause())).doesNotContain(NOBODY);
    assertThat(Files.readString(audit)).doesNotContain(NOBODY);

    Path file = write("t.token", NOBODY);
    assertThat(HeraldClient.builder().endpoints("127.0.0.1:1").tokenFile(file).toString()).doesNotContain(NOBODY).contains("t.token");
    // a token a header cannot carry is refused without repeating it
    assertThatThrownBy(() -> HeraldClient.builder().token("hrld_secret with-a-space")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("secret");
    assertThatThrownBy(() -> HeraldClient.builder().token(ALICE).tokenFile(file)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("token (hidden)").hasMessageNotContaining(ALICE);
    // a supplier that fails: its type is reported, not its message
    HeraldClient failing = tlsClient(x -> x.credentials(() -> {
      throw new IllegalStateException("vault said " + ALICE);
    }));
    HeraldException s = org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class, () -> failing.admin().listAllTopics());
    assertRefused(s, ErrorReason.UNAUTHENTICATED);
    assertThat(s.getMessage()).contains("IllegalStateException").contains("credentials supplier");
  }

  @Test
  void withoutTlsATokenGoesToLoopbackOnly() throws Exception {
    startPlaintextWithTokens();
    HeraldClient local = keep(builder().token(ALICE).build());
    local.admin().createTopic("plain", TopicSettings.defaults());
    assertThat(local.publisher("plain").create().publish(Event.of("t", new byte[] {1})).get(10, TimeUnit.SECONDS).sequence()).isEqualTo(1);

    // the SDK's own channel to a host that is not loopback: refused when building (nothing is sent)
    assertThatThrownBy(() -> HeraldClient.builder().endpoints("herald.invalid:7070").token(ALICE).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("without TLS").hasMessageNotContaining(ALICE);
    Path aliceToken = write("x.token", ALICE);
    assertThatThrownBy(() -> HeraldClient.builder().target("dns:///herald.invalid:7070").tokenFile(aliceToken).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("without TLS");

    // a plaintext channel of the application's whose authority is not loopback: each call fails before it is sent
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", broker.port()).overrideAuthority("herald.internal:7070").usePlaintext()
        .build();
    channels.add(ch);
    long before = auditLines("unauthenticated");
    HeraldClient remote = keep(HeraldClient.builder().channel(ch).token(ALICE).build());
    HeraldException e = org.junit.jupiter.api.Assertions.assertThrows(HeraldException.class, () -> remote.admin().listAllTopics());
    assertRefused(e, ErrorReason.UNAUTHENTICATED);
    assertThat(e.getMessage()).contains("without TLS").contains("allowCredentialsOverPlaintext");
    assertRefused(failure(remote.publisher("plain").create().publish(Event.of("t", new byte[] {2}))), ErrorReason.UNAUTHENTICATED);
    assertThat(auditLines("unauthenticated")).isEqualTo(before); // never reached the broker
    // ... unless the application says the network is trusted
    HeraldClient trusted = keep(HeraldClient.builder().channel(ch).token(ALICE).allowCredentialsOverPlaintext(true).build());
    assertThat(trusted.admin().listAllTopics()).extracting(TopicInfo::name).contains("plain");
  }

  @Test
  void tlsSettingsCheckTheirFiles() throws Exception {
    Path missing = dir.resolve("missing.pem");
    assertThatThrownBy(() -> Tls.trustCertificates(missing)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("missing.pem").hasMessageContaining("does not exist");
    TestPki.Issued c = pki.client("c", "c");
    assertThatThrownBy(() -> Tls.systemTrust().withClientCertificate(c.certFile(), missing)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("client key").hasMessageContaining("missing.pem");
    assertThatThrownBy(() -> Tls.plaintext().withClientCertificate(c.certFile(), c.keyFile())).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("needs TLS");
    Tls base = Tls.trustCertificates(pki.caFile());
    Tls mutual = base.withClientCertificate(c.certFile(), c.keyFile());
    assertThat(base.clientCertificateFile()).isNull();
    assertThat(mutual.clientCertificateFile()).isEqualTo(c.certFile());
    assertThat(mutual.clientKeyFile()).isEqualTo(c.keyFile());
    assertThat(mutual.trustCertificatesFile()).isEqualTo(pki.caFile());
    // a key that is not a key: a clear error when building, naming the files
    Tls swapped = base.withClientCertificate(c.certFile(), c.certFile());
    assertThatThrownBy(() -> HeraldClient.builder().endpoints("127.0.0.1:1").tls(swapped).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot set up TLS").hasMessageContaining("PKCS#8");
  }

  private Path write(String name, String content) throws Exception {
    Path p = dir.resolve(name);
    Files.writeString(p, content);
    return p;
  }
}
