package io.herald.broker.transport;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a drain task on an executor so that it never runs twice at once and never misses a wake-up:
 * {@link #signal()} from any thread schedules the task if it is not running, or makes it run once
 * more afterwards. This is how each stream gets exactly one writer (no concurrent {@code onNext})
 * without a thread of its own. A further run is submitted to the executor again rather than looped
 * on the same thread, so a busy stream takes turns with the others on a small pool (a task that
 * stops early to be fair calls {@link #signal()} to get another turn).
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
    int seen = wip.get();
    task.run();
    if (wip.addAndGet(-seen) != 0) {
      try {
        executor.execute(this); // more to do: back of the line, behind the other streams
      } catch (RejectedExecutionException e) {
        wip.set(0);
      }
    }
  }
}
