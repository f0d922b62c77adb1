package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.UpdateTopicRequest;
import java.util.function.Consumer;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every bad input gets a precise status and a message that says what to fix; others are not disturbed. */
@Timeout(60)
class ValidationTest {
  private TestBroker b;
  private TestSubscriber bystander;

  @BeforeEach
  void start() throws Exception {
    b = new TestBroker();
    b.createTopic("t", TopicConfig.newBuilder().setMaxEventBytes(1000).build());
    bystander = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    bystander.grant(1_000);
  }

  @AfterEach
  void stop() throws Exception {
    // whatever the bad clients did, a well-behaved subscriber still gets everything
    b.publish("t", "after", 10, 10);
    bystander.awaitEvents(10);
    assertThat(bystander.ended).isNotDone();
    b.close();
  }

  private static void assertStatus(ThrowingCallable call, Status.Code code, String... fragments) {
    assertThatThrownBy(call).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(code);
      for (String f : fragments) {
        assertThat(e.getStatus().getDescription()).contains(f);
      }
    });
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "has space", "slash/no", "ünïcode", "x"})
  void topicNamesAreChecked(String name) {
    if (name.equals("x")) {
      name = "x".repeat(250);
    }
    String n = name;
    assertStatus(() -> b.admin().createTopic(CreateTopicRequest.newBuilder().setName(n).build()), Status.Code.INVALID_ARGUMENT, "name");
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic(n).addEvents(TestBroker.event("x")).build()),
        Status.Code.INVALID_ARGUMENT, "topic");
  }

  @Test
  void longestValidNameIsAccepted() {
    String name = "a.B_c-9".repeat(35) + "abcd"; // 249
    assertThat(name).hasSize(249);
    assertThat(b.createTopic(name).getName()).isEqualTo(name);
  }

  @Test
  void unknownTopicIsNotFoundEverywhere() throws Exception {
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("nope").addEvents(TestBroker.event("x")).build()),
        Status.Code.NOT_FOUND, "'nope'", "create");
    assertStatus(() -> b.admin().getTopic(GetTopicRequest.newBuilder().setName("nope").build()), Status.Code.NOT_FOUND, "'nope'");
    assertStatus(() -> b.admin().deleteTopic(DeleteTopicRequest.newBuilder().setName("nope").build()), Status.Code.NOT_FOUND);
    assertStatus(() -> b.admin().updateTopic(UpdateTopicRequest.newBuilder().setName("nope").build()), Status.Code.NOT_FOUND);
    TestSubscriber s = TestSubscriber.open(b.subscriber(), SubscribeInit.newBuilder().setTopic("nope").build());
    assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.NOT_FOUND);
  }

  @Test
  void duplicateCreateIsAlreadyExists() {
    assertStatus(() -> b.createTopic("t"), Status.Code.ALREADY_EXISTS, "'t'");
  }

  @Test
  void configValuesAreRangeChecked() {
    assertStatus(() -> b.createTopic("c1", TopicConfig.newBuilder().setSubscriberBufferMaxEvents(0).build()),
        Status.Code.INVALID_ARGUMENT, "subscriber_buffer_max_events", "[1, 1000000]");
    assertStatus(() -> b.createTopic("c2", TopicConfig.newBuilder().setMaxEventBytes(10 << 20).build()),
        Status.Code.INVALID_ARGUMENT, "max_event_bytes");
    assertStatus(() -> b.createTopic("c3", TopicConfig.newBuilder().setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(-1)).build()),
        Status.Code.INVALID_ARGUMENT, "max_block");
    assertStatus(() -> b.createTopic("c4", TopicConfig.newBuilder().setDefaultOverflowPolicyValue(99).build()),
        Status.Code.INVALID_ARGUMENT, "default_overflow_policy", "99");
    assertStatus(() -> b.createTopic("c5", TopicConfig.newBuilder().setPublishOverflowValue(7).build()),
        Status.Code.INVALID_ARGUMENT, "publish_overflow");
    assertStatus(() -> b.createTopic("c6", TopicConfig.newBuilder().setInboxMaxBytes(-1L).build()),
        Status.Code.INVALID_ARGUMENT, "inbox_max_bytes", "18446744073709551615");
    assertStatus(() -> b.createTopic("c8", TopicConfig.newBuilder().setPublishWaitMaxEvents(0).build()),
        Status.Code.INVALID_ARGUMENT, "publish_wait_max_events", "[1, 1000000]");
    assertStatus(() -> b.createTopic("c9", TopicConfig.newBuilder().setPublishWaitMaxBytes(100).build()),
        Status.Code.INVALID_ARGUMENT, "publish_wait_max_bytes", "100", "[1024, 1073741824]");
    // defaults are shown on create
    TopicConfig defaults = b.createTopic("c10").getConfig();
    assertThat(defaults.getPublishWaitMaxEvents()).isEqualTo(100_000);
    assertThat(defaults.getPublishWaitMaxBytes()).isEqualTo(64L << 20);
    // zero retention is allowed
    assertThat(b.createTopic("c7", TopicConfig.newBuilder().setRetention(Retention.newBuilder().setMaxEvents(0).setMaxBytes(0)).build())
        .getConfig().getRetention().getMaxEvents()).isZero();
    assertStatus(() -> b.admin().listTopics(ListTopicsRequest.newBuilder().setPageSize(5000).build()), Status.Code.INVALID_ARGUMENT, "page_size");
    assertStatus(() -> b.admin().listTopics(ListTopicsRequest.newBuilder().setPageToken("!!").build()), Status.Code.INVALID_ARGUMENT, "page_token");
  }

  @Test
  void publishBatchesAreChecked() {
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t").build()), Status.Code.INVALID_ARGUMENT, "events is empty");
    Event big = Event.newBuilder().setType("test").setData(ByteString.copyFrom(new byte[2000])).build();
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(TestBroker.event("ok")).addEvents(big).build()),
        Status.Code.INVALID_ARGUMENT, "events[1]", "max_event_bytes", "1000");
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(TestBroker.event("x").toBuilder().setId("i".repeat(300))).build()),
        Status.Code.INVALID_ARGUMENT, "id");
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(TestBroker.event("x").toBuilder().putAttributes("", "v")).build()),
        Status.Code.INVALID_ARGUMENT, "events[0].attributes", "empty key");
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(TestBroker.event("x").toBuilder()
            .setTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(1).setNanos(-5))).build()),
        Status.Code.INVALID_ARGUMENT, "events[0].time", "nanos");
    // a refused batch is refused whole: nothing of it was sequenced
    assertThat(b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats().getPublished()).isZero();
  }

  @Test
  void oversizedMessageIsRefusedWithResourceExhausted() {
    Event huge = Event.newBuilder().setType("test").setData(ByteString.copyFrom(new byte[5 << 20])).build();
    assertStatus(() -> b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(huge).build()), Status.Code.RESOURCE_EXHAUSTED);
  }

  private Status subscribeWith(Consumer<TestSubscriber> frames, SubscribeInit init) throws Exception {
    TestSubscriber s = new TestSubscriber();
    b.subscriber().subscribe(s);
    if (init != null) {
      s.send(SubscribeRequest.newBuilder().setInit(init).build());
    }
    frames.accept(s);
    return s.awaitEnd();
  }

  @Test
  void subscribeFramesAreChecked() throws Exception {
    Status missingInit = subscribeWith(s -> s.grant(10), null);
    assertThat(missingInit.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(missingInit.getDescription()).contains("first frame must be init");

    Status empty = subscribeWith(s -> s.send(SubscribeRequest.getDefaultInstance()), null);
    assertThat(empty.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

    SubscribeInit ok = SubscribeInit.newBuilder().setTopic("t").build();
    Status secondInit = subscribeWith(s -> s.send(SubscribeRequest.newBuilder().setInit(ok).build()), ok);
    assertThat(secondInit.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(secondInit.getDescription()).contains("second init");

    Status overflow = subscribeWith(s -> {
      s.grant(1L << 39);
      s.grant(1L << 39);
      s.grant(1L << 39);
    }, ok);
    assertThat(overflow.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(overflow.getDescription()).contains("credit overflow");

    Status negative = subscribeWith(s -> s.grant(-1), ok);
    assertThat(negative.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

    Status badPolicy = subscribeWith(s -> { }, SubscribeInit.newBuilder().setTopic("t").setOverflowPolicyValue(42).build());
    assertThat(badPolicy.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(badPolicy.getDescription()).contains("overflow_policy").contains("42");

    Status badStart = subscribeWith(s -> { }, SubscribeInit.newBuilder().setTopic("t")
        .setStartPosition(StartPosition.newBuilder().setKindValue(9)).build());
    assertThat(badStart.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(badStart.getDescription()).contains("start_position.kind");

    Status seqZero = subscribeWith(s -> { }, SubscribeInit.newBuilder().setTopic("t")
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_SEQUENCE)).build());
    assertThat(seqZero.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(seqZero.getDescription()).contains(">= 1");

    Status bigBuffer = subscribeWith(s -> { }, SubscribeInit.newBuilder().setTopic("t").setBufferMaxEvents(50_000_000).build());
    assertThat(bigBuffer.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(bigBuffer.getDescription()).contains("buffer_max_events").contains("subscriber_buffer_max_events");

    Status badCredit = subscribeWith(s -> { }, SubscribeInit.newBuilder().setTopic("t").setInitialCredit(Credit.newBuilder().setEvents(-5)).build());
    assertThat(badCredit.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }
}
