package io.herald.it;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscribeServiceGrpc;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A subscriber on the raw gRPC API, so a test controls its credit exactly: it grants {@code
 * initialCredit} up front, then either grants back what it receives ({@code autoCredit}) or nothing
 * until {@link #grant}. It records every event (epoch, sequence, id) and gap notice in arrival
 * order. With {@code resume}, a stream that ends is opened again (at most {@value #MAX_RESUMES}
 * times, 200 ms apart) from the position after the last event, through the same channel.
 */
final class RawSubscriber implements AutoCloseable {
  static final int MAX_RESUMES = 30;

  record Got(long epoch, long sequence, String id) { }

  private final ManagedChannel channel;
  private final String topic;
  private final OverflowPolicy policy;
  private final long initialCredit;
  private final boolean autoCredit;
  private final boolean resume;
  private final List<Got> events = new ArrayList<>();
  private final List<GapNotice> gaps = new ArrayList<>();
  /** For each gap notice, how many events had arrived before it. */
  private final List<Integer> gapAt = new ArrayList<>();
  private final List<Status> ends = new ArrayList<>();
  private final CompletableFuture<Void> started = new CompletableFuture<>();
  private ClientCallStreamObserver<SubscribeRequest> requests;
  private boolean closed;
  private int resumes;

  RawSubscriber(ManagedChannel channel, String topic, OverflowPolicy policy, long initialCredit, boolean autoCredit, boolean resume) {
    this.channel = channel;
    this.topic = topic;
    this.policy = policy;
    this.initialCredit = initialCredit;
    this.autoCredit = autoCredit;
    this.resume = resume;
  }

  /** Opens the stream from {@code start} and waits (up to {@code seconds}) for SubscriptionStarted. */
  RawSubscriber start(StartPosition start, int seconds) throws Exception {
    open(start);
    started.get(seconds, TimeUnit.SECONDS);
    return this;
  }

  private void open(StartPosition start) {
    SubscribeServiceGrpc.newStub(channel).subscribe(new ClientResponseObserver<SubscribeRequest, SubscribeResponse>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<SubscribeRequest> r) {
        synchronized (RawSubscriber.this) {
          requests = r;
        }
      }

      @Override
      public void onNext(SubscribeResponse r) {
        received(r);
      }

      @Override
      public void onError(Throwable t) {
        ended(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        ended(Status.OK);
      }
    });
    SubscribeInit.Builder init = SubscribeInit.newBuilder().setTopic(topic).setStartPosition(start)
        .setInitialCredit(Credit.newBuilder().setEvents(initialCredit)).setSubscriberName("it-raw");
    if (policy != null) {
      init.setOverflowPolicy(policy);
    }
    synchronized (this) {
      requests.onNext(SubscribeRequest.newBuilder().setInit(init).build());
    }
  }

  private void received(SubscribeResponse r) {
    int n = 0;
    synchronized (this) {
      switch (r.getFrameCase()) {
        case STARTED -> started.complete(null);
        case BATCH -> {
          for (DeliveredEvent e : r.getBatch().getEventsList()) {
            events.add(new Got(e.getEpoch(), e.getSequence(), e.getEvent().getId()));
            n++;
          }
        }
        case GAP -> {
          gaps.add(r.getGap());
          gapAt.add(events.size());
        }
        default -> { }
      }
      if (autoCredit && n > 0 && !closed) {
        requests.onNext(SubscribeRequest.newBuilder().setCredit(Credit.newBuilder().setEvents(n)).build());
      }
    }
  }

  private void ended(Status s) {
    StartPosition from;
    synchronized (this) {
      ends.add(s);
      started.completeExceptionally(s.asRuntimeException());
      if (closed || !resume || resumes >= MAX_RESUMES) {
        return;
      }
      resumes++;
      Got last = events.isEmpty() ? null : events.get(events.size() - 1);
      from = last == null ? StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST).build()
          : StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_SEQUENCE).setEpoch(last.epoch())
              .setSequence(last.sequence() + 1).build();
    }
    CompletableFuture.runAsync(() -> {
      synchronized (this) {
        if (closed) {
          return;
        }
      }
      open(from);
    }, CompletableFuture.delayedExecutor(200, TimeUnit.MILLISECONDS));
  }

  /** Grants {@code events} more credit. */
  synchronized void grant(long events) {
    requests.onNext(SubscribeRequest.newBuilder().setCredit(Credit.newBuilder().setEvents(events)).build());
  }

  synchronized List<Got> events() {
    return new ArrayList<>(events);
  }

  synchronized int count() {
    return events.size();
  }

  synchronized List<GapNotice> gaps() {
    return new ArrayList<>(gaps);
  }

  /** For each gap notice (same order as {@link #gaps()}), the number of events that arrived before it. */
  synchronized List<Integer> gapPositions() {
    return new ArrayList<>(gapAt);
  }

  synchronized List<Status> ends() {
    return new ArrayList<>(ends);
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (requests != null) {
      requests.cancel("test done", null);
    }
  }
}
