package io.herald.broker.topic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.PublishAck;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A dispatch loop that restarts records a new epoch before it goes on. When the answer to that
 * write is lost or late (the write committed, the wait here timed out), the topic must not go on in
 * the epoch the metadata has left: it asks again, and takes the epoch its earlier attempt recorded.
 */
@Timeout(30)
class TopicNewEpochTest {
  private Topic topic;

  /** The metadata as far as the topic can tell: a record, changed only by compare-and-set on the epoch. */
  static class Metadata implements Topic.Bookkeeping {
    final AtomicReference<TopicRecord> record;
    final AtomicInteger attempts = new AtomicInteger();
    /** How many of the first attempts commit but never answer. */
    final int lostAnswers;

    Metadata(TopicRecord r, int lostAnswers) {
      this.record = new AtomicReference<>(r);
      this.lostAnswers = lostAnswers;
    }

    @Override
    public CompletableFuture<Void> recordFloor(long floor) {
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public synchronized CompletableFuture<TopicRecord> newEpoch(long startSequence, EpochCause cause) {
      int n = attempts.incrementAndGet();
      TopicRecord r = record.get();
      if (n > 1 && r.epoch() != 7) {
        return CompletableFuture.failedFuture(Status.FAILED_PRECONDITION.withDescription("topic is in epoch " + r.epoch() + ", not 7")
            .asRuntimeException());
      }
      TopicRecord next = r.withNewEpoch(r.epoch() + 1, startSequence, cause);
      record.set(next);
      return n <= lostAnswers ? new CompletableFuture<>() : CompletableFuture.completedFuture(next);
    }

    @Override
    public CompletableFuture<TopicRecord> latest() {
      return CompletableFuture.completedFuture(record.get());
    }

    @Override
    public Duration attemptTimeout() {
      return Duration.ofMillis(200);
    }
  }

  @AfterEach
  void close() throws Exception {
    if (topic != null) {
      topic.close(Errors.shuttingDown("test over"), io.herald.broker.subscription.CloseReason.SHUTDOWN);
      topic.terminated().get(10, TimeUnit.SECONDS);
    }
  }

  static List<PublishAck> publish(Topic t, String data) throws Exception {
    CompletableFuture<List<PublishAck>> acks = new CompletableFuture<>();
    ByteString ev = Event.newBuilder().setType("test").setData(ByteString.copyFromUtf8(data)).build().toByteString();
    PublishBatch b = new PublishBatch(List.of(ev), new ByteString[] {ByteString.copyFromUtf8(data)}, new ByteString[] {ByteString.EMPTY}, new boolean[1],
        ev.size(), new PublishBatch.Listener() {
          @Override
          public void admitted() { }

          @Override
          public void sequenced(List<PublishAck> a) {
            acks.complete(a);
          }

          @Override
          public void failed(StatusRuntimeException status) {
            acks.completeExceptionally(status);
          }
        });
    assertThat(t.offer(b)).isEqualTo(Admission.ADMITTED);
    return acks.get(20, TimeUnit.SECONDS);
  }

  private Topic started(Metadata m) {
    topic = new Topic(m.record.get(), m);
    topic.start();
    return topic;
  }

  private static void failOnceBeforeSequencing(Topic t) {
    AtomicInteger once = new AtomicInteger();
    t.faultHookForTests((phase, batch) -> {
      if (phase == LoopPhase.SEQUENCE && once.getAndIncrement() == 0) {
        throw new IllegalStateException("injected loop failure");
      }
    });
  }

  /** The batch the loop failed on is refused, nothing of it accepted. */
  private static void refusedAsLoopRestarted(Topic t) {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> publish(t, "b"))
        .isInstanceOf(java.util.concurrent.ExecutionException.class)
        .satisfies(e -> assertThat(Errors.info((StatusRuntimeException) e.getCause()).getReason()).isEqualTo("LOOP_RESTARTED"));
  }

  @Test
  void aNewEpochWhoseAnswerWasLostIsTakenNotLeftBehind() throws Exception {
    Metadata m = new Metadata(TopicRecord.created("t", TopicSettings.DEFAULTS, Instant.now(), 7, "n1"), 1);
    Topic t = started(m);
    assertThat(publish(t, "a").get(0).getEpoch()).isEqualTo(7);
    failOnceBeforeSequencing(t);
    refusedAsLoopRestarted(t);
    PublishAck c = publish(t, "c").get(0);
    assertThat(m.record.get().epoch()).as("the metadata's epoch").isEqualTo(8);
    assertThat(c.getEpoch()).as("the epoch acks carry after the restart").isEqualTo(8);
    assertThat(c.getSequence()).isEqualTo(m.record.get().epochStartSequence()).isEqualTo(2);
    assertThat(t.epoch()).isEqualTo(8);
    assertThat(m.attempts.get()).as("attempts: one lost answer, then a refusal checked against the record").isEqualTo(2);
  }

  @Test
  void aNewEpochRefusedBecauseTheTopicMovedLeavesTheTopicInItsEpoch() throws Exception {
    Metadata m = new Metadata(TopicRecord.created("t", TopicSettings.DEFAULTS, Instant.now(), 7, "n1"), 0);
    Topic t = started(m);
    publish(t, "a");
    // another node took the topic meanwhile (its own epoch): this restart's write is refused
    m.record.set(m.record.get().withNewEpoch(9, 5, EpochCause.EPOCH_CAUSE_OWNER_CHANGE, "n2", true));
    m.attempts.set(1); // as if an attempt had been made: the next is checked against epoch 7
    failOnceBeforeSequencing(t);
    refusedAsLoopRestarted(t);
    assertThat(publish(t, "c").get(0).getEpoch()).as("not the other owner's epoch").isEqualTo(7);
  }

  /**
   * The metadata answers UNAVAILABLE at once for a while (no leader; a closed client): the topic asks
   * again, spaced out, not in a tight loop that burns a core and floods the log, and goes on in the
   * new epoch once the metadata answers.
   */
  @Test
  void aMetadataThatFailsAtOnceIsAskedAgainWithPauses() throws Exception {
    long outageNanos = TimeUnit.MILLISECONDS.toNanos(1_000);
    AtomicInteger refused = new AtomicInteger();
    AtomicReference<Long> outageStart = new AtomicReference<>();
    Metadata m = new Metadata(TopicRecord.created("t", TopicSettings.DEFAULTS, Instant.now(), 7, "n1"), 0) {
      @Override
      public synchronized CompletableFuture<TopicRecord> newEpoch(long startSequence, EpochCause cause) {
        long now = System.nanoTime();
        outageStart.compareAndSet(null, now);
        if (now - outageStart.get() < outageNanos) {
          refused.incrementAndGet();
          return CompletableFuture.failedFuture(Status.UNAVAILABLE.withDescription("no metadata leader").asRuntimeException());
        }
        return super.newEpoch(startSequence, cause);
      }
    };
    Topic t = started(m);
    publish(t, "a");
    failOnceBeforeSequencing(t);
    refusedAsLoopRestarted(t);
    assertThat(publish(t, "c").get(0).getEpoch()).isEqualTo(8);
    // 50, 100, 200, 200... ms apart (attempt timeout 200 ms): about 7 in the second; without pauses, thousands
    assertThat(refused.get()).as("attempts refused during a 1 s outage").isBetween(2, 20);
  }

  /**
   * The metadata keeps failing at once, and the topic is closed while its loop pauses before
   * asking again (review: the pause, up to 1 s, did not look at close, and one more attempt followed
   * it): the loop ends without asking again.
   */
  @Test
  void aCloseDuringThePauseBetweenAttemptsEndsThemWithoutAnotherCall() throws Exception {
    AtomicReference<Thread> loopThread = new AtomicReference<>();
    Metadata m = new Metadata(TopicRecord.created("t", TopicSettings.DEFAULTS, Instant.now(), 7, "n1"), 0) {
      @Override
      public synchronized CompletableFuture<TopicRecord> newEpoch(long startSequence, EpochCause cause) {
        attempts.incrementAndGet();
        loopThread.set(Thread.currentThread());
        return CompletableFuture.failedFuture(Status.UNAVAILABLE.withDescription("no metadata leader").asRuntimeException());
      }

      @Override
      public Duration attemptTimeout() {
        return Duration.ofSeconds(10); // pauses double from 50 ms to 1 s
      }
    };
    Topic t = started(m);
    publish(t, "a");
    failOnceBeforeSequencing(t);
    refusedAsLoopRestarted(t);
    // the fifth attempt failed: the loop now pauses 800 ms before the sixth
    await().atMost(Duration.ofSeconds(20)).until(() -> m.attempts.get() >= 5 && loopThread.get().getState() == Thread.State.TIMED_WAITING);
    int before = m.attempts.get();

    t.close(Errors.shuttingDown("test over"), io.herald.broker.subscription.CloseReason.SHUTDOWN);
    t.terminated().get(10, TimeUnit.SECONDS);
    assertThat(m.attempts.get()).as("attempts after the close").isEqualTo(before);
  }
}
