package io.herald.broker.transport;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Runs a drain task on an executor so that it never runs twice at once and never misses a wake-up:
 * {@link #signal()} from any thread schedules the task if it is not running, or makes it run once
 * more afterwards. This is how each stream gets exactly one writer (no concurrent {@code onNext})
 * without a thread of its own. A further run is submitted to the executor again rather than looped
 * on the same thread, so a busy stream takes turns with the others on a small pool (a task that
 * stops early to be fair calls {@link #signal()} to get another turn).
 *
 * <p>Whatever the task throws ({@link Error}s included) goes to the owner's {@code onFailure}, on
 * the same thread and still as the one writer, so the owner ends its stream there; the wake-up
 * count is settled as after a normal run, so later signals run the task again (an owner that ended
 * its stream makes those runs return at once). Nothing thrown escapes to the executor.
 *
 * <p>Thread-safe.
 */
public final class Drainer implements Runnable {
  private final AtomicInteger wip = new AtomicInteger();
  private final Executor executor;
  private final Runnable task;
  private final Consumer<Throwable> onFailure;

  /**
   * @param task the drain; runs on {@code executor}, never twice at once
   * @param onFailure told of anything {@code task} throws, as the one writer; must end the stream
   *     and should not throw (what it throws is added to the task's throwable as suppressed and
   *     dropped)
   */
  public Drainer(Executor executor, Runnable task, Consumer<Throwable> onFailure) {
    this.executor = executor;
    this.task = task;
    this.onFailure = onFailure;
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
    try {
      task.run();
    } catch (Throwable t) {
      try {
        onFailure.accept(t);
      } catch (Throwable t2) {
        t.addSuppressed(t2);
      }
    }
    if (wip.addAndGet(-seen) != 0) {
      try {
        executor.execute(this); // more to do: back of the line, behind the other streams
      } catch (RejectedExecutionException e) {
        wip.set(0);
      }
    }
  }

  /** A throwable and where it was thrown, on one line: what an owner logs when its task failed. */
  public static String describe(Throwable t) {
    StackTraceElement[] where = t.getStackTrace();
    return where.length == 0 ? t.toString() : t + " (at " + where[0] + ")";
  }
}
