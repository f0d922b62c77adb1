package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.ErrorReason;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishResponse;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.UpdateTopicRequest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every error status the broker sends carries one google.rpc.ErrorInfo (domain herald.v1) whose
 * reason tells a program what happened and whether a retry can help; a refused batch on a publish
 * stream carries the same reason and metadata in its PublishError.
 */
@Timeout(90)
class ErrorDetailsTest {

  /** The ErrorInfo in a failure's status details, as any gRPC client reads it; null if none. */
  static ErrorInfo errorInfo(Throwable t) {
    com.google.rpc.Status s = StatusProto.fromThrowable(t);
    if (s == null) {
      return null;
    }
    for (Any a : s.getDetailsList()) {
      if (a.is(ErrorInfo.class)) {
        try {
          return a.unpack(ErrorInfo.class);
        } catch (InvalidProtocolBufferException e) {
          throw new AssertionError(e);
        }
      }
    }
    return null;
  }

  /** Asserts the failure's code, reason, domain and metadata (a subset). */
  static void assertError(Throwable t, Status.Code code, String reason, Map<String, String> metadata) {
    assertThat(t).as("the call must fail").isNotNull();
    assertThat(Status.fromThrowable(t).getCode()).as(String.valueOf(t)).isEqualTo(code);
    ErrorInfo info = errorInfo(t);
    assertThat(info).as("ErrorInfo of " + t).isNotNull();
    assertThat(info.getDomain()).isEqualTo("herald.v1");
    assertThat(info.getReason()).as(String.valueOf(t)).isEqualTo(reason);
    assertThat(ErrorReason.valueOf("ERROR_REASON_" + info.getReason())).as("listed in ErrorReason").isNotNull();
    assertThat(info.getMetadataMap()).containsAllEntriesOf(metadata);
  }

  private static StatusRuntimeException failure(Runnable call) {
    return catchThrowableOfType(StatusRuntimeException.class, call::run);
  }

  private static Event eventOf(int dataBytes) {
    return TestBroker.event("").toBuilder().setData(ByteString.copyFrom(new byte[dataBytes])).build();
  }

  @Test
  void oversizedMessageAndFullRejectInboxShareACodeButNotAReason() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
          .setSubscriberBufferMaxEvents(1)
          .setInboxMaxEvents(1)
          .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_REJECT)
          .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
          .build());

      // a 5 MiB message: over the 4 MiB limit of every method; permanent
      StatusRuntimeException tooLarge = failure(() -> b.publisher().publish(
          PublishRequest.newBuilder().setTopic("t").addEvents(eventOf(5 << 20)).build()));
      assertError(tooLarge, Status.Code.RESOURCE_EXHAUSTED, "MESSAGE_TOO_LARGE", Map.of("limit", "4194304"));
      assertThat(Long.parseLong(errorInfo(tooLarge).getMetadataOrThrow("value"))).isGreaterThan(5 << 20);

      // a subscriber without credit holds the loop: the buffer takes one event, the inbox one more
      TestSubscriber stuck = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
      PublishServiceGrpc.PublishServiceStub async = b.publisherAsync().withDeadlineAfter(60, TimeUnit.SECONDS);
      List<CompletableFuture<PublishResponse>> calls = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        CompletableFuture<PublishResponse> f = new CompletableFuture<>();
        async.publish(PublishRequest.newBuilder().setTopic("t").addEvents(TestBroker.event("e" + i)).build(), observer(f));
        calls.add(f);
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> calls.stream().anyMatch(CompletableFuture::isCompletedExceptionally));
      Throwable inboxFull = calls.stream().filter(CompletableFuture::isCompletedExceptionally)
          .map(f -> catchThrowableOfType(java.util.concurrent.ExecutionException.class, f::get).getCause()).findFirst().orElseThrow();
      // the same code, RESOURCE_EXHAUSTED; a different reason: retryable
      assertError(inboxFull, Status.Code.RESOURCE_EXHAUSTED, "INBOX_FULL",
          Map.of("topic", "t", "inboxMaxEvents", "1"));

      stuck.grant(100); // frees the loop: every call completes
      await().atMost(Duration.ofSeconds(20)).until(() -> calls.stream().allMatch(CompletableFuture::isDone));

      // a stream batch refused as oversized (per topic) carries its reason and metadata
      b.createTopic("small", TopicConfig.newBuilder().setMaxEventBytes(100).build());
      List<PublishStreamResponse> refused = Collections.synchronizedList(new ArrayList<>());
      StreamObserver<PublishStreamRequest> s2 = b.publisherAsync().publishStream(new StreamObserver<>() {
        @Override public void onNext(PublishStreamResponse r) { refused.add(r); }
        @Override public void onError(Throwable t) { }
        @Override public void onCompleted() { }
      });
      s2.onNext(PublishStreamRequest.newBuilder().setBatchId(7).setTopic("small").addEvents(TestBroker.event("ok")).addEvents(eventOf(200)).build());
      await().atMost(Duration.ofSeconds(20)).until(() -> refused.size() == 1);
      s2.onCompleted();
      PublishStreamResponse r = refused.get(0);
      assertThat(r.getError().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(r.getError().getReason()).isEqualTo("EVENT_TOO_LARGE");
      assertThat(r.getError().getMetadataMap()).containsEntry("topic", "small").containsEntry("index", "1")
          .containsEntry("limit", "100").containsKey("value");
    }
  }

  @Test
  void inboxFullOnAPublishStreamCarriesItsReason() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t", TopicConfig.newBuilder()
          .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
          .setSubscriberBufferMaxEvents(1)
          .setInboxMaxEvents(1)
          .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_REJECT)
          .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
          .build());
      TestSubscriber stuck = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
      List<PublishStreamResponse> responses = Collections.synchronizedList(new ArrayList<>());
      StreamObserver<PublishStreamRequest> stream = b.publisherAsync().publishStream(new StreamObserver<>() {
        @Override public void onNext(PublishStreamResponse r) { responses.add(r); }
        @Override public void onError(Throwable t) { }
        @Override public void onCompleted() { }
      });
      for (int i = 1; i <= 5; i++) {
        stream.onNext(PublishStreamRequest.newBuilder().setBatchId(i).setTopic("t").addEvents(TestBroker.event("e" + i)).build());
      }
      await().atMost(Duration.ofSeconds(20)).until(() ->
          b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats().getRejected() >= 1);
      stuck.grant(100);
      await().atMost(Duration.ofSeconds(20)).until(() -> responses.size() == 5);
      stream.onCompleted();
      assertThat(responses.stream().filter(PublishStreamResponse::hasError)).isNotEmpty().allSatisfy(r -> {
        assertThat(r.getError().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED.value());
        assertThat(r.getError().getReason()).isEqualTo("INBOX_FULL");
        assertThat(r.getError().getMetadataMap()).containsEntry("topic", "t").containsEntry("inboxMaxEvents", "1");
      });
    }
  }

  @Test
  void everyServiceSendsErrorInfoWithItsErrors() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t");
      b.createTopic("noblock", TopicConfig.newBuilder().setBlockPolicyAllowed(false).build());

      // admin
      assertError(failure(() -> b.admin().createTopic(CreateTopicRequest.newBuilder().setName("bad name").build())),
          Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "name"));
      assertError(failure(() -> b.admin().createTopic(CreateTopicRequest.newBuilder().setName("t").build())),
          Status.Code.ALREADY_EXISTS, "TOPIC_ALREADY_EXISTS", Map.of("topic", "t"));
      assertError(failure(() -> b.admin().getTopic(GetTopicRequest.newBuilder().setName("nope").build())),
          Status.Code.NOT_FOUND, "TOPIC_NOT_FOUND", Map.of("topic", "nope"));
      assertError(failure(() -> b.admin().updateTopic(UpdateTopicRequest.newBuilder().setName("t")
              .setConfig(TopicConfig.newBuilder().setInboxMaxEvents(0)).build())),
          Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "config.inbox_max_events"));
      assertError(failure(() -> b.admin().listTopics(ListTopicsRequest.newBuilder().setPageToken("!!").build())),
          Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "page_token"));

      // publish
      assertError(failure(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("nope").addEvents(TestBroker.event("x")).build())),
          Status.Code.NOT_FOUND, "TOPIC_NOT_FOUND", Map.of("topic", "nope"));
      assertError(failure(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t").build())),
          Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "events", "limit", "10000"));
      assertError(failure(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t")
              .addEvents(TestBroker.event("x").toBuilder().setId("i".repeat(300))).build())),
          Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "events[0].id", "index", "0"));
      assertError(failure(() -> ClientCalls.blockingUnaryCall(b.channel, raw(PublishServiceGrpc.getPublishMethod()),
              CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), new byte[] {0x12, 0x7f})),
          Status.Code.INVALID_ARGUMENT, "MALFORMED_REQUEST", Map.of());

      // subscribe
      TestSubscriber creditFirst = new TestSubscriber();
      b.subscriber().subscribe(creditFirst);
      creditFirst.grant(1);
      creditFirst.awaitEnd();
      assertError(creditFirst.error, Status.Code.INVALID_ARGUMENT, "PROTOCOL_VIOLATION", Map.of());

      TestSubscriber block = TestSubscriber.open(b.subscriber(), SubscribeInit.newBuilder().setTopic("noblock")
          .setOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK).build());
      block.awaitEnd();
      assertError(block.error, Status.Code.FAILED_PRECONDITION, "BLOCK_NOT_ALLOWED", Map.of("topic", "noblock"));

      TestSubscriber ahead = TestSubscriber.open(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
          .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_SEQUENCE)
              .setSequence(1).setEpoch(Long.MAX_VALUE)).build());
      ahead.awaitEnd();
      assertError(ahead.error, Status.Code.FAILED_PRECONDITION, "EPOCH_AHEAD", Map.of("topic", "t"));

      // a subscription whose topic is deleted
      b.createTopic("doomed");
      TestSubscriber orphan = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("doomed").build());
      b.admin().deleteTopic(DeleteTopicRequest.newBuilder().setName("doomed").build());
      orphan.awaitEnd();
      assertError(orphan.error, Status.Code.NOT_FOUND, "TOPIC_NOT_FOUND", Map.of("topic", "doomed"));

      // a BLOCK subscriber that holds the topic back past max_block
      b.createTopic("slow", TopicConfig.newBuilder().setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
          .setSubscriberBufferMaxEvents(1).setMaxBlock(com.google.protobuf.Duration.newBuilder().setNanos(100_000_000)).build());
      TestSubscriber slow = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("slow").build());
      b.publish("slow", "e", 3, 1);
      slow.awaitEnd();
      assertError(slow.error, Status.Code.RESOURCE_EXHAUSTED, "SLOW_CONSUMER", Map.of("topic", "slow", "maxBlock", "0.1s"));

      // what gRPC and the standard services refuse gets an ErrorInfo too
      assertError(failure(() -> HealthGrpc.newBlockingStub(b.channel).withDeadlineAfter(10, TimeUnit.SECONDS)
              .check(HealthCheckRequest.newBuilder().setService("no.such.Service").build())),
          Status.Code.NOT_FOUND, "UNSUPPORTED_REQUEST", Map.of());
      MethodDescriptor<byte[], byte[]> unknown = MethodDescriptor.newBuilder(BYTES, BYTES)
          .setFullMethodName("herald.v1.PublishService/NoSuchMethod").setType(MethodDescriptor.MethodType.UNARY).build();
      assertError(failure(() -> ClientCalls.blockingUnaryCall(b.channel, unknown,
              CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[0])),
          Status.Code.UNIMPLEMENTED, "UNSUPPORTED_REQUEST", Map.of());
    }
  }

  @Test
  void shutdownEndsStreamsWithARetryableReason() throws Exception {
    TestBroker b = new TestBroker();
    try {
      b.createTopic("t");
      TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
      b.broker.close();
      sub.awaitEnd();
      assertError(sub.error, Status.Code.UNAVAILABLE, "SHUTTING_DOWN", Map.of());
    } finally {
      b.close();
    }
  }

  private static <T> StreamObserver<T> observer(CompletableFuture<T> f) {
    return new StreamObserver<>() {
      @Override public void onNext(T value) { f.complete(value); }
      @Override public void onError(Throwable t) { f.completeExceptionally(t); }
      @Override public void onCompleted() { }
    };
  }

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
        throw new java.io.UncheckedIOException(e);
      }
    }
  };

  private static MethodDescriptor<byte[], byte[]> raw(MethodDescriptor<?, ?> real) {
    return MethodDescriptor.newBuilder(BYTES, BYTES).setFullMethodName(real.getFullMethodName()).setType(real.getType()).build();
  }
}
