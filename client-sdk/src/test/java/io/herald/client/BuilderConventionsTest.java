package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * One convention for bounds: a bound you pass is a bound (at least 1), one you leave out takes its
 * default; 0 is refused with a message that names the overload to use instead.
 */
@Timeout(30)
class BuilderConventionsTest {
  // builders do not connect: no broker needed
  private final HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:1").build();

  @AfterEach
  void close() {
    client.close(Duration.ZERO);
  }

  @Test
  void zeroIsNeverABoundAndTheMessageNamesTheOverload() {
    assertThatThrownBy(() -> client.subscriber("t").maxOutstanding(100, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("got 0").hasMessageContaining("maxOutstanding(100)");
    assertThatThrownBy(() -> client.publisher("t").maxPending(100, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("got 0").hasMessageContaining("maxPending(100)");
    assertThatThrownBy(() -> client.subscriber("t").brokerBuffer(10, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("got 0").hasMessageContaining("brokerBuffer(10)");
    assertThatThrownBy(() -> client.subscriber("t").brokerBuffer(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("got 0");
    assertThatThrownBy(() -> client.subscriber("t").maxOutstanding(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1..1000000");
    assertThatThrownBy(() -> client.publisher("t").maxPending(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> client.admin().listTopics(0, "")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1..1000");
  }

  @Test
  void callersWhoDoNotCareAboutBytesDoNotPassThem() {
    assertThatCode(() -> client.subscriber("t").maxOutstanding(100).brokerBuffer(10)).doesNotThrowAnyException();
    assertThatCode(() -> client.publisher("t").maxPending(100)).doesNotThrowAnyException();
    assertThatCode(() -> client.subscriber("t").maxOutstanding(100, 1).brokerBuffer(10, 1)).doesNotThrowAnyException();
  }

  @Test
  void closeTakesATimeoutThatMustNotBeNegative() {
    assertThatThrownBy(() -> client.close(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new RetrySettings(Duration.ofMillis(1), Duration.ofMillis(1), 1, Duration.ZERO))
        .hasMessageContaining("totalTimeout");
    assertThat(client.name()).isEqualTo(HeraldClient.DEFAULT_NAME);
  }
}
