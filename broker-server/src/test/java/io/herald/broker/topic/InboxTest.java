package io.herald.broker.topic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.TopicConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The inbox as a data structure, one thread; its invariants are checked after every test. */
@Timeout(10)
class InboxTest {
  /** A BLOCK topic: inbox of 10 events / 1 KiB, wait line of 20 events / 1 KiB. */
  static final TopicSettings BLOCK = TopicSettings.DEFAULTS.merge(TopicConfig.newBuilder()
      .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
      .setInboxMaxEvents(10).setInboxMaxBytes(1024)
      .setPublishWaitMaxEvents(20).setPublishWaitMaxBytes(1024)
      .build());

  private final Inbox inbox = new Inbox();
  /** The settings the test offers under, for the final invariant check. */
  private TopicSettings settings = BLOCK;

  @AfterEach
  void invariantsHold() {
    inbox.checkInvariants(settings);
  }

  /** A batch of {@code events} events of 10 bytes each that records what its listener was told. */
  static final class Batch implements PublishBatch.Listener {
    final PublishBatch batch;
    final List<String> told = Collections.synchronizedList(new ArrayList<>());

    Batch(int events) {
      List<ByteString> evs = Collections.nCopies(events, ByteString.copyFrom(new byte[10]));
      ByteString[] ids = new ByteString[events];
      java.util.Arrays.fill(ids, ByteString.EMPTY);
      batch = new PublishBatch(evs, ids, new ByteString[events], new boolean[events], 10L * events, this);
    }

    @Override
    public void admitted() {
      told.add("admitted");
    }

    @Override
    public void sequenced(List<PublishAck> acks) {
      told.add("sequenced");
    }

    @Override
    public void failed(StatusRuntimeException status) {
      told.add("failed");
    }
  }

  private Admission offer(Batch b) {
    Admission a = inbox.offer(b.batch, BLOCK);
    inbox.checkInvariants(BLOCK);
    return a;
  }

  private PublishBatch take() throws InterruptedException {
    PublishBatch b = inbox.take();
    inbox.checkInvariants(BLOCK);
    return b;
  }

  private List<PublishBatch> release(PublishBatch b) {
    List<PublishBatch> in = inbox.release(b, BLOCK);
    inbox.checkInvariants(BLOCK);
    return in;
  }

  @Test
  void fullInboxPutsBatchesInLineAndReleaseLetsThemInInOrder() throws Exception {
    Batch first = new Batch(8);
    Batch second = new Batch(5);
    Batch third = new Batch(1);
    assertThat(offer(first)).isEqualTo(Admission.ADMITTED);
    assertThat(offer(second)).isEqualTo(Admission.WAITING);
    assertThat(offer(third)).isEqualTo(Admission.WAITING); // fits, but the line goes first
    assertThat(inbox.depthEvents()).isEqualTo(8);

    PublishBatch taken = take();
    assertThat(taken).isSameAs(first.batch);
    assertThat(inbox.depthEvents()).isEqualTo(8); // in progress still counts
    assertThat(release(taken)).containsExactly(second.batch, third.batch);
    assertThat(inbox.depthEvents()).isEqualTo(6);
    assertThat(inbox.depthBytes()).isEqualTo(60);
  }

  @Test
  void emptyInboxTakesABatchLargerThanItsBound() throws Exception {
    Batch big = new Batch(50);
    assertThat(offer(big)).isEqualTo(Admission.ADMITTED);
    assertThat(release(take())).isEmpty();
    assertThat(inbox.depthEvents()).isZero();
  }

  @Test
  void closeAllWhileABatchIsInProgressKeepsItInTheDepthUntilReleased() throws Exception {
    Batch inProgress = new Batch(4);
    Batch queued = new Batch(3);
    Batch waiting = new Batch(9);
    offer(inProgress);
    PublishBatch taken = take();
    offer(queued);
    assertThat(offer(waiting)).isEqualTo(Admission.WAITING);

    List<PublishBatch> failed = inbox.closeAll();
    inbox.checkInvariants(BLOCK);
    assertThat(failed).containsExactlyInAnyOrder(queued.batch, waiting.batch);
    assertThat(inbox.depthEvents()).isEqualTo(4);
    assertThat(release(taken)).isEmpty();
    assertThat(inbox.depthEvents()).isZero();
    assertThat(inbox.depthBytes()).isZero();
    assertThat(take()).isNull();
  }

  @Test
  void closeForNewFailsTheLineButLetsTheQueueBeSequenced() throws Exception {
    Batch queued = new Batch(8);
    Batch waiting = new Batch(8);
    offer(queued);
    offer(waiting);
    assertThat(inbox.closeForNew()).containsExactly(waiting.batch);
    inbox.checkInvariants(BLOCK);
    assertThat(offer(new Batch(1))).isEqualTo(Admission.CLOSED);
    assertThat(release(take())).isEmpty();
    assertThat(take()).isNull();
    assertThat(inbox.awaitEmpty(0)).isTrue();
  }

  @Test
  void releasingABatchThatWasNotTakenIsRefused() {
    Batch b = new Batch(1);
    offer(b);
    assertThatThrownBy(() -> inbox.release(b.batch, BLOCK)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void withdrawTakesAWaitingBatchOutAndLetsInWhatNowFitsBehindIt() throws Exception {
    Batch inside = new Batch(6);
    Batch head = new Batch(8);
    Batch behind = new Batch(3);
    offer(inside);
    assertThat(offer(head)).isEqualTo(Admission.WAITING);
    assertThat(offer(behind)).isEqualTo(Admission.WAITING);
    assertThat(inbox.waitingEvents()).isEqualTo(11);
    assertThat(inbox.waitingBytes()).isEqualTo(110);

    assertThat(inbox.withdraw(head.batch, BLOCK)).isTrue();
    inbox.checkInvariants(BLOCK);
    assertThat(head.told).isEmpty(); // a withdrawn batch's publisher is gone: nobody to tell
    assertThat(behind.told).containsExactly("admitted");
    assertThat(inbox.waitingEvents()).isZero();
    assertThat(inbox.waitingBytes()).isZero();
    assertThat(inbox.depthEvents()).isEqualTo(9);
    assertThat(inbox.withdraw(behind.batch, BLOCK)).as("already let in").isFalse();
    assertThat(inbox.withdraw(head.batch, BLOCK)).as("twice").isFalse();
    assertThat(take()).isSameAs(inside.batch);
    assertThat(take()).isSameAs(behind.batch);
  }

  @Test
  void waitLineIsBoundedInEventsButAnEmptyLineTakesAnyBatch() {
    offer(new Batch(10));
    Batch huge = new Batch(30);
    assertThat(offer(huge)).as("an empty line takes one batch beyond its bound").isEqualTo(Admission.WAITING);
    assertThat(offer(new Batch(1))).isEqualTo(Admission.LINE_FULL);
    assertThat(inbox.withdraw(huge.batch, BLOCK)).isTrue();
    assertThat(offer(new Batch(12))).isEqualTo(Admission.WAITING);
    assertThat(offer(new Batch(8))).isEqualTo(Admission.WAITING);
    assertThat(offer(new Batch(1))).isEqualTo(Admission.LINE_FULL);
    assertThat(inbox.waitingEvents()).isEqualTo(20);
  }

  @Test
  void waitLineIsBoundedInBytes() {
    TopicSettings s = BLOCK.merge(TopicConfig.newBuilder().setPublishWaitMaxEvents(1_000).build());
    settings = s;
    assertThat(inbox.offer(new Batch(10).batch, s)).isEqualTo(Admission.ADMITTED);
    for (int i = 0; i < 102; i++) { // 102 waiting batches of one 10-byte event: 1,020 bytes
      assertThat(inbox.offer(new Batch(1).batch, s)).isEqualTo(Admission.WAITING);
    }
    assertThat(inbox.offer(new Batch(1).batch, s)).isEqualTo(Admission.LINE_FULL);
    assertThat(inbox.waitingBytes()).isEqualTo(1_020);
    inbox.checkInvariants(s);
  }

  @Test
  void rejectTopicRefusesInsteadOfQueueing() {
    TopicSettings reject = BLOCK.merge(TopicConfig.newBuilder().setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_REJECT).build());
    settings = reject;
    assertThat(inbox.offer(new Batch(10).batch, reject)).isEqualTo(Admission.ADMITTED);
    assertThat(inbox.offer(new Batch(1).batch, reject)).isEqualTo(Admission.FULL);
    assertThat(inbox.waitingEvents()).isZero();
  }
}
