package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.herald.broker.Broker;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The SDK's exceptions carry the broker's reason and metadata, and whether a retry can help follows
 * the reason: two refusals with the same status code, one permanent and one retryable, are told
 * apart.
 */
@Timeout(60)
class ErrorReasonTest {
  private Broker broker;
  private HeraldClient client;
  private final CountDownLatch release = new CountDownLatch(1);

  @BeforeEach
  void start() throws Exception {
    broker = Brokers.start();
    client = Brokers.client(broker);
  }

  @AfterEach
  void stop() {
    release.countDown();
    client.close();
    broker.close();
  }

  private static HeraldException failureOf(java.util.concurrent.Future<?> f) {
    ExecutionException e = catchThrowableOfType(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
    assertThat(e).as("the publish must fail").isNotNull();
    assertThat(e.getCause()).isInstanceOf(HeraldException.class);
    return (HeraldException) e.getCause();
  }

  @Test
  void oversizedMessageIsPermanentWhileAFullRejectInboxIsRetryable() throws Exception {
    // RESOURCE_EXHAUSTED, permanent: a request over the broker's 4 MiB message limit
    HeraldException tooLarge = catchThrowableOfType(HeraldException.class,
        () -> client.admin().createTopic("x".repeat(5 << 20), TopicSettings.defaults()));
    assertThat(tooLarge.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    assertThat(tooLarge.isRetryable()).isFalse();
    assertThat(tooLarge.reason()).isEqualTo(ErrorReason.MESSAGE_TOO_LARGE);
    assertThat(tooLarge.metadata()).containsEntry("limit", "4194304");

    // RESOURCE_EXHAUSTED, retryable: a REJECT topic whose inbox stays full (a BLOCK subscriber
    // that takes one event and never returns holds the topic)
    client.admin().createTopic("reject", TopicSettings.builder().defaultPolicy(OverflowPolicy.BLOCK)
        .subscriberBufferMaxEvents(1).inboxMaxEvents(1).publishOverflow(TopicSettings.PublishOverflow.REJECT)
        .maxBlock(Duration.ofMinutes(10)).build());
    client.subscriber("reject").maxOutstanding(1).handler(d -> release.await()).subscribe();
    Publisher filler = client.publisher("reject").batching(Batching.none()).create();
    for (int i = 0; i < 5; i++) {
      filler.publish(Event.of("t", new byte[10])); // one handled, one buffered, one held by the loop, one in the inbox
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> client.admin().getTopic("reject").stats().inboxDepthEvents() == 1);
    // a publisher of its own (its own stream: answers on a stream come in order, and the filler's
    // stay unanswered) keeps being refused, retries, and past its total timeout fails with the refusal
    Publisher pub = client.publisher("reject").batching(Batching.none())
        .retry(new RetrySettings(Duration.ofMillis(50), Duration.ofMillis(100), 2.0, Duration.ofSeconds(4))).create();
    java.util.concurrent.CompletableFuture<PublishReceipt> refused = pub.publish(Event.of("t", new byte[10]));
    HeraldException inboxFull = failureOf(refused);
    assertThat(inboxFull.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    assertThat(inboxFull.isRetryable()).isTrue();
    assertThat(inboxFull.reason()).isEqualTo(ErrorReason.INBOX_FULL);
    assertThat(inboxFull.metadata()).containsEntry("topic", "reject").containsEntry("inboxMaxEvents", "1");
    pub.close(Duration.ofMillis(100));
    filler.close(Duration.ofMillis(100));
  }

  @Test
  void eventOverTheTopicsLimitFailsAtOnceWithItsReasonAndLimit() throws Exception {
    client.admin().createTopic("small", TopicSettings.builder().maxEventBytes(100).build());
    Publisher pub = client.publisher("small").create();
    long t0 = System.nanoTime();
    HeraldException e = failureOf(pub.publish(Event.of("t", new byte[200])));
    // refused for good: not retried until the total timeout
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(e.reason()).isEqualTo(ErrorReason.EVENT_TOO_LARGE);
    assertThat(e.isRetryable()).isFalse();
    assertThat(e.metadata()).containsEntry("topic", "small").containsEntry("limit", "100").containsEntry("index", "0");
    pub.close(Duration.ofMillis(100));
  }

  @Test
  void unknownTopicCarriesItsReason() {
    HeraldException e = catchThrowableOfType(HeraldException.class, () -> client.admin().getTopic("missing"));
    assertThat(e).isInstanceOf(HeraldException.TopicNotFoundException.class);
    assertThat(e.reason()).isEqualTo(ErrorReason.TOPIC_NOT_FOUND);
    assertThat(e.metadata()).containsEntry("topic", "missing");
    assertThat(e.isRetryable()).isFalse();
  }

  @Test
  void theSdksReasonsAreTheProtosWithTheSameRetryability() {
    // herald.v1.ErrorReason numbers permanent reasons below 50 and retryable ones from 50
    for (io.herald.proto.v1.ErrorReason wire : io.herald.proto.v1.ErrorReason.values()) {
      if (wire == io.herald.proto.v1.ErrorReason.UNRECOGNIZED || wire == io.herald.proto.v1.ErrorReason.ERROR_REASON_UNSPECIFIED) {
        continue;
      }
      ErrorReason sdk = ErrorReason.of(wire.name().substring("ERROR_REASON_".length()));
      assertThat(sdk).as(wire.name()).isNotEqualTo(ErrorReason.UNSPECIFIED);
      assertThat(sdk.retryable()).as(wire.name()).isEqualTo(wire.getNumber() >= 50);
    }
    assertThat(ErrorReason.values()).hasSize((int) Arrays.stream(io.herald.proto.v1.ErrorReason.values())
        .filter(r -> r != io.herald.proto.v1.ErrorReason.UNRECOGNIZED).count());
  }
}
