package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishResponse;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import io.herald.proto.v1.TopicConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * Request bytes that do not decode: every method answers INVALID_ARGUMENT with the parse error,
 * logs one line (no stack trace), and the broker goes on serving. Sent with a raw byte[]
 * marshaller under the real method names, through real gRPC.
 */
@Timeout(60)
class MalformedRequestTest {
  private static final byte[] GARBAGE = {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF};

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  private TestBroker b;
  private ListAppender<ILoggingEvent> logs;
  private Level guardLevelBefore;
  private TestSubscriber bystander;

  @BeforeEach
  void start() throws Exception {
    b = new TestBroker();
    b.createTopic("t", TopicConfig.getDefaultInstance());
    bystander = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    bystander.grant(1_000);
    logs = new ListAppender<>();
    logs.start();
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.addAppender(logs);
    // the broker's one line per refused request is at INFO; the test config shows WARN and above
    Logger herald = (Logger) LoggerFactory.getLogger("io.herald");
    guardLevelBefore = herald.getLevel();
    herald.setLevel(Level.INFO);
  }

  @AfterEach
  void stop() throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.detachAppender(logs);
    ((Logger) LoggerFactory.getLogger("io.herald")).setLevel(guardLevelBefore);
    b.close();
  }

  private static Stream<MethodDescriptor<?, ?>> realMethods() {
    return Stream.of(PublishServiceGrpc.getServiceDescriptor(), SubscribeServiceGrpc.getServiceDescriptor(),
            TopicAdminServiceGrpc.getServiceDescriptor())
        .flatMap(s -> s.getMethods().stream());
  }

  static Stream<String> methods() {
    return realMethods().map(MethodDescriptor::getFullMethodName);
  }

  /** The method under its real name and type, sending and receiving bytes as they are. */
  private static MethodDescriptor<byte[], byte[]> raw(String fullName) {
    MethodDescriptor<?, ?> real = realMethods().filter(m -> m.getFullMethodName().equals(fullName)).findAny().orElseThrow();
    return MethodDescriptor.newBuilder(BYTES, BYTES).setFullMethodName(fullName).setType(real.getType()).build();
  }

  /** Sends {@code frames} on a stream without half-closing it; returns how the broker ended it. */
  private Status stream(MethodDescriptor<byte[], byte[]> method, byte[]... frames) throws Exception {
    CompletableFuture<Status> end = new CompletableFuture<>();
    ClientCall<byte[], byte[]> call = b.channel.newCall(method, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS));
    StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(call, new StreamObserver<>() {
      @Override
      public void onNext(byte[] value) { }

      @Override
      public void onError(Throwable t) {
        end.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        end.complete(Status.OK);
      }
    });
    for (byte[] f : frames) {
      out.onNext(f);
    }
    return end.get(30, TimeUnit.SECONDS);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("methods")
  void undecodableRequestGetsInvalidArgumentWithTheParseErrorAndOneLogLine(String fullName) throws Exception {
    MethodDescriptor<byte[], byte[]> method = raw(fullName);
    Status status;
    if (method.getType() == MethodDescriptor.MethodType.UNARY) {
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
          () -> ClientCalls.blockingUnaryCall(b.channel, method, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), GARBAGE));
      assertThat(e).as("the call must fail").isNotNull();
      status = e.getStatus();
    } else {
      status = stream(method, GARBAGE);
    }
    assertThat(status.getCode()).as(status.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    // the parse error itself, so the client's author can tell what is wrong with the bytes
    assertThat(status.getDescription()).contains(method.getBareMethodName()).containsIgnoringCase("truncated");

    assertLoggedOneLineWithoutStackTrace();
    assertBrokerStillServes();
  }

  @Test
  void undecodableCreditFrameAfterInitEndsTheSubscriptionAndUnregistersIt() throws Exception {
    byte[] init = SubscribeRequest.newBuilder().setInit(SubscribeInit.newBuilder().setTopic("t").setSubscriberName("bad")).build().toByteArray();
    Status status = stream(raw(SubscribeServiceGrpc.getSubscribeMethod().getFullMethodName()), init, GARBAGE);
    assertThat(status.getCode()).as(status.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(b.admin().listSubscriptions(ListSubscriptionsRequest.newBuilder().setTopic("t").build()).getSubscriptionsList())
            .extracting(s -> s.getSubscriberName()).doesNotContain("bad"));
    assertLoggedOneLineWithoutStackTrace();
    assertBrokerStillServes();
  }

  /**
   * Stress: the garbage arrives while the subscription's writer is sending events from the writer
   * pool, so the refusal's close meets a write in progress; the stream still ends with
   * INVALID_ARGUMENT, nothing is logged as an error, and the bystander is not disturbed.
   */
  @Test
  void undecodableFrameWhileEventsFlowEndsThatStreamCleanly() throws Exception {
    MethodDescriptor<byte[], byte[]> subscribe = raw(SubscribeServiceGrpc.getSubscribeMethod().getFullMethodName());
    byte[] init = SubscribeRequest.newBuilder().setInit(SubscribeInit.newBuilder().setTopic("t").setSubscriberName("bad")
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1L << 30))).build().toByteArray();
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    Thread publisher = Thread.ofPlatform().name("test-publisher").start(() -> {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
      while (!stop.get() && System.nanoTime() < deadline) {
        b.publish("t", "flow", 50, 50);
      }
    });
    int rounds = 30;
    try {
      for (int round = 0; round < rounds; round++) {
        CompletableFuture<Status> end = new CompletableFuture<>();
        java.util.concurrent.CountDownLatch flowing = new java.util.concurrent.CountDownLatch(3); // started + 2 batches
        ClientCall<byte[], byte[]> call = b.channel.newCall(subscribe, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS));
        StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(call, new StreamObserver<>() {
          @Override
          public void onNext(byte[] value) {
            flowing.countDown();
          }

          @Override
          public void onError(Throwable t) {
            end.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            end.complete(Status.OK);
          }
        });
        out.onNext(init);
        assertThat(flowing.await(10, TimeUnit.SECONDS)).as("events flowing").isTrue();
        out.onNext(GARBAGE);
        Status status = end.get(10, TimeUnit.SECONDS);
        assertThat(status.getCode()).as(status.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      }
    } finally {
      stop.set(true);
      publisher.join(TimeUnit.SECONDS.toMillis(30));
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(b.admin().listSubscriptions(ListSubscriptionsRequest.newBuilder().setTopic("t").build()).getSubscriptionsList())
            .extracting(s -> s.getSubscriberName()).doesNotContain("bad"));
    List<ILoggingEvent> all = List.copyOf(logs.list);
    assertThat(all).as("no stack trace").allSatisfy(e -> assertThat(e.getThrowableProxy()).as(e.toString()).isNull());
    assertThat(all).as("no ERROR").noneMatch(e -> e.getLevel() == Level.ERROR);
    assertThat(refusals()).hasSize(rounds);
    assertThat(bystander.ended).isNotDone();
  }

  private void assertLoggedOneLineWithoutStackTrace() {
    await().atMost(Duration.ofSeconds(5)).until(() -> !refusals().isEmpty());
    List<ILoggingEvent> all = List.copyOf(logs.list);
    assertThat(all).as("no stack trace").allSatisfy(e -> assertThat(e.getThrowableProxy()).as(e.toString()).isNull());
    assertThat(all).as("no ERROR").noneMatch(e -> e.getLevel() == Level.ERROR);
    assertThat(refusals()).hasSize(1);
  }

  private List<ILoggingEvent> refusals() {
    return List.copyOf(logs.list).stream().filter(e -> e.getFormattedMessage().contains("undecodable")).toList();
  }

  private void assertBrokerStillServes() throws Exception {
    b.publish("t", "after", 10, 10);
    bystander.awaitEvents(10);
    assertThat(bystander.ended).isNotDone();
    ManagedChannel other = NettyChannelBuilder.forAddress("127.0.0.1", b.broker.port()).usePlaintext().build();
    try {
      PublishResponse r = PublishServiceGrpc.newBlockingStub(other).withDeadlineAfter(10, TimeUnit.SECONDS)
          .publish(PublishRequest.newBuilder().setTopic("t").addEvents(TestBroker.event("x")).build());
      assertThat(r.getAcksCount()).isEqualTo(1);
    } finally {
      other.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    bystander.awaitEvents(11);
  }
}
