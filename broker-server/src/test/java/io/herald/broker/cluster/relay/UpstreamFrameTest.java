package io.herald.broker.cluster.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.GapReason;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.EventBatch;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscriptionStarted;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** The relay reads the owner's frames without re-encoding events: each event keeps the owner's bytes. */
class UpstreamFrameTest {

  private static DeliveredEvent event(long seq, long epoch) {
    return DeliveredEvent.newBuilder().setSequence(seq).setEpoch(epoch)
        .setPublishTime(Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(123_456_789))
        .setEvent(Event.newBuilder().setType("t").setId("id-" + seq).setData(ByteString.copyFromUtf8("data " + seq)))
        .build();
  }

  @Test
  void aBatchKeepsEachEventsBytesAndReadsItsPosition() throws IOException {
    DeliveredEvent a = event(7, 3);
    DeliveredEvent b = event(8, 4);
    UpstreamFrame f = UpstreamFrame.of(SubscribeResponse.newBuilder().setBatch(EventBatch.newBuilder().addEvents(a).addEvents(b)).build());
    assertThat(f.started).isNull();
    assertThat(f.gap).isNull();
    assertThat(f.events).hasSize(2);
    assertThat(f.events.get(0).sequence()).isEqualTo(7);
    assertThat(f.events.get(0).epoch()).isEqualTo(3);
    assertThat(f.events.get(0).publishTimeMillis()).isEqualTo(1_700_000_000_123L);
    assertThat(f.events.get(0).encoded()).isEqualTo(a.toByteArray());
    assertThat(f.events.get(1).sequence()).isEqualTo(8);
    assertThat(f.events.get(1).encoded()).isEqualTo(b.toByteArray());
  }

  @Test
  void startedAndGapFramesAreRead() throws IOException {
    UpstreamFrame s = UpstreamFrame.of(SubscribeResponse.newBuilder()
        .setStarted(SubscriptionStarted.newBuilder().setSubscriptionId("sub-1").setStartSequence(5).setStartEpoch(9)).build());
    assertThat(s.started.getStartSequence()).isEqualTo(5);
    assertThat(s.events).isNull();
    UpstreamFrame g = UpstreamFrame.of(SubscribeResponse.newBuilder().setGap(GapNotice.newBuilder().setFirstSequence(4).setLastSequence(6)
        .setCount(3).setReason(io.herald.proto.v1.GapReason.GAP_REASON_OWNER_CHANGE).setEpoch(2).setCountUnknown(true)).build());
    assertThat(g.gap).isEqualTo(new Gap(4, 6, GapReason.OWNER_CHANGE, 2, true));
  }

  @Test
  void malformedFramesAreRefused() {
    assertThatThrownBy(() -> UpstreamFrame.of(SubscribeResponse.getDefaultInstance())).isInstanceOf(IOException.class);
    assertThatThrownBy(() -> UpstreamFrame.of(SubscribeResponse.newBuilder().setGap(GapNotice.newBuilder().setFirstSequence(4)
        .setLastSequence(6).setReasonValue(99)).build())).isInstanceOf(IOException.class).hasMessageContaining("99");
    assertThatThrownBy(() -> UpstreamFrame.of(SubscribeResponse.newBuilder().setBatch(EventBatch.newBuilder()
        .addEvents(DeliveredEvent.newBuilder().setEpoch(1))).build())).isInstanceOf(IOException.class);
  }
}
