package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.grpc.stub.StreamObserver;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * PublishStreamRequest.compact_acks through real gRPC: a client that asks gets one AckRange for a
 * batch sequenced in one run, and one ack per event whenever a range could not say the same (a
 * duplicate, an id the broker assigned); a client that does not ask always gets acks.
 */
@Timeout(60)
class CompactAcksTest {
  private TestBroker b;
  private Stream stream;

  /** A publish stream whose responses are matched to batch ids. */
  static final class Stream implements StreamObserver<PublishStreamResponse> {
    final ConcurrentHashMap<Long, CompletableFuture<PublishStreamResponse>> answers = new ConcurrentHashMap<>();
    StreamObserver<PublishStreamRequest> out;

    CompletableFuture<PublishStreamResponse> answer(long id) {
      return answers.computeIfAbsent(id, k -> new CompletableFuture<>());
    }

    PublishStreamResponse send(long batchId, boolean compact, List<Event> events) throws Exception {
      out.onNext(PublishStreamRequest.newBuilder().setBatchId(batchId).setTopic("t").setCompactAcks(compact).addAllEvents(events).build());
      return answer(batchId).get(10, TimeUnit.SECONDS);
    }

    @Override
    public void onNext(PublishStreamResponse r) {
      answer(r.getBatchId()).complete(r);
    }

    @Override
    public void onError(Throwable t) {
      answers.values().forEach(f -> f.completeExceptionally(t));
    }

    @Override
    public void onCompleted() { }
  }

  private static Event event(String id) {
    return Event.newBuilder().setId(id).setType("test").setData(ByteString.copyFromUtf8("payload of " + id)).build();
  }

  @BeforeEach
  void start() throws Exception {
    b = new TestBroker();
    b.createTopic("t"); // dedup on: the broker's default window
    stream = new Stream();
    stream.out = b.publisherAsync().publishStream(stream);
  }

  @AfterEach
  void stop() throws Exception {
    stream.out.onCompleted();
    b.close();
  }

  @Test
  void aBatchSequencedInOneRunIsAnsweredWithOneRangeWhenTheClientAsks() throws Exception {
    PublishStreamResponse r = stream.send(1, true, List.of(event("a"), event("b"), event("c")));
    assertThat(r.hasError()).isFalse();
    assertThat(r.getAcksList()).isEmpty();
    assertThat(r.hasRange()).isTrue();
    assertThat(r.getRange().getFirstSequence()).isEqualTo(1);
    assertThat(r.getRange().getCount()).isEqualTo(3);
    assertThat(r.getRange().getEpoch()).isPositive();
    assertThat(r.getRange().getPublishTime()).isNotEqualTo(Timestamp.getDefaultInstance());

    // the same numbers as the acks a client that does not ask gets for its batch
    PublishStreamResponse acks = stream.send(2, false, List.of(event("d"), event("e")));
    assertThat(acks.hasRange()).isFalse();
    assertThat(acks.getAcksList()).extracting(PublishAck::getSequence).containsExactly(4L, 5L);
    assertThat(acks.getAcksList()).extracting(PublishAck::getEpoch).containsOnly(r.getRange().getEpoch());
    assertThat(acks.getAcksList()).extracting(PublishAck::getId).containsOnly("");

    PublishStreamResponse next = stream.send(3, true, List.of(event("f")));
    assertThat(next.getRange().getFirstSequence()).isEqualTo(6);
    assertThat(next.getRange().getCount()).isEqualTo(1);
  }

  @Test
  void aBatchWithADuplicateOrAnIdTheBrokerAssignedGetsOneAckPerEventEvenWhenTheClientAsks() throws Exception {
    assertThat(stream.send(1, true, List.of(event("a"), event("b"))).getRange().getCount()).isEqualTo(2);

    // "b" again: a duplicate keeps its first sequence, which a range cannot say
    PublishStreamResponse dup = stream.send(2, true, List.of(event("c"), event("b")));
    assertThat(dup.hasRange()).isFalse();
    assertThat(dup.getAcksList()).extracting(PublishAck::getSequence).containsExactly(3L, 2L);
    assertThat(dup.getAcksList()).extracting(PublishAck::getDuplicate).containsExactly(false, true);

    // an event without an id: the broker's id comes back in its ack, which a range cannot carry
    Event noId = Event.newBuilder().setType("test").setData(ByteString.copyFromUtf8("no id")).build();
    PublishStreamResponse assigned = stream.send(3, true, List.of(event("d"), noId));
    assertThat(assigned.hasRange()).isFalse();
    assertThat(assigned.getAcksList()).extracting(PublishAck::getSequence).containsExactly(4L, 5L);
    assertThat(assigned.getAcks(0).getId()).isEmpty();
    assertThat(assigned.getAcks(1).getId()).isNotEmpty();
  }
}
