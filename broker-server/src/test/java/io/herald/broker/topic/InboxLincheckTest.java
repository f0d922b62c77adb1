package io.herald.broker.topic;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.TopicConfig;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.List;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.ThreadIdGen;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Lincheck: the inbox's operations, run concurrently, behave like some sequential order of them
 * (linearizability, checked against the same class run on one thread), and its invariants hold after
 * every scenario. Each publisher thread owns its own batch (as a stream has at most one waiting), so
 * offer and withdraw are single inbox calls; take and release are the dispatch loop's, one at a time.
 * Sized to run in seconds on two cores; with release-after-closeAll's old bug put back, both modes
 * fail in the invariant check.
 */
@Param(name = "size", gen = IntGen.class, conf = "1:3")
@Param(name = "publisher", gen = ThreadIdGen.class)
@Timeout(120)
public class InboxLincheckTest {
  /** Inbox of 2 events, wait line of 3 events: small enough that scenarios fill both. */
  static final TopicSettings S = TopicSettings.DEFAULTS.merge(TopicConfig.newBuilder()
      .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
      .setInboxMaxEvents(2)
      .setPublishWaitMaxEvents(3)
      .build());
  private static final PublishBatch.Listener SILENT = new PublishBatch.Listener() {
    @Override
    public void admitted() { }

    @Override
    public void sequenced(List<PublishAck> acks) { }

    @Override
    public void failed(StatusRuntimeException status) { }
  };

  private final Inbox inbox = new Inbox();
  /** Each publisher thread's latest batch (the init part is thread 0, the threads 1..n). */
  private final PublishBatch[] latest = new PublishBatch[8];
  /** Taken by the loop, not yet released; touched only by the loop's operations (one at a time). */
  private final ArrayDeque<PublishBatch> taken = new ArrayDeque<>();

  private static PublishBatch batch(int size) {
    ByteString[] ids = new ByteString[size];
    java.util.Arrays.fill(ids, ByteString.EMPTY);
    return new PublishBatch(Collections.nCopies(size, ByteString.copyFromUtf8("e")), ids, new ByteString[size], new boolean[size], size, SILENT);
  }

  @Operation
  public String offer(@Param(name = "publisher") int publisher, @Param(name = "size") int size) {
    PublishBatch b = batch(size);
    latest[publisher] = b;
    return inbox.offer(b, S).name();
  }

  @Operation
  public boolean withdraw(@Param(name = "publisher") int publisher) {
    PublishBatch b = latest[publisher];
    return b != null && inbox.withdraw(b, S);
  }

  @Operation(nonParallelGroup = "loop")
  public int take() {
    PublishBatch b = inbox.poll();
    if (b == null) {
      return -1;
    }
    taken.addLast(b);
    return b.size();
  }

  /** Releases the oldest batch the loop holds; the number of batches that moved from the line in. */
  @Operation(nonParallelGroup = "loop")
  public int release() {
    PublishBatch b = taken.pollFirst();
    return b == null ? -1 : inbox.release(b, S).size();
  }

  @Operation
  public int closeForNew() {
    return inbox.closeForNew().size();
  }

  @Operation
  public int closeAll() {
    return inbox.closeAll().size();
  }

  @Operation
  public long depth() {
    return inbox.depthEvents();
  }

  @Operation
  public long waiting() {
    return inbox.waitingEvents();
  }

  @Validate
  public void invariants() {
    inbox.checkInvariants(S);
  }

  @Test
  void modelChecking() {
    new ModelCheckingOptions()
        .iterations(6)
        .invocationsPerIteration(100)
        .threads(3)
        .actorsPerThread(3)
        .check(getClass());
  }

  @Test
  void stress() {
    new StressOptions()
        .iterations(10)
        .invocationsPerIteration(500)
        .threads(3)
        .actorsPerThread(3)
        .check(getClass());
  }
}
