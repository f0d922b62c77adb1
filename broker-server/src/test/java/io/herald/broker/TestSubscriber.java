package io.herald.broker;

import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.SubscriptionStarted;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A raw Subscribe stream for tests: records every frame in arrival order and how the stream ended.
 * Credit is granted explicitly. Thread-safe (frames arrive on a gRPC thread).
 */
final class TestSubscriber implements ClientResponseObserver<SubscribeRequest, SubscribeResponse> {
  final CompletableFuture<SubscriptionStarted> started = new CompletableFuture<>();
  final CompletableFuture<Status> ended = new CompletableFuture<>();
  /** How the stream failed, with its trailers (null while it has not, or when it completed). */
  volatile Throwable error;
  private final List<Object> frames = new ArrayList<>();
  private ClientCallStreamObserver<SubscribeRequest> requests;
  private volatile boolean replenish;

  /** An init resuming {@code topic} at (epoch, sequence), with 1,000 events of credit. */
  static SubscribeInit resumeAt(String topic, long epoch, long sequence) {
    return SubscribeInit.newBuilder().setTopic(topic)
        .setStartPosition(io.herald.proto.v1.StartPosition.newBuilder()
            .setKind(io.herald.proto.v1.StartPositionKind.START_POSITION_KIND_SEQUENCE).setSequence(sequence).setEpoch(epoch))
        .setInitialCredit(io.herald.proto.v1.Credit.newBuilder().setEvents(1_000)).build();
  }

  static TestSubscriber open(SubscribeServiceGrpc.SubscribeServiceStub stub, SubscribeInit init) {
    TestSubscriber s = new TestSubscriber();
    stub.subscribe(s);
    s.send(SubscribeRequest.newBuilder().setInit(init).build());
    return s;
  }

  /** Opens and waits for the started frame (the subscription is registered). */
  static TestSubscriber started(SubscribeServiceGrpc.SubscribeServiceStub stub, SubscribeInit init) throws Exception {
    TestSubscriber s = open(stub, init);
    s.started.get(10, TimeUnit.SECONDS);
    return s;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {
    this.requests = requestStream;
  }

  synchronized void send(SubscribeRequest r) {
    requests.onNext(r);
  }

  void grant(long events) {
    grant(events, 0);
  }

  void grant(long events, long bytes) {
    send(SubscribeRequest.newBuilder().setCredit(Credit.newBuilder().setEvents(events).setBytes(bytes)).build());
  }

  /**
   * Grants {@code window} events now and, from then on, as many as each batch delivers: a consumer
   * that keeps up, with at most {@code window} events outstanding (as the SDK does).
   */
  void keepGranting(long window) {
    replenish = true;
    grant(window);
  }

  /** Half-closes the stream: no more frames from the client. */
  synchronized void halfClose() {
    requests.onCompleted();
  }

  void cancel() {
    requests.cancel("test done", null);
  }

  @Override
  public void onNext(SubscribeResponse r) {
    switch (r.getFrameCase()) {
      case STARTED -> started.complete(r.getStarted());
      case BATCH -> {
        synchronized (this) {
          frames.addAll(r.getBatch().getEventsList());
        }
        if (replenish) {
          grant(r.getBatch().getEventsCount());
        }
      }
      case GAP -> {
        synchronized (this) {
          frames.add(r.getGap());
        }
      }
      default -> throw new AssertionError("unexpected frame " + r);
    }
  }

  @Override
  public void onError(Throwable t) {
    error = t;
    started.completeExceptionally(t);
    ended.complete(Status.fromThrowable(t));
  }

  @Override
  public void onCompleted() {
    ended.complete(Status.OK);
  }

  synchronized List<Object> frames() {
    return new ArrayList<>(frames);
  }

  synchronized List<DeliveredEvent> events() {
    List<DeliveredEvent> out = new ArrayList<>();
    for (Object f : frames) {
      if (f instanceof DeliveredEvent e) {
        out.add(e);
      }
    }
    return out;
  }

  synchronized List<GapNotice> gaps() {
    List<GapNotice> out = new ArrayList<>();
    for (Object f : frames) {
      if (f instanceof GapNotice g) {
        out.add(g);
      }
    }
    return out;
  }

  synchronized long lostCount() {
    return gaps().stream().mapToLong(GapNotice::getCount).sum();
  }

  List<DeliveredEvent> awaitEvents(int n) {
    await().atMost(Duration.ofSeconds(30)).until(() -> events().size() >= n);
    return events();
  }

  /** Waits until delivered events plus gap counts reach {@code n}. */
  void awaitAccounted(long n) {
    await().atMost(Duration.ofSeconds(30)).until(() -> events().size() + lostCount() >= n);
  }

  Status awaitEnd() throws Exception {
    return ended.get(30, TimeUnit.SECONDS);
  }
}
