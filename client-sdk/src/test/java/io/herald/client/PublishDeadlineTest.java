package io.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every publish completes within the publisher's total timeout, whatever the broker does: here,
 * servers that accept and never answer. Batches on the wire and batches never sent alike.
 */
@Timeout(30)
class PublishDeadlineTest {
  private static final Duration TOTAL_TIMEOUT = Duration.ofSeconds(1);
  /** Receipts complete on the callback executor, a little after the deadline fires. */
  private static final Duration SLACK = Duration.ofMillis(750);

  /** A broker that misbehaves in one way. */
  enum Silent {
    /** Opens the publish stream and never reads from it nor answers. */
    STREAM_NEVER_READ,
    /** Reads every batch and never answers. */
    STREAM_READ_NEVER_ANSWERED,
    /** Accepts the TCP connection and never speaks HTTP/2. */
    TCP_ONLY
  }

  /** A running silent endpoint. */
  private interface Endpoint extends AutoCloseable {
    int port();

    @Override
    void close() throws IOException;
  }

  private static Endpoint start(Silent kind) throws IOException {
    if (kind == Silent.TCP_ONLY) {
      ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      List<Socket> accepted = new CopyOnWriteArrayList<>();
      Thread acceptor = Thread.ofPlatform().daemon().name("test-silent-acceptor").start(() -> {
        try {
          while (true) {
            accepted.add(socket.accept()); // and never read
          }
        } catch (IOException e) {
          // closed
        }
      });
      return new Endpoint() {
        @Override public int port() { return socket.getLocalPort(); }

        @Override public void close() throws IOException {
          socket.close(); // ends the acceptor
          for (Socket s : accepted) {
            s.close();
          }
        }
      };
    }
    boolean read = kind == Silent.STREAM_READ_NEVER_ANSWERED;
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .addService(new PublishServiceGrpc.PublishServiceImplBase() {
          @Override
          public StreamObserver<PublishStreamRequest> publishStream(StreamObserver<PublishStreamResponse> responses) {
            if (!read) {
              ((ServerCallStreamObserver<PublishStreamResponse>) responses).disableAutoRequest();
            }
            return new StreamObserver<>() {
              @Override public void onNext(PublishStreamRequest r) { }
              @Override public void onError(Throwable t) { }
              @Override public void onCompleted() { }
            };
          }
        }).build().start();
    return new Endpoint() {
      @Override public int port() { return server.getPort(); }

      @Override public void close() {
        server.shutdownNow();
      }
    };
  }

  @ParameterizedTest
  @EnumSource(Silent.class)
  void everyReceiptCompletesWithinTheTotalTimeout(Silent kind) throws Exception {
    try (Endpoint silent = start(kind)) {
      HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:" + silent.port())
          .retry(new RetrySettings(Duration.ofMillis(50), Duration.ofMillis(200), 2.0, TOTAL_TIMEOUT)).build();
      try {
        // 2 batches may be in flight; the other 8 wait and are never sent
        Publisher pub = client.publisher("t").batching(Batching.immediate().maxEvents(5)).maxInFlightBatches(2).create();
        List<CompletableFuture<PublishReceipt>> receipts = new ArrayList<>();
        List<Long> publishedAt = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
          receipts.add(pub.publish(Event.of("x", new byte[10])));
          publishedAt.add(System.nanoTime()); // the bound runs from when publish returned
        }
        for (int i = 0; i < receipts.size(); i++) {
          CompletableFuture<PublishReceipt> r = receipts.get(i);
          long t0 = publishedAt.get(i);
          Throwable failure = r.handle((ok, e) -> e).get(TOTAL_TIMEOUT.plus(SLACK).plusSeconds(2).toMillis(), TimeUnit.MILLISECONDS);
          long took = System.nanoTime() - t0;
          assertThat(Duration.ofNanos(took)).as("receipt %d", i).isLessThanOrEqualTo(TOTAL_TIMEOUT.plus(SLACK));
          Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
          assertThat(cause).as("receipt %d", i).isInstanceOfSatisfying(HeraldException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
            assertThat(e.isRetryable()).isTrue();
          });
        }
        assertThat(pub.pendingEvents()).isZero();
      } finally {
        client.close();
      }
    }
  }

  @org.junit.jupiter.api.Test
  void aBatchStillLingeringExpiresToo() throws Exception {
    try (Endpoint silent = start(Silent.STREAM_READ_NEVER_ANSWERED)) {
      HeraldClient client = HeraldClient.builder().endpoints("127.0.0.1:" + silent.port())
          .retry(new RetrySettings(Duration.ofMillis(50), Duration.ofMillis(200), 2.0, TOTAL_TIMEOUT)).build();
      try {
        Publisher pub = client.publisher("t").batching(Batching.defaults().linger(Duration.ofSeconds(10))).create();
        CompletableFuture<PublishReceipt> r = pub.publish(Event.of("x", new byte[10]));
        long t0 = System.nanoTime();
        Throwable failure = r.handle((ok, e) -> e).get(5, TimeUnit.SECONDS);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThanOrEqualTo(TOTAL_TIMEOUT.plus(SLACK));
        assertThat(failure).isInstanceOfSatisfying(HeraldException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
          assertThat(e.getMessage()).contains("still being batched");
        });
      } finally {
        client.close();
      }
    }
  }
}
