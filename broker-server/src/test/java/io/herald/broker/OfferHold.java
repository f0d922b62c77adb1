package io.herald.broker;

import static net.bytebuddy.matcher.ElementMatchers.named;

import io.herald.broker.topic.Admission;
import io.herald.broker.topic.Topic;
import net.bytebuddy.ByteBuddy;
import net.bytebuddy.agent.ByteBuddyAgent;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.dynamic.loading.ClassReloadingStrategy;

/**
 * Test-only fault injection: holds the thread that offered a batch to a topic right after {@code
 * Topic.offer} returned {@link Admission#WAITING}, before the publish handler records it, as a
 * preemption at that instant would. The dispatch loop can then let the batch in (or fail it) while
 * the handler still believes it is being offered: the race behind a stream that is never read again.
 * Without it that interleaving is real but rare (about once in 40,000 waits here).
 *
 * <p>Installed once per JVM by redefining {@code Topic.offer} with a Byte Buddy advice (through the
 * JVM's instrumentation, attached at run time); off until a test {@link #arm arms} it, and a
 * disarmed hold costs one volatile read per offer.
 */
public final class OfferHold {
  /** What a held offer does; runs on the publish handler's thread (a transport thread). */
  @FunctionalInterface
  public interface Action {
    void run() throws InterruptedException;
  }

  private static volatile Action action;
  private static boolean installed;

  private OfferHold() { }

  /** Runs {@code a} after every offer that returns WAITING, until {@link #disarm}. */
  public static synchronized void arm(Action a) {
    if (!installed) {
      new ByteBuddy()
          .redefine(Topic.class)
          .visit(Advice.to(Exit.class).on(named("offer")))
          .make()
          .load(Topic.class.getClassLoader(), ClassReloadingStrategy.fromInstalledAgent());
      installed = true;
    }
    action = a;
  }

  public static void disarm() {
    action = null;
  }

  /** Called by the advice at the end of {@code Topic.offer}. */
  public static void offered(Admission a) {
    Action act = action;
    if (act != null && a == Admission.WAITING) {
      try {
        act.run();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Spins (does not park) for {@code nanos}: a stretched instruction window, not a wait for anything. */
  public static void spin(long nanos) {
    long start = System.nanoTime();
    while (System.nanoTime() - start < nanos) {
      Thread.onSpinWait();
    }
  }

  static final class Exit {
    @Advice.OnMethodExit
    static void exit(@Advice.Return Admission returned) {
      OfferHold.offered(returned);
    }
  }

  static {
    ByteBuddyAgent.install();
  }
}
