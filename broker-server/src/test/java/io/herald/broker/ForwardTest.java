package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.rpc.ErrorInfo;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import io.herald.broker.cluster.ForwardingTopic;
import io.herald.broker.cluster.PeerForwardService;
import io.herald.broker.cluster.PeerLink;
import io.herald.broker.cluster.PeerLinks;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.topic.Admission;
import io.herald.broker.topic.PublishBatch;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.ServerFactory;
import io.herald.broker.transport.TransportThreads;
import io.herald.proto.cluster.v1.ForwardBatch;
import io.herald.proto.cluster.v1.ForwardInit;
import io.herald.proto.cluster.v1.ForwardRequest;
import io.herald.proto.cluster.v1.ForwardResponse;
import io.herald.proto.cluster.v1.PeerServiceGrpc;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishOverflow;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Publish forwarding through real gRPC on loopback: an owner broker B (a {@link TestBroker}) with
 * {@link PeerForwardService} bound on a peer server beside it (on {@link ServerFactory}'s {@code
 * herald-netty-*} event loops, so a handler that blocks fails {@link TransportThreads#checkMayBlock}),
 * and {@link ForwardingTopic}s driven as the publish service drives a topic handle.
 */
@Timeout(90)
class ForwardTest {
  private final List<AutoCloseable> closeLast = new ArrayList<>();
  private ExecutorService writers;

  @BeforeEach
  void setUp() {
    AtomicInteger n = new AtomicInteger();
    writers = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "herald-writer-test-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closeLast.size() - 1; i >= 0; i--) {
      closeLast.get(i).close();
    }
    writers.shutdownNow();
  }

  /** Broker B with the forward service on a peer port of its own (fixed, so that it can come back on it). */
  final class Owner implements AutoCloseable {
    final TestBroker b;
    final PeerForwardService service;
    final ServerFactory transport = new ServerFactory(1);
    final Server peerServer;

    Owner(int peerPort) throws Exception {
      b = new TestBroker(c -> c.withDrainTimeout(Duration.ZERO));
      service = new PeerForwardService(b.broker.topics()::resolve, writers);
      peerServer = transport.builder(new InetSocketAddress("127.0.0.1", peerPort))
          .withOption(io.netty.channel.ChannelOption.SO_REUSEADDR, true)
          .directExecutor()
          .maxInboundMessageSize(8 << 20)
          .addService(service.definition())
          .build()
          .start();
    }

    String address() {
      return "127.0.0.1:" + peerServer.getPort();
    }

    TopicStats stats(String topic) {
      return b.admin().getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getStats();
    }

    /** The owner goes away: its peer server first (the forward stream breaks), then the broker. */
    @Override
    public void close() throws Exception {
      peerServer.shutdownNow();
      peerServer.awaitTermination(5, TimeUnit.SECONDS);
      transport.shutdown(2000);
      b.channel.shutdownNow();
      b.broker.closeNow();
    }
  }

  private Owner owner(int port) throws Exception {
    Owner o = new Owner(port);
    closeLast.add(o);
    return o;
  }

  private PeerLinks links(PeerLinks.Options options) {
    PeerLinks l = new PeerLinks("node-a", PeerLinks.plaintext(), writers, options);
    closeLast.add(l);
    return l;
  }

  /** Links on event loops of the origin's own, as a broker makes them (its {@code ServerFactory}'s I/O loops). */
  private PeerLinks linksOnOwnEventLoops(PeerLinks.Options options) {
    ServerFactory origin = new ServerFactory(1);
    closeLast.add(() -> origin.shutdown(2000));
    PeerLinks l = new PeerLinks("node-a", PeerLinks.plaintext(origin::channelBuilder), writers, options);
    closeLast.add(l); // closed before the event loops
    return l;
  }

  private static ForwardingTopic forwarding(String name, TopicSettings settings, String ownerAddress, PeerLinks links) {
    TopicRecord r = TopicRecord.created(name, settings, Instant.now(), 1, "owner");
    return new ForwardingTopic(name, () -> r, ownerAddress, links);
  }

  /** A batch's fate, as the publish service's listener sees it. */
  static final class Answer implements PublishBatch.Listener {
    final CompletableFuture<Void> admitted = new CompletableFuture<>();
    final CompletableFuture<List<PublishAck>> result = new CompletableFuture<>();
    final List<String> callbackThreads = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    public void admitted() {
      callbackThreads.add(Thread.currentThread().getName());
      admitted.complete(null);
    }

    @Override
    public void sequenced(List<PublishAck> acks) {
      callbackThreads.add(Thread.currentThread().getName());
      assertThat(result.complete(acks)).as("answered once").isTrue();
    }

    @Override
    public void failed(StatusRuntimeException status) {
      callbackThreads.add(Thread.currentThread().getName());
      assertThat(result.completeExceptionally(status)).as("answered once").isTrue();
    }

    List<PublishAck> acks() throws Exception {
      return result.get(30, TimeUnit.SECONDS);
    }

    StatusRuntimeException failure() {
      return (StatusRuntimeException) result.handle((a, e) -> e).join();
    }
  }

  static Event event(String id, String source, int bytes) {
    return Event.newBuilder().setId(id).setSource(source).setType("test").setData(ByteString.copyFrom(new byte[bytes])).build();
  }

  /** The batch the publish path would make (as BatchValidator does: missing ids assigned, flagged). */
  static PublishBatch batch(List<Event> events, PublishBatch.Listener listener) {
    int n = events.size();
    List<ByteString> encoded = new ArrayList<>(n);
    ByteString[] ids = new ByteString[n];
    ByteString[] sources = new ByteString[n];
    boolean[] assigned = new boolean[n];
    long bytes = 0;
    for (int i = 0; i < n; i++) {
      Event e = events.get(i);
      ByteString b = e.toByteString();
      encoded.add(b);
      bytes += b.size();
      sources[i] = e.getSourceBytes();
      if (e.getId().isEmpty()) {
        ids[i] = ByteString.copyFrom(UUID.randomUUID().toString(), StandardCharsets.US_ASCII);
        assigned[i] = true;
      } else {
        ids[i] = e.getIdBytes();
      }
    }
    return new PublishBatch(encoded, ids, sources, assigned, bytes, listener);
  }

  static List<Event> events(String prefix, int count, int bytes) {
    List<Event> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(event(prefix + "-" + i, "src", bytes));
    }
    return out;
  }

  static String reason(Throwable t) {
    com.google.rpc.Status s = StatusProto.fromThrowable(t);
    if (s == null) {
      return null;
    }
    for (com.google.protobuf.Any a : s.getDetailsList()) {
      if (a.is(ErrorInfo.class)) {
        try {
          return a.unpack(ErrorInfo.class).getReason();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          throw new AssertionError(e);
        }
      }
    }
    return null;
  }

  static void checkInvariants(PeerLinks links) {
    for (PeerLink l : links.links()) {
      l.checkInvariants();
    }
  }

  // ------------------------------------------------------------------------------------- (a)

  @Test
  void forwardedBatchGetsTheOwnersAcksAndARepeatedIdIsADuplicate() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("t");
    List<PublishAck> direct = b.b.publish("t", "direct", 3, 3); // sequences 1..3 on B itself
    PeerLinks links = links(PeerLinks.Options.DEFAULTS);
    ForwardingTopic t = forwarding("t", TopicSettings.DEFAULTS, b.address(), links);

    TestSubscriber sub = TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    sub.keepGranting(1000);

    List<Event> evs = new ArrayList<>(events("e", 5, 16));
    evs.add(Event.newBuilder().setType("test").setData(ByteString.copyFromUtf8("no id")).build()); // the broker assigns one
    Answer first = new Answer();
    PublishBatch pb = batch(evs, first);
    assertThat(t.offer(pb)).isEqualTo(Admission.ADMITTED);
    List<PublishAck> acks = first.acks();
    // the owner answered with a range (the link asks for them), and the origin put its own id back in
    assertThat(acks).isInstanceOf(io.herald.broker.topic.AckRun.class);

    long epoch = direct.get(0).getEpoch();
    assertThat(acks).extracting(PublishAck::getSequence).containsExactly(4L, 5L, 6L, 7L, 8L, 9L);
    assertThat(acks).extracting(PublishAck::getEpoch).containsOnly(epoch);
    assertThat(acks).extracting(PublishAck::getDuplicate).containsOnly(false);
    // an id the origin assigned comes back in the ack, and subscribers on the owner get it too
    assertThat(acks.subList(0, 5)).extracting(PublishAck::getId).containsOnly("");
    assertThat(acks.get(5).getIdBytes()).isEqualTo(pb.id(5));
    List<DeliveredEvent> delivered = sub.awaitEvents(6);
    assertThat(delivered).extracting(DeliveredEvent::getSequence).containsExactly(4L, 5L, 6L, 7L, 8L, 9L);
    assertThat(delivered.get(5).getEvent().getIdBytes()).isEqualTo(pb.id(5));
    assertThat(delivered.get(0).getEvent()).isEqualTo(evs.get(0));

    // the same batch again (a publisher's retry through the forwarding broker): the publisher ids
    // are duplicates with their first sequences, as on the owner; the assigned id is new each time
    Answer again = new Answer();
    assertThat(t.offer(batch(evs, again))).isEqualTo(Admission.ADMITTED);
    List<PublishAck> retry = again.acks();
    assertThat(retry.subList(0, 5)).extracting(PublishAck::getDuplicate).containsOnly(true);
    assertThat(retry.subList(0, 5)).extracting(PublishAck::getSequence).containsExactly(4L, 5L, 6L, 7L, 8L);
    assertThat(retry.get(5).getDuplicate()).isFalse();
    assertThat(retry.get(5).getSequence()).isEqualTo(10L);

    // and what B says to its own publisher for one of them is the same ack
    PublishAck own = b.b.publisher().publish(PublishRequest.newBuilder().setTopic("t").addEvents(evs.get(2)).build()).getAcks(0);
    assertThat(own.getDuplicate()).isTrue();
    assertThat(own.getSequence()).isEqualTo(6L);
    assertThat(own.getPublishTime()).isEqualTo(acks.get(2).getPublishTime());

    // answers run on the origin's channel event loop (gRPC's shared one here), not on a writer or the test thread
    assertThat(first.callbackThreads).hasSize(1).allMatch(n -> n.startsWith("grpc-"));
    assertThat(t.nextSequence()).isEqualTo(11L);
    checkInvariants(links);
  }

  @Test
  void ownersRefusalReachesTheOriginWithItsCodeReasonAndMetadata() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("small", TopicConfig.newBuilder().setMaxEventBytes(1024).build());
    PeerLinks links = links(PeerLinks.Options.DEFAULTS);

    // a topic the owner does not have: NOT_FOUND TOPIC_NOT_FOUND, as B tells its own publishers
    Answer missing = new Answer();
    assertThat(forwarding("nope", TopicSettings.DEFAULTS, b.address(), links).offer(batch(events("m", 1, 8), missing)))
        .isEqualTo(Admission.ADMITTED);
    StatusRuntimeException viaForward = missing.failure();
    StatusRuntimeException onOwner = org.assertj.core.api.Assertions.catchThrowableOfType(StatusRuntimeException.class,
        () -> b.b.publisher().publish(PublishRequest.newBuilder().setTopic("nope").addEvents(TestBroker.event("x")).build()));
    assertThat(viaForward.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND).isEqualTo(onOwner.getStatus().getCode());
    assertThat(reason(viaForward)).isEqualTo("TOPIC_NOT_FOUND").isEqualTo(reason(onOwner));
    assertThat(viaForward.getStatus().getDescription()).isEqualTo(onOwner.getStatus().getDescription());

    // the origin believes in a larger max_event_bytes than the owner has now: the owner's check wins
    Answer tooLarge = new Answer();
    forwarding("small", TopicSettings.DEFAULTS, b.address(), links).offer(batch(events("big", 1, 4096), tooLarge));
    StatusRuntimeException e = tooLarge.failure();
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(reason(e)).isEqualTo("EVENT_TOO_LARGE");
    assertThat(Status.trailersFromThrowable(e)).isNotNull();
    ErrorInfo info = io.herald.broker.transport.Errors.info(e);
    assertThat(info.getMetadataMap()).containsEntry("topic", "small").containsEntry("limit", "1024");
    checkInvariants(links);
  }

  // ------------------------------------------------------------------------------------- (b)

  @Test
  void manyTopicsAndPublishersShareOneStreamPerPeer() throws Exception {
    Owner b = owner(0);
    int topics = 20;
    PeerLinks links = linksOnOwnEventLoops(PeerLinks.Options.DEFAULTS);
    List<ForwardingTopic> handles = new ArrayList<>();
    for (int i = 0; i < topics; i++) {
      b.b.createTopic("t" + i);
      handles.add(forwarding("t" + i, TopicSettings.DEFAULTS, b.address(), links));
    }
    int publishers = 8;
    int batchesEach = 60;
    Map<String, Set<Long>> sequences = new ConcurrentHashMap<>();
    List<CompletableFuture<Void>> done = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(publishers);
    try {
      for (int p = 0; p < publishers; p++) {
        int pub = p;
        done.add(CompletableFuture.runAsync(() -> {
          List<CompletableFuture<Void>> mine = new ArrayList<>();
          for (int i = 0; i < batchesEach; i++) {
            ForwardingTopic t = handles.get(ThreadLocalRandom.current().nextInt(topics));
            Answer a = new Answer();
            Admission adm = t.offer(batch(events("p" + pub + "-" + i, 5, 64), a));
            assertThat(adm).isIn(Admission.ADMITTED, Admission.WAITING);
            mine.add(a.result.thenAccept(acks -> {
              // answers run on the origin's I/O event loop (direct executor): never a thread of their own
              assertThat(a.callbackThreads).last().asString().startsWith(TransportThreads.PREFIX + "io-");
              for (PublishAck ack : acks) {
                assertThat(sequences.computeIfAbsent(t.name(), k -> ConcurrentHashMap.newKeySet()).add(ack.getSequence()))
                    .as("sequence %s on %s given once", ack.getSequence(), t.name()).isTrue();
              }
            }));
          }
          CompletableFuture.allOf(mine.toArray(CompletableFuture[]::new)).join();
          assertThat(mine).isNotEmpty();
        }, pool));
      }
      CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    long total = 0;
    for (Map.Entry<String, Set<Long>> e : sequences.entrySet()) {
      int n = e.getValue().size();
      total += n;
      assertThat(e.getValue()).as("topic %s sequences contiguous from 1", e.getKey())
          .isEqualTo(java.util.stream.LongStream.rangeClosed(1, n).boxed().collect(Collectors.toSet()));
    }
    assertThat(total).isEqualTo((long) publishers * batchesEach * 5);
    // one link, one stream, whatever the number of topics and publishers
    assertThat(links.links()).hasSize(1);
    assertThat(links.links().get(0).streamsOpened()).isEqualTo(1);
    assertThat(links.openStreams()).isEqualTo(1);
    assertThat(b.service.streamCount()).isEqualTo(1);
    assertThat(links.inFlightBatches()).isZero();
    assertThat(links.inFlightBytes()).isZero();
    checkInvariants(links);
  }

  // ------------------------------------------------------------------------------------- (c)

  @Test
  void fullOwnerFillsTheLinkThenOffersWaitThenAreRefusedAndNothingIsLost() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("slow", TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(100)
        .setInboxMaxEvents(100)
        .setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_BLOCK)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .build());
    TestSubscriber sub = TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("slow").build()); // no credit
    int window = 256;
    PeerLinks links = links(PeerLinks.Options.DEFAULTS.withWindow(window, 64L << 20).withLine(16, 64L << 20));
    TopicSettings block = TopicSettings.DEFAULTS; // publish_overflow BLOCK by default
    ForwardingTopic t = forwarding("slow", block, b.address(), links);
    PeerLink link = links.link(b.address());

    // first the subscriber's buffer fills (10 batches acked); from then on the owner answers nothing
    List<Answer> accepted = new ArrayList<>();
    int i = 0;
    for (; i < 10; i++) {
      Answer a = new Answer();
      assertThat(t.offer(batch(events("s" + i, 10, 1024), a))).isEqualTo(Admission.ADMITTED);
      a.acks();
      accepted.add(a);
    }

    // 10 events of 1 KiB per batch: the owner takes 100 (buffer) + 10 (the loop's) + 100 (inbox)
    // events and lets the rest wait in its line; the link lets one topic have a quarter of its
    // window (64 batches); then offers wait; the line fills.
    List<Answer> waiting = new ArrayList<>();
    List<PublishBatch> waitingBatches = new ArrayList<>();
    Map<Admission, Integer> outcomes = new HashMap<>();
    while (true) {
      Answer a = new Answer();
      PublishBatch pb = batch(events("s" + i++, 10, 1024), a);
      Admission adm = t.offer(pb);
      outcomes.merge(adm, 1, Integer::sum);
      if (adm == Admission.LINE_FULL) {
        break;
      }
      assertThat(adm).isIn(Admission.ADMITTED, Admission.WAITING);
      accepted.add(a);
      if (adm == Admission.WAITING) {
        waiting.add(a);
        waitingBatches.add(pb);
      } else {
        assertThat(waiting).as("nothing admitted at once once batches wait").isEmpty();
      }
      assertThat(i).as("offers before LINE_FULL").isLessThan(window + 100);
    }
    assertThat(link.perTopicCap()).isEqualTo(window / 4);
    assertThat(outcomes.get(Admission.ADMITTED)).isEqualTo(link.perTopicCap());
    assertThat(outcomes.get(Admission.WAITING)).isEqualTo(16);
    assertThat(link.inFlightBatches()).isEqualTo(link.perTopicCap());
    assertThat(link.waitingBatches()).isEqualTo(16);
    assertThat(t.waitingEvents()).isEqualTo(160);
    checkInvariants(links);

    // the owner holds what its bounds allow, not the link's window: the rest is in HTTP/2 or unsent
    await().atMost(Duration.ofSeconds(20)).until(() -> b.stats("slow").getInboxDepthEvents() >= 100);
    TopicStats held = b.stats("slow");
    assertThat(held.getWaitingEvents()).isLessThanOrEqualTo(PeerForwardService.MAX_UNADMITTED * 10L);
    assertThat(held.getPublished() + held.getInboxDepthEvents() + held.getWaitingEvents()).isLessThan(window * 10L);
    assertThat(waiting.get(0).admitted).isNotDone();

    // a publisher that gives up takes its batch out of the line: never sent, never answered
    PublishBatch gaveUp = waitingBatches.remove(waitingBatches.size() - 1);
    Answer gaveUpAnswer = waiting.remove(waiting.size() - 1);
    accepted.remove(gaveUpAnswer);
    assertThat(t.withdraw(gaveUp)).isTrue();
    assertThat(t.withdraw(gaveUp)).isFalse();
    assertThat(link.waitingBatches()).isEqualTo(15);

    // the subscriber reads: everything accepted is sequenced once, in order, nothing lost
    sub.keepGranting(1000);
    List<Long> seqs = new ArrayList<>();
    for (Answer a : accepted) {
      for (PublishAck ack : a.acks()) {
        seqs.add(ack.getSequence());
      }
    }
    assertThat(seqs).isEqualTo(java.util.stream.LongStream.rangeClosed(1, accepted.size() * 10L).boxed().toList());
    for (Answer w : waiting) {
      assertThat(w.admitted).isDone();
    }
    assertThat(gaveUpAnswer.result).isNotDone();
    assertThat(sub.awaitEvents(accepted.size() * 10)).hasSize(accepted.size() * 10);
    assertThat(link.inFlightBatches()).isZero();
    assertThat(link.waitingBatches()).isZero();
    assertThat(t.waitingEvents()).isZero();
    assertThat(link.streamsOpened()).isEqualTo(1);
    checkInvariants(links);
  }

  @Test
  void rejectTopicIsRefusedWhenTheWindowIsFull() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("r", TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(10)
        .setInboxMaxEvents(10)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .build());
    TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("r").build());
    PeerLinks links = links(PeerLinks.Options.DEFAULTS.withWindow(8, 1 << 20)); // 2 batches of one topic at most
    TopicSettings reject = TopicSettings.DEFAULTS.merge(TopicConfig.newBuilder().setPublishOverflow(PublishOverflow.PUBLISH_OVERFLOW_REJECT).build());
    ForwardingTopic t = forwarding("r", reject, b.address(), links);
    Answer one = new Answer();
    assertThat(t.offer(batch(events("a", 10, 8), one))).isEqualTo(Admission.ADMITTED);
    one.acks(); // into the subscriber's buffer, which is now full
    assertThat(t.offer(batch(events("b", 10, 8), new Answer()))).isEqualTo(Admission.ADMITTED); // the loop blocks with it
    assertThat(t.offer(batch(events("c", 10, 8), new Answer()))).isEqualTo(Admission.ADMITTED); // in the owner's inbox
    assertThat(t.offer(batch(events("d", 10, 8), new Answer()))).isEqualTo(Admission.FULL);
    checkInvariants(links);
  }

  // ------------------------------------------------------------------------------------- (d)

  @Test
  void ownerLossFailsInFlightBatchesWithUnavailableAndTheLinkReconnectsWhenItIsBack() throws Exception {
    Owner b = owner(0);
    int peerPort = b.peerServer.getPort();
    TopicConfig stuck = TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(10)
        .setInboxMaxEvents(10)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .build();
    b.b.createTopic("t", stuck);
    TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build()); // never reads
    PeerLinks links = links(PeerLinks.Options.DEFAULTS.withBackoff(Duration.ofMillis(50), Duration.ofMillis(500)));
    ForwardingTopic t = forwarding("t", TopicSettings.DEFAULTS, b.address(), links);
    PeerLink link = links.link(b.address());

    Answer first = new Answer();
    t.offer(batch(events("first", 10, 8), first));
    assertThat(first.acks()).hasSize(10); // fills the subscriber's buffer
    List<Answer> inFlight = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Answer a = new Answer();
      assertThat(t.offer(batch(events("stuck" + i, 10, 8), a))).isEqualTo(Admission.ADMITTED);
      inFlight.add(a);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> b.stats("t").getWaitingEvents() >= 30); // the last four wait in its line
    assertThat(link.inFlightBatches()).isEqualTo(5);

    b.close(); // the owner goes away
    for (Answer a : inFlight) {
      StatusRuntimeException e = a.failure();
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(reason(e)).isEqualTo("OWNER_UNAVAILABLE");
    }
    assertThat(link.inFlightBatches()).isZero();
    assertThat(link.streamOpen()).isFalse();
    checkInvariants(links);

    // while it is away, publishes are refused at once or fail, always UNAVAILABLE: never lost, never stuck
    for (int i = 0; i < 3; i++) {
      Answer a = new Answer();
      try {
        t.offer(batch(events("away" + i, 1, 8), a));
        assertThat(a.failure().getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      } catch (StatusRuntimeException e) {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(reason(e)).isEqualTo("OWNER_UNAVAILABLE");
      }
    }

    // it comes back on the same address: the next publish after the backoff reconnects
    Owner again = owner(peerPort);
    again.b.createTopic("t");
    long openedBefore = link.streamsOpened();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
      Answer a = new Answer();
      try {
        t.offer(batch(events("back", 1, 8), a));
      } catch (StatusRuntimeException e) {
        return false; // backing off
      }
      return a.result.handle((acks, err) -> acks != null).get(10, TimeUnit.SECONDS);
    });
    assertThat(link.streamsOpened()).isGreaterThan(openedBefore);
    assertThat(link.streamOpen()).isTrue();
    assertThat(links.openStreams()).isEqualTo(1);
    assertThat(again.service.streamCount()).isEqualTo(1);
    checkInvariants(links);
  }

  /**
   * A link that lost its owner backs off (up to 5 s by default). When the metadata has that node up
   * again (a restart), the next publish reconnects at once: the first publishes to a topic the
   * restarted node took over used to wait out the backoff (4.3 s seen in bench failover).
   */
  @Test
  void aLinkBackingOffReconnectsAtOnceWhenThePeerIsUpAgain() throws Exception {
    Owner b = owner(0);
    int peerPort = b.peerServer.getPort();
    b.b.createTopic("t");
    PeerLinks links = links(PeerLinks.Options.DEFAULTS.withBackoff(Duration.ofSeconds(60), Duration.ofSeconds(60)));
    ForwardingTopic t = forwarding("t", TopicSettings.DEFAULTS, b.address(), links);
    PeerLink link = links.link(b.address());
    Answer first = new Answer();
    t.offer(batch(events("first", 1, 8), first));
    assertThat(first.acks()).hasSize(1);

    b.close(); // the stream breaks: the link backs off for a minute
    await().atMost(Duration.ofSeconds(10)).until(() -> !link.streamOpen());
    Owner again = owner(peerPort);
    again.b.createTopic("t");
    assertThatThrownBy(() -> t.offer(batch(events("early", 1, 8), new Answer()))).isInstanceOfSatisfying(StatusRuntimeException.class,
        e -> assertThat(reason(e)).isEqualTo("OWNER_UNAVAILABLE"));

    links.peerUp(again.address()); // the metadata has it up again (same address)
    Answer back = new Answer();
    assertThat(t.offer(batch(events("back", 1, 8), back))).isEqualTo(Admission.ADMITTED);
    assertThat(back.acks()).hasSize(1);
    checkInvariants(links);
  }

  /**
   * A name resolver standing in for Docker's DNS: while {@code down} a peer's name does not resolve
   * (its container is stopped), and answers come off the caller's thread, a little later, as DNS
   * answers do.
   */
  static final class FlakyDns extends io.grpc.NameResolverProvider {
    static final String SCHEME = "herald-flaky-dns";
    volatile boolean down;
    volatile InetSocketAddress target;
    final java.util.concurrent.ScheduledExecutorService answers = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "flaky-dns");
      t.setDaemon(true);
      return t;
    });

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }

    @Override
    public String getDefaultScheme() {
      return SCHEME;
    }

    @Override
    public io.grpc.NameResolver newNameResolver(java.net.URI uri, io.grpc.NameResolver.Args args) {
      if (!SCHEME.equals(uri.getScheme())) {
        return null;
      }
      return new io.grpc.NameResolver() {
        Listener2 listener;

        @Override
        public String getServiceAuthority() {
          return uri.getPath().substring(1);
        }

        @Override
        public void start(Listener2 l) {
          listener = l;
          refresh();
        }

        @Override
        public void refresh() {
          answers.schedule(() -> args.getSynchronizationContext().execute(() -> {
            if (down) {
              listener.onError(Status.UNAVAILABLE.withDescription("Unable to resolve host " + getServiceAuthority()));
            } else {
              listener.onResult(ResolutionResult.newBuilder()
                  .setAddressesOrError(io.grpc.StatusOr.fromValue(List.of(new io.grpc.EquivalentAddressGroup(target)))).build());
            }
          }), 200, TimeUnit.MILLISECONDS);
        }

        @Override
        public void shutdown() { }
      };
    }
  }

  /**
   * A restarted peer whose name did not resolve while it was down (a container: Docker's DNS drops
   * its name while it is stopped) is reached by the first publish once the metadata has it up
   * again. Before, that publish failed with UNAVAILABLE "Unable to resolve host": the channel still
   * held the failed lookup, and gRPC fails a call at once on it (ClusterIT saw it after a restart).
   * While the name does not resolve, a publish fails retryably after the connect timeout.
   */
  @Test
  void aPeerWhoseNameDidNotResolveWhileDownIsReachedByTheFirstPublishOnceItIsUp() throws Exception {
    Owner b = owner(0);
    int peerPort = b.peerServer.getPort();
    b.b.createTopic("t");
    FlakyDns dns = new FlakyDns();
    dns.target = new InetSocketAddress("127.0.0.1", peerPort);
    io.grpc.NameResolverRegistry.getDefaultRegistry().register(dns);
    closeLast.add(() -> {
      io.grpc.NameResolverRegistry.getDefaultRegistry().deregister(dns);
      dns.answers.shutdownNow();
    });
    String address = "herald-peer:" + peerPort;
    PeerLinks links = new PeerLinks("node-a", PeerLinks.plaintext(a -> NettyChannelBuilder.forTarget(FlakyDns.SCHEME + ":///" + a)),
        writers, PeerLinks.Options.DEFAULTS.withBackoff(Duration.ofMillis(1), Duration.ofMillis(1)).withConnectTimeout(Duration.ofSeconds(1)));
    closeLast.add(links);
    ForwardingTopic t = forwarding("t", TopicSettings.DEFAULTS, address, links);
    Answer first = new Answer();
    t.offer(batch(events("first", 1, 8), first));
    assertThat(first.acks()).hasSize(1);

    dns.down = true; // the peer's container stops: its stream breaks, its name no longer resolves
    b.peerServer.shutdownNow();
    PeerLink link = links.link(address);
    await().atMost(Duration.ofSeconds(10)).until(() -> !link.streamOpen());
    links.peerDown(address);
    Answer whileDown = new Answer();
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> t.offer(batch(events("down", 1, 8), whileDown)) != null);
    // a stream waits for the name for the connect timeout, then its batch fails (retryably)
    assertThat(whileDown.failure().getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(reason(whileDown.failure())).isEqualTo("OWNER_UNAVAILABLE");

    Owner again = owner(peerPort); // it restarts on the same port, and its name resolves again
    again.b.createTopic("t");
    dns.down = false;
    links.peerUp(address);
    Answer back = new Answer();
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> t.offer(batch(events("back", 1, 8), back)) != null);
    assertThat(back.acks()).as("the first publish after the restart").hasSize(1);
    checkInvariants(links);
  }

  @Test
  void closedLinksFailWhatTheyHoldAndRefuseMore() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("t", TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(10)
        .setInboxMaxEvents(10)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .build());
    TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    PeerLinks links = new PeerLinks("node-a", PeerLinks.plaintext(), writers, PeerLinks.Options.DEFAULTS);
    ForwardingTopic t = forwarding("t", TopicSettings.DEFAULTS, b.address(), links);
    t.offer(batch(events("x", 10, 8), new Answer()));
    Answer held = new Answer();
    t.offer(batch(events("y", 10, 8), held));
    links.close();
    links.close(); // idempotent
    assertThat(held.failure().getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(reason(held.failure())).isEqualTo("SHUTTING_DOWN");
    assertThatThrownBy(() -> t.offer(batch(events("z", 1, 8), new Answer())))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    assertThat(links.openStreams()).isZero();
  }

  @Test
  void stoppingLinksRefuseNewBatchesAndLetHeldOnesBeAnswered() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("t", TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(10)
        .setInboxMaxEvents(10)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .build());
    TestSubscriber sub = TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("t").build());
    PeerLinks links = links(PeerLinks.Options.DEFAULTS);
    ForwardingTopic t = forwarding("t", TopicSettings.DEFAULTS, b.address(), links);
    Answer x = new Answer();
    t.offer(batch(events("x", 10, 8), x));
    x.acks();
    Answer held = new Answer();
    t.offer(batch(events("y", 10, 8), held)); // the owner's loop waits with it for the subscriber

    links.stopAccepting();
    StatusRuntimeException refused = org.assertj.core.api.Assertions.catchThrowableOfType(StatusRuntimeException.class,
        () -> t.offer(batch(events("z", 1, 8), new Answer())));
    assertThat(reason(refused)).isEqualTo("SHUTTING_DOWN");
    assertThat(links.awaitDrained(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200))).isFalse();
    assertThat(held.result).isNotDone();

    sub.keepGranting(100);
    assertThat(links.awaitDrained(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
    assertThat(held.acks()).extracting(PublishAck::getSequence).containsExactly(11L, 12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L, 20L);
    checkInvariants(links);
  }

  // ------------------------------------------------------------------------------------- (e)

  /** A raw Forward stream: responses by correlation id, and how it ended. */
  static final class RawForward implements StreamObserver<ForwardResponse> {
    final Map<Long, CompletableFuture<ForwardResponse>> answers = new ConcurrentHashMap<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    final LinkedBlockingQueue<ForwardResponse> all = new LinkedBlockingQueue<>();
    StreamObserver<ForwardRequest> out;

    CompletableFuture<ForwardResponse> answer(long id) {
      return answers.computeIfAbsent(id, k -> new CompletableFuture<>());
    }

    @Override
    public void onNext(ForwardResponse r) {
      all.add(r);
      answer(r.getCorrelationId()).complete(r);
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }

    synchronized void send(ForwardRequest r) {
      out.onNext(r);
    }

    ForwardResponse await(long id) throws Exception {
      return answer(id).get(10, TimeUnit.SECONDS);
    }
  }

  private RawForward raw(Owner b) {
    ManagedChannel ch = NettyChannelBuilder.forTarget(b.address()).usePlaintext().build();
    closeLast.add(() -> {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    });
    RawForward f = new RawForward();
    f.out = PeerServiceGrpc.newStub(ch).forward(f);
    return f;
  }

  private static ForwardRequest frame(long id, String topic, List<ByteString> events, List<ByteString> assigned) {
    return ForwardRequest.newBuilder().setBatch(ForwardBatch.newBuilder().setCorrelationId(id).setTopic(topic)
        .addAllEvents(events).addAllAssignedIds(assigned)).build();
  }

  private static ForwardRequest good(long id, String topic, String eventId) {
    return frame(id, topic, List.of(event(eventId, "src", 8).toByteString()), List.of(ByteString.EMPTY));
  }

  @Test
  void anOriginThatReadsRangesGetsARangeForABatchSequencedInOneRunAndOneWithoutGetsAnAckPerEvent() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("t");
    ByteString e1 = event("c-1", "src", 8).toByteString();
    ByteString e2 = event("c-2", "src", 8).toByteString();
    ByteString e3 = event("c-3", "src", 8).toByteString();

    RawForward compact = raw(b);
    compact.send(ForwardRequest.newBuilder().setInit(ForwardInit.newBuilder().setNodeId("new-origin").setCompactAcks(true)).build());
    compact.send(frame(1, "t", List.of(e1, e2, e3), List.of(ByteString.EMPTY, ByteString.EMPTY, ByteString.EMPTY)));
    ForwardResponse r = compact.await(1);
    assertThat(r.getAcks().getAcksList()).isEmpty();
    assertThat(r.getAcks().hasRange()).isTrue();
    assertThat(r.getAcks().getRange().getFirstSequence()).isEqualTo(1);
    assertThat(r.getAcks().getRange().getCount()).isEqualTo(3);
    assertThat(r.getAcks().getRange().getEpoch()).isPositive();
    assertThat(r.getAcks().getRange().getPublishTime().getSeconds()).isPositive();
    // a batch with a duplicate is not one run: one ack per event, the duplicate with its first sequence
    ByteString e4 = event("c-4", "src", 8).toByteString();
    compact.send(frame(2, "t", List.of(e4, e2), List.of(ByteString.EMPTY, ByteString.EMPTY)));
    ForwardResponse dup = compact.await(2);
    assertThat(dup.getAcks().hasRange()).isFalse();
    assertThat(dup.getAcks().getAcksList()).extracting(PublishAck::getSequence).containsExactly(4L, 2L);
    assertThat(dup.getAcks().getAcksList()).extracting(PublishAck::getDuplicate).containsExactly(false, true);

    // an origin that does not say it reads ranges (an older broker) gets one ack per event
    RawForward old = raw(b);
    old.send(ForwardRequest.newBuilder().setInit(ForwardInit.newBuilder().setNodeId("old-origin")).build());
    ByteString e5 = event("c-5", "src", 8).toByteString();
    ByteString e6 = event("c-6", "src", 8).toByteString();
    old.send(frame(1, "t", List.of(e5, e6), List.of(ByteString.EMPTY, ByteString.EMPTY)));
    ForwardResponse acks = old.await(1);
    assertThat(acks.getAcks().hasRange()).isFalse();
    assertThat(acks.getAcks().getAcksList()).extracting(PublishAck::getSequence).containsExactly(5L, 6L);
    assertThat(acks.getAcks().getAcksList()).extracting(PublishAck::getPublishTime).doesNotContain(com.google.protobuf.Timestamp.getDefaultInstance());
  }

  @Test
  void badBatchesAreRefusedOneByOneAndTheStreamGoesOn() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("t", TopicConfig.newBuilder().setMaxEventBytes(1024).build());
    RawForward f = raw(b);
    f.send(ForwardRequest.newBuilder().setInit(ForwardInit.newBuilder().setNodeId("raw")).build());
    f.send(good(1, "t", "ok-1"));
    assertThat(f.await(1).getAcks().getAcks(0).getSequence()).isEqualTo(1);

    ByteString ok = event("x", "src", 8).toByteString();
    f.send(frame(2, "t", List.of(), List.of()));                                                  // no events
    f.send(frame(3, "t", List.of(ok, ok), List.of(ByteString.EMPTY)));                            // ids do not match events
    f.send(frame(4, "t", List.of(ByteString.copyFrom(new byte[] {(byte) 0xff, (byte) 0xff, 0x01})), List.of(ByteString.EMPTY))); // not an Event
    f.send(frame(5, "no such topic!", List.of(ok), List.of(ByteString.EMPTY)));                   // bad topic name
    f.send(frame(6, "t", List.of(Event.newBuilder().setType("test").build().toByteString()), List.of(ByteString.EMPTY))); // no id at all
    f.send(frame(7, "t", List.of(event("big", "src", 4096).toByteString()), List.of(ByteString.EMPTY)));              // too large
    f.send(frame(8, "t", List.of(ok), List.of(ByteString.copyFrom(new byte[300]))));              // assigned id too long
    for (long id = 2; id <= 8; id++) {
      ForwardResponse r = f.await(id);
      assertThat(r.hasError()).as("batch %s refused", id).isTrue();
      assertThat(r.getError().getCode()).as("batch %s", id).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(r.getError().getReason()).as("batch %s", id).isIn("INVALID_FIELD", "EVENT_TOO_LARGE");
    }
    assertThat(f.await(7).getError().getReason()).isEqualTo("EVENT_TOO_LARGE");
    assertThat(f.await(4).getError().getMetadataMap()).containsEntry("field", "events[0]");

    // the stream, and the topic, go on as if nothing happened
    f.send(good(9, "t", "ok-2"));
    assertThat(f.await(9).getAcks().getAcks(0).getSequence()).isEqualTo(2);
    assertThat(f.ended).isNotDone();
    assertThat(b.service.streamCount()).isEqualTo(1);

    // a broken protocol (a second init) ends only that stream, with INVALID_ARGUMENT
    f.send(ForwardRequest.newBuilder().setInit(ForwardInit.newBuilder().setNodeId("raw")).build());
    assertThat(f.ended.get(10, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    await().atMost(Duration.ofSeconds(5)).until(() -> b.service.streamCount() == 0);

    RawForward noInit = raw(b);
    noInit.send(good(1, "t", "ok-3"));
    assertThat(noInit.ended.get(10, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

    // a frame that does not decode ends its stream with INVALID_ARGUMENT too (it has no batch to answer)
    ManagedChannel ch = NettyChannelBuilder.forTarget(b.address()).usePlaintext().build();
    closeLast.add(ch::shutdownNow);
    io.grpc.MethodDescriptor<byte[], ForwardResponse> rawBytes = PeerServiceGrpc.getForwardMethod().toBuilder(new io.grpc.MethodDescriptor.Marshaller<byte[]>() {
      @Override
      public java.io.InputStream stream(byte[] value) {
        return new java.io.ByteArrayInputStream(value);
      }

      @Override
      public byte[] parse(java.io.InputStream stream) {
        throw new UnsupportedOperationException();
      }
    }, io.grpc.protobuf.ProtoUtils.marshaller(ForwardResponse.getDefaultInstance())).build();
    RawForward garbage = new RawForward();
    StreamObserver<byte[]> out = io.grpc.stub.ClientCalls.asyncBidiStreamingCall(ch.newCall(rawBytes, io.grpc.CallOptions.DEFAULT), garbage);
    out.onNext(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff});
    Status st = garbage.ended.get(10, TimeUnit.SECONDS);
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

    // and the owner still serves a well-behaved origin
    RawForward later = raw(b);
    later.send(ForwardRequest.newBuilder().setInit(ForwardInit.newBuilder().setNodeId("raw2")).build());
    later.send(good(1, "t", "ok-4"));
    assertThat(later.await(1).getAcks().getAcks(0).getSequence()).isEqualTo(3);
  }

  /**
   * One forward stream per peer pair carries every topic: a topic whose owner stops taking its
   * batches (a BLOCK subscriber that reads nothing) must not hold back the others. Before, its
   * batches filled the link's whole window and the owner's read-ahead, and a batch of another
   * topic waited behind them (or was refused LINE_FULL) until the slow subscriber read.
   */
  @Test
  void aStuckBlockTopicDoesNotHoldBackOtherTopicsOnTheSameStream() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("slow", TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(10)
        .setInboxMaxEvents(10)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .build());
    b.b.createTopic("fast");
    TestSubscriber sub = TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("slow").build()); // no credit
    PeerLinks links = links(PeerLinks.Options.DEFAULTS.withLine(1024, 64L << 20));
    ForwardingTopic slow = forwarding("slow", TopicSettings.DEFAULTS, b.address(), links);
    ForwardingTopic fast = forwarding("fast", TopicSettings.DEFAULTS, b.address(), links);
    PeerLink link = links.link(b.address());

    // many publishers of the slow topic, one batch each: a cap's worth in the window, the rest wait
    List<Answer> slowAnswers = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      Answer a = new Answer();
      Admission adm = slow.offer(batch(events("s" + i, 1, 100), a));
      assertThat(adm).isIn(Admission.ADMITTED, Admission.WAITING);
      slowAnswers.add(a);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> b.stats("slow").getWaitingEvents() >= 10);
    await().atMost(Duration.ofSeconds(10)).until(() -> link.inFlightBatches() == link.perTopicCap());

    // the other topic on the same stream goes on, again and again
    for (int i = 0; i < 20; i++) {
      Answer a = new Answer();
      assertThat(fast.offer(batch(events("f" + i, 5, 100), a))).as("fast batch %d", i).isEqualTo(Admission.ADMITTED);
      assertThat(a.acks()).hasSize(5);
    }
    assertThat(slowAnswers.get(slowAnswers.size() - 1).result).isNotDone();
    checkInvariants(links);

    // and once the subscriber reads, every slow batch is sequenced, in order, none lost
    sub.keepGranting(1000);
    List<Long> seqs = new ArrayList<>();
    for (Answer a : slowAnswers) {
      seqs.add(a.acks().get(0).getSequence());
    }
    assertThat(seqs).isEqualTo(java.util.stream.LongStream.rangeClosed(1, 300).boxed().toList());
    assertThat(sub.awaitEvents(300)).hasSize(300);
    checkInvariants(links);
  }

  @Test
  void ownerReadsOnlyWhatItsTopicsAdmit() throws Exception {
    Owner b = owner(0);
    b.b.createTopic("slow", TopicConfig.newBuilder()
        .setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setSubscriberBufferMaxEvents(10)
        .setInboxMaxEvents(10)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
        .build());
    b.b.createTopic("fast");
    TestSubscriber.started(b.b.subscriber(), SubscribeInit.newBuilder().setTopic("slow").build());
    RawForward f = raw(b);
    f.send(ForwardRequest.newBuilder().setInit(ForwardInit.newBuilder().setNodeId("raw")).build());
    // far more than the owner lets wait: it reads MAX_UNADMITTED waiting batches and then nothing
    int sent = 3 + PeerForwardService.MAX_UNADMITTED + 50;
    for (int i = 1; i <= sent; i++) {
      f.send(good(i, "slow", "s" + i));
    }
    f.send(good(10_000, "fast", "f"));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.stats("slow").getWaitingEvents() >= PeerForwardService.MAX_UNADMITTED - 1);
    // the batches behind the waiting ones are not read (not even the one for another topic): this is
    // the price of one stream per pair; a broker's link never sends this many of one topic (its
    // per-topic cap is a quarter of its window), so it takes four stuck topics at once
    await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
        .until(() -> b.stats("slow").getWaitingEvents() <= PeerForwardService.MAX_UNADMITTED);
    assertThat(f.answer(10_000)).isNotDone();
  }
}
