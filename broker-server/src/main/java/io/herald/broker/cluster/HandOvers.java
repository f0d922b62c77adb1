package io.herald.broker.cluster;

import io.herald.broker.metadata.TopicRecord;
import io.herald.proto.cluster.v1.DedupEntry;
import io.herald.proto.cluster.v1.HandOverRequest;
import io.herald.proto.v1.PublishAck;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Dedup windows other nodes handed over with their topics (a graceful stop, {@code HandOver}),
 * kept until this node takes the topic over or for {@link #KEEP_NANOS}. A node stopping sends its
 * window to every other node before it releases the topic, since only the metadata decides which
 * one takes it; the one that does starts the topic with those ids ({@link #take}), the others let
 * them expire.
 *
 * <p>Bounded: at most {@link #MAX_IDS} ids and {@link #MAX_WINDOWS} windows in all (a part beyond
 * them is refused and that window dropped: its topic then starts with an empty window, as after a
 * crash); windows expire on the broker's timer as well, not only when parts arrive. Thread-safe (one lock;
 * parts arrive on transport threads, takes on the metadata thread).
 */
public final class HandOvers {
  /** How long a window waits for its topic to be taken over here. */
  static final long KEEP_NANOS = TimeUnit.SECONDS.toNanos(60);
  /** Ids kept at most, over every window. */
  public static final int MAX_IDS = 1_000_000;
  /** Windows kept at most (a window may be empty or hold few ids). */
  public static final int MAX_WINDOWS = 10_000;

  private record Key(String topic, long createEpoch, long epoch) { }

  private static final class Window {
    final long nextSequence;
    final long arrivedNanos;
    final Map<String, PublishAck> ids = new HashMap<>();
    boolean complete;

    Window(long nextSequence, long arrivedNanos) {
      this.nextSequence = nextSequence;
      this.arrivedNanos = arrivedNanos;
    }
  }

  private final Map<Key, Window> windows = new HashMap<>();
  private int ids;
  private final java.util.function.LongSupplier clock;

  public HandOvers() {
    this(System::nanoTime);
  }

  /** With a clock of nanoseconds (tests). */
  HandOvers(java.util.function.LongSupplier clock) {
    this.clock = clock;
  }

  /** Adds a part; false if it was refused (beyond {@link #MAX_IDS}): the window is dropped. */
  public synchronized boolean add(HandOverRequest part) {
    long now = clock.getAsLong();
    expire(now);
    Key k = new Key(part.getTopic(), part.getCreateEpoch(), part.getEpoch());
    if (!windows.containsKey(k) && windows.size() >= MAX_WINDOWS) {
      return false;
    }
    Window w = windows.computeIfAbsent(k, x -> new Window(part.getNextSequence(), now));
    if (ids + part.getDedupCount() > MAX_IDS) {
      ids -= w.ids.size();
      windows.remove(k);
      return false;
    }
    for (DedupEntry e : part.getDedupList()) {
      if (w.ids.put(e.getKey(), e.getAck()) == null) {
        ids++;
      }
    }
    w.complete |= part.getLast();
    return true;
  }

  /**
   * The ids handed over for the topic of {@code r} (this incarnation, from an older epoch), or
   * null; removes them. Every id is a fact about the incarnation (its first ack), so any later
   * owner may use them, whichever epoch it continues in.
   */
  public synchronized Map<String, PublishAck> take(TopicRecord r) {
    expire(clock.getAsLong());
    Map<String, PublishAck> out = null;
    Iterator<Map.Entry<Key, Window>> it = windows.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Key, Window> e = it.next();
      Key k = e.getKey();
      if (k.topic().equals(r.name()) && k.createEpoch() == r.createEpoch() && k.epoch() < r.epoch()) {
        it.remove();
        ids -= e.getValue().ids.size();
        if (e.getValue().complete && e.getValue().nextSequence <= r.epochStartSequence()) {
          if (out == null) {
            out = new HashMap<>(e.getValue().ids);
          } else {
            out.putAll(e.getValue().ids);
          }
        }
      }
    }
    return out;
  }

  /** Ids held now, over every window (for tests and metrics). */
  public synchronized int size() {
    return ids;
  }

  /** Windows held now (tests, metrics). */
  public synchronized int windows() {
    return windows.size();
  }

  /** Drops windows older than {@link #KEEP_NANOS}: run periodically by the broker's timer, and on every add and take. */
  public synchronized void expire() {
    expire(clock.getAsLong());
  }

  private void expire(long now) {
    Iterator<Window> it = windows.values().iterator();
    while (it.hasNext()) {
      Window w = it.next();
      if (now - w.arrivedNanos > KEEP_NANOS) {
        ids -= w.ids.size();
        it.remove();
      }
    }
  }
}
