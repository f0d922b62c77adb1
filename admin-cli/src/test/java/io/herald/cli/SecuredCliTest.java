package io.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import io.herald.broker.security.SecurityConfig;
import io.herald.broker.security.TestPki;
import io.herald.broker.security.TokenFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI against a secured broker (TLS, tokens, client certificates, an ACL) on loopback: the
 * TLS options, a token from a file, from HERALD_TOKEN or from --token (with a warning); refusals
 * as one actionable line and a non-zero exit; the token never printed, not even by --help.
 */
@Timeout(120)
class SecuredCliTest {
  static final String ALICE = "hrld_alice-0123456789abcdefghijklmnopqrstuvwxyz";
  static final String BOB = "hrld_bob-0123456789abcdefghijklmnopqrstuvwxyz";
  static final String NOBODY = "hrld_nobody-0123456789abcdefghijklmnopqrstuvwxyz";

  @TempDir
  Path dir;
  TestPki pki;
  Broker broker;
  String server;
  Path aliceFile;

  record Result(int code, String out, String err) {
    /** Neither output holds any of the tokens. */
    Result noSecrets() {
      for (String t : List.of(ALICE, BOB, NOBODY)) {
        assertThat(out).doesNotContain(t);
        assertThat(err).doesNotContain(t);
      }
      return this;
    }
  }

  @BeforeEach
  void start() throws Exception {
    pki = new TestPki(dir, "herald");
    TestPki.Issued cert = pki.server("server");
    Path tokens = dir.resolve("tokens.txt");
    Files.writeString(tokens, "alice sha256:" + TokenFile.sha256Hex(ALICE) + " producers\n"
        + "bob sha256:" + TokenFile.sha256Hex(BOB) + "\n");
    Path acl = dir.resolve("acl.yaml");
    Files.writeString(acl, """
        - group: producers
          topics: ["orders.*", "bench-*"]
          allow: [publish, subscribe, admin]
        - principal: bob
          topics: ["orders.eu"]
          allow: [subscribe]
        - principal: device-7
          topics: ["orders.eu"]
          allow: [publish]
        """);
    broker = Broker.start(BrokerConfig.defaults("127.0.0.1:0").withDrainTimeout(Duration.ZERO).withSecurity(new SecurityConfig(
        cert.certFile(), cert.keyFile(), pki.caFile(), SecurityConfig.ClientAuth.OPTIONAL, Duration.ofMillis(200),
        Set.of("token", "mtls"), tokens, null, null, null, acl, null)));
    server = "127.0.0.1:" + broker.port();
    aliceFile = dir.resolve("alice.token");
    Files.writeString(aliceFile, ALICE + "\n");
  }

  @AfterEach
  void stop() {
    broker.closeNow();
  }

  Result run(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>(List.of(args));
    if (all.stream().noneMatch(a -> a.startsWith("--server") || a.startsWith("--servers"))) {
      all.add("--server=" + server);
    }
    int code = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), env).execute(all.toArray(String[]::new));
    return new Result(code, out.toString(), err.toString()).noSecrets();
  }

  Result run(String... args) {
    return run(Map.of(), args);
  }

  String ca() {
    return pki.caFile().toString();
  }

  @Test
  void aTokenFileOverTlsManagesTopicsPublishesAndSubscribes() {
    Result created = run("--tls-ca", ca(), "--token-file", aliceFile.toString(), "topic", "create", "orders.eu");
    assertThat(created.code()).as(created.err()).isZero();
    // the options go after the command too
    Result list = run("topic", "list", "--tls-ca", ca(), "--token-file", aliceFile.toString());
    assertThat(list.code()).as(list.err()).isZero();
    assertThat(list.out()).contains("orders.eu");
    Result pub = run("--tls-ca", ca(), "--token-file", aliceFile.toString(), "publish", "orders.eu", "hello", "--type", "greeting");
    assertThat(pub.code()).as(pub.err()).isZero();
    Result sub = run("--tls-ca", ca(), "--token-file", aliceFile.toString(), "subscribe", "orders.eu", "--from", "earliest", "--count", "1");
    assertThat(sub.code()).as(sub.err()).isZero();
    assertThat(sub.out()).contains("hello");
    Result cluster = run("--tls-ca", ca(), "--token-file", aliceFile.toString(), "cluster", "status");
    assertThat(cluster.code()).as(cluster.err()).isZero();
    assertThat(cluster.out()).contains("leader");
    assertThat(created.err() + list.err() + pub.err() + sub.err()).doesNotContain("warning");
  }

  @Test
  void theTokenComesFromHeraldTokenAndFlagsBeatIt() {
    Map<String, String> env = Map.of("HERALD_TOKEN", ALICE);
    Result created = run(env, "--tls-ca", ca(), "topic", "create", "orders.env");
    assertThat(created.code()).as(created.err()).isZero();
    assertThat(run(env, "--tls-ca", ca(), "topic", "describe", "orders.env").out()).contains("orders.env");
    // --token-file beats the environment: bob may not create topics
    Path bobFile = dir.resolve("bob.token");
    writeQuietly(bobFile, BOB);
    Result denied = run(env, "--tls-ca", ca(), "--token-file", bobFile.toString(), "topic", "create", "orders.bob");
    assertThat(denied.code()).isEqualTo(Main.ERROR);
    assertThat(denied.err()).contains("PERMISSION_DENIED").contains("ACL").doesNotContain("\n\n");
    assertThat(denied.err().strip().lines()).hasSize(1);
  }

  @Test
  void aWrongOrMissingTokenFailsWithOneActionableLine() {
    Result wrong = run(Map.of("HERALD_TOKEN", NOBODY), "--tls-ca", ca(), "topic", "list");
    assertThat(wrong.code()).isNotZero().isEqualTo(Main.ERROR);
    assertThat(wrong.err()).contains("UNAUTHENTICATED").contains("check the token");
    assertThat(wrong.err().strip().lines()).hasSize(1);
    assertThat(wrong.out()).isEmpty();

    Result none = run("--tls-ca", ca(), "topic", "list");
    assertThat(none.code()).isEqualTo(Main.ERROR);
    assertThat(none.err()).contains("UNAUTHENTICATED").contains("--token-file").contains("HERALD_TOKEN");
    Result pub = run("--tls-ca", ca(), "publish", "orders.eu", "x");
    assertThat(pub.code()).isEqualTo(Main.ERROR);
    assertThat(pub.err()).contains("UNAUTHENTICATED");
    Result sub = run("--tls-ca", ca(), "subscribe", "orders.eu", "--count", "1");
    assertThat(sub.code()).isEqualTo(Main.ERROR);
    assertThat(sub.err()).contains("UNAUTHENTICATED");
  }

  @Test
  void aTokenOnTheCommandLineWorksWithAWarning() {
    Result r = run("--tls-ca", ca(), "--token", ALICE, "topic", "list");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.err()).contains("warning").contains("process list").contains("HERALD_TOKEN").contains("--token-file");
    assertThat(r.err().strip().lines()).hasSize(1);
    assertThat(run("--tls-ca", ca(), "--token", ALICE, "--token-file", aliceFile.toString(), "topic", "list").code())
        .isEqualTo(Main.USAGE);
  }

  @Test
  void helpNeverShowsTheToken() {
    Map<String, String> env = Map.of("HERALD_TOKEN", ALICE);
    for (String[] args : List.of(new String[] {"--help"}, new String[] {"topic", "list", "--help"}, new String[] {"publish", "--help"})) {
      Result r = run(env, args);
      assertThat(r.code()).isZero();
      assertThat(r.out()).contains("--token-file").contains("--tls-ca").contains("HERALD_TOKEN");
    }
  }

  @Test
  void aClientCertificateWhoseCnIsGrantedPublishes() throws Exception {
    assertThat(run("--tls-ca", ca(), "--token-file", aliceFile.toString(), "topic", "create", "orders.eu").code()).isZero();
    TestPki.Issued device = pki.client("device-7", "device-7");
    Result r = run("--tls-ca", ca(), "--tls-cert", device.certFile().toString(), "--tls-key", device.keyFile().toString(),
        "publish", "orders.eu", "from-device", "-o", "json");
    assertThat(r.code()).as(r.err()).isZero();
    Result denied = run("--tls-ca", ca(), "--tls-cert", device.certFile().toString(), "--tls-key", device.keyFile().toString(),
        "topic", "create", "orders.device");
    assertThat(denied.code()).isEqualTo(Main.ERROR);
    assertThat(denied.err()).contains("PERMISSION_DENIED");

    Result half = run("--tls-ca", ca(), "--tls-cert", device.certFile().toString(), "topic", "list");
    assertThat(half.code()).isEqualTo(Main.USAGE);
    assertThat(half.err()).contains("--tls-cert and --tls-key go together");
    Result missing = run("--tls-ca", dir.resolve("nope.pem").toString(), "topic", "list");
    assertThat(missing.code()).isEqualTo(Main.USAGE);
    assertThat(missing.err()).contains("nope.pem").contains("does not exist");
  }

  @Test
  void noTokenGoesInClearToAnotherHost() {
    // refused before anything is sent: the address is never contacted
    Result r = run(Map.of("HERALD_TOKEN", ALICE), "--server", "herald.invalid:7070", "topic", "list");
    assertThat(r.code()).isEqualTo(Main.USAGE);
    assertThat(r.err()).contains("without TLS").contains("--tls").contains("--allow-plaintext-token");
    // a plaintext client on the TLS port fails as unavailable, not with a credential error
    Result plain = run(Map.of("HERALD_TOKEN", ALICE), "--timeout", "3s", "topic", "list");
    assertThat(plain.code()).isEqualTo(Main.UNAVAILABLE);
  }

  @Test
  void benchUsesTlsAndTheToken() {
    Result lat = run(Map.of("HERALD_TOKEN", ALICE), "--tls-ca", ca(), "bench", "latency", "--rate", "500/s", "--duration", "1s",
        "--warmup", "0s");
    assertThat(lat.code()).as(lat.err()).isZero();
    Result meta = run(Map.of("HERALD_TOKEN", ALICE), "--tls-ca", ca(), "bench", "metadata", "--servers=" + server, "--rounds", "1");
    assertThat(meta.code()).as(meta.err() + meta.out()).isZero();
    Result anonymous = run("--tls-ca", ca(), "bench", "latency", "--rate", "500/s", "--duration", "1s", "--warmup", "0s");
    assertThat(anonymous.code()).isNotZero();
    assertThat(anonymous.err()).contains("UNAUTHENTICATED");
  }

  private static void writeQuietly(Path p, String s) {
    try {
      Files.writeString(p, s);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
