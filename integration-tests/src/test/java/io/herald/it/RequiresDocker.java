package io.herald.it;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.testcontainers.DockerClientFactory;

/**
 * Runs the class only where Docker answers. Without Docker the tests are skipped with the reason,
 * unless {@code REQUIRE_DOCKER=true} (CI), where a missing Docker fails them instead.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresDocker.Condition.class)
public @interface RequiresDocker {

  final class Condition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext ctx) {
      String why;
      try {
        DockerClientFactory.instance().client();
        return ConditionEvaluationResult.enabled("Docker is available");
      } catch (Throwable t) {
        why = t.getClass().getSimpleName() + ": " + t.getMessage();
      }
      if (Boolean.parseBoolean(System.getenv("REQUIRE_DOCKER"))) {
        throw new IllegalStateException("Docker is required (REQUIRE_DOCKER=true) but not usable: " + why);
      }
      return ConditionEvaluationResult.disabled("Docker not available, skipping container tests: " + why);
    }
  }
}
