package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;

import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.TopicConfig;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class StartPositionAndDedupTest {
  private TestBroker b;

  @BeforeEach
  void start() throws Exception {
    b = new TestBroker();
    b.createTopic("t", TopicConfig.newBuilder().setRetention(Retention.newBuilder().setMaxEvents(50)).build());
  }

  @AfterEach
  void stop() throws Exception {
    b.close();
  }

  private TestSubscriber subscribe(StartPositionKind kind, long seq) throws Exception {
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t")
        .setStartPosition(StartPosition.newBuilder().setKind(kind).setSequence(seq)).build());
    s.grant(10_000);
    return s;
  }

  private static List<Long> seqs(List<DeliveredEvent> events) {
    return events.stream().map(DeliveredEvent::getSequence).toList();
  }

  @Test
  void latestGetsOnlyEventsAfterItStarted() throws Exception {
    b.publish("t", "old", 10, 10);
    TestSubscriber s = subscribe(StartPositionKind.START_POSITION_KIND_LATEST, 0);
    assertThat(s.started.get().getStartSequence()).isEqualTo(11);
    b.publish("t", "new", 5, 5);
    assertThat(seqs(s.awaitEvents(5))).containsExactly(11L, 12L, 13L, 14L, 15L);
    assertThat(s.events()).allSatisfy(e -> assertThat(e.getEvent().getData().toStringUtf8()).startsWith("new"));
  }

  @Test
  void earliestReplaysWhatIsRetainedThenGoesLive() throws Exception {
    b.publish("t", "e", 80, 20); // retention keeps the last 50: 31..80
    TestSubscriber s = subscribe(StartPositionKind.START_POSITION_KIND_EARLIEST, 0);
    assertThat(s.started.get().getStartSequence()).isEqualTo(31);
    // the replay first (published later, live events would push 31.. out of the 50-event ring)
    s.awaitEvents(50);
    b.publish("t", "live", 20, 5);
    assertThat(seqs(s.awaitEvents(70))).containsExactlyElementsOf(LongStream.rangeClosed(31, 100).boxed().toList());
    assertThat(s.gaps()).isEmpty();
  }

  @Test
  void sequenceStartsExactlyThereAcrossTheReplayToLiveSwitch() throws Exception {
    // retention larger than everything published here, so a slow writer can never fall out of it
    b.createTopic("big", TopicConfig.newBuilder().setRetention(Retention.newBuilder().setMaxEvents(10_000)).build());
    b.publish("big", "e", 40, 10);
    TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("big")
        .setStartPosition(StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_SEQUENCE).setSequence(35)).build());
    s.grant(10_000);
    // publish concurrently with the catch-up: the switch to live must neither skip nor repeat
    Thread publisher = Thread.ofPlatform().start(() -> b.publish("big", "live", 500, 1));
    publisher.join();
    assertThat(seqs(s.awaitEvents(506))).containsExactlyElementsOf(LongStream.rangeClosed(35, 540).boxed().toList());
  }

  @Test
  void sequenceNoLongerRetainedStartsWithARetentionGap() throws Exception {
    b.publish("t", "e", 100, 25); // retained: 51..100
    TestSubscriber s = subscribe(StartPositionKind.START_POSITION_KIND_SEQUENCE, 10);
    // the start is the first event it can be sent: the first retained one (the lost range comes first as a gap)
    assertThat(s.started.get().getStartSequence()).isEqualTo(51);
    s.awaitAccounted(91);
    Object first = s.frames().get(0);
    assertThat(first).isInstanceOf(GapNotice.class);
    GapNotice g = (GapNotice) first;
    assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_RETENTION);
    assertThat(g.getFirstSequence()).isEqualTo(10);
    assertThat(g.getLastSequence()).isEqualTo(50);
    assertThat(g.getCount()).isEqualTo(41);
    assertThat(seqs(s.events())).containsExactlyElementsOf(LongStream.rangeClosed(51, 100).boxed().toList());
  }

  @Test
  void sequenceInTheFutureWaitsForIt() throws Exception {
    b.publish("t", "e", 5, 5);
    TestSubscriber s = subscribe(StartPositionKind.START_POSITION_KIND_SEQUENCE, 8);
    assertThat(s.started.get().getStartSequence()).isEqualTo(8); // a start in the future: waits for it, as the proto says
    b.publish("t", "f", 5, 5);
    assertThat(seqs(s.awaitEvents(3))).containsExactly(8L, 9L, 10L);
    assertThat(s.gaps()).isEmpty();
  }

  @Test
  void repeatedIdIsAckedWithItsFirstSequenceAndDeliveredOnce() throws Exception {
    TestSubscriber s = subscribe(StartPositionKind.START_POSITION_KIND_LATEST, 0);
    Event e = TestBroker.event("once").toBuilder().setId("order-42").build();
    PublishAck first = b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(e).build()).getAcks(0);
    b.publish("t", "between", 3, 3);
    // a retry, in a batch with a new event and the same id twice
    List<PublishAck> retry = b.publisher().publish(PublishRequest.newBuilder().setTopic("t")
        .addEvents(e).addEvents(TestBroker.event("new").toBuilder().setId("order-43")).addEvents(e).build()).getAcksList();
    assertThat(first.getDuplicate()).isFalse();
    assertThat(first.getId()).as("the publisher's own id is not echoed").isEmpty();
    assertThat(retry.get(0).getDuplicate()).isTrue();
    assertThat(retry.get(0).getSequence()).isEqualTo(first.getSequence());
    assertThat(retry.get(0).getPublishTime()).isEqualTo(first.getPublishTime());
    assertThat(retry.get(1).getDuplicate()).isFalse();
    assertThat(retry.get(1).getSequence()).isEqualTo(5);
    assertThat(retry.get(2).getDuplicate()).isTrue();
    assertThat(seqs(s.awaitEvents(5))).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(b.admin().getTopic(GetTopicRequest.newBuilder().setName("t").build()).getTopic().getStats().getDuplicates()).isEqualTo(2);
  }

  @Test
  void brokerAssignsIdsWhenEmpty() throws Exception {
    List<PublishAck> acks = b.publish("t", "e", 3, 3);
    assertThat(acks).extracting(PublishAck::getId).allSatisfy(id -> assertThat(id).hasSize(36)).doesNotHaveDuplicates();
  }
}
