package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.herald.broker.cluster.ForwardingTopic;
import io.herald.broker.cluster.PeerLinks;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.cluster.v1.ForwardRequest;
import io.herald.proto.cluster.v1.ForwardResponse;
import io.herald.proto.cluster.v1.PeerServiceGrpc;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A peer the metadata marks down ({@link PeerLinks#peerDown}) fails what was forwarded to it at
 * once, with UNAVAILABLE OWNER_UNAVAILABLE (retryable), the batch in the window and the one waiting
 * in the line alike; before, they hung until TCP or keepalive noticed (20-40 s; ClusterIT saw it
 * after a SIGKILLed owner). The fake owner here takes the stream and never answers.
 */
@Timeout(30)
class PeerDownTest {

  /** Reads every batch, answers none: an owner that has gone silent. */
  static final class SilentOwner extends PeerServiceGrpc.PeerServiceImplBase {
    final CountDownLatch batches = new CountDownLatch(1);

    @Override
    public StreamObserver<ForwardRequest> forward(StreamObserver<ForwardResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(ForwardRequest r) {
          if (r.hasBatch()) {
            batches.countDown();
          }
        }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onCompleted() { }
      };
    }
  }

  @Test
  void forwardsToAPeerMarkedDownFailRetryablyAtOnce() throws Exception {
    String name = InProcessServerBuilder.generateName();
    SilentOwner owner = new SilentOwner();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(owner).build().start();
    ExecutorService writers = Executors.newSingleThreadExecutor();
    PeerLinks links = new PeerLinks("origin", a -> InProcessChannelBuilder.forName(a).directExecutor().build(), writers,
        PeerLinks.Options.DEFAULTS.withWindow(1, 1 << 20));
    try {
      TopicRecord record = TopicRecord.created("t", TopicSettings.DEFAULTS, Instant.now(), 1, "owner");
      ForwardingTopic t = new ForwardingTopic("t", () -> record, name, links);
      ForwardTest.Answer sent = new ForwardTest.Answer();
      ForwardTest.Answer waiting = new ForwardTest.Answer();
      assertThat(t.offer(ForwardTest.batch(ForwardTest.events("a", 3, 8), sent))).isEqualTo(Admission.ADMITTED);
      assertThat(t.offer(ForwardTest.batch(ForwardTest.events("b", 3, 8), waiting))).isEqualTo(Admission.WAITING);
      assertThat(owner.batches.await(10, TimeUnit.SECONDS)).as("the owner got the first batch").isTrue();
      assertThat(sent.result).isNotDone();

      links.peerDown("elsewhere:1"); // no link to that one: nothing happens
      assertThat(sent.result).isNotDone();

      links.peerDown(name);
      for (ForwardTest.Answer a : new ForwardTest.Answer[] {sent, waiting}) {
        assertThat(a.result).isCompletedExceptionally(); // at once, on the calling thread
        assertThat(a.failure().getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(ForwardTest.reason(a.failure())).isEqualTo("OWNER_UNAVAILABLE");
      }
      ForwardTest.checkInvariants(links);
    } finally {
      links.close();
      server.shutdownNow();
      writers.shutdownNow();
    }
  }
}
