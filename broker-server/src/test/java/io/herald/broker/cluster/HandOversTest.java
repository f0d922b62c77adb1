package io.herald.broker.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.herald.proto.cluster.v1.DedupEntry;
import io.herald.proto.cluster.v1.HandOverRequest;
import io.herald.proto.v1.PublishAck;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Dedup windows handed over by stopping nodes are held within bounds a peer cannot push past (ids
 * and windows, empty ones included) and leave on time even when no further part or take comes.
 */
class HandOversTest {
  private final AtomicLong now = new AtomicLong(1_000);
  private final HandOvers held = new HandOvers(now::get);

  private static HandOverRequest part(String topic, int ids) {
    HandOverRequest.Builder b = HandOverRequest.newBuilder().setTopic(topic).setCreateEpoch(1).setEpoch(2).setNextSequence(10).setLast(true);
    for (int i = 0; i < ids; i++) {
      b.addDedup(DedupEntry.newBuilder().setKey(topic + "-" + i).setAck(PublishAck.newBuilder().setEpoch(2).setSequence(i + 1)));
    }
    return b.build();
  }

  @Test
  void emptyWindowsCountTowardsTheBound() {
    for (int i = 0; i < HandOvers.MAX_WINDOWS; i++) {
      assertThat(held.add(part("t" + i, 0))).isTrue();
    }
    assertThat(held.add(part("one-too-many", 0))).as("a window past the bound").isFalse();
    assertThat(held.add(part("t0", 1))).as("a further part of a window held").isTrue();
    assertThat(held.windows()).isEqualTo(HandOvers.MAX_WINDOWS);
  }

  @Test
  void windowsExpireOnTheTimerWithoutFurtherParts() {
    held.add(part("orders", 100));
    assertThat(held.size()).isEqualTo(100);
    now.addAndGet(HandOvers.KEEP_NANOS - 1);
    held.expire();
    assertThat(held.size()).as("not yet").isEqualTo(100);
    now.addAndGet(TimeUnit.SECONDS.toNanos(1));
    held.expire();
    assertThat(held.size()).isZero();
    assertThat(held.windows()).isZero();
  }
}
