package io.herald.broker.transport;

import io.grpc.KnownLength;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/** Reading a received gRPC message's bytes for the broker's own marshallers. Stateless. */
public final class Messages {
  private Messages() { }

  /**
   * All of {@code stream}'s bytes in one array. gRPC hands a marshaller a {@link KnownLength}
   * stream whose {@code available()} is what is left, so the array is made at its exact size and
   * filled in one pass; {@code InputStream.readAllBytes} would read in 8–16 KiB chunks and copy
   * them into the result once more.
   */
  public static byte[] readAll(InputStream stream) throws IOException {
    if (!(stream instanceof KnownLength)) {
      return stream.readAllBytes();
    }
    int n = stream.available();
    byte[] out = new byte[n];
    int read = stream.readNBytes(out, 0, n);
    byte[] rest = stream.readAllBytes(); // empty as promised; read anyway, so nothing is ever cut off
    if (read == n && rest.length == 0) {
      return out;
    }
    byte[] all = Arrays.copyOf(out, read + rest.length);
    System.arraycopy(rest, 0, all, read, rest.length);
    return all;
  }
}
