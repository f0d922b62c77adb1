package io.herald.broker.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The wake-up accounting holds whatever the task throws. */
@Timeout(30)
class DrainerTest {

  /** An executor that runs what is submitted only when the test says so, on the test's thread. */
  private static final class ManualExecutor implements Executor {
    final BlockingQueue<Runnable> queued = new ArrayBlockingQueue<>(16);

    @Override
    public void execute(Runnable r) {
      queued.add(r);
    }

    void runNext() throws InterruptedException {
      Runnable r = queued.poll(5, TimeUnit.SECONDS);
      assertThat(r).as("a queued run").isNotNull();
      r.run();
    }
  }

  @Test
  void aTaskThatThrowsAnErrorGoesToOnFailureAndLaterSignalsRunItAgain() throws Exception {
    ManualExecutor ex = new ManualExecutor();
    AtomicInteger runs = new AtomicInteger();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    Drainer d = new Drainer(ex, () -> {
      if (runs.incrementAndGet() == 1) {
        throw new AssertionError("injected");
      }
    }, failures::add);

    d.signal();
    ex.runNext(); // throws inside: nothing escapes
    assertThat(failures).hasSize(1).first().isInstanceOf(AssertionError.class);
    assertThat(ex.queued).isEmpty();

    d.signal(); // the count went back to zero: a new signal schedules a new run
    assertThat(ex.queued).hasSize(1);
    ex.runNext();
    assertThat(runs.get()).isEqualTo(2);
    assertThat(failures).hasSize(1);
  }

  @Test
  void aSignalDuringAFailingRunStillGetsItsRun() throws Exception {
    ManualExecutor ex = new ManualExecutor();
    List<String> seen = new ArrayList<>();
    Drainer[] self = new Drainer[1];
    AtomicInteger runs = new AtomicInteger();
    self[0] = new Drainer(ex, () -> {
      if (runs.incrementAndGet() == 1) {
        self[0].signal(); // e.g. the owner closing the stream wakes its writer
        throw new Error("injected");
      }
      seen.add("second run");
    }, t -> seen.add("failed: " + t.getMessage()));

    self[0].signal();
    ex.runNext();
    ex.runNext();
    assertThat(seen).containsExactly("failed: injected", "second run");
    assertThat(ex.queued).isEmpty();
  }

  @Test
  void anOnFailureThatThrowsDoesNotBreakTheAccounting() throws Exception {
    ManualExecutor ex = new ManualExecutor();
    AtomicInteger runs = new AtomicInteger();
    Drainer d = new Drainer(ex, () -> {
      runs.incrementAndGet();
      throw new IllegalStateException("task");
    }, t -> {
      throw new IllegalStateException("owner");
    });
    d.signal();
    ex.runNext();
    d.signal();
    ex.runNext();
    assertThat(runs.get()).isEqualTo(2);
  }
}
