package io.herald.broker.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.cluster.v1.ForwardAcks;
import io.herald.proto.cluster.v1.ForwardRequest;
import io.herald.proto.cluster.v1.ForwardResponse;
import io.herald.proto.cluster.v1.PeerServiceGrpc;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishError;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A peer link under concurrent offers, withdrawals, answers in any order, refusals and broken
 * streams (an in-process fake owner): every batch ends exactly one way, the listener contract holds,
 * and the link's invariants ({@link PeerLink#checkInvariants}) hold throughout.
 */
@Timeout(120)
class PeerLinkStressTest {

  /** A fake owner: answers each batch at once, later, with a refusal, or breaks the stream. */
  static final class FakeOwner extends PeerServiceGrpc.PeerServiceImplBase {
    final ScheduledExecutorService later = Executors.newSingleThreadScheduledExecutor();
    final AtomicLong sequence = new AtomicLong();
    final AtomicInteger streams = new AtomicInteger();

    @Override
    public StreamObserver<ForwardRequest> forward(StreamObserver<ForwardResponse> out) {
      streams.incrementAndGet();
      AtomicBoolean dead = new AtomicBoolean();
      return new StreamObserver<>() {
        @Override
        public void onNext(ForwardRequest r) {
          if (!r.hasBatch() || dead.get()) {
            return;
          }
          long id = r.getBatch().getCorrelationId();
          int n = r.getBatch().getEventsCount();
          int dice = ThreadLocalRandom.current().nextInt(100);
          if (dice < 2) {
            kill();
          } else if (dice < 10) {
            send(ForwardResponse.newBuilder().setCorrelationId(id)
                .setError(PublishError.newBuilder().setCode(Status.Code.RESOURCE_EXHAUSTED.value()).setReason("INBOX_FULL")).build());
          } else if (dice < 60) {
            later.schedule(() -> send(acks(id, n)), ThreadLocalRandom.current().nextInt(3), TimeUnit.MILLISECONDS);
          } else {
            send(acks(id, n));
          }
        }

        private ForwardResponse acks(long id, int n) {
          ForwardAcks.Builder a = ForwardAcks.newBuilder();
          for (int i = 0; i < n; i++) {
            a.addAcks(PublishAck.newBuilder().setSequence(sequence.incrementAndGet()).setEpoch(1));
          }
          return ForwardResponse.newBuilder().setCorrelationId(id).setAcks(a).build();
        }

        private void send(ForwardResponse r) {
          synchronized (this) {
            if (!dead.get()) {
              out.onNext(r);
            }
          }
        }

        private void kill() {
          synchronized (this) {
            if (dead.compareAndSet(false, true)) {
              out.onError(Status.UNAVAILABLE.withDescription("fake owner broke the stream").asRuntimeException());
            }
          }
        }

        @Override
        public void onError(Throwable t) {
          dead.set(true);
        }

        @Override
        public void onCompleted() {
          dead.set(true);
        }
      };
    }
  }

  /** One batch's fate, checked against the listener contract. */
  static final class Fate implements PublishBatch.Listener {
    final AtomicInteger admitted = new AtomicInteger();
    final AtomicInteger answers = new AtomicInteger();
    final CompletableFuture<Boolean> done = new CompletableFuture<>();
    volatile Admission admission;
    volatile boolean withdrawn;
    volatile Throwable problem;

    @Override
    public void admitted() {
      if (admitted.incrementAndGet() > 1 || answers.get() > 0) {
        problem = new AssertionError("admitted twice, or after the answer");
      }
    }

    @Override
    public void sequenced(List<PublishAck> acks) {
      answer();
    }

    @Override
    public void failed(StatusRuntimeException status) {
      if (status.getStatus().getCode() != Status.Code.UNAVAILABLE && status.getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED) {
        problem = new AssertionError("unexpected status " + status.getStatus());
      }
      answer();
    }

    private void answer() {
      if (answers.incrementAndGet() > 1) {
        problem = new AssertionError("answered twice");
      }
      done.complete(true);
    }
  }

  @Test
  void everyBatchEndsExactlyOnceUnderConcurrentOffersWithdrawalsAnswersAndFailures() throws Exception {
    String name = InProcessServerBuilder.generateName();
    FakeOwner owner = new FakeOwner();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(owner).build().start();
    ExecutorService writers = Executors.newFixedThreadPool(2);
    PeerLinks links = new PeerLinks("stress", a -> InProcessChannelBuilder.forName(a).directExecutor().build(), writers,
        PeerLinks.Options.DEFAULTS.withWindow(4, 1 << 20).withLine(4, 1 << 20).withBackoff(Duration.ofMillis(1), Duration.ofMillis(5)));
    TopicRecord record = TopicRecord.created("t", TopicSettings.DEFAULTS, Instant.now(), 1, "owner");
    List<ForwardingTopic> topics = List.of(
        new ForwardingTopic("t0", () -> record, name, links),
        new ForwardingTopic("t1", () -> record, name, links),
        new ForwardingTopic("t2", () -> record, name, links));
    int threads = 4;
    int perThread = 3_000;
    List<Fate> fates = java.util.Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean running = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
    try {
      CompletableFuture<Void> checker = CompletableFuture.runAsync(() -> {
        while (running.get()) {
          for (PeerLink l : links.links()) {
            l.checkInvariants();
          }
          Thread.onSpinWait();
        }
      }, pool);
      List<CompletableFuture<Void>> publishers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        publishers.add(CompletableFuture.runAsync(() -> {
          ThreadLocalRandom r = ThreadLocalRandom.current();
          java.util.ArrayDeque<Fate> outstanding = new java.util.ArrayDeque<>();
          for (int i = 0; i < perThread; i++) {
            if (outstanding.size() >= 6) { // a publisher with a bounded number of batches in flight
              outstanding.pollFirst().done.orTimeout(20, TimeUnit.SECONDS).join();
            }
            Fate f = new Fate();
            ByteString ev = ByteString.copyFrom(new byte[1 + r.nextInt(64)]);
            PublishBatch b = new PublishBatch(List.of(ev), new ByteString[] {ByteString.copyFromUtf8("id")},
                new ByteString[] {ByteString.EMPTY}, new boolean[] {false}, ev.size(), f);
            ForwardingTopic topic = topics.get(r.nextInt(topics.size()));
            try {
              f.admission = topic.offer(b);
            } catch (StatusRuntimeException e) {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              f.admission = null; // refused at once: no listener call
            }
            if (f.admission == Admission.WAITING && r.nextInt(3) == 0) {
              f.withdrawn = topic.withdraw(b);
            }
            if ((f.admission == Admission.ADMITTED || f.admission == Admission.WAITING) && !f.withdrawn) {
              outstanding.addLast(f);
            } else if (!f.withdrawn) {
              // refused: a publisher backs off before it tries again, as the SDK does (it waits for
              // one of its own batches to end, or briefly); without this the publishers' refused
              // offers could outrun the first round trip and the link would never be exercised
              if (outstanding.isEmpty()) {
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
              } else {
                outstanding.pollFirst().done.orTimeout(20, TimeUnit.SECONDS).join();
              }
            }
            fates.add(f);
          }
        }, pool));
      }
      CompletableFuture.allOf(publishers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      // whatever is still held is answered (or failed with a broken stream) soon
      await().atMost(Duration.ofSeconds(30)).until(() -> links.inFlightBatches() == 0 && links.waitingBatches() == 0);
      running.set(false);
      checker.get(10, TimeUnit.SECONDS);

      int answered = 0;
      int withdrawn = 0;
      int refused = 0;
      for (Fate f : fates) {
        assertThat(f.problem).isNull();
        if (f.admission == null || f.admission == Admission.LINE_FULL || f.admission == Admission.FULL) {
          assertThat(f.answers.get()).as("a refused batch is never answered").isZero();
          assertThat(f.admitted.get()).isZero();
          refused++;
        } else if (f.withdrawn) {
          assertThat(f.answers.get()).as("a withdrawn batch is never answered").isZero();
          withdrawn++;
        } else {
          assertThat(f.answers.get()).as("an accepted batch is answered once").isEqualTo(1);
          if (f.admitted.get() == 1) {
            assertThat(f.admission).isEqualTo(Admission.WAITING);
          }
          answered++;
        }
      }
      assertThat(answered + withdrawn + refused).isEqualTo(threads * perThread);
      assertThat(answered).as("batches answered (the link was exercised)").isGreaterThan(threads * perThread / 4);
      assertThat(owner.streams.get()).as("streams broken and reopened").isGreaterThan(1);
      for (PeerLink l : links.links()) {
        l.checkInvariants();
      }
      assertThat(topics).allSatisfy(t -> assertThat(t.waitingEvents()).isZero());
    } finally {
      running.set(false);
      pool.shutdownNow();
      links.close();
      server.shutdownNow();
      owner.later.shutdownNow();
      writers.shutdownNow();
    }
  }
}
