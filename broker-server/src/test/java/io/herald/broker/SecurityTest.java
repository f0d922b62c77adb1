package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.herald.broker.config.BrokerConfig;
import io.herald.broker.security.SecurityConfig;
import io.herald.broker.security.TestPki;
import io.herald.broker.security.TokenFile;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker with TLS, tokens, client certificates and an ACL, through real gRPC on loopback: a
 * plaintext client cannot talk to it; a call without a credential or with a wrong one is
 * UNAUTHENTICATED; a forbidden topic is PERMISSION_DENIED (also one that does not exist); ListTopics
 * shows only granted topics; the certificate, the token file and the ACL are reloaded from disk
 * under live streams; admin operations and refusals are audited.
 */
@Timeout(120)
class SecurityTest {
  static final String ALICE_TOKEN = "hrld_alice-0123456789abcdefghijklmnopqrstuvwxyz";
  static final String BOB_TOKEN = "hrld_bob-0123456789abcdefghijklmnopqrstuvwxyz";
  static final Duration RELOAD = Duration.ofMillis(200);

  @TempDir
  Path dir;
  TestPki pki;
  TestPki.Issued serverCert;
  Path tokens;
  Path acl;
  Path audit;
  Broker broker;
  final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    pki = new TestPki(dir, "herald");
    serverCert = pki.server("server");
    tokens = dir.resolve("tokens.txt");
    Files.writeString(tokens, "# principal, hash, groups\n"
        + "alice sha256:" + TokenFile.sha256Hex(ALICE_TOKEN) + " producers\n"
        + "bob sha256:" + TokenFile.sha256Hex(BOB_TOKEN) + "\n");
    acl = dir.resolve("acl.yaml");
    Files.writeString(acl, """
        - group: producers
          topics: ["orders.*"]
          allow: [publish, subscribe, admin]
        - principal: bob
          topics: ["orders.eu"]
          allow: [subscribe]
        - principal: alice
          topics: ["telemetry.*"]
          allow: [admin]
        - principal: device-7
          topics: ["telemetry.?"]
          allow: [publish]
        """);
    audit = dir.resolve("audit.log");
    SecurityConfig sec = new SecurityConfig(serverCert.certFile(), serverCert.keyFile(), pki.caFile(), SecurityConfig.ClientAuth.OPTIONAL,
        RELOAD, Set.of("token", "mtls"), tokens, null, null, null, acl, audit);
    broker = Broker.start(BrokerConfig.defaults("127.0.0.1:0").withDrainTimeout(Duration.ZERO).withSecurity(sec));
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    if (broker != null) {
      broker.closeNow();
    }
  }

  private ManagedChannel channel(ChannelCredentials creds) {
    ManagedChannel c = Grpc.newChannelBuilderForAddress("127.0.0.1", broker.port(), creds).overrideAuthority("localhost").build();
    channels.add(c);
    return c;
  }

  private ManagedChannel tls() throws Exception {
    return channel(TlsChannelCredentials.newBuilder().trustManager(pki.caFile().toFile()).build());
  }

  private ManagedChannel mtls(String cn) throws Exception {
    TestPki.Issued c = pki.client("client-" + cn, cn);
    return channel(TlsChannelCredentials.newBuilder().trustManager(pki.caFile().toFile())
        .keyManager(c.certFile().toFile(), c.keyFile().toFile()).build());
  }

  static CallCredentials bearer(String token) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        applier.apply(m);
      }
    };
  }

  static TopicAdminServiceGrpc.TopicAdminServiceBlockingStub admin(ManagedChannel c, String token) {
    TopicAdminServiceGrpc.TopicAdminServiceBlockingStub s = TopicAdminServiceGrpc.newBlockingStub(c).withDeadlineAfter(10, TimeUnit.SECONDS);
    return token == null ? s : s.withCallCredentials(bearer(token));
  }

  static PublishServiceGrpc.PublishServiceBlockingStub publisher(ManagedChannel c, String token) {
    PublishServiceGrpc.PublishServiceBlockingStub s = PublishServiceGrpc.newBlockingStub(c).withDeadlineAfter(10, TimeUnit.SECONDS);
    return token == null ? s : s.withCallCredentials(bearer(token));
  }

  static PublishRequest publish(String topic, String id) {
    return PublishRequest.newBuilder().setTopic(topic)
        .addEvents(Event.newBuilder().setId(id).setSource("test").setType("t").setData(ByteString.copyFromUtf8(id))).build();
  }

  static void assertRefused(Runnable call, Status.Code code, String reason) {
    assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
      assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
      assertThat(ForwardTest.reason(e)).isEqualTo(reason);
      assertThat(e.getStatus().getDescription()).doesNotContain(ALICE_TOKEN).doesNotContain(BOB_TOKEN);
    });
  }

  @Test
  void aPlaintextClientCannotTalkToATlsBroker() {
    ManagedChannel plain = channel(InsecureChannelCredentials.create());
    assertThatThrownBy(() -> admin(plain, ALICE_TOKEN).listTopics(ListTopicsRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
  }

  @Test
  void aCallWithoutACredentialOrWithAWrongOneIsUnauthenticated() throws Exception {
    ManagedChannel c = tls();
    assertRefused(() -> admin(c, null).listTopics(ListTopicsRequest.getDefaultInstance()), Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED");
    assertRefused(() -> publisher(c, "hrld_not-a-token-anyone-was-given").publish(publish("orders.eu", "x")), Status.Code.UNAUTHENTICATED,
        "UNAUTHENTICATED");
    assertRefused(() -> publisher(c, null).publish(publish("orders.eu", "x")), Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED");
    TestSubscriber sub = TestSubscriber.open(SubscribeServiceGrpc.newStub(c), SubscribeInit.newBuilder().setTopic("orders.eu").build());
    assertThat(sub.awaitEnd().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(Files.readString(audit)).contains("\"outcome\":\"unauthenticated\"").doesNotContain("hrld_not-a-token");
  }

  @Test
  void aPrincipalDoesWhatItsGrantsAllowAndNothingElse() throws Exception {
    ManagedChannel c = tls();
    admin(c, ALICE_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("orders.eu").build());
    admin(c, ALICE_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("orders.us").build());

    // bob may subscribe to orders.eu only; he may not publish, create, or see orders.us
    TestSubscriber bobs = TestSubscriber.started(SubscribeServiceGrpc.newStub(c).withCallCredentials(bearer(BOB_TOKEN)),
        SubscribeInit.newBuilder().setTopic("orders.eu").build());
    bobs.grant(100);
    assertThat(publisher(c, ALICE_TOKEN).publish(publish("orders.eu", "a-1")).getAcksCount()).isEqualTo(1);
    assertThat(bobs.awaitEvents(1)).hasSize(1);
    assertRefused(() -> publisher(c, BOB_TOKEN).publish(publish("orders.eu", "b-1")), Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    assertRefused(() -> admin(c, BOB_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("orders.eu2").build()),
        Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    assertRefused(() -> admin(c, BOB_TOKEN).getTopic(GetTopicRequest.newBuilder().setName("orders.us").build()),
        Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    // a topic that does not exist: the same answer, so existence does not leak
    assertRefused(() -> admin(c, BOB_TOKEN).getTopic(GetTopicRequest.newBuilder().setName("secret.plans").build()),
        Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    assertRefused(() -> publisher(c, ALICE_TOKEN).publish(publish("secret.plans", "a-2")), Status.Code.PERMISSION_DENIED,
        "PERMISSION_DENIED");
    TestSubscriber denied = TestSubscriber.open(SubscribeServiceGrpc.newStub(c).withCallCredentials(bearer(BOB_TOKEN)),
        SubscribeInit.newBuilder().setTopic("orders.us").build());
    assertThat(denied.awaitEnd().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);

    assertThat(admin(c, ALICE_TOKEN).listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList())
        .extracting(t -> t.getName()).containsExactly("orders.eu", "orders.us");
    assertThat(admin(c, BOB_TOKEN).listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList())
        .extracting(t -> t.getName()).containsExactly("orders.eu");

    String lines = Files.readString(audit);
    assertThat(lines).contains("\"principal\":\"alice\"", "\"operation\":\"CreateTopic\"", "\"outcome\":\"ok\"")
        .contains("\"principal\":\"bob\"", "\"outcome\":\"denied\"")
        .doesNotContain(ALICE_TOKEN).doesNotContain(BOB_TOKEN);
  }

  @Test
  void aClientCertificatesCnIsItsPrincipal() throws Exception {
    admin(tls(), ALICE_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("telemetry.a").build());
    ManagedChannel device = mtls("device-7");
    assertThat(publisher(device, null).publish(publish("telemetry.a", "d-1")).getAcksCount()).isEqualTo(1);
    assertRefused(() -> publisher(device, null).publish(publish("telemetry.ab", "d-2")), Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    ManagedChannel stranger = mtls("stranger");
    assertRefused(() -> publisher(stranger, null).publish(publish("telemetry.a", "s-1")), Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
  }

  @Test
  void theAclAndTheTokenFileAreReloadedWhenTheyChange() throws Exception {
    ManagedChannel c = tls();
    admin(c, ALICE_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("orders.eu").build());
    assertRefused(() -> publisher(c, BOB_TOKEN).publish(publish("orders.eu", "b-1")), Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    TestPki.writeAtomically(acl, Files.readString(acl) + """
        - principal: bob
          topics: ["orders.*"]
          allow: [publish]
        """);
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> publisher(c, BOB_TOKEN).publish(publish("orders.eu", "b-2")).getAcksCount() == 1);

    // bob's token is revoked: his line leaves the file
    TestPki.writeAtomically(tokens, "alice sha256:" + TokenFile.sha256Hex(ALICE_TOKEN) + " producers\n");
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      try {
        publisher(c, BOB_TOKEN).publish(publish("orders.eu", "b-3"));
        return false;
      } catch (StatusRuntimeException e) {
        return e.getStatus().getCode() == Status.Code.UNAUTHENTICATED;
      }
    });
    // a broken ACL is not taken: the last good one stays
    TestPki.writeAtomically(acl, "- principal: [unclosed\n");
    assertThat(publisher(c, ALICE_TOKEN).publish(publish("orders.eu", "a-9")).getAcksCount()).isEqualTo(1);
  }

  @Test
  void aRotatedCertificateServesNewConnectionsWhileLiveStreamsGoOn() throws Exception {
    ManagedChannel c = tls();
    admin(c, ALICE_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("orders.eu").build());
    TestSubscriber live = TestSubscriber.started(SubscribeServiceGrpc.newStub(c).withCallCredentials(bearer(ALICE_TOKEN)),
        SubscribeInit.newBuilder().setTopic("orders.eu").build());
    live.grant(1000);
    assertThat(servedCertificate().getSerialNumber()).isEqualTo(serverCert.cert().getSerialNumber());

    TestPki.Issued next = pki.server("server-next");
    TestPki.writeAtomically(serverCert.keyFile(), Files.readString(next.keyFile()));
    TestPki.writeAtomically(serverCert.certFile(), Files.readString(next.certFile()));
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
        .until(() -> servedCertificate().getSerialNumber().equals(next.cert().getSerialNumber()));

    // the live stream and its connection go on; a new connection works with the new certificate
    assertThat(publisher(c, ALICE_TOKEN).publish(publish("orders.eu", "after-rotation")).getAcksCount()).isEqualTo(1);
    assertThat(live.awaitEvents(1)).extracting(e -> e.getEvent().getId()).containsExactly("after-rotation");
    assertThat(publisher(tls(), ALICE_TOKEN).publish(publish("orders.eu", "new-connection")).getAcksCount()).isEqualTo(1);
  }

  /** The certificate the broker presents to a new TLS connection now. */
  private X509Certificate servedCertificate() throws Exception {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setCertificateEntry("ca", pki.caCert());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", broker.port())) {
      javax.net.ssl.SSLParameters p = s.getSSLParameters();
      p.setApplicationProtocols(new String[] {"h2"});
      s.setSSLParameters(p);
      s.startHandshake();
      return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }
  }
}
