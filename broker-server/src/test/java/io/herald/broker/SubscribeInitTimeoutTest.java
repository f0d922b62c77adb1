package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.herald.broker.config.BrokerConfig;
import io.herald.proto.v1.SubscribeInit;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Subscribe stream that never sends its init frame, or half-closes before it, ends with
 * INVALID_ARGUMENT instead of holding a call open for ever; one that sends it in time is not
 * disturbed by the deadline.
 */
@Timeout(60)
class SubscribeInitTimeoutTest {
  private static final Duration TIMEOUT = Duration.ofMillis(300);

  @Test
  void aStreamWithoutInitEndsAtTheDeadline() throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withSubscribeInitTimeout(TIMEOUT))) {
      TestSubscriber silent = new TestSubscriber();
      long t0 = System.nanoTime();
      b.subscriber().subscribe(silent);
      Status end = silent.awaitEnd();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(TIMEOUT).isLessThan(Duration.ofSeconds(20));
      assertThat(end.getDescription()).contains("no init frame");
      ErrorDetailsTest.assertError(silent.error, Status.Code.INVALID_ARGUMENT, "PROTOCOL_VIOLATION", Map.of("timeout", "300ms"));
    }
  }

  @Test
  void aStreamHalfClosedBeforeInitEndsAtOnce() throws Exception {
    // a deadline far away: the half-close alone ends the stream
    try (TestBroker b = new TestBroker(c -> c.withSubscribeInitTimeout(Duration.ofMinutes(10)))) {
      TestSubscriber s = new TestSubscriber();
      b.subscriber().subscribe(s);
      s.halfClose();
      Status end = s.awaitEnd();
      assertThat(end.getDescription()).contains("half-closed before its init frame");
      ErrorDetailsTest.assertError(s.error, Status.Code.INVALID_ARGUMENT, "PROTOCOL_VIOLATION", Map.of());
    }
  }

  @Test
  void aStreamThatSentInitOutlivesTheDeadline() throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withSubscribeInitTimeout(TIMEOUT))) {
      b.createTopic("t");
      TestSubscriber s = TestSubscriber.started(b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
      s.grant(10);
      s.halfClose(); // after init it only means "no more credit frames"
      await().during(TIMEOUT.multipliedBy(3)).atMost(Duration.ofSeconds(10)).until(() -> !s.ended.isDone());
      b.publish("t", "e", 3, 3);
      s.awaitEvents(3);
      assertThat(s.ended).isNotDone();
    }
  }

  @Test
  void theDefaultIsAFewSeconds() {
    assertThat(BrokerConfig.defaults("127.0.0.1:0").subscribeInitTimeout()).isEqualTo(BrokerConfig.DEFAULT_SUBSCRIBE_INIT_TIMEOUT)
        .isEqualTo(Duration.ofSeconds(5));
  }
}
