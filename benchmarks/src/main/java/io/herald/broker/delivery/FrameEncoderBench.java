package io.herald.broker.delivery;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.grpc.Drainable;
import io.herald.broker.subscription.Sequenced;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.Event;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The subscribe frame encoder: one {@code EventBatch} frame of {@code events} already-encoded
 * DeliveredEvents (each {@code payload} bytes of data), drained into an output stream that copies
 * what it is given, as gRPC's buffer chain does. One op = one frame written.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FrameEncoderBench {
  @Param({"1", "64", "512"})
  public int events;

  @Param({"128"})
  public int payload;

  private List<Sequenced> run;
  private CopySink sink;

  /** Copies every write into a reused 4 MiB array, like a buffer chain would (minus allocation). */
  static final class CopySink extends OutputStream {
    final byte[] buffer = new byte[4 << 20];
    int pos;

    @Override
    public void write(int b) {
      if (pos == buffer.length) {
        pos = 0;
      }
      buffer[pos++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      if (pos + len > buffer.length) {
        pos = 0;
      }
      System.arraycopy(b, off, buffer, pos, len);
      pos += len;
    }
  }

  @Setup
  public void setup() {
    run = new ArrayList<>(events);
    Timestamp now = Timestamp.newBuilder().setSeconds(System.currentTimeMillis() / 1000).build();
    for (int i = 0; i < events; i++) {
      Event e = Event.newBuilder().setId("id-" + i).setType("bench").setData(ByteString.copyFrom(new byte[payload])).build();
      byte[] encoded = DeliveredEvent.newBuilder().setSequence(1_000_000 + i).setEpoch(1).setPublishTime(now).setEvent(e).build().toByteArray();
      run.add(new Sequenced(1_000_000 + i, 1, encoded, now.getSeconds() * 1000));
    }
    sink = new CopySink();
  }

  @Benchmark
  public int encodeAndDrain() throws IOException {
    return ((Drainable) OutFrame.MARSHALLER.stream(OutFrame.batch(run))).drainTo(sink);
  }
}
