package io.herald.broker.topic;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.PublishAck;
import java.util.List;

/**
 * A validated batch of events on its way into a topic. Created by a publish handler, queued in the
 * topic's inbox, sequenced by the topic's dispatch loop. Exactly one of {@link Listener#sequenced}
 * and {@link Listener#failed} is called, once, unless the batch is withdrawn from the wait line
 * ({@link Topic#withdraw}, its publisher cancelled): then none is.
 */
public final class PublishBatch {

  /** How the batch's publisher learns what happened. Called on the dispatch loop or the caller. */
  public interface Listener {
    /** A batch that had to wait for inbox room entered the inbox (BLOCK admission). */
    void admitted();

    /** Every event is sequenced (or recognized as a duplicate); one ack per event, in order. */
    void sequenced(List<PublishAck> acks);

    /** None of the events was accepted. */
    void failed(StatusRuntimeException status);
  }

  /** Each event's encoded {@code herald.v1.Event} bytes, as received (never decoded). */
  final List<ByteString> events;
  /** Each event's id: its publisher's, or one the broker assigned. */
  final ByteString[] ids;
  /** Each event's source (empty if none): a publisher's id is unique per source, so dedup keys on both. */
  final ByteString[] sources;
  /** Which ids the broker assigned (only publisher ids are remembered for dedup). */
  final boolean[] assigned;
  final long bytes;
  final Listener listener;
  private final int size;

  public PublishBatch(List<ByteString> events, ByteString[] ids, ByteString[] sources, boolean[] assigned, long bytes, Listener listener) {
    this.events = events;
    this.size = events.size();
    this.ids = ids;
    this.sources = sources;
    this.assigned = assigned;
    this.bytes = bytes;
    this.listener = listener;
  }

  public int size() {
    return size;
  }

  /** The events' encoded bytes, as received (for a handle that forwards the batch as it is). */
  public List<ByteString> events() {
    return events;
  }

  /** Event {@code i}'s id: its publisher's, or one the broker assigned ({@link #assigned}). */
  public ByteString id(int i) {
    return ids[i];
  }

  /** Event {@code i}'s source (empty if none). */
  public ByteString source(int i) {
    return sources[i];
  }

  /** True when event {@code i}'s id was assigned by a broker (never remembered for dedup). */
  public boolean assigned(int i) {
    return assigned[i];
  }

  /** The events' encoded size in all. */
  public long bytes() {
    return bytes;
  }

  /** Who is told what became of the batch. */
  public Listener listener() {
    return listener;
  }
}
