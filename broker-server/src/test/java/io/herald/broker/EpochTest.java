package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.Topic;
import io.herald.proto.v1.TopicConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Positions name the topic's incarnation: epochs across re-creation, crashes and clean restarts; durable floors. */
@Timeout(120)
class EpochTest {

  private static Topic describe(TestBroker b, String name) {
    return b.admin().getTopic(GetTopicRequest.newBuilder().setName(name).build()).getTopic();
  }

  @Test
  void aResumeIntoARecreatedTopicIsToldSoAndStartsAtItsFirstEvent() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t");
      List<PublishAck> old = b.publish("t", "old", 20, 10);
      long oldEpoch = old.get(0).getEpoch();
      assertThat(describe(b, "t").getEpoch()).isEqualTo(oldEpoch);
      b.admin().deleteTopic(DeleteTopicRequest.newBuilder().setName("t").build());
      b.createTopic("t");
      List<PublishAck> fresh = b.publish("t", "new", 5, 5);
      assertThat(fresh.get(0).getSequence()).isEqualTo(1);
      assertThat(fresh.get(0).getEpoch()).isGreaterThan(oldEpoch);
      // the subscriber had received up to 15 of the old incarnation
      TestSubscriber s = TestSubscriber.started(b.subscriber(), TestSubscriber.resumeAt("t", oldEpoch, 16));
      s.awaitAccounted(5);
      GapNotice g = (GapNotice) s.frames().get(0);
      assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_TOPIC_RECREATED);
      assertThat(g.getEpoch()).isEqualTo(oldEpoch);
      assertThat(g.getFirstSequence()).isEqualTo(16);
      assertThat(g.getCountUnknown()).isTrue();
      assertThat(s.events()).extracting(DeliveredEvent::getSequence).containsExactly(1L, 2L, 3L, 4L, 5L);
      assertThat(s.events()).allSatisfy(e -> assertThat(e.getEpoch()).isEqualTo(fresh.get(0).getEpoch()));
    }
  }

  @Test
  void aPositionFromANewerEpochIsRefused() throws Exception {
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t");
      long epoch = describe(b, "t").getEpoch();
      TestSubscriber s = TestSubscriber.open(b.subscriber(), TestSubscriber.resumeAt("t", epoch + 1_000_000, 1));
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    }
  }

  @Test
  void autoCreatedTopicsOfABrokerWithoutDataGetANewEpochAfterARestart() throws Exception {
    long before;
    try (TestBroker b = new TestBroker(c -> c.withAutoCreateTopics(true))) {
      before = b.publish("auto", "e", 10, 10).get(0).getEpoch();
    }
    try (TestBroker b = new TestBroker(c -> c.withAutoCreateTopics(true))) {
      PublishAck a = b.publish("auto", "e", 1, 1).get(0);
      assertThat(a.getSequence()).isEqualTo(1);
      assertThat(a.getEpoch()).isGreaterThan(before);
      TestSubscriber s = TestSubscriber.started(b.subscriber(), TestSubscriber.resumeAt("auto", before, 11));
      s.awaitAccounted(1);
      assertThat(s.gaps().get(0).getReason()).isEqualTo(GapReason.GAP_REASON_TOPIC_RECREATED);
      assertThat(s.events()).extracting(DeliveredEvent::getSequence).containsExactly(1L);
    }
  }

  /** A crash: the data dir as it was while the broker ran (no clean-stop record), started again. */
  private static Path crash(TestBroker b, Path dir) throws Exception {
    b.channel.shutdownNow();
    b.broker.haltForTests();
    return dir;
  }

  @Test
  void afterACrashTheGapSaysTheCountIsUnknownAndTheTopicIsInANewEpoch(@TempDir Path dir) throws Exception {
    TestBroker first = new TestBroker(c -> c.withDataDir(dir));
    first.createTopic("t");
    long epoch = first.publish("t", "e", 10, 10).get(0).getEpoch();
    Path copy = crash(first, dir);
    try (TestBroker b = new TestBroker(c -> c.withDataDir(copy))) {
      Topic t = describe(b, "t");
      assertThat(t.getEpoch()).isGreaterThan(epoch);
      assertThat(t.getEpochCause()).isEqualTo(EpochCause.EPOCH_CAUSE_CRASH_RECOVERY);
      long floor = t.getEpochStartSequence();
      assertThat(floor).isGreaterThan(10);
      PublishAck a = b.publish("t", "f", 1, 1).get(0);
      assertThat(a.getSequence()).isEqualTo(floor);
      assertThat(a.getEpoch()).isEqualTo(t.getEpoch());
      // the subscriber had 1..5: what followed is lost, and nobody knows how much of it existed
      TestSubscriber s = TestSubscriber.started(b.subscriber(), TestSubscriber.resumeAt("t", epoch, 6));
      s.awaitEvents(1);
      GapNotice g = s.gaps().get(0);
      assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_CRASH_RECOVERY);
      assertThat(g.getEpoch()).isEqualTo(epoch); // the epoch of its first sequence, the old one
      assertThat(g.getCountUnknown()).isTrue();
      assertThat(g.getFirstSequence()).isEqualTo(6);
      assertThat(g.getLastSequence()).isEqualTo(floor - 1);
      assertThat(s.events()).extracting(DeliveredEvent::getSequence).containsExactly(floor);
    }
  }

  @Test
  void aCleanRestartAfterACrashStillSaysWhatTheCrashLost(@TempDir Path dir) throws Exception {
    TestBroker first = new TestBroker(c -> c.withDataDir(dir));
    first.createTopic("t");
    long epoch = first.publish("t", "e", 10, 10).get(0).getEpoch();
    Path copy = crash(first, dir);
    long floor;
    try (TestBroker b = new TestBroker(c -> c.withDataDir(copy))) {
      floor = describe(b, "t").getEpochStartSequence();
      b.publish("t", "f", 5, 5);
    } // clean stop
    try (TestBroker b = new TestBroker(c -> c.withDataDir(copy))) {
      TestSubscriber s = TestSubscriber.started(b.subscriber(), TestSubscriber.resumeAt("t", epoch, 6));
      b.publish("t", "g", 1, 1);
      s.awaitEvents(1);
      List<GapNotice> gaps = s.gaps();
      assertThat(gaps.get(0).getReason()).isEqualTo(GapReason.GAP_REASON_CRASH_RECOVERY);
      assertThat(gaps.get(0).getLastSequence()).isEqualTo(floor - 1);
      assertThat(gaps.get(1).getReason()).isEqualTo(GapReason.GAP_REASON_RETENTION);
      assertThat(gaps.get(1).getFirstSequence()).isEqualTo(floor);
      assertThat(gaps.get(1).getCount()).isEqualTo(5);
      assertThat(gaps.get(1).getCountUnknown()).isFalse();
    }
  }

  @Test
  void aLoopRestartAfterACrashDoesNotForgetWhatTheCrashLost(@TempDir Path dir) throws Exception {
    TestBroker first = new TestBroker(c -> c.withDataDir(dir));
    first.createTopic("t");
    long epoch = first.publish("t", "e", 10, 10).get(0).getEpoch();
    Path copy = crash(first, dir);
    long floor;
    try (TestBroker b = new TestBroker(c -> c.withDataDir(copy))) {
      floor = describe(b, "t").getEpochStartSequence();
      java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean(true);
      b.broker.topics().local("t").orElseThrow().faultHookForTests((phase, batch) -> {
        if (phase == io.herald.broker.topic.LoopPhase.SEQUENCE && once.getAndSet(false)) {
          throw new IllegalStateException("injected");
        }
      });
      assertThatThrownBy(() -> b.publish("t", "f", 1, 1)).isInstanceOf(StatusRuntimeException.class);
      // the refused publisher is answered first; the new epoch is recorded right after
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
          .until(() -> describe(b, "t").getEpochCause() == EpochCause.EPOCH_CAUSE_LOOP_RESTARTED);
      b.publish("t", "f", 1, 1);
    } // clean stop
    try (TestBroker b = new TestBroker(c -> c.withDataDir(copy))) {
      assertThat(describe(b, "t").getCrashLostBelow()).isEqualTo(floor);
      TestSubscriber s = TestSubscriber.started(b.subscriber(), TestSubscriber.resumeAt("t", epoch, 6));
      b.publish("t", "g", 1, 1);
      s.awaitEvents(1);
      GapNotice g = s.gaps().get(0);
      assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_CRASH_RECOVERY);
      assertThat(g.getCountUnknown()).isTrue();
      assertThat(g.getLastSequence()).isEqualTo(floor - 1);
    }
  }

  @Test
  void aCleanRestartKeepsTheEpochAndCountsExactly(@TempDir Path dir) throws Exception {
    long epoch;
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      b.createTopic("t");
      epoch = b.publish("t", "e", 10, 10).get(0).getEpoch();
    }
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      Topic t = describe(b, "t");
      assertThat(t.getEpoch()).isEqualTo(epoch);
      PublishAck a = b.publish("t", "f", 1, 1).get(0);
      assertThat(a.getSequence()).isEqualTo(11);
      TestSubscriber s = TestSubscriber.started(b.subscriber(), TestSubscriber.resumeAt("t", epoch, 6));
      s.awaitEvents(1);
      GapNotice g = s.gaps().get(0);
      assertThat(g.getReason()).isEqualTo(GapReason.GAP_REASON_RETENTION);
      assertThat(g.getCountUnknown()).isFalse();
      assertThat(g.getCount()).isEqualTo(5);
    }
  }

  @Test
  void aFloorThatCannotBeWrittenStopsNewSequencesInsteadOfReusingThemLater(@TempDir Path dir) throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      b.createTopic("t");
      // the metadata refuses floor writes (a full disk, a lost quorum)
      b.broker.metadata().failFloorWritesForTests(true);
      long accepted = 0;
      StatusRuntimeException refused = null;
      for (int i = 0; i < 200 && refused == null; i++) {
        try {
          accepted += b.publish("t", "e", 1_000, 1_000).size();
        } catch (StatusRuntimeException e) {
          refused = e;
        }
      }
      assertThat(refused).isNotNull();
      assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(refused.getStatus().getDescription()).contains("sequence reservation");
      assertThat(accepted).isLessThanOrEqualTo(100_000); // only what the first durable reservation covered
      // asking again for the same floor while the disk still refuses is refused again, not taken
      // for done because the floor is already in memory
      for (int i = 0; i < 3; i++) {
        assertThatThrownBy(() -> b.publish("t", "again", 1_000, 1_000))
            .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
      }
      // the disk is back: the topic goes on, and the file covers every sequence used
      b.broker.metadata().failFloorWritesForTests(false);
      PublishAck a = b.publish("t", "f", 1, 1).get(0);
      assertThat(a.getSequence()).isEqualTo(accepted + 1);
      long floor = b.broker.metadata().get("t").orElseThrow().sequenceFloor();
      assertThat(floor).isGreaterThan(a.getSequence());
    }
  }

  @Test
  void deletingBusyTopicsNeverFreezesMetadata(@TempDir Path dir) throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir))) {
      for (int i = 0; i < 200; i++) {
        b.createTopic("idle-" + i);
      }
      for (int round = 0; round < 10; round++) {
        String name = "busy-" + round;
        b.createTopic(name, TopicConfig.newBuilder().setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
            .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600)).setSubscriberBufferMaxEvents(10).build());
        TestSubscriber stuck = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic(name).build());
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Void> pub = CompletableFuture.runAsync(() -> {
          for (int i = 0; i < 1_000 && !stop.get(); i++) {
            try {
              b.publish(name, "e", 100, 100);
            } catch (StatusRuntimeException e) {
              return; // deleted under it
            }
          }
        });
        long start = System.nanoTime();
        b.admin().deleteTopic(DeleteTopicRequest.newBuilder().setName(name).build());
        long deleteMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        // another topic's metadata call right after is not held up either
        start = System.nanoTime();
        describe(b, "idle-7");
        long getMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        stop.set(true);
        pub.get(30, TimeUnit.SECONDS);
        assertThat(stuck.awaitEnd().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(deleteMillis).as("DeleteTopic of a busy topic").isLessThan(3_000);
        assertThat(getMillis).isLessThan(3_000);
      }
    }
  }

  @Test
  void autoCreateWithADataDirNeverWritesOnATransportThread(@TempDir Path dir) throws Exception {
    // the metadata store refuses to write on a transport thread (TransportThreads.checkMayBlock):
    // before, auto-create wrote topics.json on the Netty event loop that received the publish
    try (TestBroker b = new TestBroker(c -> c.withDataDir(dir).withAutoCreateTopics(true))) {
      List<CompletableFuture<List<PublishAck>>> all = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        String name = "auto-" + i;
        all.add(CompletableFuture.supplyAsync(() -> b.publish(name, "e", 3, 3)));
      }
      for (CompletableFuture<List<PublishAck>> f : all) {
        assertThat(f.get(30, TimeUnit.SECONDS)).hasSize(3);
      }
      TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("auto-sub")
          .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(10)).build());
      b.publish("auto-sub", "e", 2, 2);
      assertThat(s.awaitEvents(2)).hasSize(2);
      assertThat(b.broker.metadata().list(null, 100)).extracting(r -> r.name()).contains("auto-19", "auto-sub");
    }
  }
}
