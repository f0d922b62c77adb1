package io.herald.broker.transport;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a drain task on an executor so that it never runs twice at once and never misses a wake-up:
 * {@link #signal()} from any thread schedules the task if it is not running, or makes the running
 * task go round once more. This is how each stream gets exactly one writer (no concurrent
 * {@code onNext}) without a thread of its own.
 */
public final class Drainer implements Runnable {
  private final AtomicInteger wip = new AtomicInteger();
  private final Executor executor;
  private final Runnable task;

  public Drainer(Executor executor, Runnable task) {
    this.executor = executor;
    this.task = task;
  }

  /** Makes sure the task runs (again) soon. Cheap, non-blocking, callable from any thread. */
  public void signal() {
    if (wip.getAndIncrement() == 0) {
      try {
        executor.execute(this);
      } catch (RejectedExecutionException e) {
        wip.set(0); // executor shut down: the owner ends the stream itself
      }
    }
  }

  @Override
  public void run() {
    int missed = 1;
    do {
      task.run();
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }
}
