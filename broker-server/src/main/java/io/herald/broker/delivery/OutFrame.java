package io.herald.broker.delivery;

import com.google.protobuf.CodedOutputStream;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.herald.broker.subscription.Sequenced;
import io.herald.proto.v1.SubscribeResponse;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;

/**
 * A {@code SubscribeResponse} on its way out, already encoded. A batch frame is written from the
 * events' shared {@code DeliveredEvent} bytes: an {@code EventBatch} is the concatenation of
 * {@code tag(1) + length + bytes} per event, wrapped in {@code tag(2) + length}, so each event is
 * serialized once per topic, not once per subscriber, and copied straight into gRPC's buffers.
 */
final class OutFrame {
  /** SubscribeResponse.batch = 2, length-delimited. */
  private static final int BATCH_TAG = (2 << 3) | 2;
  /** EventBatch.events = 1, length-delimited. */
  private static final int EVENT_TAG = (1 << 3) | 2;

  /** Server-side only: writes frames; a client never hands this marshaller bytes to parse. */
  static final MethodDescriptor.Marshaller<OutFrame> MARSHALLER = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(OutFrame frame) {
      return frame.new Stream();
    }

    @Override
    public OutFrame parse(InputStream stream) {
      throw new IllegalStateException("OutFrame is written by the broker, never parsed");
    }
  };

  private final byte[] whole;
  private final List<Sequenced> events;
  private final int bodyLength;
  private final int length;

  private OutFrame(byte[] whole, List<Sequenced> events, int bodyLength, int length) {
    this.whole = whole;
    this.events = events;
    this.bodyLength = bodyLength;
    this.length = length;
  }

  static OutFrame of(SubscribeResponse message) {
    byte[] b = message.toByteArray();
    return new OutFrame(b, null, 0, b.length);
  }

  static OutFrame batch(List<Sequenced> events) {
    int body = 0;
    for (Sequenced e : events) {
      body += 1 + CodedOutputStream.computeUInt32SizeNoTag(e.size()) + e.size();
    }
    int total = 1 + CodedOutputStream.computeUInt32SizeNoTag(body) + body;
    return new OutFrame(null, events, body, total);
  }

  int length() {
    return length;
  }

  /**
   * Per writer thread: events are gathered here and handed to gRPC in large chunks, because each
   * {@code write} into gRPC's framer has a fixed cost far above that of copying 200 bytes.
   */
  private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[32 * 1024]);

  private void writeTo(OutputStream out) throws IOException {
    if (whole != null) {
      out.write(whole);
      return;
    }
    byte[] buf = SCRATCH.get();
    int n = 0;
    buf[n++] = (byte) BATCH_TAG;
    n = varint(buf, n, bodyLength);
    for (Sequenced e : events) {
      byte[] bytes = e.encoded();
      if (n + 6 + bytes.length > buf.length) {
        out.write(buf, 0, n);
        n = 0;
      }
      buf[n++] = (byte) EVENT_TAG;
      n = varint(buf, n, bytes.length);
      if (bytes.length > buf.length - n) {
        out.write(buf, 0, n); // a large event goes straight through
        out.write(bytes);
        n = 0;
      } else {
        System.arraycopy(bytes, 0, buf, n, bytes.length);
        n += bytes.length;
      }
    }
    if (n > 0) {
      out.write(buf, 0, n);
    }
  }

  /** Writes {@code value} as a varint at {@code pos}; returns the position after it. */
  private static int varint(byte[] buf, int pos, int value) {
    while ((value & ~0x7F) != 0) {
      buf[pos++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buf[pos++] = (byte) value;
    return pos;
  }

  byte[] toByteArray() {
    if (whole != null) {
      return whole;
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(length);
    try {
      writeTo(out);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }

  /** Drained straight into gRPC's buffers; read() (e.g. in-process transport) materializes once. */
  private final class Stream extends InputStream implements Drainable, KnownLength {
    private boolean drained;
    private ByteArrayInputStream materialized;

    @Override
    public int drainTo(OutputStream target) throws IOException {
      if (drained || materialized != null) {
        throw new IllegalStateException("frame stream already consumed");
      }
      drained = true;
      writeTo(target);
      return length;
    }

    @Override
    public int available() {
      if (materialized != null) {
        return materialized.available();
      }
      return drained ? 0 : length;
    }

    private ByteArrayInputStream materialized() {
      if (materialized == null) {
        materialized = new ByteArrayInputStream(drained ? new byte[0] : toByteArray());
      }
      return materialized;
    }

    @Override
    public int read() {
      return materialized().read();
    }

    @Override
    public int read(byte[] b, int off, int len) {
      return materialized().read(b, off, len);
    }
  }
}
