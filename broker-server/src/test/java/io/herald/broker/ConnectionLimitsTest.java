package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ConnectivityState;
import io.herald.broker.config.BrokerConfig;
import io.herald.broker.config.ConnectionLimits;
import io.herald.broker.security.SecurityConfig;
import io.herald.broker.security.TestPki;
import io.herald.proto.v1.ListTopicsRequest;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Limits on what one connection may hold, through raw sockets and real gRPC on loopback: a
 * connection that never starts its TLS handshake is closed after the handshake timeout; a client
 * flooding HEADERS + RST_STREAM (HTTP/2 rapid reset) is sent GOAWAY; a connection with no call is
 * closed after the idle limit.
 */
@Timeout(60)
class ConnectionLimitsTest {
  @TempDir
  Path dir;

  @Test
  void aConnectionThatNeverStartsItsHandshakeIsClosed() throws Exception {
    TestPki pki = new TestPki(dir, "limits");
    TestPki.Issued cert = pki.server("server");
    SecurityConfig tls = new SecurityConfig(cert.certFile(), cert.keyFile(), null, SecurityConfig.ClientAuth.NONE, null, Set.of(), null, null,
        null, null, null, null);
    try (TestBroker b = new TestBroker(c -> c.withSecurity(tls).withLimits(ConnectionLimits.DEFAULTS.withHandshakeTimeout(
        Duration.ofMillis(300))));
        Socket s = new Socket("127.0.0.1", b.broker.port())) {
      s.setSoTimeout(5_000); // far above the 300 ms limit; the default (10 s) would not close it in time
      assertThat(readUntilClosed(s)).as("bytes the broker sent").isZero();
    }
  }

  @Test
  void aRapidResetFloodIsAnsweredWithGoAway() throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withLimits(ConnectionLimits.DEFAULTS.withMaxRstPerWindow(50, Duration.ofSeconds(10))));
        Socket s = new Socket("127.0.0.1", b.broker.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      frame(out, 0x4, 0, 0, new byte[0]); // SETTINGS
      byte[] headers = headerBlock(b.broker.port());
      for (int i = 0; i < 200; i++) { // four times the limit, well under what a real attack sends
        int stream = 2 * i + 1;
        frame(out, 0x1, 0x4, stream, headers); // HEADERS, END_HEADERS
        frame(out, 0x3, 0, stream, new byte[] {0, 0, 0, 8}); // RST_STREAM CANCEL
      }
      out.flush();
      assertThat(goAwayErrorCode(s)).as("GOAWAY error code").isEqualTo(0xb); // ENHANCE_YOUR_CALM
      // another client is served as usual
      assertThat(b.admin().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsCount()).isZero();
    }
  }

  @Test
  void aConnectionWithNoCallIsClosedAfterTheIdleLimit() throws Exception {
    try (TestBroker b = new TestBroker(c -> c.withLimits(ConnectionLimits.DEFAULTS.withMaxConnectionIdle(Duration.ofMillis(500))))) {
      b.admin().listTopics(ListTopicsRequest.getDefaultInstance());
      assertThat(b.channel.getState(false)).isEqualTo(ConnectivityState.READY);
      await().atMost(Duration.ofSeconds(10)).until(() -> b.channel.getState(false) == ConnectivityState.IDLE);
      b.admin().listTopics(ListTopicsRequest.getDefaultInstance()); // the next call reconnects
    }
  }

  /** Reads until the peer closes; the number of bytes read. */
  private static int readUntilClosed(Socket s) throws IOException {
    int n = 0;
    try {
      while (s.getInputStream().read() >= 0) {
        n++;
      }
    } catch (SocketException e) {
      // reset: closed as well
    }
    return n;
  }

  /** Reads HTTP/2 frames until a GOAWAY; its error code. */
  private static int goAwayErrorCode(Socket s) throws IOException {
    DataInputStream in = new DataInputStream(s.getInputStream());
    try {
      while (true) {
        int length = (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
        int type = in.readUnsignedByte();
        in.readUnsignedByte(); // flags
        in.readInt(); // stream
        byte[] payload = in.readNBytes(length);
        if (type == 0x7) {
          return ((payload[4] & 0xff) << 24) | ((payload[5] & 0xff) << 16) | ((payload[6] & 0xff) << 8) | (payload[7] & 0xff);
        }
      }
    } catch (EOFException | SocketException e) {
      throw new AssertionError("the connection closed without a GOAWAY", e);
    }
  }

  private static void frame(OutputStream out, int type, int flags, int stream, byte[] payload) throws IOException {
    out.write(new byte[] {(byte) (payload.length >>> 16), (byte) (payload.length >>> 8), (byte) payload.length, (byte) type, (byte) flags,
        (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8), (byte) stream});
    out.write(payload);
  }

  /** A gRPC request's headers in HPACK without Huffman coding or the dynamic table. */
  private static byte[] headerBlock(int port) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(0x83); // :method POST (static 3)
    b.write(0x86); // :scheme http (static 6)
    literal(b, 4, null, "/herald.v1.TopicAdminService/ListTopics"); // :path
    literal(b, 1, null, "127.0.0.1:" + port); // :authority
    literal(b, 31, null, "application/grpc"); // content-type
    literal(b, 0, "te", "trailers");
    return b.toByteArray();
  }

  /** A literal header without indexing: by static name index, or with a new name. */
  private static void literal(ByteArrayOutputStream b, int nameIndex, String name, String value) throws IOException {
    if (nameIndex > 0 && nameIndex < 15) {
      b.write(nameIndex);
    } else if (nameIndex >= 15) {
      b.write(0x0f);
      b.write(nameIndex - 15);
    } else {
      b.write(0);
      string(b, name);
    }
    string(b, value);
  }

  private static void string(ByteArrayOutputStream b, String s) throws IOException {
    byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
    if (bytes.length >= 127) {
      throw new IllegalArgumentException("too long for this encoder");
    }
    b.write(bytes.length);
    b.write(bytes);
  }
}
