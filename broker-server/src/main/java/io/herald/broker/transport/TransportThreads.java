package io.herald.broker.transport;

/**
 * The rule that transport threads never block, made checkable. gRPC handlers run on the Netty event
 * loops ({@code herald-netty-*}) with a direct executor; one blocked event loop stalls every
 * connection it serves. Code that may block (disk writes, waiting for a future, joining a thread)
 * calls {@link #checkMayBlock} first, so a path that reaches it from a handler fails loudly in
 * tests instead of stalling connections in production.
 */
public final class TransportThreads {
  /** Prefix of the broker's Netty event-loop threads (see {@link ServerFactory}). */
  public static final String PREFIX = "herald-netty-";

  private TransportThreads() { }

  /** True on one of the broker's Netty event loops. */
  public static boolean isTransportThread() {
    return Thread.currentThread().getName().startsWith(PREFIX);
  }

  /**
   * Throws {@link IllegalStateException} when called on a transport thread.
   *
   * @param what the blocking operation, for the message
   */
  public static void checkMayBlock(String what) {
    if (isTransportThread()) {
      throw new IllegalStateException(what + " would block transport thread " + Thread.currentThread().getName()
          + "; transport threads must never block (move the work to the admin executor or a topic's loop)");
    }
  }
}
