package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscriptionInfo;
import io.herald.proto.v1.TopicConfig;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the proto comments promise about events, duplicates, byte credit and {@code max_block = 0},
 * checked over gRPC.
 */
@Timeout(60)
class ApiContractTest {
  private TestBroker b;

  @BeforeEach
  void start() throws Exception {
    b = new TestBroker();
    b.createTopic("t");
  }

  @AfterEach
  void stop() throws Exception {
    b.close();
  }

  private PublishAck publishOne(Event e) {
    return b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(e).build()).getAcks(0);
  }

  private long published() {
    return b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats().getPublished();
  }

  @Test
  void anEventWithoutATypeIsRefusedNamingTheField() {
    Event noType = Event.newBuilder().setSource("/svc").setData(ByteString.copyFromUtf8("x")).build();
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> b.publisher().publish(
        PublishRequest.newBuilder().setTopic("t").addEvents(TestBroker.event("ok")).addEvents(noType).build()));
    ErrorDetailsTest.assertError(e, Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "events[1].type", "index", "1"));
    assertThat(e.getStatus().getDescription()).contains("events[1].type");
    assertThat(published()).as("the batch is refused whole").isZero();
    // the type is all an event needs
    assertThat(publishOne(Event.newBuilder().setType("t").build()).getSequence()).isEqualTo(1);
  }

  @Test
  void aDuplicateIsTheSameIdFromTheSameSource() {
    PublishAck a = publishOne(TestBroker.event("1").toBuilder().setSource("/a").setId("x").build());
    PublishAck fromB = publishOne(TestBroker.event("2").toBuilder().setSource("/b").setId("x").build());
    PublishAck againA = publishOne(TestBroker.event("3").toBuilder().setSource("/a").setId("x").build());
    PublishAck noSource = publishOne(TestBroker.event("4").toBuilder().setId("x").build());
    PublishAck noSourceAgain = publishOne(TestBroker.event("5").toBuilder().setId("x").build());
    // no mix-up where source and id meet: ("/ab", "c") is not ("/a", "bc")
    PublishAck ab = publishOne(TestBroker.event("6").toBuilder().setSource("/ab").setId("c").build());
    PublishAck aBc = publishOne(TestBroker.event("7").toBuilder().setSource("/a").setId("bc").build());

    assertThat(fromB.getDuplicate()).as("same id, another source: another event").isFalse();
    assertThat(fromB.getSequence()).isEqualTo(a.getSequence() + 1);
    assertThat(againA.getDuplicate()).isTrue();
    assertThat(againA.getSequence()).isEqualTo(a.getSequence());
    assertThat(noSource.getDuplicate()).isFalse();
    assertThat(noSourceAgain.getDuplicate()).isTrue();
    assertThat(noSourceAgain.getSequence()).isEqualTo(noSource.getSequence());
    assertThat(ab.getDuplicate()).isFalse();
    assertThat(aBc.getDuplicate()).isFalse();
    assertThat(published()).isEqualTo(5);
  }

  private SubscriptionInfo info() {
    return b.admin().listSubscriptions(ListSubscriptionsRequest.newBuilder().setTopic("t").build()).getSubscriptions(0);
  }

  @Test
  void byteCreditCountsTheSerializedDeliveredEventAndAnOvershootIsOwed() throws Exception {
    TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
        .setInitialCredit(Credit.newBuilder().setEvents(100).setBytes(100)).build());
    Event event = TestBroker.event("").toBuilder().setId("e1").setData(ByteString.copyFrom(new byte[1000])).build();
    publishOne(event);
    DeliveredEvent first = sub.awaitEvents(1).get(0);
    long size = first.getSerializedSize();
    assertThat(size).as("the envelope counts too, not only data").isGreaterThan(event.getSerializedSize()).isGreaterThan(1000);
    // the event was sent with 100 bytes of credit left: the rest is owed
    SubscriptionInfo owing = info();
    assertThat(owing.getCreditBytes()).isZero();
    assertThat(owing.getCreditBytesDebt()).isEqualTo(size - 100);
    assertThat(owing.getCreditEvents()).isEqualTo(99);

    // nothing more is sent until the debt is repaid and some credit is left
    publishOne(event.toBuilder().setId("e2").build());
    sub.grant(0, size - 100);
    await().atMost(Duration.ofSeconds(10)).until(() -> info().getCreditBytesDebt() == 0);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> sub.events().size() == 1);
    sub.grant(0, 1);
    DeliveredEvent second = sub.awaitEvents(2).get(1);
    await().atMost(Duration.ofSeconds(10)).until(() -> info().getCreditBytesDebt() == second.getSerializedSize() - 1);
  }

  @Test
  void maxBlockZeroEvictsABlockSubscriberTheFirstTimeItsBufferIsFull() throws Exception {
    b.createTopic("zero", TopicConfig.newBuilder().setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(2).setMaxBlock(com.google.protobuf.Duration.getDefaultInstance()).build());
    TestSubscriber sub = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("zero").build());
    b.publish("zero", "e", 2, 1); // fills the buffer: no credit was granted
    assertThat(sub.ended).isNotDone();
    b.publish("zero", "f", 1, 1); // finds it full: no wait at all
    sub.awaitEnd();
    ErrorDetailsTest.assertError(sub.error, Status.Code.RESOURCE_EXHAUSTED, "SLOW_CONSUMER", Map.of("topic", "zero", "maxBlock", "0s"));
    assertThat(b.admin().getTopic(GetTopicRequest.newBuilder().setName("zero").build()).getTopic().getStats()
        .getSlowConsumerEvictions()).isEqualTo(1);
  }
}
