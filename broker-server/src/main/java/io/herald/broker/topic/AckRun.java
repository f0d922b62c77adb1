package io.herald.broker.topic;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.herald.proto.v1.AckRange;
import io.herald.proto.v1.PublishAck;
import java.util.AbstractList;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * The acks of a batch sequenced in one run (no duplicate): event {@code i} has sequence {@code
 * first + i}, and all have one epoch and publish time. A list of {@link PublishAck} like any other
 * (each made when read), so every listener works with it, but held as four numbers (and the ids a
 * broker assigned, if any), so the hot path neither builds nor encodes an object per event: a
 * publish stream or a peer link that can say it as an {@link AckRange} does ({@link #range}).
 * Immutable.
 */
public final class AckRun extends AbstractList<PublishAck> implements RandomAccess {
  private final long first;
  private final int count;
  private final long epoch;
  private final Timestamp publishTime;
  /** Per event, the id a broker assigned (null where the publisher gave one); null if none was assigned. */
  private final ByteString[] assignedIds;

  /**
   * @param assignedIds per event, the id a broker assigned, null where the publisher gave one; or
   *     null when no id was assigned (not copied)
   */
  public AckRun(long first, int count, long epoch, Timestamp publishTime, ByteString[] assignedIds) {
    if (first < 1 || count < 1) {
      throw new IllegalArgumentException("a run needs first >= 1 and count >= 1, was " + first + ", " + count);
    }
    if (assignedIds != null && assignedIds.length != count) {
      throw new IllegalArgumentException(assignedIds.length + " assigned ids for " + count + " events");
    }
    this.first = first;
    this.count = count;
    this.epoch = epoch;
    this.publishTime = Objects.requireNonNull(publishTime, "publishTime");
    this.assignedIds = assignedIds;
  }

  /**
   * The run a range says, with the ids of {@code batch} its origin assigned (a peer's answer to a
   * forwarded batch: the origin knows the ids it made).
   */
  public static AckRun of(AckRange r, PublishBatch batch) {
    if (r.getCount() != batch.size()) {
      throw new IllegalArgumentException("a range of " + r.getCount() + " acks for a batch of " + batch.size() + " events");
    }
    return new AckRun(r.getFirstSequence(), r.getCount(), r.getEpoch(), r.getPublishTime(), assignedIds(batch));
  }

  /** Per event of {@code b}, the id a broker assigned (null where the publisher gave one); null if none was. */
  static ByteString[] assignedIds(PublishBatch b) {
    ByteString[] out = null;
    for (int i = 0; i < b.size(); i++) {
      if (b.assigned(i)) {
        if (out == null) {
          out = new ByteString[b.size()];
        }
        out[i] = b.id(i);
      }
    }
    return out;
  }

  public long first() {
    return first;
  }

  /** The last event's sequence. */
  public long last() {
    return first + count - 1;
  }

  public long epoch() {
    return epoch;
  }

  /** True when a broker assigned the id of some event (an AckRange cannot say which: send acks). */
  public boolean hasAssignedIds() {
    return assignedIds != null;
  }

  /** The range (assigned ids are not in it). */
  public AckRange range() {
    return AckRange.newBuilder().setFirstSequence(first).setCount(count).setEpoch(epoch).setPublishTime(publishTime).build();
  }

  @Override
  public PublishAck get(int i) {
    Objects.checkIndex(i, count);
    PublishAck.Builder b = PublishAck.newBuilder().setSequence(first + i).setEpoch(epoch).setPublishTime(publishTime);
    if (assignedIds != null && assignedIds[i] != null) {
      b.setIdBytes(assignedIds[i]);
    }
    return b.build();
  }

  @Override
  public int size() {
    return count;
  }

  /** The largest sequence in {@code acks} (0 for none): O(1) for a run. */
  public static long lastSequence(List<PublishAck> acks) {
    if (acks instanceof AckRun r) {
      return r.last();
    }
    long max = 0;
    for (PublishAck a : acks) {
      max = Math.max(max, a.getSequence());
    }
    return max;
  }
}
