package io.herald.broker.topic;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.CloseReason;
import io.herald.broker.subscription.Policy;
import io.herald.broker.subscription.StartKind;
import io.herald.broker.subscription.Subscription;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.TopicConfig;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A topic's dispatch loop end to end, without the network: a batch of 64 events (128 bytes of
 * data each) offered to the topic's inbox, sequenced by its loop (a virtual thread), encoded once,
 * appended to the retention ring and offered to {@code subscribers} subscriptions, acked; then the
 * benchmark thread polls every subscription empty, as their writers would. Dedup off, retention
 * 10,000 events; the buffers never fill, so the policies take the same path (BLOCK adds only the
 * signal to a waiting offer). One op = one batch (× 64 for events per second); it includes two thread
 * hand-offs (to the loop and back), as a publish does.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DispatchLoopBench {
  static final int BATCH = 64;

  @Param({"1", "8"})
  public int subscribers;

  @Param({"BLOCK", "DROP_OLDEST"})
  public Policy policy;

  private Topic topic;
  private final List<Subscription> subs = new ArrayList<>();
  private List<ByteString> events;
  private ByteString[] ids;
  private ByteString[] sources;

  /** Floors and epochs recorded at once (no metadata store). */
  static final Topic.Bookkeeping INSTANT = new Topic.Bookkeeping() {
    @Override
    public CompletableFuture<Void> recordFloor(long floor) {
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<TopicRecord> newEpoch(long startSequence, EpochCause cause) {
      return CompletableFuture.failedFuture(new UnsupportedOperationException("no new epochs in a benchmark"));
    }
  };

  @Setup(Level.Trial)
  public void setup() {
    TopicSettings s = TopicSettings.DEFAULTS.merge(TopicConfig.newBuilder()
        .setDedupWindow(com.google.protobuf.Duration.getDefaultInstance())
        .setDedupMaxIds(0)
        .setRetention(Retention.newBuilder().setMaxEvents(10_000).setMaxBytes(64L << 20))
        .setSubscriberBufferMaxEvents(10_000)
        .build());
    topic = new Topic(TopicRecord.created("bench", s, Instant.now(), 1, "bench"), INSTANT);
    topic.start();
    for (int i = 0; i < subscribers; i++) {
      Subscription sub = topic.newSubscription("s" + i, "bench", "bench", policy, 10_000, 64L << 20, Subscription.MAX_CREDIT_EVENTS, 0);
      topic.register(sub, StartKind.LATEST, 0, 0);
      subs.add(sub);
    }
    events = new ArrayList<>(BATCH);
    ids = new ByteString[BATCH];
    sources = new ByteString[BATCH];
    for (int i = 0; i < BATCH; i++) {
      Event e = Event.newBuilder().setId("id-" + i).setType("bench").setData(ByteString.copyFrom(new byte[128])).build();
      events.add(e.toByteString());
      ids[i] = e.getIdBytes();
      sources[i] = ByteString.EMPTY;
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    topic.close(io.herald.broker.transport.Errors.shuttingDown("benchmark over"), CloseReason.SHUTDOWN);
    topic.terminated().get(10, TimeUnit.SECONDS);
  }

  @Benchmark
  public int publishAndDrain() throws Exception {
    CompletableFuture<List<PublishAck>> acked = new CompletableFuture<>();
    PublishBatch b = new PublishBatch(events, ids, sources, new boolean[BATCH], BATCH * 140L, new PublishBatch.Listener() {
      @Override
      public void admitted() { }

      @Override
      public void sequenced(List<PublishAck> acks) {
        acked.complete(acks);
      }

      @Override
      public void failed(StatusRuntimeException status) {
        acked.completeExceptionally(status);
      }
    });
    if (topic.offer(b) != Admission.ADMITTED) {
      throw new IllegalStateException("inbox full: the benchmark waits for every batch, so it never should be");
    }
    int n = acked.get(10, TimeUnit.SECONDS).size();
    for (Subscription sub : subs) {
      while (!sub.poll(512, 1 << 20).isEmpty()) {
        n++;
      }
    }
    return n;
  }
}
