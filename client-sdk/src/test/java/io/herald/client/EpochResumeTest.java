package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A subscription resumes by (epoch, sequence): when the topic it resumes into is a new incarnation
 * (a broker without a data directory restarted and auto-created it again, sequences from 1), the
 * subscriber is told with a TOPIC_RECREATED gap and then gets the new events, instead of taking
 * them for resends of ones it already handled.
 */
@Timeout(60)
class EpochResumeTest {

  private static Broker start(int port) throws Exception {
    return Broker.start(BrokerConfig.defaults("127.0.0.1:" + port).withAutoCreateTopics(true).withDrainTimeout(Duration.ofMillis(300)));
  }

  @Test
  void aResumeIntoARecreatedTopicReportsItAndDeliversTheNewEvents() throws Exception {
    int port = Brokers.freePort();
    Broker broker = start(port);
    try (HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:" + port)
        .retry(new RetrySettings(Duration.ofMillis(20), Duration.ofMillis(200), 2.0, Duration.ofSeconds(30))).build()) {
      List<Delivery> handled = new CopyOnWriteArrayList<>();
      List<Gap> gaps = new CopyOnWriteArrayList<>();
      try (Publisher pub = client.publisher("auto").create()) {
        pub.publish(Event.of("t", "warm".getBytes(StandardCharsets.UTF_8))).join(); // creates the topic
        Subscription sub = client.subscriber("auto").startAt(StartPosition.earliest())
            .handler(handled::add).onGap(gaps::add).subscribe();
        for (int i = 0; i < 4; i++) {
          pub.publish(Event.of("t", ("old-" + i).getBytes(StandardCharsets.UTF_8))).join();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.size() == 5);
        long oldEpoch = sub.lastEpoch();
        assertThat(sub.lastSequence()).isEqualTo(5);

        broker.close();
        broker = start(port); // no data dir: the topic comes back as a new incarnation
        for (int i = 0; i < 3; i++) {
          pub.publish(Event.of("t", ("new-" + i).getBytes(StandardCharsets.UTF_8))).join();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.size() == 8);
        assertThat(gaps).anySatisfy(g -> {
          assertThat(g.reason()).isEqualTo(GapReason.TOPIC_RECREATED);
          assertThat(g.epoch()).isEqualTo(oldEpoch);
          assertThat(g.countUnknown()).isTrue();
        });
        List<Delivery> fresh = handled.subList(5, 8);
        assertThat(fresh).extracting(Delivery::sequence).containsExactly(1L, 2L, 3L);
        assertThat(fresh).allSatisfy(d -> assertThat(d.epoch()).isGreaterThan(oldEpoch));
        assertThat(new String(fresh.get(0).event().data(), StandardCharsets.UTF_8)).isEqualTo("new-0");
        assertThat(sub.lastEpoch()).isGreaterThan(oldEpoch);
      }
    } finally {
      broker.close();
    }
  }
}
