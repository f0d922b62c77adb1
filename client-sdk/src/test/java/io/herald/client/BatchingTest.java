package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class BatchingTest {

  @Test
  void eachSetterChangesOnlyItsValueOfTheBatchingItIsCalledOn() {
    Batching b = Batching.immediate().maxEvents(100);
    assertThat(b.maxEvents()).isEqualTo(100);
    assertThat(b.linger()).isZero(); // not the default 2 ms
    assertThat(b.maxBytes()).isEqualTo(Batching.DEFAULT_MAX_BYTES);
    Batching c = Batching.none().maxBytes(1_000).linger(Duration.ofMillis(5));
    assertThat(c.maxEvents()).isEqualTo(1);
    assertThat(c.maxBytes()).isEqualTo(1_000);
    assertThat(c.linger()).isEqualTo(Duration.ofMillis(5));
    assertThat(Batching.defaults().maxEvents(7).maxEvents()).isEqualTo(7);
    assertThat(Batching.defaults().maxEvents()).isEqualTo(Batching.DEFAULT_MAX_EVENTS); // immutable
  }

  @Test
  void noStaticMethodSharesItsNameWithAnInstanceMethod() {
    // a static factory called through an instance would silently drop that instance's settings
    Set<String> statics = Arrays.stream(Batching.class.getMethods()).filter(m -> Modifier.isStatic(m.getModifiers()))
        .map(Method::getName).collect(Collectors.toSet());
    Set<String> instance = Arrays.stream(Batching.class.getMethods()).filter(m -> !Modifier.isStatic(m.getModifiers()))
        .map(Method::getName).collect(Collectors.toSet());
    assertThat(statics).doesNotContainAnyElementsOf(instance);
  }

  @Test
  void badValuesAreRefusedWithTheValueAndTheRange() {
    assertThatThrownBy(() -> Batching.defaults().maxEvents(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxEvents").hasMessageContaining("1..10000").hasMessageContaining("0");
    assertThatThrownBy(() -> Batching.defaults().maxBytes(Batching.MAX_BYTES_LIMIT + 1)).hasMessageContaining("maxBytes");
    assertThatThrownBy(() -> Batching.defaults().linger(Duration.ofSeconds(11))).hasMessageContaining("linger");
    assertThatThrownBy(() -> Batching.defaults().linger(null)).isInstanceOf(NullPointerException.class);
  }
}
