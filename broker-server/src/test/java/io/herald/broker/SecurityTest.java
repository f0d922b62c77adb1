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

  /**
   * A broker taking JWTs only (plaintext: TLS is independent of the credential): a JWT signed with
   * the key set's key, with the right issuer and audience, is its {@code sub}, with the groups of
   * its {@code groups} claim; an expired one, one from another key and one for another audience are
   * UNAUTHENTICATED.
   */
  @Test
  void aJwtSignedWithTheKeySetsKeyIsItsSubjectWithItsGroups() throws Exception {
    broker.closeNow();
    com.nimbusds.jose.jwk.ECKey key = new com.nimbusds.jose.jwk.gen.ECKeyGenerator(com.nimbusds.jose.jwk.Curve.P_256).keyID("k1").generate();
    com.nimbusds.jose.jwk.ECKey stranger = new com.nimbusds.jose.jwk.gen.ECKeyGenerator(com.nimbusds.jose.jwk.Curve.P_256).keyID("k1")
        .generate();
    Path jwks = dir.resolve("jwks.json");
    Files.writeString(jwks, new com.nimbusds.jose.jwk.JWKSet(key.toPublicJWK()).toString());
    SecurityConfig sec = new SecurityConfig(null, null, null, SecurityConfig.ClientAuth.NONE, RELOAD, Set.of("jwt"), null, jwks,
        "https://issuer.test", "herald", acl, audit);
    broker = Broker.start(BrokerConfig.defaults("127.0.0.1:0").withDrainTimeout(Duration.ZERO).withSecurity(sec));
    ManagedChannel c = channel(InsecureChannelCredentials.create());
    java.time.Instant now = java.time.Instant.now();
    String good = jwt(key, "carol", List.of("producers"), "herald", now.plusSeconds(300));
    admin(c, good).createTopic(CreateTopicRequest.newBuilder().setName("orders.jwt").build());
    assertThat(publisher(c, good).publish(publish("orders.jwt", "j-1")).getAcksCount()).isEqualTo(1);
    assertRefused(() -> publisher(c, good).publish(publish("secret.plans", "j-2")), Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    // a JWT whose groups claim says herald-peers is not a broker: no way around the ACL
    String claimsPeer = jwt(key, "mallory", List.of("herald-peers"), "herald", now.plusSeconds(300));
    assertRefused(() -> publisher(c, claimsPeer).publish(publish("orders.jwt", "m-1")), Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED");
    assertThat(forwardEnd(c, claimsPeer).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    for (String bad : List.of(jwt(key, "carol", List.of("producers"), "herald", now.minusSeconds(600)),
        jwt(stranger, "carol", List.of("producers"), "herald", now.plusSeconds(300)),
        jwt(key, "carol", List.of("producers"), "another-service", now.plusSeconds(300)))) {
      assertThatThrownBy(() -> publisher(c, bad).publish(publish("orders.jwt", "j-3"))).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(e.getStatus().getDescription()).doesNotContain(bad);
          });
    }
  }

  private static String jwt(com.nimbusds.jose.jwk.ECKey key, String sub, List<String> groups, String audience, java.time.Instant expiry)
      throws Exception {
    com.nimbusds.jwt.SignedJWT jwt = new com.nimbusds.jwt.SignedJWT(
        new com.nimbusds.jose.JWSHeader.Builder(com.nimbusds.jose.JWSAlgorithm.ES256).keyID(key.getKeyID()).build(),
        new com.nimbusds.jwt.JWTClaimsSet.Builder().subject(sub).issuer("https://issuer.test").audience(audience)
            .claim("groups", groups).issueTime(java.util.Date.from(expiry.minusSeconds(900)))
            .expirationTime(java.util.Date.from(expiry)).build());
    jwt.sign(new com.nimbusds.jose.crypto.ECDSASigner(key));
    return jwt.serialize();
  }

  /**
   * The broker-to-broker service takes only principals of the group herald-peers: a client's
   * credential does not let it forward events to a topic around the ACL.
   */
  @Test
  void aClientsCredentialDoesNotOpenTheBrokerToBrokerService() throws Exception {
    ManagedChannel c = tls();
    admin(c, ALICE_TOKEN).createTopic(CreateTopicRequest.newBuilder().setName("orders.eu").build());
    assertThat(forwardEnd(c, ALICE_TOKEN).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(Files.readString(audit)).contains("\"operation\":\"Forward\"", "not in group herald-peers");
  }

  @Test
  void securityFlagsAreCheckedAtStart() throws Exception {
    java.util.Map<String, String> none = java.util.Map.of();
    String listen = "127.0.0.1:0";
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--tls-cert", serverCert.certFile().toString()))
        .contains("--tls-cert and --tls-key go together");
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--auth", "token,magic")).contains("unknown method 'magic'");
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--auth", "token")).contains("--auth-tokens");
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--acl", acl.toString())).contains("--acl needs --auth");
    assertThat(ClusterMetadataTest.refused(java.util.Map.of("HERALD_AUTH", "mtls"), "--listen", listen)).contains("--tls-client-ca");
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--tls-cert", serverCert.certFile().toString(), "--tls-key",
        serverCert.keyFile().toString(), "--tls-client-ca", pki.caFile().toString(), "--tls-client-auth", "sometimes"))
        .contains("none, optional or require");
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--auth", "token", "--auth-tokens", tokens.toString(), "--tls-cert",
        serverCert.certFile().toString(), "--tls-key", serverCert.keyFile().toString(), "--peer-tls-ca", pki.caFile().toString(),
        "--peers", "n1=127.0.0.1:7072,n2=127.0.0.1:7172", "--node-id", "n1")).contains("--peer-token-file FILE is required");
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--tls-cert", serverCert.certFile().toString(), "--tls-key",
        serverCert.keyFile().toString(), "--peers", "n1=127.0.0.1:7072,n2=127.0.0.1:7172", "--node-id", "n1"))
        .contains("--peer-tls-ca FILE is required");
    // the peer token may do everything: never over plaintext
    assertThat(ClusterMetadataTest.refused(none, "--listen", listen, "--auth", "token", "--auth-tokens", tokens.toString(),
        "--peer-token-file", tokens.toString(), "--peers", "n1=127.0.0.1:7072,n2=127.0.0.1:7172", "--node-id", "n1"))
        .contains("TLS is required");

    // files that do not load stop the broker at start, naming the file and never a secret
    Path badTokens = dir.resolve("bad-tokens.txt");
    Files.writeString(badTokens, "alice sha256:not-hex\n");
    java.io.StringWriter err = new java.io.StringWriter();
    String[] args = {"--listen", listen, "--http-listen", "off", "--auth", "token", "--auth-tokens", badTokens.toString()};
    picocli.CommandLine cl = Main.commandLine(args, none);
    cl.setErr(new java.io.PrintWriter(err, true));
    assertThat(cl.execute(args)).as("stderr: %s", err).isEqualTo(1);
    assertThat(err.toString()).contains(badTokens.toString()).contains("line 1");
    Path wrongKey = pki.server("other").keyFile();
    err.getBuffer().setLength(0);
    String[] tlsArgs = {"--listen", listen, "--http-listen", "off", "--tls-cert", serverCert.certFile().toString(), "--tls-key",
        wrongKey.toString()};
    cl = Main.commandLine(tlsArgs, none);
    cl.setErr(new java.io.PrintWriter(err, true));
    assertThat(cl.execute(tlsArgs)).as("stderr: %s", err).isEqualTo(1);
    assertThat(err.toString()).contains("is not the key of the certificate");
  }

  /** Opens the broker-to-broker Forward stream with {@code credential}, sends its init; how the stream ended. */
  private static Status forwardEnd(ManagedChannel c, String credential) throws Exception {
    java.util.concurrent.CompletableFuture<Status> end = new java.util.concurrent.CompletableFuture<>();
    io.grpc.stub.StreamObserver<io.herald.proto.cluster.v1.ForwardRequest> out = io.herald.proto.cluster.v1.PeerServiceGrpc.newStub(c)
        .withCallCredentials(bearer(credential)).forward(new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(io.herald.proto.cluster.v1.ForwardResponse r) { }

          @Override
          public void onError(Throwable t) {
            end.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            end.complete(Status.OK);
          }
        });
    out.onNext(io.herald.proto.cluster.v1.ForwardRequest.newBuilder()
        .setInit(io.herald.proto.cluster.v1.ForwardInit.newBuilder().setNodeId("intruder")).build());
    return end.get(10, TimeUnit.SECONDS);
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
