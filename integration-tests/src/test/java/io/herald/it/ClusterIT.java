package io.herald.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.it.ClusterContainers.Node;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.GetClusterStatusRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.StartPosition;
import io.herald.proto.v1.StartPositionKind;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.Topic;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * A 3-node cluster in containers ({@link ClusterContainers}) with what the replicated topic metadata
 * gives today: a topic created through one node is served by the others; it survives a restart of
 * the whole cluster; a SIGKILLed Raft leader does not stop topic creation through the survivors for
 * more than 10 s; a node frozen with {@code docker pause} for over 10 s catches up when thawed. And
 * the data plane under faults, through real gRPC: a BLOCK subscriber on one node paces a publisher
 * on another; the SIGKILLed owner of a busy topic is replaced within 10 s without duplicates or
 * silent loss; an owner cut off with {@code docker network disconnect} stops acking within its lease
 * while the others take over (never two owners of a position).
 * One cluster for the class (starting one costs ~15-30 s here); each test puts it back together.
 */
@RequiresDocker
@Timeout(value = 240, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.extension.ExtendWith(ClusterIT.LogsOnFailure.class)
class ClusterIT {
  private static final Duration CALL = Duration.ofSeconds(3);
  private static ClusterContainers cluster;

  @BeforeAll
  static void startCluster() {
    long t0 = System.nanoTime();
    cluster = new ClusterContainers().start();
    System.out.printf("ClusterIT: 3 nodes ready in %d ms%n", ms(t0));
  }

  @AfterAll
  static void removeCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** Every node running, not paused and ready, whatever the previous test did to it. */
  @BeforeEach
  void wholeCluster() {
    for (Node n : cluster.nodes()) {
      if (!cluster.isConnected(n)) {
        cluster.connect(n);
      }
      if (cluster.isPaused(n)) {
        cluster.unpause(n);
      }
      if (!cluster.isRunning(n)) {
        cluster.startAgain(Duration.ofSeconds(90), n);
      }
    }
    cluster.awaitReady(Duration.ofSeconds(90));
  }

  private static long ms(long since) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
  }

  /** Creates {@code name} through {@code n}; ALREADY_EXISTS counts as done (a retried create that had committed). */
  private static void create(Node n, String name) {
    try {
      n.admin(CALL).createTopic(CreateTopicRequest.newBuilder().setName(name).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.ALREADY_EXISTS) {
        throw e;
      }
    }
  }

  /**
   * Creates {@code name} through {@code n}, retrying for up to {@code atMost} (e.g. while a leader is
   * elected); returns the milliseconds it took. Attempts that took over a second or failed are printed.
   */
  private static long createWithin(Node n, String name, Duration atMost) {
    long t0 = System.nanoTime();
    List<String> attempts = new java.util.concurrent.CopyOnWriteArrayList<>();
    try {
      await("create " + name + " through " + n.alias).atMost(atMost).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(200))
          .until(() -> {
            long a = System.nanoTime();
            try {
              create(n, name);
              attempts.add("ok in " + ms(a) + " ms");
              return true;
            } catch (StatusRuntimeException e) {
              attempts.add(e.getStatus().getCode() + " after " + ms(a) + " ms (" + e.getStatus().getDescription() + ")");
              return false;
            }
          });
    } finally {
      long took = ms(t0);
      if (took > 1_000 || attempts.size() > 1) {
        System.out.printf("ClusterIT: create %s through %s: %d ms, attempts: %s%n", name, n.alias, took, attempts);
      }
    }
    return ms(t0);
  }

  /** True when {@code n} serves {@code name} from its own copy of the metadata. */
  private static boolean serves(Node n, String name) {
    try {
      Topic t = n.admin(CALL).getTopic(GetTopicRequest.newBuilder().setName(name).build()).getTopic();
      return name.equals(t.getName());
    } catch (StatusRuntimeException e) {
      return false;
    }
  }

  private static void awaitServedBy(String name, Duration atMost, Node... nodes) {
    for (Node n : nodes) {
      await(n.alias + " serves " + name).atMost(atMost).pollInterval(Duration.ofMillis(200)).until(() -> serves(n, name));
    }
  }

  private static List<String> list(Node n) {
    return n.admin(CALL).listTopics(ListTopicsRequest.newBuilder().setPageSize(1000).build()).getTopicsList().stream()
        .map(Topic::getName).toList();
  }

  @Test
  @org.junit.jupiter.api.Order(1)
  void aTopicCreatedOnNodeOneIsServedByNodesTwoAndThree() {
    long ms = createWithin(cluster.node(1), "replicated", Duration.ofSeconds(30)); // the first leader may still be elected
    long t0 = System.nanoTime();
    awaitServedBy("replicated", Duration.ofSeconds(10), cluster.node(2), cluster.node(3));
    System.out.printf("ClusterIT: created on herald-1 in %d ms, served by herald-2 and herald-3 %d ms later%n", ms, ms(t0));
    assertThat(list(cluster.node(2))).contains("replicated");
    assertThat(list(cluster.node(3))).contains("replicated");
  }

  @Test
  @org.junit.jupiter.api.Order(2)
  void aNodePausedPastTenSecondsCatchesUpWhenThawed() throws Exception {
    Node frozen = cluster.node(3);
    createWithin(cluster.node(1), "before-pause", Duration.ofSeconds(30));
    awaitServedBy("before-pause", Duration.ofSeconds(10), frozen);
    cluster.pause(frozen);
    long t0 = System.nanoTime();
    try {
      // two of three still make a quorum (a re-election first, if herald-3 led)
      long ms = createWithin(cluster.node(1), "while-paused", Duration.ofSeconds(10));
      awaitServedBy("while-paused", Duration.ofSeconds(10), cluster.node(2));
      System.out.printf("ClusterIT: herald-3 paused; created through herald-1 in %d ms%n", ms);
      long left = 11_000 - ms(t0);
      if (left > 0) {
        Thread.sleep(left); // the fault itself: frozen for more than 10 s
      }
      assertThat(cluster.isPaused(frozen)).isTrue();
    } finally {
      cluster.unpause(frozen);
    }
    long thawed = System.nanoTime();
    awaitServedBy("while-paused", Duration.ofSeconds(20), frozen);
    System.out.printf("ClusterIT: herald-3 paused %d ms, caught up %d ms after unpause%n", ms(t0), ms(thawed));
    assertThat(list(frozen)).contains("before-pause", "while-paused");
    cluster.awaitReady(Duration.ofSeconds(10), frozen);
  }

  @Test
  @org.junit.jupiter.api.Order(3)
  void topicsSurviveARestartOfTheWholeCluster() {
    for (int i = 1; i <= 3; i++) {
      createWithin(cluster.node(i), "durable-" + i, Duration.ofSeconds(30));
    }
    for (int i = 1; i <= 3; i++) {
      awaitServedBy("durable-" + i, Duration.ofSeconds(10), cluster.nodes().toArray(Node[]::new));
    }
    long t0 = System.nanoTime();
    cluster.stopAll();
    long stopped = ms(t0);
    cluster.nodes().forEach(n -> System.out.print(cluster.lastShutdown(n)));
    // a graceful stop finishes within the grace period: not a SIGKILL (exit 137)
    assertThat(cluster.nodes().stream().map(cluster::exitCode).toList()).as("exit codes after docker stop").containsOnly(0L);
    cluster.startAgain(Duration.ofSeconds(120));
    long ready = ms(t0);
    for (int i = 1; i <= 3; i++) {
      awaitServedBy("durable-" + i, Duration.ofSeconds(30), cluster.nodes().toArray(Node[]::new));
    }
    // and the restarted group elects a leader and takes writes again
    long ms = createWithin(cluster.node(2), "after-restart", Duration.ofSeconds(30));
    awaitServedBy("after-restart", Duration.ofSeconds(10), cluster.nodes().toArray(Node[]::new));
    System.out.printf("ClusterIT: whole cluster stopped in %d ms, ready again at %d ms; first create after it took %d ms%n",
        stopped, ready, ms);
  }

  /**
   * SIGKILL the Raft leader; a create through a survivor succeeds within 10 s, and the killed node,
   * started again on its data, catches up. While the brokers do not export {@code herald_raft_role}
   * the leader is unknown from outside, so every node is killed in turn (1, 2, 3, each restarted
   * before the next): the leader is among them, and the slowest round is the leader's.
   */
  @Test
  @org.junit.jupiter.api.Order(4)
  void killingTheLeaderLeavesTopicCreationWorkingThroughTheSurvivors() {
    createWithin(cluster.node(1), "before-kill", Duration.ofSeconds(30));
    awaitServedBy("before-kill", Duration.ofSeconds(10), cluster.nodes().toArray(Node[]::new));
    Node leader = cluster.leader().orElse(null);
    List<Node> victims = leader != null ? List.of(leader) : cluster.nodes();
    System.out.printf("ClusterIT: killing %s%n", leader != null ? leader.alias + ", the Raft leader per /metrics"
        : "herald-1, -2 and -3 in turn (herald_raft_role not exported yet: the leader is one of them)");
    for (Node victim : victims) {
      List<Node> survivors = cluster.nodes().stream().filter(n -> n != victim).toList();
      String topic = "after-kill-" + victim.alias;
      cluster.kill(victim);
      long t0 = System.nanoTime();
      long ms = createWithin(survivors.get(0), topic, Duration.ofSeconds(10));
      assertThat(ms).isLessThanOrEqualTo(10_000);
      awaitServedBy(topic, Duration.ofSeconds(10), survivors.get(1));
      long served = ms(t0);

      // the killed node comes back on its data and catches up
      long t1 = System.nanoTime();
      cluster.startAgain(Duration.ofSeconds(90), victim);
      awaitServedBy(topic, Duration.ofSeconds(30), victim);
      System.out.printf("ClusterIT: %s killed; create through %s took %d ms (served by %s at %d ms); restarted and caught up in %d ms%n",
          victim.alias, survivors.get(0).alias, ms, survivors.get(1).alias, served, ms(t1));
      assertThat(list(victim)).contains("before-kill", topic);
    }
  }

  // ------------------------------------------------------------------ data plane under faults

  /** The node that owns {@code topic}, per the metadata as {@code via} sees it. */
  private static Node owner(Node via, String topic) {
    String id = via.admin(CALL).getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getOwner();
    return cluster.nodes().stream().filter(n -> n.nodeId().equals(id)).findFirst()
        .orElseThrow(() -> new AssertionError("topic " + topic + " owned by unknown node '" + id + "'"));
  }

  private static List<Node> others(Node n) {
    return cluster.nodes().stream().filter(o -> o != n).toList();
  }

  private static StartPosition earliest() {
    return StartPosition.newBuilder().setKind(StartPositionKind.START_POSITION_KIND_EARLIEST).build();
  }

  private static long msSince(long t0, long t) {
    return TimeUnit.NANOSECONDS.toMillis(t - t0);
  }

  private static Map<Status.Code, Long> codes(RawPublisher p) {
    return p.failures().stream().collect(Collectors.groupingBy(RawPublisher.Failure::code, TreeMap::new, Collectors.counting()));
  }

  /**
   * A BLOCK subscriber on one node that stops granting credit stalls a publisher on another (the
   * owner is the third): the publisher's acks stop well before all its events are in, rather than the
   * brokers buffering without bound; once the subscriber grants credit again it gets all 4,000 events
   * exactly once, in order, and the publisher finishes.
   */
  @Test
  @org.junit.jupiter.api.Order(5)
  void aBlockSubscriberOnOneNodeStallsAPublisherOnAnother() throws Exception {
    String topic = "paced";
    int total = 4_000;
    TopicConfig config = TopicConfig.newBuilder().setDefaultOverflowPolicy(OverflowPolicy.OVERFLOW_POLICY_BLOCK)
        .setBlockPolicyAllowed(true).setSubscriberBufferMaxEvents(100).setInboxMaxEvents(100)
        .setMaxBlock(com.google.protobuf.Duration.newBuilder().setSeconds(300)).build();
    await("create " + topic).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> {
      try {
        cluster.node(1).admin(CALL).createTopic(CreateTopicRequest.newBuilder().setName(topic).setConfig(config).build());
        return true;
      } catch (StatusRuntimeException e) {
        return e.getStatus().getCode() == Status.Code.ALREADY_EXISTS;
      }
    });
    Node owner = owner(cluster.node(1), topic);
    Node pubNode = others(owner).get(0);
    Node subNode = others(owner).get(1);
    awaitServedBy(topic, Duration.ofSeconds(10), pubNode, subNode);
    try (RawSubscriber sub = new RawSubscriber(subNode.channel(), topic, OverflowPolicy.OVERFLOW_POLICY_BLOCK, 50, false, false)
        .start(earliest(), 20);
        RawPublisher pub = new RawPublisher("paced", pubNode.channel(), topic, "paced", 10, total, Duration.ofSeconds(120))) {
      long t0 = System.nanoTime();
      pub.start();
      // the stall: no ack for 3 s while events are still to go
      await("the publisher stalls").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250))
          .until(() -> pub.ackCount() > 0 && System.nanoTime() - pub.lastAckNanos() > TimeUnit.SECONDS.toNanos(3));
      int stalledAt = pub.ackCount();
      System.out.printf("ClusterIT: owner %s, publisher on %s, BLOCK subscriber on %s: publisher stalled at %d acked events"
          + " (%d ms after it started; the subscriber holds %d, its credit)%n", owner.alias, pubNode.alias, subNode.alias, stalledAt,
          msSince(t0, pub.lastAckNanos()), sub.count());
      assertThat(stalledAt).as("acked before the stall").isLessThan(2_500);
      assertThat(sub.count()).isEqualTo(50);
      long resumed = System.nanoTime();
      sub.grant(1_000_000);
      await("all delivered").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
          .until(() -> pub.ackCount() == total && sub.count() >= total);
      System.out.printf("ClusterIT: subscriber resumed; all %d acked and delivered %d ms later%n", total, ms(resumed));
      List<RawSubscriber.Got> got = sub.events();
      assertThat(got).hasSize(total);
      assertThat(got.stream().map(RawSubscriber.Got::id).toList())
          .containsExactlyElementsOf(java.util.stream.IntStream.range(0, total).mapToObj(i -> "paced-" + i).toList());
      for (int i = 1; i < got.size(); i++) {
        assertThat(got.get(i).sequence()).as("sequence after %s", got.get(i - 1)).isEqualTo(got.get(i - 1).sequence() + 1);
        assertThat(got.get(i).epoch()).isEqualTo(got.get(0).epoch());
      }
      assertThat(sub.gaps()).isEmpty();
      assertThat(pub.failures()).isEmpty();
    }
  }

  /**
   * SIGKILL the owner of a busy topic: a publisher on a second node publishing continuously (retrying
   * on UNAVAILABLE) is acked again within 10 s, never told NOT_FOUND; a subscriber on the third node
   * gets an OWNER_CHANGE notice (count unknown) and then the new epoch's events, nothing twice
   * beyond what dedup allows (an event whose ack was lost with the owner and was retried may be
   * sequenced again in the new epoch), and every acked event delivered or inside a gap notice.
   */
  @Test
  @org.junit.jupiter.api.Order(6)
  void killingTheOwnerOfABusyTopicMovesItWithinTenSeconds() throws Exception {
    String topic = "busy";
    createWithin(cluster.node(1), topic, Duration.ofSeconds(30));
    Node owner = owner(cluster.node(1), topic);
    Node pubNode = others(owner).get(0);
    Node subNode = others(owner).get(1);
    awaitServedBy(topic, Duration.ofSeconds(10), pubNode, subNode);
    try (RawSubscriber sub = new RawSubscriber(subNode.channel(), topic, null, 5_000, true, true).start(earliest(), 20);
        RawPublisher pub = new RawPublisher("busy", pubNode.channel(), topic, "busy", 10, 1_000_000, Duration.ofSeconds(3))) {
      pub.start();
      await("publishing").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
          .until(() -> pub.ackCount() >= 1_000 && sub.count() >= 500);
      long epoch0 = pub.acks().get(0).epoch();
      cluster.kill(owner);
      long killed = System.nanoTime();
      await("acked in a new epoch").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
          .until(() -> pub.acks().stream().anyMatch(a -> a.epoch() > epoch0));
      RawPublisher.Ack firstNew = pub.acks().stream().filter(a -> a.epoch() > epoch0).findFirst().orElseThrow();
      long firstAckMs = msSince(killed, firstNew.atNanos());
      long lastOldMs = pub.acks().stream().filter(a -> a.epoch() == epoch0).mapToLong(a -> msSince(killed, a.atNanos())).max().orElse(0);
      await("the new epoch flows to the subscriber").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
          .until(() -> pub.acks().stream().filter(a -> a.epoch() > epoch0).count() >= 500
              && sub.events().stream().filter(g -> g.epoch() > epoch0).count() >= 300);
      pub.stop();
      List<RawPublisher.Ack> acks = pub.acks();
      // every acked event delivered or covered by a gap notice (the subscriber catches up first)
      await("every ack delivered or in a gap").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
          .until(() -> uncovered(acks, sub).isEmpty());
      sub.close();
      List<RawSubscriber.Got> got = sub.events();
      List<GapNotice> gaps = sub.gaps();
      System.out.printf("ClusterIT: killed owner %s (publisher on %s, subscriber on %s): first ack in the new epoch %d ms after the kill"
          + " (last in the old %d ms); %d acked, %d delivered, gaps %s, publisher failures %s, subscriber streams ended %s%n",
          owner.alias, pubNode.alias, subNode.alias, firstAckMs, lastOldMs, acks.size(), got.size(),
          gaps.stream().map(g -> g.getReason() + "[" + g.getFirstSequence() + ".." + g.getLastSequence() + (g.getCountUnknown() ? " unknown" : "") + "]").toList(),
          codes(pub), sub.ends().stream().map(Status::getCode).toList());
      assertThat(firstAckMs).as("ms from the kill to the first ack in the new epoch").isLessThanOrEqualTo(10_000);
      assertThat(codes(pub).keySet()).as("publish failures while the topic moved")
          .doesNotContain(Status.Code.NOT_FOUND).isSubsetOf(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED);
      int change = -1;
      for (int i = 0; i < gaps.size(); i++) {
        if (gaps.get(i).getReason() == GapReason.GAP_REASON_OWNER_CHANGE) {
          change = i;
          break;
        }
      }
      assertThat(change).as("an OWNER_CHANGE gap notice in %s", gaps).isGreaterThanOrEqualTo(0);
      assertThat(gaps.get(change).getCountUnknown()).isTrue();
      int before = sub.gapPositions().get(change);
      assertThat(got.subList(0, before)).allMatch(g -> g.epoch() == epoch0);
      assertThat(got.subList(before, got.size())).isNotEmpty().allMatch(g -> g.epoch() > epoch0);
      assertNothingTwice(got, pub.retried());
    }
  }

  /** The acks neither delivered to {@code sub} (same epoch and sequence) nor inside one of its gap notices. */
  private static List<RawPublisher.Ack> uncovered(List<RawPublisher.Ack> acks, RawSubscriber sub) {
    Set<String> delivered = sub.events().stream().map(g -> g.epoch() + "/" + g.sequence()).collect(Collectors.toSet());
    List<GapNotice> gaps = sub.gaps();
    return acks.stream().filter(a -> !delivered.contains(a.epoch() + "/" + a.sequence()))
        .filter(a -> gaps.stream().noneMatch(g -> g.getFirstSequence() <= a.sequence()
            && (a.sequence() <= g.getLastSequence() || g.getLastSequence() == 0)))
        .toList();
  }

  /**
   * No (epoch, sequence) delivered twice, positions in order, and an id delivered twice only when the
   * publisher retried it and the second copy is in a later epoch (the lost owner's dedup window is gone).
   */
  private static void assertNothingTwice(List<RawSubscriber.Got> got, Set<String> retried) {
    Set<String> positions = new HashSet<>();
    Map<String, List<RawSubscriber.Got>> byId = new HashMap<>();
    RawSubscriber.Got prev = null;
    for (RawSubscriber.Got g : got) {
      assertThat(positions.add(g.epoch() + "/" + g.sequence())).as("(epoch, sequence) delivered twice: %s", g).isTrue();
      if (prev != null) {
        assertThat(g.epoch() > prev.epoch() || (g.epoch() == prev.epoch() && g.sequence() > prev.sequence()))
            .as("%s after %s", g, prev).isTrue();
      }
      prev = g;
      byId.computeIfAbsent(g.id(), k -> new ArrayList<>()).add(g);
    }
    long again = 0;
    for (var e : byId.entrySet()) {
      List<RawSubscriber.Got> copies = e.getValue();
      if (copies.size() > 1) {
        again++;
        assertThat(copies).as("copies of %s", e.getKey()).hasSize(2);
        assertThat(retried).as("%s delivered twice but never retried", e.getKey()).contains(e.getKey());
        assertThat(copies.get(1).epoch()).as("second copy of %s", e.getKey()).isGreaterThan(copies.get(0).epoch());
      }
    }
    System.out.printf("ClusterIT: %d events delivered, %d ids twice (retried after the owner was lost)%n", got.size(), again);
  }

  /**
   * Cut the owner of a busy topic off from the cluster network: the other two take the topic over in
   * a higher epoch; the cut-off node stops acking (UNAVAILABLE to its clients) once its lease cannot
   * be renewed, before the liveness timeout (5 s); reconnected, it is alive again in the cluster
   * status and serves the topic from its new owner. No (epoch, sequence) is ever acked for two
   * different events.
   */
  @Test
  @org.junit.jupiter.api.Order(7)
  void aPartitionedOwnerStopsAckingAndTheOthersTakeOver() throws Exception {
    String topic = "split";
    createWithin(cluster.node(1), topic, Duration.ofSeconds(30));
    Node owner = owner(cluster.node(1), topic);
    Node other = others(owner).get(0);
    awaitServedBy(topic, Duration.ofSeconds(10), other);
    io.grpc.ManagedChannel toOwner = cluster.direct(owner);
    io.grpc.ManagedChannel toOther = cluster.direct(other);
    try (RawPublisher onOwner = new RawPublisher("split-o", toOwner, topic, "split-o", 10, 1_000_000, Duration.ofSeconds(2));
        RawPublisher onOther = new RawPublisher("split-a", toOther, topic, "split-a", 10, 1_000_000, Duration.ofSeconds(2))) {
      onOwner.start();
      onOther.start();
      await("publishing").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
          .until(() -> onOwner.ackCount() >= 300 && onOther.ackCount() >= 300);
      long epoch0 = onOwner.acks().get(0).epoch();
      String leader = cluster.leader().map(n -> n.alias).orElse("unknown");
      cluster.disconnect(owner);
      long cut = System.nanoTime();
      await("taken over").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
          .until(() -> onOther.acks().stream().anyMatch(a -> a.epoch() > epoch0));
      long takeoverMs = msSince(cut, onOther.acks().stream().filter(a -> a.epoch() > epoch0).findFirst().orElseThrow().atNanos());
      // the fault itself: held for 12 s (well past the liveness timeout) while the new owner takes publishes
      await("partition held").atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(100))
          .until(() -> ms(cut) >= 12_000 && onOther.acks().stream().filter(a -> a.epoch() > epoch0).count() >= 300);
      List<RawPublisher.Ack> ownerAcksCut = onOwner.acks().stream().filter(a -> a.atNanos() > cut).toList();
      long lastOwnerAckMs = ownerAcksCut.stream().mapToLong(a -> msSince(cut, a.atNanos())).max().orElse(0);
      cluster.connect(owner);
      long back = System.nanoTime();
      await(owner.alias + " alive again").atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(250)).until(() -> {
        try {
          return other.admin(CALL).getClusterStatus(GetClusterStatusRequest.getDefaultInstance()).getNodesList().stream()
              .anyMatch(n -> n.getNodeId().equals(owner.nodeId()) && n.getAlive());
        } catch (StatusRuntimeException e) {
          return false;
        }
      });
      long aliveMs = ms(back);
      int before = onOwner.ackCount();
      await(owner.alias + " serves the topic again").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
          .until(() -> onOwner.ackCount() > before + 50 && onOwner.lastAck().epoch() > epoch0);
      long servesMs = ms(back);
      onOwner.stop();
      onOther.stop();
      System.out.printf("ClusterIT: partitioned owner %s (Raft leader before the cut: %s): %d acks by it after the cut, the last %d ms after it; %s took over in %d ms;"
          + " reconnected: alive in %d ms, serving through its new owner in %d ms; failures on it %s, on %s %s%n",
          owner.alias, leader, ownerAcksCut.size(), lastOwnerAckMs, other.alias, takeoverMs, aliveMs, servesMs, codes(onOwner), other.alias,
          codes(onOther));
      // a lease is half the liveness timeout (5 s): the cut-off owner acks nothing after the liveness timeout
      assertThat(ownerAcksCut.stream().filter(a -> msSince(cut, a.atNanos()) > 5_000).toList())
          .as("acks by the cut-off owner more than 5 s after the cut").isEmpty();
      assertThat(ownerAcksCut).allMatch(a -> a.epoch() == epoch0);
      assertThat(codes(onOwner).keySet()).doesNotContain(Status.Code.NOT_FOUND);
      assertThat(codes(onOther).keySet()).doesNotContain(Status.Code.NOT_FOUND);
      // never split: one event per (epoch, sequence)
      Map<String, String> at = new HashMap<>();
      for (RawPublisher.Ack a : concat(onOwner.acks(), onOther.acks())) {
        String was = at.putIfAbsent(a.epoch() + "/" + a.sequence(), a.id());
        assertThat(was == null || was.equals(a.id())).as("(%d, %d) acked for %s and %s", a.epoch(), a.sequence(), was, a.id()).isTrue();
      }
    } finally {
      toOwner.shutdownNow();
      toOther.shutdownNow();
    }
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /** On a failure, the last lines of each node's log go to the test output. */
  static final class LogsOnFailure implements TestWatcher {
    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
      if (cluster != null) {
        System.out.println(cluster.logs());
      }
    }
  }
}
