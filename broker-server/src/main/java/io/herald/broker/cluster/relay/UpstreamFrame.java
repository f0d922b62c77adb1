package io.herald.broker.cluster.relay;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.grpc.MethodDescriptor;
import io.herald.broker.subscription.Gap;
import io.herald.broker.subscription.GapReason;
import io.herald.broker.subscription.Sequenced;
import io.herald.broker.transport.Messages;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscriptionStarted;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code SubscribeResponse} as a relay reads it from the owner: {@code started}, a gap notice, or
 * a batch whose events are kept as the owner encoded them. Each {@code DeliveredEvent}'s bytes
 * become a {@link Sequenced} as they are (only its sequence, epoch and publish time are read), so a
 * relayed event is encoded once, on the owner, and the relay's local subscribers are sent those same
 * bytes. Immutable.
 */
final class UpstreamFrame {
  /** SubscribeResponse.started = 1, batch = 2, gap = 3 (length-delimited). */
  private static final int STARTED_TAG = (1 << 3) | 2;
  private static final int BATCH_TAG = (2 << 3) | 2;
  private static final int GAP_TAG = (3 << 3) | 2;
  /** EventBatch.events = 1. */
  private static final int EVENT_TAG = (1 << 3) | 2;
  /** DeliveredEvent.sequence = 1, epoch = 2 (varints), publish_time = 3. */
  private static final int SEQUENCE_TAG = 1 << 3;
  private static final int EPOCH_TAG = 2 << 3;
  private static final int PUBLISH_TIME_TAG = (3 << 3) | 2;

  /** Client-side only: parses frames; the relay never sends one. */
  static final MethodDescriptor.Marshaller<UpstreamFrame> MARSHALLER = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(UpstreamFrame frame) {
      throw new IllegalStateException("UpstreamFrame is read by the relay, never written");
    }

    @Override
    public UpstreamFrame parse(InputStream stream) {
      try {
        // one copy of the message into an array, then array decoding (no stream decoder, no
        // intermediate copy of the batch): each event is copied once more, into its own array
        return UpstreamFrame.parse(CodedInputStream.newInstance(Messages.readAll(stream)));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  /** Set for a started frame. */
  final SubscriptionStarted started;
  /** Set for a gap notice. */
  final Gap gap;
  /** Set (possibly empty) for a batch. */
  final List<Sequenced> events;

  private UpstreamFrame(SubscriptionStarted started, Gap gap, List<Sequenced> events) {
    this.started = started;
    this.gap = gap;
    this.events = events;
  }

  static UpstreamFrame parse(CodedInputStream in) throws IOException {
    SubscriptionStarted started = null;
    Gap gap = null;
    List<Sequenced> events = null;
    // a oneof: the last of the three fields wins, as in protobuf
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      switch (tag) {
        case STARTED_TAG -> {
          started = SubscriptionStarted.parseFrom(in.readBytes());
          gap = null;
          events = null;
        }
        case GAP_TAG -> {
          gap = gap(GapNotice.parseFrom(in.readBytes()));
          started = null;
          events = null;
        }
        case BATCH_TAG -> {
          int limit = in.pushLimit(in.readRawVarint32());
          events = batch(in);
          in.popLimit(limit);
          started = null;
          gap = null;
        }
        default -> in.skipField(tag);
      }
    }
    if (started == null && gap == null && events == null) {
      throw new IOException("a subscribe frame with neither started, batch nor gap set");
    }
    return new UpstreamFrame(started, gap, events);
  }

  /** The events of an EventBatch, {@code in} limited to it. */
  private static List<Sequenced> batch(CodedInputStream in) throws IOException {
    List<Sequenced> out = new ArrayList<>(64);
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      if (tag == EVENT_TAG) {
        out.add(event(in.readByteArray()));
      } else {
        in.skipField(tag);
      }
    }
    return out;
  }

  /**
   * The event's own bytes, with its sequence, epoch and publish time read from them. The reading
   * stops at the first field after publish_time: the owner writes a DeliveredEvent's fields in
   * number order (DeliveredEventEncoder, as protobuf serializers do), so the event itself is not
   * scanned.
   */
  static Sequenced event(byte[] encoded) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(encoded);
    long sequence = 0;
    long epoch = 0;
    long millis = 0;
    for (int tag = in.readTag(); tag != 0 && WireFormat.getTagFieldNumber(tag) <= 3; tag = in.readTag()) {
      // from field 4 on it is the event and an assigned id: nothing the relay reads
      switch (tag) {
        case SEQUENCE_TAG -> sequence = in.readUInt64();
        case EPOCH_TAG -> epoch = in.readUInt64();
        case PUBLISH_TIME_TAG -> millis = timestampMillis(in);
        default -> in.skipField(tag);
      }
    }
    if (sequence < 1) {
      throw new IOException("a relayed event without a sequence");
    }
    return new Sequenced(sequence, epoch, encoded, millis);
  }

  /** Reads a length-delimited {@code google.protobuf.Timestamp} (seconds = 1, nanos = 2) in place, without a message object. */
  private static long timestampMillis(CodedInputStream in) throws IOException {
    int limit = in.pushLimit(in.readRawVarint32());
    long seconds = 0;
    int nanos = 0;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      switch (tag) {
        case 1 << 3 -> seconds = in.readInt64();
        case 2 << 3 -> nanos = in.readInt32();
        default -> in.skipField(tag);
      }
    }
    in.popLimit(limit);
    return seconds * 1000 + nanos / 1_000_000;
  }

  /** The broker's gap of a notice; an unknown reason is kept as the closest one the broker knows. */
  static Gap gap(GapNotice g) throws IOException {
    GapReason r = switch (g.getReason()) {
      case GAP_REASON_DROPPED -> GapReason.DROPPED;
      case GAP_REASON_EVICTED -> GapReason.EVICTED;
      case GAP_REASON_RETENTION -> GapReason.RETENTION;
      case GAP_REASON_CRASH_RECOVERY -> GapReason.CRASH_RECOVERY;
      case GAP_REASON_TOPIC_RECREATED -> GapReason.TOPIC_RECREATED;
      case GAP_REASON_LOOP_RESTARTED -> GapReason.LOOP_RESTARTED;
      case GAP_REASON_OWNER_CHANGE -> GapReason.OWNER_CHANGE;
      case GAP_REASON_UNSPECIFIED, UNRECOGNIZED -> throw new IOException("gap notice with reason " + g.getReasonValue()
          + " this broker does not know (the owner runs a newer version?)");
    };
    try {
      return new Gap(g.getFirstSequence(), g.getLastSequence(), r, g.getEpoch(), g.getCountUnknown());
    } catch (IllegalArgumentException e) {
      throw new IOException("malformed gap notice: " + e.getMessage(), e);
    }
  }

  /** For tests: the frame of a whole response message. */
  static UpstreamFrame of(SubscribeResponse r) throws IOException {
    return parse(CodedInputStream.newInstance(r.toByteArray()));
  }
}
