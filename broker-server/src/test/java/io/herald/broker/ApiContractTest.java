package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishRequest;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the proto comments promise about events and duplicates, checked over gRPC.
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
}
