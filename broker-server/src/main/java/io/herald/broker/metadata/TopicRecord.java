package io.herald.broker.metadata;

import com.google.protobuf.Timestamp;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.Topic;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;

/**
 * A topic as the metadata store knows it. Immutable.
 *
 * @param name the topic name
 * @param settings its configuration
 * @param createTime when it was created
 * @param sequenceFloor the topic's next sequence is at least this (1 for a new topic): sequences
 *     never go back within one incarnation of the topic
 * @param owner the id of the node that owns (sequences) the topic; empty while no live node can
 * @param epoch the current epoch: positions are (epoch, sequence), compared by epoch first
 * @param epochStartSequence the first sequence of the current epoch
 * @param epochCause why the current epoch began
 * @param createEpoch the epoch the topic got when it was created; positions with an older epoch
 *     belong to an earlier incarnation of the name
 * @param crashLostBelow sequences below this were lost when the topic's owner crashed or was lost
 *     (how many of them existed is not known); 0 when the incarnation never lost any. Carried across
 *     later epochs, so a later loop restart or clean restart does not forget it
 * @param lostCause why the sequences below {@code crashLostBelow} were lost (CRASH_RECOVERY or
 *     OWNER_CHANGE)
 * @param cleanStop the owner stopped with the floor exact and nobody to hand the topic to: its next
 *     start continues in this epoch
 */
public record TopicRecord(String name, TopicSettings settings, Instant createTime, long sequenceFloor,
    String owner, long epoch, long epochStartSequence, EpochCause epochCause, long createEpoch, long crashLostBelow,
    EpochCause lostCause, boolean cleanStop) {

  /** A new incarnation of {@code name}, owned by {@code owner}: sequences from 1, in epoch {@code epoch}. */
  public static TopicRecord created(String name, TopicSettings settings, Instant createTime, long epoch, String owner) {
    return new TopicRecord(name, settings, createTime, 1, owner, epoch, 1, EpochCause.EPOCH_CAUSE_CREATED, epoch, 0,
        EpochCause.EPOCH_CAUSE_UNSPECIFIED, false);
  }

  public TopicRecord withSettings(TopicSettings s) {
    return new TopicRecord(name, s, createTime, sequenceFloor, owner, epoch, epochStartSequence, epochCause, createEpoch,
        crashLostBelow, lostCause, cleanStop);
  }

  public TopicRecord withSequenceFloor(long floor) {
    return new TopicRecord(name, settings, createTime, floor, owner, epoch, epochStartSequence, epochCause, createEpoch,
        crashLostBelow, lostCause, cleanStop);
  }

  public TopicRecord withCleanStop(boolean clean) {
    return new TopicRecord(name, settings, createTime, sequenceFloor, owner, epoch, epochStartSequence, epochCause, createEpoch,
        crashLostBelow, lostCause, clean);
  }

  /**
   * The same incarnation in a new epoch that starts at {@code startSequence}, owned by {@code
   * newOwner}. When {@code lostBelowStart}, the sequences below the start that subscribers had not
   * got are lost in an unknown number (a crash, a lost owner) for {@code cause}.
   */
  public TopicRecord withNewEpoch(long newEpoch, long startSequence, EpochCause cause, String newOwner, boolean lostBelowStart) {
    if (newEpoch <= epoch) {
      throw new IllegalArgumentException("epochs only grow: " + newEpoch + " after " + epoch);
    }
    long start = Math.max(sequenceFloor, startSequence);
    return new TopicRecord(name, settings, createTime, start, newOwner, newEpoch, startSequence, cause, createEpoch,
        lostBelowStart ? startSequence : crashLostBelow, lostBelowStart ? cause : lostCause, false);
  }

  /** As {@link #withNewEpoch(long, long, EpochCause, String, boolean)}, same owner; a crash loses what was below the start. */
  public TopicRecord withNewEpoch(long newEpoch, long startSequence, EpochCause cause) {
    return withNewEpoch(newEpoch, startSequence, cause, owner, cause == EpochCause.EPOCH_CAUSE_CRASH_RECOVERY);
  }

  /**
   * The epoch that follows {@code previous}: the wall clock in milliseconds when that is larger,
   * else {@code previous + 1}. Clock-derived so that a topic re-created by a broker that kept no
   * data (and so no memory of the old epoch) still gets a larger one.
   */
  public static long nextEpoch(long previous) {
    return Math.max(previous + 1, System.currentTimeMillis());
  }

  /** The form both metadata stores keep a record in: a {@code herald.v1.Topic}, the floor as {@code stats.next_sequence}. */
  public Topic toStored() {
    return Topic.newBuilder()
        .setName(name)
        .setConfig(settings.toProto())
        .setStats(io.herald.proto.v1.TopicStats.newBuilder().setNextSequence(sequenceFloor))
        .setCreateTime(Timestamp.newBuilder().setSeconds(createTime.getEpochSecond()).setNanos(createTime.getNano()))
        .setEpoch(epoch)
        .setEpochStartSequence(epochStartSequence)
        .setEpochCause(epochCause)
        .setCreateEpoch(createEpoch)
        .setOwner(owner)
        .setCrashLostBelow(crashLostBelow)
        .setLostCause(lostCause)
        .build();
  }

  /** The record {@link #toStored()} wrote. */
  public static TopicRecord fromStored(Topic t) {
    return new TopicRecord(t.getName(), TopicSettings.DEFAULTS.merge(t.getConfig()),
        Instant.ofEpochSecond(t.getCreateTime().getSeconds(), t.getCreateTime().getNanos()),
        t.getStats().getNextSequence(), t.getOwner(), t.getEpoch(), t.getEpochStartSequence(), t.getEpochCause(),
        t.getCreateEpoch(), t.getCrashLostBelow(), t.getLostCause(), false);
  }

  /** Records in name order after {@code afterName} (null: from the first), at most {@code limit}: a store's list page. */
  static List<TopicRecord> page(NavigableMap<String, TopicRecord> byName, String afterName, int limit) {
    var view = afterName == null ? byName.values() : byName.tailMap(afterName, false).values();
    List<TopicRecord> out = new ArrayList<>(Math.min(limit, view.size()));
    for (TopicRecord r : view) {
      if (out.size() >= limit) {
        break;
      }
      out.add(r);
    }
    return out;
  }
}
