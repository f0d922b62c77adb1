package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker restarts in the middle of a publish burst and of a subscription: every publish is
 * acknowledged (retried across the restart), and the subscriber resumes with no duplicates and an
 * exact account — every sequence up to the last one published was either handled or reported in
 * a gap notice.
 */
@Timeout(120)
class BrokerRestartTest {

  private static Broker start(int port, Path dir) throws Exception {
    return Broker.start(BrokerConfig.defaults("127.0.0.1:" + port).withDataDir(dir).withDrainTimeout(Duration.ofMillis(500)));
  }

  @Test
  void publisherAndSubscriberRideThroughABrokerRestart(@TempDir Path dir) throws Exception {
    int port = Brokers.freePort();
    AtomicReference<Broker> broker = new AtomicReference<>(start(port, dir));
    List<ConnectionListener.Kind> connection = new java.util.concurrent.CopyOnWriteArrayList<>();
    HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:" + port)
        .retry(new RetrySettings(Duration.ofMillis(20), Duration.ofMillis(300), 2.0, Duration.ofSeconds(60)))
        .connectionListener((kind, detail) -> connection.add(kind))
        .build();
    try {
      client.admin().createTopic("r", TopicSettings.defaults());
      List<Long> handled = new ArrayList<>();
      Set<String> ids = new HashSet<>();
      List<Gap> gaps = new ArrayList<>();
      List<String> duplicateIds = new ArrayList<>();
      Object lock = new Object();
      Subscription sub = client.subscriber("r").maxOutstanding(200).overflow(OverflowPolicy.BLOCK).handler(d -> {
        LockSupport.parkNanos(20_000); // a slowish handler
        synchronized (lock) {
          handled.add(d.sequence());
          if (!ids.add(d.event().id())) {
            duplicateIds.add(d.event().id());
          }
        }
      }).onGap(g -> {
        synchronized (lock) {
          gaps.add(g);
        }
      }).subscribe();

      Publisher pub = client.publisher("r").batching(Batching.defaults().maxEvents(100)).maxPending(5_000, 64 << 20).create();
      int total = 20_000;
      List<CompletableFuture<PublishReceipt>> receipts = new ArrayList<>(total);
      Thread publisher = Thread.ofPlatform().name("test-publisher").start(() -> {
        for (int i = 0; i < total; i++) {
          receipts.add(pub.publish(Event.builder().id("ev-" + i).type("t").data(("p" + i).getBytes(StandardCharsets.UTF_8)).build()));
        }
      });
      // restart in the middle of the burst and of the subscription
      await().atMost(Duration.ofSeconds(30)).until(() -> {
        synchronized (lock) {
          return handled.size() > 3_000;
        }
      });
      broker.get().close();
      broker.set(start(port, dir));
      publisher.join();
      pub.flush().get(60, TimeUnit.SECONDS);

      long maxSeq = 0;
      Set<Long> seqs = new HashSet<>();
      for (CompletableFuture<PublishReceipt> f : receipts) {
        PublishReceipt r = f.get(); // every publish succeeded, retried across the restart
        maxSeq = Math.max(maxSeq, r.sequence());
        if (!r.duplicate()) {
          assertThat(seqs.add(r.sequence())).isTrue();
        }
      }
      long last = maxSeq;
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        synchronized (lock) {
          return handled.size() + gaps.stream().mapToLong(Gap::count).sum() >= last;
        }
      });
      synchronized (lock) {
        assertThat(duplicateIds).isEmpty();
        assertThat(handled).isSorted().doesNotHaveDuplicates();
        // exact accounting: 1..last, each either handled or inside a gap
        long covered = handled.size() + gaps.stream().mapToLong(Gap::count).sum();
        assertThat(covered).isEqualTo(last);
        Set<Long> all = new HashSet<>(handled);
        for (Gap g : gaps) {
          assertThat(g.reason()).isEqualTo(GapReason.RETENTION);
          for (long s = g.firstSequence(); s <= g.lastSequence(); s++) {
            assertThat(all.add(s)).as("sequence %d both handled and in a gap", s).isTrue();
          }
        }
        assertThat(all).hasSize((int) last);
      }
      assertThat(sub.isActive()).isTrue();
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
          assertThat(connection).contains(ConnectionListener.Kind.CONNECTED, ConnectionListener.Kind.RESUBSCRIBED));
    } finally {
      client.close();
      broker.get().close();
    }
  }
}
