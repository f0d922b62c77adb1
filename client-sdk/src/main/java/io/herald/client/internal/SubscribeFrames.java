package io.herald.client.internal;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.SubscriptionStarted;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The client's view of {@code SubscribeResponse}: the same wire format, read without building a
 * message per event. A batch becomes {@link Raw} entries holding each event's position and its
 * encoded envelope (a slice of the received bytes, not a copy); the envelope is decoded only if the
 * handler asks for it ({@code Delivery.event()}). Stateless and thread-safe.
 */
final class SubscribeFrames {
  private SubscribeFrames() { }

  /** A frame as received. */
  sealed interface Frame permits Started, Batch, Gap { }

  record Started(SubscriptionStarted started) implements Frame { }

  record Batch(List<Raw> events) implements Frame { }

  record Gap(GapNotice gap) implements Frame { }

  /** One event: position, publish time, the encoded envelope, and the DeliveredEvent's size (what byte credit counts). */
  record Raw(long sequence, long epoch, long seconds, int nanos, ByteString event, int size) { }

  static final MethodDescriptor.Marshaller<Frame> MARSHALLER = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(Frame value) {
      throw new IllegalStateException("subscribe frames are only received by the client");
    }

    @Override
    public Frame parse(InputStream stream) {
      try {
        return SubscribeFrames.parse(stream.readAllBytes());
      } catch (IOException e) {
        throw new UncheckedIOException("malformed subscribe frame from the broker", e);
      }
    }
  };

  static final MethodDescriptor<SubscribeRequest, Frame> METHOD = SubscribeServiceGrpc.getSubscribeMethod()
      .toBuilder(ProtoUtils.marshaller(SubscribeRequest.getDefaultInstance()), MARSHALLER)
      .build();

  static Frame parse(byte[] bytes) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(bytes);
    in.enableAliasing(true); // event slices share the received array
    Frame frame = null;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> frame = new Started(SubscriptionStarted.parseFrom(in.readBytes()));
        case 2 -> frame = new Batch(batch(in));
        case 3 -> frame = new Gap(GapNotice.parseFrom(in.readBytes()));
        default -> in.skipField(tag);
      }
    }
    if (frame == null) {
      throw new IOException("empty subscribe frame");
    }
    return frame;
  }

  private static List<Raw> batch(CodedInputStream in) throws IOException {
    int length = in.readRawVarint32();
    int outer = in.pushLimit(length);
    List<Raw> events = new ArrayList<>();
    while (!in.isAtEnd()) {
      int tag = in.readTag();
      if (WireFormat.getTagFieldNumber(tag) != 1) {
        in.skipField(tag);
        continue;
      }
      int size = in.readRawVarint32();
      int limit = in.pushLimit(size);
      long sequence = 0;
      long epoch = 0;
      long seconds = 0;
      int nanos = 0;
      ByteString event = ByteString.EMPTY;
      while (!in.isAtEnd()) {
        int t = in.readTag();
        switch (WireFormat.getTagFieldNumber(t)) {
          case 1 -> sequence = in.readUInt64();
          case 2 -> epoch = in.readUInt64();
          case 3 -> {
            int tl = in.pushLimit(in.readRawVarint32());
            while (!in.isAtEnd()) {
              int tt = in.readTag();
              switch (WireFormat.getTagFieldNumber(tt)) {
                case 1 -> seconds = in.readInt64();
                case 2 -> nanos = in.readInt32();
                default -> in.skipField(tt);
              }
            }
            in.popLimit(tl);
          }
          case 4 -> event = in.readBytes();
          default -> in.skipField(t);
        }
      }
      in.popLimit(limit);
      events.add(new Raw(sequence, epoch, seconds, nanos, event, size));
    }
    in.popLimit(outer);
    return events;
  }
}
