package io.herald.client.internal;

/**
 * The credit arithmetic of one subscription: how much the broker may send, and when a top-up is
 * worth a frame. Pure (no I/O, no clock); not thread-safe: its owner's lock guards it.
 *
 * <h2>Terms</h2>
 * <ul>
 *   <li><b>outstanding</b>: events (and their bytes) received and kept, not yet handled. Survives a
 *       reconnect: events still queued are handled after it.</li>
 *   <li><b>held</b>: credit granted on the current stream and not used yet by the broker
 *       ({@code granted - received}). The broker sends while it has event credit and, with a byte
 *       bound, positive byte credit; a batch may overshoot byte credit by one event, so held bytes
 *       may be negative (a debt the next grant pays first).</li>
 *   <li><b>target</b>: {@code maxEvents} (automatic mode) or the demand requested and not yet
 *       received (manual mode: the Flow adapter's {@code request(n)}).</li>
 * </ul>
 *
 * <h2>Invariant</h2>
 * After every top-up, {@code outstanding + held <= target} for events and, with a byte bound,
 * {@code outstandingBytes + heldBytes <= maxBytes}; so the client never holds more than
 * {@code maxEvents} events, and more than {@code maxBytes} only by the broker's one-event
 * overshoot. {@link #check()} verifies the bookkeeping.
 *
 * <h2>When to grant</h2>
 * A top-up grants both deficits at once (events and bytes), and is sent when either is at least a
 * quarter of its bound, or when the broker is stalled (no event credit, or byte credit used up)
 * and the grant lets it send again. Either dimension alone can trigger it: a byte-limited
 * subscription whose event credit is still plentiful is topped up by bytes.
 */
public final class CreditWindow {
  /** A credit frame to send; {@link #NONE} when nothing is worth sending. */
  public record Grant(long events, long bytes) {
    public static final Grant NONE = new Grant(0, 0);

    public boolean isNone() {
      return events == 0 && bytes == 0;
    }
  }

  /** Largest manual demand kept (far below the broker's 2^40 cap on outstanding credit). */
  static final long MAX_DEMAND = 1L << 39;

  private final long maxEvents;
  private final long maxBytes;
  private final boolean manual;

  private long outstandingEvents;
  private long outstandingBytes;
  private long demand;
  // the current stream
  private long grantedEvents;
  private long receivedEvents;
  private long grantedBytes;
  private long receivedBytes;

  /**
   * @param maxEvents bound of outstanding events (&gt;= 1)
   * @param maxBytes bound of outstanding bytes, or 0 for none (event credit only)
   * @param manual true if the target is the requested demand instead of {@code maxEvents}
   */
  public CreditWindow(long maxEvents, long maxBytes, boolean manual) {
    if (maxEvents < 1 || maxBytes < 0) {
      throw new IllegalArgumentException("need maxEvents >= 1 and maxBytes >= 0; got " + maxEvents + ", " + maxBytes);
    }
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
    this.manual = manual;
  }

  private boolean byteBound() {
    return maxBytes > 0;
  }

  /**
   * A new stream: forgets what the previous one was granted and returns its initial credit. With a
   * byte bound the initial byte credit is at least 1 (0 would tell the broker "events only").
   */
  public Grant open() {
    receivedEvents = 0;
    receivedBytes = 0;
    grantedEvents = Math.max(0, target());
    grantedBytes = byteBound() ? Math.max(1, maxBytes - outstandingBytes) : 0;
    return new Grant(grantedEvents, grantedBytes);
  }

  /**
   * An event arrived on the current stream (it used the broker's credit). {@code keep} is false
   * for one dropped as already seen (resent after a resume): it is not outstanding.
   */
  public void received(int size, boolean keep) {
    receivedEvents++;
    receivedBytes += size;
    if (keep) {
      outstandingEvents++;
      outstandingBytes += size;
      if (manual) {
        demand = Math.max(0, demand - 1);
      }
    }
  }

  /** Outstanding events were handled (or discarded on close). */
  public void handled(long events, long bytes) {
    outstandingEvents -= events;
    outstandingBytes -= bytes;
  }

  /** Manual mode: {@code n} more wanted (saturating). */
  public void request(long n) {
    if (n <= 0) {
      throw new IllegalArgumentException("request must be positive; got " + n);
    }
    demand = n > MAX_DEMAND - demand ? MAX_DEMAND : demand + n;
  }

  private long target() {
    return manual ? demand : maxEvents - outstandingEvents;
  }

  /**
   * What to grant now, recorded as granted; {@link Grant#NONE} if nothing is due. {@code force}
   * sends any positive deficit (used when demand was just requested).
   */
  public Grant topUp(boolean force) {
    long heldEvents = heldEvents();
    long heldBytes = heldBytes();
    long events = Math.max(0, target() - heldEvents);
    long bytes = byteBound() ? Math.max(0, maxBytes - outstandingBytes - heldBytes) : 0;
    if (events == 0 && bytes == 0) {
      return Grant.NONE;
    }
    boolean worth = events >= eventThreshold() || (byteBound() && bytes >= Math.max(1, maxBytes / 4));
    boolean stalled = heldEvents <= 0 || (byteBound() && heldBytes <= 0);
    boolean unstalls = stalled && heldEvents + events > 0 && (!byteBound() || heldBytes + bytes > 0);
    if (!(force || worth || unstalls)) {
      return Grant.NONE;
    }
    grantedEvents += events;
    grantedBytes += bytes;
    return new Grant(events, bytes);
  }

  private long eventThreshold() {
    return manual ? 1 : Math.max(1, maxEvents / 4);
  }

  /** Event credit the broker still holds on the current stream. */
  public long heldEvents() {
    return grantedEvents - receivedEvents;
  }

  /** Byte credit the broker still holds on the current stream (negative: a debt); 0 without a byte bound. */
  public long heldBytes() {
    return byteBound() ? grantedBytes - receivedBytes : 0;
  }

  public long outstandingEvents() {
    return outstandingEvents;
  }

  public long outstandingBytes() {
    return outstandingBytes;
  }

  /** Manual mode: requested and not yet received. */
  public long demand() {
    return demand;
  }

  /** Throws {@link IllegalStateException} if the bookkeeping is inconsistent (for tests). */
  public void check() {
    if (outstandingEvents < 0 || outstandingBytes < 0 || demand < 0 || receivedEvents < 0 || receivedBytes < 0) {
      throw new IllegalStateException("negative count: " + this);
    }
    if (receivedEvents > grantedEvents) {
      throw new IllegalStateException("the broker sent more events than granted: " + this);
    }
    if (!manual && outstandingEvents + heldEvents() > maxEvents) {
      throw new IllegalStateException("outstanding + held events above maxEvents: " + this);
    }
  }

  @Override
  public String toString() {
    return "CreditWindow{max=" + maxEvents + "/" + maxBytes + (manual ? ", manual, demand=" + demand : "") + ", outstanding="
        + outstandingEvents + "/" + outstandingBytes + ", granted=" + grantedEvents + "/" + grantedBytes + ", received="
        + receivedEvents + "/" + receivedBytes + "}";
  }
}
