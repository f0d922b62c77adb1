package io.herald.broker.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The refusal of an undecodable request never closes the call while the handler's writer is inside
 * a write on another thread (a {@link ServerCall} may not be used by two threads at once). The call
 * underneath is a recording stand-in for the transport's, so that a write can be held open.
 */
@Timeout(30)
class DecodedCallTest {
  private static final MethodDescriptor.Marshaller<String> TEXT = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      throw new UnsupportedOperationException();
    }
  };
  private static final MethodDescriptor<String, String> METHOD = MethodDescriptor.<String, String>newBuilder()
      .setType(MethodDescriptor.MethodType.BIDI_STREAMING).setFullMethodName("test.Service/Method")
      .setRequestMarshaller(TEXT).setResponseMarshaller(TEXT).build();

  /** Records what reaches the transport; a write can be held open; flags overlapping use. */
  private static final class TransportCall extends ServerCall<InputStream, String> {
    final List<String> sent = new CopyOnWriteArrayList<>();
    final List<Status> closed = new CopyOnWriteArrayList<>();
    final AtomicBoolean inUse = new AtomicBoolean();
    final AtomicBoolean overlapped = new AtomicBoolean();
    volatile CountDownLatch entered = new CountDownLatch(0);
    volatile CountDownLatch release = new CountDownLatch(0);

    private void enter() {
      if (!inUse.compareAndSet(false, true)) {
        overlapped.set(true);
      }
    }

    @Override
    public void sendMessage(String message) {
      enter();
      try {
        entered.countDown();
        release.await(10, TimeUnit.SECONDS);
        sent.add(message);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        inUse.set(false);
      }
    }

    @Override
    public void close(Status status, Metadata trailers) {
      enter();
      closed.add(status);
      inUse.set(false);
    }

    @Override
    public void request(int numMessages) { }

    @Override
    public void sendHeaders(Metadata headers) { }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    @SuppressWarnings("unchecked")
    public MethodDescriptor<InputStream, String> getMethodDescriptor() {
      return (MethodDescriptor<InputStream, String>) (MethodDescriptor<?, String>) METHOD;
    }
  }

  @Test
  void refusalDuringAWriteClosesOnlyWhenTheWriteEnds() throws Exception {
    TransportCall transport = new TransportCall();
    transport.entered = new CountDownLatch(1);
    transport.release = new CountDownLatch(1);
    UndecodableRequests.DecodedCall<String, String> call = new UndecodableRequests.DecodedCall<>(transport, METHOD);
    Thread writer = Thread.ofPlatform().name("test-writer").start(() -> call.sendMessage("in flight"));
    assertThat(transport.entered.await(10, TimeUnit.SECONDS)).isTrue();

    call.refuse(Status.INVALID_ARGUMENT.withDescription("bad bytes").asRuntimeException());
    assertThat(transport.closed).as("not closed under the writer").isEmpty();

    transport.release.countDown();
    writer.join(10_000);
    assertThat(transport.sent).containsExactly("in flight");
    assertThat(transport.closed).extracting(Status::getCode).containsExactly(Status.Code.INVALID_ARGUMENT);
    assertThat(transport.overlapped).isFalse();

    // the handler has not heard yet: its later writes and close are dropped
    call.sendMessage("late");
    call.close(Status.OK, new Metadata());
    assertThat(transport.sent).containsExactly("in flight");
    assertThat(transport.closed).hasSize(1);
  }

  @Test
  void refusalOfAnIdleCallClosesAtOnceAndOnlyOnce() {
    TransportCall transport = new TransportCall();
    UndecodableRequests.DecodedCall<String, String> call = new UndecodableRequests.DecodedCall<>(transport, METHOD);
    call.sendMessage("before");
    call.refuse(Status.INVALID_ARGUMENT.asRuntimeException());
    call.refuse(Status.INVALID_ARGUMENT.asRuntimeException());
    call.sendMessage("after");
    assertThat(transport.sent).containsExactly("before");
    assertThat(transport.closed).extracting(Status::getCode).containsExactly(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void refusalAfterTheHandlerClosedDoesNothing() {
    TransportCall transport = new TransportCall();
    UndecodableRequests.DecodedCall<String, String> call = new UndecodableRequests.DecodedCall<>(transport, METHOD);
    call.close(Status.NOT_FOUND, new Metadata());
    call.refuse(Status.INVALID_ARGUMENT.asRuntimeException());
    assertThat(transport.closed).extracting(Status::getCode).containsExactly(Status.Code.NOT_FOUND);
  }
}
