package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.herald.broker.cluster.ForwardingTopic;
import io.herald.broker.cluster.PeerLinks;
import io.herald.broker.cluster.PeerLoss;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.RaftMetadataStore;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.cluster.v1.ForwardRequest;
import io.herald.proto.cluster.v1.ForwardResponse;
import io.herald.proto.cluster.v1.PeerServiceGrpc;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A peer the metadata marks down ({@link PeerLinks#peerDown}) fails what was forwarded to it at
 * once, with UNAVAILABLE OWNER_UNAVAILABLE (retryable), the batch in the window and the one waiting
 * in the line alike; before, they hung until TCP or keepalive noticed (20-40 s; ClusterIT saw it
 * after a SIGKILLed owner). The fake owner here takes the stream and never answers.
 */
@Timeout(60)
class PeerDownTest {
  @TempDir
  Path dir;


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

  /**
   * The metadata marking a peer down (a real Raft group of three on loopback, one of them stopped)
   * fails what was forwarded to it, but not on the metadata apply thread: there the store's state
   * machine lock is held and listeners must not run heavy work, and failing a link's batches runs
   * their publish listeners (up to ~2,000 of them). Review finding: {@link PeerLoss} called {@code
   * peerDown} inline on the apply thread.
   */
  @Test
  void aPeerMarkedDownIsToldToTheLinksOffTheMetadataApplyThread() throws Exception {
    Map<String, String> peers = new LinkedHashMap<>();
    for (String id : List.of("n1", "n2", "n3")) {
      try (ServerSocket s = new ServerSocket(0)) {
        peers.put(id, "127.0.0.1:" + s.getLocalPort());
      }
    }
    RaftMetadataStore.Options options = RaftMetadataStore.Options.DEFAULTS
        .withElectionTimeouts(Duration.ofMillis(500), Duration.ofMillis(1000)).withLivenessTimeout(Duration.ofSeconds(2));
    String ownerAddress = InProcessServerBuilder.generateName(); // n3 advertises the silent owner
    SilentOwner owner = new SilentOwner();
    Server server = InProcessServerBuilder.forName(ownerAddress).directExecutor().addService(owner).build().start();
    ExecutorService writers = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-writer"));
    PeerLinks links = new PeerLinks("n1", a -> InProcessChannelBuilder.forName(a).directExecutor().build(), writers,
        PeerLinks.Options.DEFAULTS.withWindow(1, 1 << 20));
    List<RaftMetadataStore> stores = new ArrayList<>();
    try {
      for (String id : peers.keySet()) {
        String advertise = id.equals("n3") ? ownerAddress : "127.0.0.1:" + (7000 + stores.size()); // never dialled
        stores.add(new RaftMetadataStore(id, peers, null, advertise, dir.resolve(id), options));
      }
      RaftMetadataStore n1 = stores.get(0);
      // the threads that tell n1's listeners of a membership change; registered before PeerLoss,
      // so it has seen a change before PeerLoss hears of it
      Thread registering = Thread.currentThread();
      Set<String> applyThreads = ConcurrentHashMap.newKeySet();
      n1.addListener(new MetadataStore.Listener() {
        @Override
        public void membershipChanged() {
          if (Thread.currentThread() != registering) {
            applyThreads.add(Thread.currentThread().getName());
          }
        }
      });
      n1.addListener(new PeerLoss("n1", n1, links, writers));
      for (RaftMetadataStore s : stores) {
        s.joinedFuture().get(30, TimeUnit.SECONDS);
      }

      TopicRecord record = TopicRecord.created("t", TopicSettings.DEFAULTS, Instant.now(), 1, "n3");
      ForwardingTopic t = new ForwardingTopic("t", () -> record, ownerAddress, links);
      ForwardTest.Answer sent = new ForwardTest.Answer();
      ForwardTest.Answer waiting = new ForwardTest.Answer();
      assertThat(t.offer(ForwardTest.batch(ForwardTest.events("a", 3, 8), sent))).isEqualTo(Admission.ADMITTED);
      assertThat(t.offer(ForwardTest.batch(ForwardTest.events("b", 3, 8), waiting))).isEqualTo(Admission.WAITING);
      assertThat(owner.batches.await(10, TimeUnit.SECONDS)).as("the owner got the first batch").isTrue();

      stores.remove(2).close(); // n3 stops answering: the leader marks it down after the liveness timeout
      for (ForwardTest.Answer a : new ForwardTest.Answer[] {sent, waiting}) {
        assertThat(a.result).failsWithin(Duration.ofSeconds(30));
        assertThat(a.failure().getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(ForwardTest.reason(a.failure())).isEqualTo("OWNER_UNAVAILABLE");
      }
      assertThat(applyThreads).as("n1's metadata apply thread told its listeners").isNotEmpty();
      assertThat(sent.callbackThreads).as("threads that failed the forwarded batches")
          .doesNotContainAnyElementsOf(applyThreads).contains("test-writer");
      assertThat(waiting.callbackThreads).doesNotContainAnyElementsOf(applyThreads);
      ForwardTest.checkInvariants(links);
    } finally {
      stores.parallelStream().forEach(RaftMetadataStore::close);
      links.close();
      server.shutdownNow();
      writers.shutdownNow();
    }
  }
}
