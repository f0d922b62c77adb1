package io.herald.it;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishResponse;
import io.herald.proto.v1.PublishServiceGrpc;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A publisher on the raw gRPC API (unary {@code Publish}, one call at a time, so at most one batch
 * is in flight): batches of {@code batch} events with ids {@code <prefix>-<n>} (source {@code
 * prefix}, so the owner dedups a retry), until {@code total} are acked or {@link #stop}. A failed
 * call is retried with the same events (100 ms later, at most {@value #MAX_ATTEMPTS} attempts per
 * batch); every ack and every failure is recorded with the time it came.
 */
final class RawPublisher implements AutoCloseable {
  static final int MAX_ATTEMPTS = 600;

  record Ack(String id, long epoch, long sequence, boolean duplicate, long atNanos) { }

  record Failure(Status.Code code, String description, long atNanos) { }

  private final String name;
  private final ManagedChannel channel;
  private final String topic;
  private final String prefix;
  private final int batch;
  private final int total;
  private final Duration deadline;
  private final CountDownLatch stop = new CountDownLatch(1);
  private final List<Ack> acks = new ArrayList<>();
  private final List<Failure> failures = new ArrayList<>();
  /** Ids sent again after a failed call (the first call may have been sequenced). */
  private final Set<String> retried = new HashSet<>();
  private Thread thread;
  private volatile boolean gaveUp;

  RawPublisher(String name, ManagedChannel channel, String topic, String prefix, int batch, int total, Duration deadline) {
    this.name = name;
    this.channel = channel;
    this.topic = topic;
    this.prefix = prefix;
    this.batch = batch;
    this.total = total;
    this.deadline = deadline;
  }

  RawPublisher start() {
    thread = Thread.ofPlatform().name("it-publisher-" + name).daemon().start(this::run);
    return this;
  }

  private void run() {
    int next = 0;
    while (next < total && stop.getCount() > 0) {
      PublishRequest.Builder req = PublishRequest.newBuilder().setTopic(topic);
      List<String> ids = new ArrayList<>();
      for (int i = next; i < Math.min(total, next + batch); i++) {
        String id = prefix + "-" + i;
        ids.add(id);
        req.addEvents(Event.newBuilder().setId(id).setSource(prefix).setType("it")
            .setData(ByteString.copyFrom(id, StandardCharsets.UTF_8)));
      }
      PublishRequest r = req.build();
      boolean done = false;
      for (int attempt = 0; attempt < MAX_ATTEMPTS && !done && stop.getCount() > 0; attempt++) {
        try {
          PublishResponse resp = PublishServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).publish(r);
          long now = System.nanoTime();
          synchronized (this) {
            for (int i = 0; i < resp.getAcksCount(); i++) {
              PublishAck a = resp.getAcks(i); // in the order of the events; its id is set only when the broker gave one
              acks.add(new Ack(a.getId().isEmpty() ? ids.get(i) : a.getId(), a.getEpoch(), a.getSequence(), a.getDuplicate(), now));
            }
          }
          if (resp.getAcksCount() != ids.size()) {
            throw new IllegalStateException(name + ": " + resp.getAcksCount() + " acks for " + ids.size() + " events");
          }
          done = true;
        } catch (StatusRuntimeException e) {
          synchronized (this) {
            failures.add(new Failure(e.getStatus().getCode(), String.valueOf(e.getStatus().getDescription()), System.nanoTime()));
            retried.addAll(ids);
          }
          try {
            stop.await(100, TimeUnit.MILLISECONDS); // backoff; returns at once when stopped
          } catch (InterruptedException ie) {
            return;
          }
        }
      }
      if (!done) {
        gaveUp = stop.getCount() > 0;
        return;
      }
      next += ids.size();
    }
  }

  /** Stops after the call in flight (at most its deadline) and waits for the thread. */
  void stop() throws InterruptedException {
    stop.countDown();
    if (thread != null) {
      thread.join(deadline.toMillis() + 5_000);
    }
  }

  boolean gaveUp() {
    return gaveUp;
  }

  synchronized List<Ack> acks() {
    return new ArrayList<>(acks);
  }

  synchronized int ackCount() {
    return acks.size();
  }

  synchronized List<Failure> failures() {
    return new ArrayList<>(failures);
  }

  synchronized Set<String> retried() {
    return new HashSet<>(retried);
  }

  /** The last ack, or null before any. */
  synchronized Ack lastAck() {
    return acks.isEmpty() ? null : acks.get(acks.size() - 1);
  }

  /** The time of the last ack, {@link Long#MIN_VALUE} before any. */
  synchronized long lastAckNanos() {
    return acks.isEmpty() ? Long.MIN_VALUE : acks.get(acks.size() - 1).atNanos();
  }

  @Override
  public void close() throws InterruptedException {
    stop();
  }
}
