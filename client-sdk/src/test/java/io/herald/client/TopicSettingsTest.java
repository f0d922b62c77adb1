package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.herald.broker.Broker;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The defaults and ranges the javadoc states (TopicSettings' constants) are the broker's. */
@Timeout(60)
class TopicSettingsTest {
  private static Broker broker;
  private static HeraldClient client;
  private static final AtomicInteger names = new AtomicInteger();

  @BeforeAll
  static void start() throws Exception {
    broker = Brokers.start();
    client = Brokers.client(broker);
  }

  @AfterAll
  static void stop() {
    client.close();
    broker.close();
  }

  @Test
  void aTopicCreatedWithoutSettingsHasTheDocumentedDefaults() {
    TopicSettings s = client.admin().createTopic("defaults", TopicSettings.defaults()).settings();
    assertThat(s.defaultPolicy()).contains(OverflowPolicy.DROP_OLDEST);
    assertThat(s.subscriberBufferMaxEvents()).contains(TopicSettings.DEFAULT_SUBSCRIBER_BUFFER_MAX_EVENTS);
    assertThat(s.subscriberBufferMaxBytes()).contains(TopicSettings.DEFAULT_SUBSCRIBER_BUFFER_MAX_BYTES);
    assertThat(s.inboxMaxEvents()).contains(TopicSettings.DEFAULT_INBOX_MAX_EVENTS);
    assertThat(s.inboxMaxBytes()).contains(TopicSettings.DEFAULT_INBOX_MAX_BYTES);
    assertThat(s.publishOverflow()).contains(TopicSettings.PublishOverflow.BLOCK);
    assertThat(s.maxEventBytes()).contains(TopicSettings.DEFAULT_MAX_EVENT_BYTES);
    assertThat(s.maxBlock()).contains(Duration.ofSeconds(TopicSettings.DEFAULT_MAX_BLOCK_SECONDS));
    assertThat(s.retentionMaxEvents()).contains(TopicSettings.DEFAULT_RETENTION_MAX_EVENTS);
    assertThat(s.retentionMaxBytes()).contains(TopicSettings.DEFAULT_RETENTION_MAX_BYTES);
    assertThat(s.retentionMaxAge()).contains(Duration.ofSeconds(TopicSettings.DEFAULT_RETENTION_MAX_AGE_SECONDS));
    assertThat(s.dedupWindow()).contains(Duration.ofSeconds(TopicSettings.DEFAULT_DEDUP_WINDOW_SECONDS));
    assertThat(s.dedupMaxIds()).contains(TopicSettings.DEFAULT_DEDUP_MAX_IDS);
  }

  /** A setting, its documented least and greatest value, and how to set a value. */
  static Stream<Arguments> ranges() {
    return Stream.of(
        range("subscriberBufferMaxEvents", 1, TopicSettings.MAX_BUFFER_EVENTS, v -> TopicSettings.builder().subscriberBufferMaxEvents(v.intValue())),
        range("subscriberBufferMaxBytes", TopicSettings.MIN_BUFFER_BYTES, TopicSettings.MAX_BUFFER_BYTES,
            v -> TopicSettings.builder().subscriberBufferMaxBytes(v)),
        range("inboxMaxEvents", 1, TopicSettings.MAX_BUFFER_EVENTS, v -> TopicSettings.builder().inboxMaxEvents(v.intValue())),
        range("inboxMaxBytes", TopicSettings.MIN_BUFFER_BYTES, TopicSettings.MAX_BUFFER_BYTES, v -> TopicSettings.builder().inboxMaxBytes(v)),
        range("maxEventBytes", 1, TopicSettings.MAX_EVENT_BYTES_LIMIT, v -> TopicSettings.builder().maxEventBytes(v.intValue())),
        range("maxBlock", 0, TopicSettings.MAX_BLOCK_LIMIT_SECONDS, v -> TopicSettings.builder().maxBlock(Duration.ofSeconds(v))),
        range("retentionMaxEvents", 0, TopicSettings.MAX_RETENTION_EVENTS, v -> TopicSettings.builder().retentionMaxEvents(v.intValue())),
        range("retentionMaxBytes", 0, TopicSettings.MAX_RETENTION_BYTES, v -> TopicSettings.builder().retentionMaxBytes(v)),
        range("retentionMaxAge", 0, TopicSettings.MAX_RETENTION_AGE_SECONDS, v -> TopicSettings.builder().retentionMaxAge(Duration.ofSeconds(v))),
        range("dedupWindow", 0, TopicSettings.MAX_DEDUP_WINDOW_SECONDS, v -> TopicSettings.builder().dedupWindow(Duration.ofSeconds(v))),
        range("dedupMaxIds", 0, TopicSettings.MAX_DEDUP_MAX_IDS, v -> TopicSettings.builder().dedupMaxIds(v.intValue())));
  }

  private static Arguments range(String name, long min, long max, Function<Long, TopicSettings.Builder> set) {
    return Arguments.of(name, min, max, set);
  }

  @ParameterizedTest(name = "{0} {1}..{2}")
  @MethodSource("ranges")
  void theBrokerTakesTheDocumentedRangeAndRefusesJustOutsideIt(String name, long min, long max, Function<Long, TopicSettings.Builder> set) {
    for (long v : new long[] {min, max}) {
      assertThatCode(() -> client.admin().createTopic(name + "-" + names.incrementAndGet(), set.apply(v).build()))
          .as("%s = %d", name, v).doesNotThrowAnyException();
    }
    for (long v : min > 0 ? new long[] {min - 1, max + 1} : new long[] {max + 1}) {
      assertThatThrownBy(() -> client.admin().createTopic(name + "-" + names.incrementAndGet(), set.apply(v).build()))
          .as("%s = %d", name, v)
          .isInstanceOfSatisfying(HeraldException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
  }
}
