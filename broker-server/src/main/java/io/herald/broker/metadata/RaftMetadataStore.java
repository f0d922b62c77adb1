package io.herald.broker.metadata;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.config.BrokerConfig;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.cluster.v1.MetadataSnapshot;
import io.herald.proto.cluster.v1.NodeState;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.Topic;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcFactory;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.LifeCycle;
import org.apache.ratis.util.MD5FileUtil;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster metadata (topics, owners, epochs, nodes; {@link ClusterState}) replicated over a Raft
 * group (Apache Ratis 3.3.0, gRPC transport). A standalone broker is a group of one and runs the
 * same code. See {@code docs/cluster.md}, {@code docs/concurrency.md} and {@code RATIS.md}.
 *
 * <h2>Changes</h2>
 * Every change is a log entry, applied in log order by {@link StateMachine#applyTransaction} on
 * every peer, which tells this node's listeners. A change's future completes once the entry is
 * applied <em>on this node</em> too, so whoever proposed it reads its own write. Validation happens
 * inside apply, on the replicated state; a refused change is a failed reply (status code and
 * description), never an exception (which would stop the server).
 *
 * <h2>Membership and liveness</h2>
 * Each process start joins with a fresh boot id (a restart is a join with another boot: what the
 * node owned continues in the same epoch after a clean stop, else in a CRASH_RECOVERY epoch). The
 * node runs the topics it owns only after its join is applied ({@link #joined()}). The metadata
 * leader watches how long ago each peer answered its heartbeats ({@code lastRpcElapsedTime}) and
 * proposes DOWN for a node not heard within the liveness timeout (its topics move) and UP when it is
 * heard again. Every node keeps a lease of half the liveness timeout: a follower that has not heard
 * from the leader, or a leader that has not heard from a majority, within it reports {@link
 * #ownershipValid()} false, and its topics refuse publishes, so a stale owner stops accepting before
 * the leader can give its topics to another node.
 *
 * <h2>Snapshots and restarts</h2>
 * A snapshot (the state as a {@code MetadataSnapshot}) is taken every {@link Options#snapshotThreshold}
 * entries. On restart the snapshot is loaded and the entries after it re-applied; a snapshot
 * installed from the leader replaces the state wholesale and tells the listeners the difference.
 */
public final class RaftMetadataStore implements MetadataStore {
  private static final Logger log = LoggerFactory.getLogger(RaftMetadataStore.class);
  private static final long MONITOR_TICK_MILLIS = 200;

  /** Raft settings; the defaults hold on a loaded 2-core machine (RATIS.md #11). */
  public record Options(Duration electionTimeoutMin, Duration electionTimeoutMax, Duration requestTimeout,
      long snapshotThreshold, String clusterName, Duration livenessTimeout, org.apache.ratis.grpc.GrpcTlsConfig tls) {
    public static final Options DEFAULTS = new Options(Duration.ofMillis(1000), Duration.ofMillis(2000), Duration.ofSeconds(10), 1024,
        "herald", BrokerConfig.Cluster.DEFAULT_LIVENESS_TIMEOUT, null);

    public Options {
      if (electionTimeoutMin.toMillis() < 50 || electionTimeoutMax.compareTo(electionTimeoutMin) <= 0) {
        throw new IllegalArgumentException("--raft-election-timeout must be at least 50ms and below --raft-election-timeout-max; got "
            + electionTimeoutMin + " and " + electionTimeoutMax);
      }
      if (livenessTimeout.compareTo(electionTimeoutMax) <= 0) {
        throw new IllegalArgumentException("--liveness-timeout (" + livenessTimeout + ") must be longer than the largest election timeout ("
            + electionTimeoutMax + "), or a node is declared lost during an ordinary election");
      }
    }

    public Options withElectionTimeouts(Duration min, Duration max) {
      return new Options(min, max, requestTimeout, snapshotThreshold, clusterName, livenessTimeout, tls);
    }

    public Options withSnapshotThreshold(long n) {
      return new Options(electionTimeoutMin, electionTimeoutMax, requestTimeout, n, clusterName, livenessTimeout, tls);
    }

    public Options withLivenessTimeout(Duration d) {
      return new Options(electionTimeoutMin, electionTimeoutMax, requestTimeout, snapshotThreshold, clusterName, d, tls);
    }

    /** Raft over mutual TLS with {@code t} (null: plaintext). */
    public Options withTls(org.apache.ratis.grpc.GrpcTlsConfig t) {
      return new Options(electionTimeoutMin, electionTimeoutMax, requestTimeout, snapshotThreshold, clusterName, livenessTimeout, t);
    }

    /** How long a node trusts its ownership without hearing from the leader (or a leader from a majority). */
    Duration lease() {
      return livenessTimeout.dividedBy(2);
    }
  }

  private final StateMachine sm = new StateMachine();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final RaftServer server;
  private final RaftGroup group;
  private final RaftClient client;
  private final Options options;
  private final String nodeId;
  /** This node's gRPC address for clients and peers: known once the server is bound; the node joins after. */
  private volatile String advertise;
  private final String boot = UUID.randomUUID().toString();
  private final Set<String> voters;
  /** Completes change futures off the Ratis apply thread. Closed by {@link #close()}. */
  private final ExecutorService callbacks = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("herald-metadata-reply-", 0).factory());
  private final Thread monitor;
  private final CompletableFuture<Void> joinedFuture = new CompletableFuture<>();
  private volatile boolean closed;
  private volatile boolean leaseValid;
  private volatile long leaseCheckedNanos;
  private volatile CompletableFuture<?> joining;
  /** Not among {@code --peers}: a non-voting member (a Ratis LISTENER) that adds itself to the group. */
  private final boolean listener;
  /** Set by the monitor once the leader accepted this listener into the group's configuration. */
  private volatile boolean addedAsListener;
  /** This node's Raft peer. */
  private final RaftPeer self;
  /** The voters' Raft peers. */
  private final List<RaftPeer> voterPeers;

  /** Node state changes this leader proposed and has not seen applied yet (no duplicates). */
  private final Set<String> proposing = ConcurrentHashMap.newKeySet();

  /**
   * Starts this node's Raft peer and its monitor; returns without waiting for a leader (changes
   * wait for one, up to the request timeout). {@code peers} maps voter ids to their Raft {@code
   * host:port}, this node's included; {@code advertise} is this node's gRPC address for clients
   * and peers (null: set later with {@link #advertise(String)}; the node joins only once it is
   * known); {@code dataDir} holds its log and snapshots.
   */
  public RaftMetadataStore(String nodeId, Map<String, String> peers, String raftListen, String advertise, Path dataDir, Options options) {
    this(nodeId, peers, raftListen, null, false, advertise, dataDir, options);
  }

  /**
   * As above; with {@code listener} this node is a non-voting member (not among {@code peers}),
   * which the voters reach at {@code raftAdvertise} (null: {@code raftListen}).
   */
  public RaftMetadataStore(String nodeId, Map<String, String> peers, String raftListen, String raftAdvertise, boolean listener,
      String advertise, Path dataDir, Options options) {
    this.listener = listener;
    if (listener == peers.containsKey(nodeId)) {
      throw new IllegalArgumentException(listener ? "--listener: node " + nodeId + " is a voter in --peers " + peers.keySet()
          : "--node-id " + nodeId + " is not among --peers " + peers.keySet() + " (a non-voting member needs --listener)");
    }
    if (listener && raftListen == null) {
      throw new IllegalArgumentException("--listener needs --raft-listen (where this node's Raft server binds)");
    }
    this.nodeId = nodeId;
    this.options = options;
    this.advertise = advertise;
    this.voters = Set.copyOf(peers.keySet());
    List<RaftPeer> raftPeers = new ArrayList<>();
    peers.forEach((id, addr) -> raftPeers.add(RaftPeer.newBuilder().setId(RaftPeerId.valueOf(id)).setAddress(addr).build()));
    this.self = RaftPeer.newBuilder().setId(RaftPeerId.valueOf(nodeId)).setAddress(listener ? (raftAdvertise != null ? raftAdvertise : raftListen) : peers.get(nodeId))
        .setStartupRole(listener ? RaftPeerRole.LISTENER : RaftPeerRole.FOLLOWER).build();
    if (listener) {
      raftPeers.add(self);
    }
    this.voterPeers = raftPeers.stream().filter(p -> voters.contains(p.getId().toString())).toList();
    RaftGroupId groupId = RaftGroupId.valueOf(UUID.nameUUIDFromBytes(("herald-metadata:" + options.clusterName()).getBytes(StandardCharsets.UTF_8)));
    this.group = RaftGroup.valueOf(groupId, raftPeers);

    RaftProperties props = new RaftProperties();
    Path storage = dataDir.resolve("raft");
    try {
      Files.createDirectories(storage);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + storage + ": " + e.getMessage(), e);
    }
    RaftServerConfigKeys.setStorageDir(props, List.of(storage.toFile()));
    String own = raftListen == null ? peers.get(nodeId) : raftListen;
    var bind = BrokerConfig.parseAddress(own);
    GrpcConfigKeys.Server.setHost(props, bind.getHostString());
    GrpcConfigKeys.Server.setPort(props, bind.getPort());
    RaftServerConfigKeys.Rpc.setTimeoutMin(props, ms(options.electionTimeoutMin()));
    RaftServerConfigKeys.Rpc.setTimeoutMax(props, ms(options.electionTimeoutMax()));
    RaftServerConfigKeys.Rpc.setRequestTimeout(props, ms(options.requestTimeout()));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(props, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(props, options.snapshotThreshold());
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(props, 2); // older snapshot files are removed
    RaftServerConfigKeys.Log.setSegmentSizeMax(props, SizeInBytes.valueOf("8MB"));
    // a read (catchUp) is answered only by a leader that a majority still follows (ReadIndex), not
    // by a deposed leader that has not noticed yet (the default reads its own state machine)
    RaftServerConfigKeys.Read.setOption(props, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    // ... but a leader whose heartbeats a majority acknowledged within the lease (0.9 of the minimum
    // election timeout, before any other node may start an election) answers at once; without the
    // lease a read waited for a heartbeat round, and a NOT_FOUND after a delete took up to ~0.5 s
    RaftServerConfigKeys.Read.setLeaderLeaseEnabled(props, true);
    // RATIS.md #10: catch-up after a restart in ~1.5 s instead of 5-10 s
    props.set("raft.server.log.appender.retry.policy", "1ms,10,200ms,1000000");

    boolean formatted = Files.isDirectory(storage.resolve(groupId.getUuid().toString()));
    RaftServer s = null;
    RaftClient c = null;
    try {
      s = RaftServer.newBuilder()
          .setServerId(RaftPeerId.valueOf(nodeId))
          .setGroup(group)
          .setProperties(props)
          .setStateMachine(sm)
          .setParameters(parameters())
          .setOption(formatted ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
          .build();
      s.start();
      c = newClient();
    } catch (IOException | RuntimeException e) {
      // RATIS.md #2: Ratis threads are non-daemon; a failed start must not leave them running
      closeQuietly(c);
      closeQuietly(s);
      callbacks.shutdownNow();
      throw new IllegalStateException("cannot start the metadata Raft peer " + nodeId + " on " + own + " (data " + storage + "): " + e, e);
    }
    this.server = s;
    this.client = c;
    // a platform thread: busy dispatch loops (virtual threads) must not starve liveness checks
    this.monitor = Thread.ofPlatform().daemon().name("herald-metadata-monitor").start(this::monitor);
    log.info("metadata Raft peer {} on {} started ({} voters, data {}, {})", nodeId, own, peers.size(), storage,
        formatted ? "recovered" : "new");
  }

  /** Ratis's parameters: the TLS of its server, its clients and its admin calls when the cluster uses TLS. */
  private Parameters parameters() {
    Parameters p = new Parameters();
    if (options.tls() != null) {
      GrpcConfigKeys.Server.setTlsConf(p, options.tls());
      GrpcConfigKeys.Client.setTlsConf(p, options.tls());
      GrpcConfigKeys.Admin.setTlsConf(p, options.tls());
    }
    return p;
  }

  private RaftClient newClient() {
    RaftProperties clientProps = new RaftProperties();
    // each attempt waits at most about one election (the client's own default is 3 s): a request
    // sent to a leader that just died is retried at the new one soon after it is elected; the
    // retry policy below bounds the whole change by the request timeout
    org.apache.ratis.client.RaftClientConfigKeys.Rpc.setRequestTimeout(clientProps,
        ms(options.electionTimeoutMax().compareTo(Duration.ofSeconds(1)) > 0 ? options.electionTimeoutMax() : Duration.ofSeconds(1)));
    return RaftClient.newBuilder()
        .setProperties(clientProps)
        .setRaftGroup(group)
        .setLeaderId(null)
        .setClientRpc(new GrpcFactory(parameters()).newRaftClientRpc(ClientId.randomId(), clientProps))
        // RATIS.md #7: the default policy spins with no sleep while there is no leader
        .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
            (int) Math.max(1, options.requestTimeout().toMillis() / 100), TimeDuration.valueOf(100, TimeUnit.MILLISECONDS)))
        .build();
  }

  /** Parses {@code n1=host:port,n2=host:port}. */
  public static Map<String, String> parsePeers(String spec) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String part : spec.split(",")) {
      String p = part.trim();
      if (p.isEmpty()) {
        continue;
      }
      int eq = p.indexOf('=');
      if (eq <= 0 || eq == p.length() - 1) {
        throw new IllegalArgumentException("--peers entry '" + p + "' is not id=host:port, e.g. n1=127.0.0.1:7072");
      }
      String id = p.substring(0, eq);
      String addr = p.substring(eq + 1);
      var parsed = BrokerConfig.parseAddress(addr); // validates host:port
      if (parsed.getPort() == 0) {
        throw new IllegalArgumentException("--peers entry '" + p + "' needs a fixed port");
      }
      if (out.put(id, addr) != null) {
        throw new IllegalArgumentException("--peers names node '" + id + "' twice");
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--peers is empty; use e.g. n1=127.0.0.1:7072,n2=127.0.0.1:7172,n3=127.0.0.1:7272");
    }
    return out;
  }

  private static TimeDuration ms(Duration d) {
    return TimeDuration.valueOf(d.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public String nodeId() {
    return nodeId;
  }

  private RaftServer.Division division() throws IOException {
    return server.getDivision(group.getGroupId());
  }

  /** The replicated state machine (tests). */
  StateMachine stateMachine() {
    return sm;
  }

  /** True when this peer is the Raft leader (tests, metrics). */
  public boolean isLeader() {
    try {
      return division().getInfo().isLeader();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Completes when this process's join is applied; see {@link #joined()}. */
  public CompletableFuture<Void> joinedFuture() {
    return joinedFuture;
  }

  @Override
  public boolean joined() {
    return joinedFuture.isDone();
  }

  @Override
  public boolean ownershipValid() {
    if (closed) {
      return false;
    }
    if (voters.size() == 1 && !listener) {
      return true; // a group of one: nobody else can be given its topics
    }
    long now = System.nanoTime();
    if (now - leaseCheckedNanos > TimeUnit.MILLISECONDS.toNanos(100)) {
      // recomputed by whoever asks first after 100 ms (the monitor may be starved of CPU; the
      // answer must not go stale with it)
      try {
        checkLease(division().getInfo().getRoleInfoProto(), null);
      } catch (IOException | RuntimeException e) {
        leaseValid = false;
        leaseCheckedNanos = now;
      }
    }
    return leaseValid;
  }

  /**
   * Renews {@link #leaseValid}: a follower heard from the leader, or a leader from a majority of
   * the voters, within the lease. Fills {@code elapsed} (when not null) with how long ago the
   * leader heard from each peer.
   */
  private void checkLease(RoleInfoProto role, Map<String, Long> elapsed) {
    long lease = options.lease().toMillis();
    boolean valid = leaseHolds(role, voters, lease, elapsed);
    leaseCheckedNanos = System.nanoTime();
    if (valid != leaseValid) {
      leaseValid = valid;
      if (!valid) {
        log.warn("node {} has not heard from a metadata majority within {} ms: its topics refuse publishes until it does", nodeId, lease);
      } else {
        log.info("node {} is in contact with the metadata leader", nodeId);
      }
    }
  }

  /**
   * Whether {@code role} (this node's Raft role info) holds the lease of {@code leaseMillis}: a
   * leader that heard from a majority of {@code voters} (itself included) within it, or a follower
   * (or listener) that <em>knows a leader</em> and heard from it within it. A follower that knows no
   * leader (an election, or cut off: Ratis then reports a leader info without a peer id and an
   * elapsed time that restarts with each failed pre-vote) does not hold it, whatever that time says.
   * Fills {@code elapsed} (when not null) with how long ago a leader heard from each peer.
   */
  static boolean leaseHolds(RoleInfoProto role, Set<String> voters, long leaseMillis, Map<String, Long> elapsed) {
    if (role.getRole() == RaftPeerRole.LEADER) {
      int fresh = 1; // itself
      for (ServerRpcProto f : role.getLeaderInfo().getFollowerInfoList()) {
        String id = f.getId().getId().toStringUtf8();
        if (elapsed != null) {
          elapsed.put(id, f.getLastRpcElapsedTimeMs());
        }
        if (voters.contains(id) && f.getLastRpcElapsedTimeMs() < leaseMillis) {
          fresh++;
        }
      }
      return 2 * fresh > voters.size();
    }
    if (role.getRole() == RaftPeerRole.FOLLOWER || role.getRole() == RaftPeerRole.LISTENER) {
      if (!role.hasFollowerInfo() || !role.getFollowerInfo().hasLeaderInfo()) {
        return false;
      }
      ServerRpcProto leader = role.getFollowerInfo().getLeaderInfo();
      return leader.hasId() && !leader.getId().getId().isEmpty() && leader.getLastRpcElapsedTimeMs() < leaseMillis;
    }
    return false;
  }

  // ------------------------------------------------------------------ monitor: join, lease, liveness

  /** Every tick: joins until joined, renews the lease, and (on the leader) watches liveness. */
  private void monitor() {
    while (!closed) {
      try {
        tick();
      } catch (RuntimeException | IOException e) {
        log.debug("metadata monitor: {}", e.toString());
      }
      try {
        Thread.sleep(MONITOR_TICK_MILLIS);
      } catch (InterruptedException e) {
        return; // close()
      }
    }
  }

  /**
   * A non-voting member asks the leader to add it as a LISTENER (RATIS.md #12): it then gets the
   * log and answers heartbeats like a follower, but does not vote or count for commits. ADD
   * keeps whatever else the configuration holds (other listeners). Blocking, on the monitor.
   */
  private boolean addSelfAsListener() {
    try (RaftClient admin = newClient()) { // RATIS.md #8: its own client for the blocking admin call
      var reply = admin.admin().setConfiguration(org.apache.ratis.protocol.SetConfigurationRequest.Arguments.newBuilder()
          .setServersInNewConf(voterPeers)
          .setListenersInNewConf(List.of(self))
          .setMode(org.apache.ratis.protocol.SetConfigurationRequest.Mode.ADD)
          .build());
      if (reply.isSuccess()) {
        log.info("node {} is in the metadata group as a non-voting member (listener)", nodeId);
        return true;
      }
      log.info("node {}: adding itself as a listener was refused ({}); trying again", nodeId, reply.getException());
    } catch (IOException | RuntimeException e) {
      log.info("node {}: cannot add itself as a listener yet ({}); trying again", nodeId, e.toString());
    }
    return false;
  }

  /** Sets this node's advertised gRPC address (once the server is bound); it then joins. */
  public void advertise(String address) {
    if (this.advertise == null) {
      this.advertise = address;
    }
  }

  private void tick() throws IOException {
    if (listener && !addedAsListener) {
      addedAsListener = addSelfAsListener();
      if (!addedAsListener) {
        return; // joins once the leader replicates to it: a JOIN before that would see it as silent
      }
    }
    String adv = advertise;
    if (!joined() && adv != null && (joining == null || joining.isDone())) {
      long clock = System.currentTimeMillis();
      joining = send(ClusterState.encode(ClusterState.JOIN, out -> {
        out.writeUTF(nodeId);
        out.writeUTF(adv);
        out.writeUTF(boot);
        out.writeLong(clock);
      }));
    }
    RaftServer.Division d = division();
    RoleInfoProto role = d.getInfo().getRoleInfoProto();
    Map<String, Long> elapsed = new HashMap<>();
    checkLease(role, elapsed);
    if (role.getRole() == RaftPeerRole.LEADER && d.getInfo().isLeaderReady()) {
      watchLiveness(elapsed, role.getRoleElapsedTimeMs());
    }
  }

  /** On the leader: DOWN for a present node not heard within the liveness timeout, UP for a DOWN one heard again. */
  private void watchLiveness(Map<String, Long> elapsed, long leaderForMillis) {
    long liveness = options.livenessTimeout().toMillis();
    for (ClusterState.Node n : sm.nodes()) {
      if (n.id().equals(nodeId) || proposing.contains(n.id())) {
        continue;
      }
      long quiet = elapsed.getOrDefault(n.id(), leaderForMillis);
      NodeState next = null;
      if (n.present() && quiet > liveness) {
        next = NodeState.NODE_STATE_DOWN;
        log.warn("node {} not heard for {} ms (liveness timeout {} ms): marking it down; its topics move", n.id(), quiet, liveness);
      } else if (n.state() == NodeState.NODE_STATE_DOWN && quiet < liveness / 2) {
        next = NodeState.NODE_STATE_UP;
        log.info("node {} is heard again: marking it up", n.id());
      }
      if (next != null) {
        proposing.add(n.id());
        setNodeState(n.id(), next).whenComplete((v, e) -> proposing.remove(n.id()));
      }
    }
  }

  private CompletableFuture<Void> setNodeState(String node, NodeState state) {
    long clock = System.currentTimeMillis();
    return send(ClusterState.encode(ClusterState.NODE_STATE, out -> {
      out.writeUTF(node);
      out.writeInt(state.getNumber());
      out.writeLong(clock);
    })).thenApply(r -> null);
  }

  // ------------------------------------------------------------------ changes: encode, replicate, decode

  /** Replicates {@code command}; completes (off the apply thread) once it is applied on this node. */
  private CompletableFuture<byte[]> send(byte[] command) {
    CompletableFuture<RaftClientReply> sent;
    try {
      sent = client.async().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(command)));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(unavailable(e));
    }
    return sent.handle((reply, err) -> {
      if (err != null) {
        throw unavailable(err);
      }
      if (!reply.isSuccess()) {
        throw unavailable(reply.getException());
      }
      return reply;
    }).thenCompose(reply -> sm.appliedAt(reply.getLogIndex())
        .completeOnTimeout(null, options.requestTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .thenApplyAsync(v -> decode(reply), this::callback));
  }

  @Override
  public CompletableFuture<Void> catchUp() {
    long bound = 2 * options.electionTimeoutMax().toMillis();
    return leaderAppliedIndex().thenCompose(index -> sm.appliedAt(index).orTimeout(bound, TimeUnit.MILLISECONDS).exceptionally(e -> {
      throw unavailable(new java.util.concurrent.TimeoutException("this node has not applied the metadata up to index " + index
          + " within " + bound + " ms (it lags the leader)"));
    })).thenApplyAsync(v -> null, this::callback);
  }

  /**
   * The leader's applied index, from a linearizable read. Reads are coalesced: at most one is in
   * flight to the leader; callers arriving meanwhile share the next one, which is sent when the
   * current one ends, so every caller gets an index read after it asked (an answer to a read sent
   * before would miss a change committed in between). A burst of lookups for unknown topics costs
   * two reads, not one each, and never waits for the Raft client's request window on the caller's
   * (Netty) thread.
   */
  private CompletableFuture<Long> leaderAppliedIndex() {
    synchronized (reads) {
      if (reads.inFlight) {
        if (reads.next == null) {
          reads.next = new CompletableFuture<>();
        }
        return reads.next;
      }
      reads.inFlight = true;
    }
    CompletableFuture<Long> mine = new CompletableFuture<>();
    readLeader(mine);
    return mine;
  }

  /** Guards the coalesced leader reads of {@link #leaderAppliedIndex}. */
  private static final class Reads {
    boolean inFlight;
    CompletableFuture<Long> next;
    final java.util.concurrent.atomic.LongAdder sent = new java.util.concurrent.atomic.LongAdder();
  }

  private final Reads reads = new Reads();

  private void readLeader(CompletableFuture<Long> target) {
    long bound = 2 * options.electionTimeoutMax().toMillis();
    CompletableFuture<RaftClientReply> asked;
    reads.sent.increment();
    try {
      // unordered: not behind the ordered request window (a semaphore the caller would block on)
      asked = client.async().sendReadOnlyUnordered(Message.EMPTY); // the leader answers its applied index (StateMachine#query)
    } catch (RuntimeException e) {
      asked = CompletableFuture.failedFuture(e);
    }
    asked.orTimeout(bound, TimeUnit.MILLISECONDS).whenComplete((reply, err) -> {
      CompletableFuture<Long> next;
      synchronized (reads) {
        next = reads.next;
        reads.next = null;
        if (next == null) {
          reads.inFlight = false;
        }
      }
      try {
        if (err != null) {
          Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
          throw unavailable(cause instanceof java.util.concurrent.TimeoutException
              ? new java.util.concurrent.TimeoutException("no metadata leader answered within " + bound + " ms") : cause);
        }
        if (!reply.isSuccess()) {
          throw unavailable(reply.getException());
        }
        target.complete(reply.getMessage().getContent().asReadOnlyByteBuffer().getLong());
      } catch (RuntimeException e) {
        target.completeExceptionally(e);
      }
      if (next != null) {
        callback(() -> readLeader(next));
      }
    });
  }

  /** Linearizable reads this node has sent to the metadata leader (metrics, tests). */
  @Override
  public long leaderReads() {
    return reads.sent.sum();
  }

  /** Runs a change's completion off the apply thread; after close, on the caller. */
  private void callback(Runnable r) {
    try {
      callbacks.execute(r);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      r.run();
    }
  }

  private static byte[] decode(RaftClientReply reply) {
    byte[] content = reply.getMessage().getContent().toByteArray();
    if (content.length == 0) {
      return content;
    }
    if (content[0] != 0) {
      String description = new String(content, 1, content.length - 1, StandardCharsets.UTF_8);
      throw Status.fromCodeValue(content[0]).withDescription(description).asRuntimeException();
    }
    byte[] rest = new byte[content.length - 1];
    System.arraycopy(content, 1, rest, 0, rest.length);
    return rest;
  }

  private static StatusRuntimeException unavailable(Throwable e) {
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof StatusRuntimeException sre) {
      return sre;
    }
    return io.herald.broker.transport.Errors.error(io.herald.proto.v1.ErrorReason.ERROR_REASON_METADATA_UNAVAILABLE,
        "metadata not replicated (no metadata leader reachable, or no majority of the nodes up?): " + cause, cause);
  }

  /** A refusal of a change to topic {@code name} as the API sends it: with its ErrorInfo reason. */
  private static <T> CompletableFuture<T> forTopic(String name, CompletableFuture<T> f) {
    return f.exceptionallyCompose(e -> {
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (c instanceof StatusRuntimeException sre && io.herald.broker.transport.Errors.info(sre) == null) {
        String d = sre.getStatus().getDescription();
        switch (sre.getStatus().getCode()) {
          case NOT_FOUND -> c = io.herald.broker.transport.Errors.topicNotFound(name, d);
          case ALREADY_EXISTS -> c = io.herald.broker.transport.Errors.error(
              io.herald.proto.v1.ErrorReason.ERROR_REASON_TOPIC_ALREADY_EXISTS, d, "topic", name);
          default -> { }
        }
      }
      return CompletableFuture.failedFuture(c);
    });
  }

  private static TopicRecord recordFrom(byte[] reply) {
    try {
      return TopicRecord.fromStored(Topic.parseFrom(reply));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public CompletableFuture<TopicRecord> create(String name, TopicSettings settings) {
    Instant now = Instant.now();
    return forTopic(name, send(ClusterState.encode(ClusterState.CREATE_ABOVE_DELETED, out -> {
      out.writeUTF(name);
      ClusterState.writeBytes(out, settings.toProto().toByteArray());
      out.writeLong(now.getEpochSecond());
      out.writeInt(now.getNano());
    })).thenApply(RaftMetadataStore::recordFrom));
  }

  @Override
  public CompletableFuture<TopicRecord> update(String name, UnaryOperator<TopicSettings> change) {
    return forTopic(name, update(name, change, 5));
  }

  /** Compare-and-set on the settings: a concurrent update (ABORTED) re-applies {@code change} to the newer settings. */
  private CompletableFuture<TopicRecord> update(String name, UnaryOperator<TopicSettings> change, int triesLeft) {
    TopicRecord old = sm.get(name);
    if (old == null) {
      return CompletableFuture.failedFuture(notFound(name));
    }
    TopicSettings next;
    try {
      next = change.apply(old.settings());
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return send(ClusterState.encode(ClusterState.UPDATE, out -> {
      out.writeUTF(name);
      out.writeLong(old.createEpoch());
      ClusterState.writeBytes(out, old.settings().toProto().toByteArray());
      ClusterState.writeBytes(out, next.toProto().toByteArray());
    })).thenApply(RaftMetadataStore::recordFrom)
        .exceptionallyCompose(e -> {
          Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          if (triesLeft > 1 && c instanceof StatusRuntimeException sre && sre.getStatus().getCode() == Status.Code.ABORTED) {
            return update(name, change, triesLeft - 1);
          }
          return CompletableFuture.failedFuture(c);
        });
  }

  @Override
  public CompletableFuture<Void> delete(String name) {
    return forTopic(name, send(ClusterState.encode(ClusterState.DELETE, out -> out.writeUTF(name))).thenApply(r -> null));
  }

  /** For tests: while set, floor writes fail as a full disk or a lost quorum would make them fail. */
  public void failFloorWritesForTests(boolean fail) {
    failFloors = fail;
  }

  private volatile boolean failFloors;

  @Override
  public CompletableFuture<Void> setSequenceFloor(String name, long incarnation, long epoch, long floor) {
    if (failFloors) {
      return CompletableFuture.failedFuture(Status.UNAVAILABLE.withDescription("floor writes fail (test)").asRuntimeException());
    }
    return send(ClusterState.encode(ClusterState.FLOOR, out -> {
      out.writeUTF(name);
      out.writeLong(incarnation);
      out.writeLong(epoch);
      out.writeLong(floor);
    })).thenApply(r -> null);
  }

  @Override
  public CompletableFuture<TopicRecord> newEpoch(String name, long incarnation, long epoch, long startSequence, EpochCause cause) {
    long clock = System.currentTimeMillis();
    return send(ClusterState.encode(ClusterState.NEW_EPOCH, out -> {
      out.writeUTF(name);
      out.writeLong(incarnation);
      out.writeLong(epoch);
      out.writeLong(startSequence);
      out.writeInt(cause.getNumber());
      out.writeLong(clock);
    })).thenApply(RaftMetadataStore::recordFrom);
  }

  @Override
  public CompletableFuture<TopicRecord> release(String name, long incarnation, long epoch, long nextSequence) {
    long clock = System.currentTimeMillis();
    return send(ClusterState.encode(ClusterState.RELEASE, out -> {
      out.writeUTF(name);
      out.writeUTF(nodeId);
      out.writeLong(incarnation);
      out.writeLong(epoch);
      out.writeLong(nextSequence);
      out.writeLong(clock);
    })).thenApply(r -> r.length == 0 ? null : recordFrom(r));
  }

  @Override
  public CompletableFuture<Void> drain() {
    return setNodeState(nodeId, NodeState.NODE_STATE_DRAINING);
  }

  @Override
  public CompletableFuture<Void> leave() {
    return setNodeState(nodeId, NodeState.NODE_STATE_LEFT);
  }

  @Override
  public Optional<TopicRecord> get(String name) {
    return Optional.ofNullable(sm.get(name));
  }

  @Override
  public List<TopicRecord> list(String afterName, int limit) {
    return sm.list(afterName, limit);
  }

  @Override
  public void addListener(Listener listener) {
    sm.register(listener);
  }

  @Override
  public Optional<String> address(String node) {
    return Optional.ofNullable(sm.address(node));
  }

  @Override
  public ClusterView cluster() {
    String leader = "";
    long term = 0;
    String role = "unknown";
    long commit = 0;
    long applied = 0;
    try {
      RaftServer.Division d = division();
      RaftPeerId l = d.getInfo().getLeaderId();
      leader = l == null ? "" : l.toString();
      term = d.getInfo().getCurrentTerm();
      role = d.getInfo().getCurrentRole().name().toLowerCase(java.util.Locale.ROOT);
      commit = d.getRaftLog().getLastCommittedIndex();
      applied = d.getInfo().getLastAppliedIndex();
    } catch (IOException | RuntimeException e) {
      log.debug("raft state not readable: {}", e.toString());
    }
    List<ClusterView.Node> nodes = new ArrayList<>();
    for (var n : sm.nodeViews(voters)) {
      nodes.add(n);
    }
    return new ClusterView(nodeId, nodes, leader, term, role, commit, applied);
  }

  /**
   * Stops the monitor, hands Raft leadership to another voter when this node leads a group of
   * several (RATIS.md #11), then closes the client and the Raft server (every Ratis thread this
   * store started).
   */
  @Override
  public void close() {
    closed = true;
    monitor.interrupt();
    try {
      if (voters.size() > 1 && isLeader()) {
        transferLeadership();
      }
    } finally {
      closeQuietly(client);
      closeQuietly(server);
      callbacks.shutdownNow();
      listeners.clear();
    }
  }

  @Override
  public void awaitOthersDrained(Duration bound) throws InterruptedException {
    if (listener) {
      return; // no vote: the others' hand-overs do not need it
    }
    long deadline = System.nanoTime() + bound.toNanos();
    // a node stopped at the same moment may not have its "draining" applied here yet: none must be
    // seen for a grace period (an election timeout), not at one glance
    long grace = Math.min(options.electionTimeoutMin().toNanos(), bound.toNanos());
    long quietSince = System.nanoTime();
    List<String> draining = List.of();
    while (System.nanoTime() < deadline) {
      draining = sm.nodes().stream().filter(n -> !n.id().equals(nodeId) && n.state() == NodeState.NODE_STATE_DRAINING)
          .map(ClusterState.Node::id).toList();
      long now = System.nanoTime();
      if (!draining.isEmpty()) {
        quietSince = now;
      } else if (now - quietSince >= grace) {
        return;
      }
      Thread.sleep(50);
    }
    if (draining.isEmpty()) {
      return;
    }
    log.warn("stopping while nodes {} still hand their topics over ({} passed)", draining, bound);
  }

  private void transferLeadership() {
    ClusterView view = cluster();
    for (String v : voters) {
      ClusterView.Node n = view.node(v);
      if (v.equals(nodeId) || (n != null && !n.alive())) {
        continue;
      }
      try (RaftClient admin = newClient()) { // RATIS.md #8: its own client for the blocking admin call
        admin.admin().transferLeadership(RaftPeerId.valueOf(v), 3000);
        log.info("metadata leadership handed to {}", v);
        return;
      } catch (IOException | RuntimeException e) {
        log.info("could not hand metadata leadership to {}: {}", v, e.toString());
      }
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      log.warn("closing {}: {}", c.getClass().getSimpleName(), e.toString());
    }
  }

  private static StatusRuntimeException notFound(String name) {
    return Status.NOT_FOUND.withDescription("topic '" + name + "' does not exist").asRuntimeException();
  }

  // ------------------------------------------------------------------ the replicated state machine

  /**
   * Applies entries to the {@link ClusterState} (one at a time, on Ratis's apply thread) or loads a
   * snapshot. {@link #lock} guards the state and is held while listeners are told, so a listener
   * registering sees each change exactly once: either in its replay or as a call.
   */
  final class StateMachine extends BaseStateMachine {
    private final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();
    private final ReentrantLock lock = new ReentrantLock();
    @GuardedBy("lock")
    private final ClusterState state = new ClusterState();
    /**
     * Futures waiting for an index to be applied here, by index, in the order they came. A set (a
     * {@code CompletableFuture} is equal only to itself) so that a timed-out wait leaves in O(1):
     * thousands of lookups waiting on the same index once took quadratic time to time out.
     */
    @GuardedBy("lock")
    private final TreeMap<Long, LinkedHashSet<CompletableFuture<Void>>> waiting = new TreeMap<>();
    @GuardedBy("lock")
    private long applied;
    /**
     * The index of the last entry that may have changed the state (a transaction, or the snapshot
     * loaded): what a catch-up must reach. Not the last applied index, which also counts entries
     * that change nothing (Ratis's commit-index metadata entries, a new leader's first entry): a
     * follower learns those are committed only with the leader's next heartbeat (half an election
     * timeout), and a lookup waiting for them answered NOT_FOUND up to ~0.5 s late.
     */
    private volatile long lastChange;

    TopicRecord get(String name) {
      lock.lock();
      try {
        return state.topics.get(name);
      } finally {
        lock.unlock();
      }
    }

    List<TopicRecord> list(String afterName, int limit) {
      lock.lock();
      try {
        return TopicRecord.page(state.topics, afterName, limit);
      } finally {
        lock.unlock();
      }
    }

    String address(String node) {
      lock.lock();
      try {
        ClusterState.Node n = state.nodes.get(node);
        return n == null || !n.present() ? null : n.address();
      } finally {
        lock.unlock();
      }
    }

    List<ClusterState.Node> nodes() {
      lock.lock();
      try {
        return state.nodeList();
      } finally {
        lock.unlock();
      }
    }

    List<ClusterView.Node> nodeViews(Set<String> voterIds) {
      lock.lock();
      try {
        List<ClusterView.Node> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (ClusterState.Node n : state.nodes.values()) {
          seen.add(n.id());
          out.add(new ClusterView.Node(n.id(), n.address(), voterIds.contains(n.id()), stateName(n.state()), state.ownedBy(n.id())));
        }
        for (String v : voterIds) {
          if (!seen.contains(v)) { // a seed node that never joined
            out.add(new ClusterView.Node(v, "", true, "down", 0));
          }
        }
        out.sort((a, b) -> a.id().compareTo(b.id()));
        return out;
      } finally {
        lock.unlock();
      }
    }

    private static String stateName(NodeState s) {
      return switch (s) {
        case NODE_STATE_UP -> "up";
        case NODE_STATE_DRAINING -> "draining";
        case NODE_STATE_LEFT -> "left";
        default -> "down";
      };
    }

    /** Completes when entry {@code index} is applied on this node. */
    CompletableFuture<Void> appliedAt(long index) {
      lock.lock();
      try {
        if (applied >= index) {
          return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        waiting.computeIfAbsent(index, k -> new LinkedHashSet<>()).add(f);
        // a caller's timeout completes f before the index is applied: it leaves the map then, or a
        // node that never catches up (cut off) would keep every timed-out wait
        f.whenComplete((v, e) -> forget(index, f));
        return f;
      } finally {
        lock.unlock();
      }
    }

    private void forget(long index, CompletableFuture<Void> f) {
      lock.lock();
      try {
        Set<CompletableFuture<Void>> at = waiting.get(index);
        if (at != null && at.remove(f) && at.isEmpty()) {
          waiting.remove(index);
        }
      } finally {
        lock.unlock();
      }
    }

    /** The last index applied here (tests). */
    long applied() {
      lock.lock();
      try {
        return applied;
      } finally {
        lock.unlock();
      }
    }

    /** Waits not yet completed nor timed out (tests, metrics). */
    int waiters() {
      lock.lock();
      try {
        return waiting.values().stream().mapToInt(Set::size).sum();
      } finally {
        lock.unlock();
      }
    }

    void register(Listener l) {
      lock.lock();
      try {
        listeners.add(l);
        for (TopicRecord r : state.topics.values()) {
          l.created(r);
        }
        l.membershipChanged();
      } finally {
        lock.unlock();
      }
    }

    @Override
    public SimpleStateMachineStorage getStateMachineStorage() {
      return storage;
    }

    @Override
    public void initialize(RaftServer raftServer, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
      super.initialize(raftServer, groupId, raftStorage);
      storage.init(raftStorage);
      load(storage.loadLatestSnapshot());
    }

    @Override
    public void pause() {
      // RATIS.md #3: BaseStateMachine.pause() does nothing, but a snapshot install asserts PAUSED
      LifeCycle lc = getLifeCycle();
      if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
        lc.transition(LifeCycle.State.PAUSING);
        lc.transition(LifeCycle.State.PAUSED);
      }
    }

    @Override
    public void reinitialize() throws IOException {
      load(storage.loadLatestSnapshot());
      LifeCycle lc = getLifeCycle();
      if (lc.getCurrentState() == LifeCycle.State.PAUSED) {
        lc.transition(LifeCycle.State.STARTING);
        lc.transition(LifeCycle.State.RUNNING);
      }
    }

    /** Replaces the state with the snapshot's and tells the listeners the difference (a full resync). */
    private void load(SingleFileSnapshotInfo snapshot) throws IOException {
      if (snapshot == null) {
        return;
      }
      Path file = snapshot.getFile().getPath();
      if (snapshot.getFile().getFileDigest() != null) {
        MD5FileUtil.verifySavedMD5(file.toFile(), snapshot.getFile().getFileDigest());
      }
      MetadataSnapshot s = MetadataSnapshot.parseFrom(Files.readAllBytes(file));
      List<ClusterState.Change> changes = new ArrayList<>();
      List<CompletableFuture<Void>> ready;
      lock.lock();
      try {
        state.load(s, changes);
        setLastAppliedTermIndex(snapshot.getTermIndex());
        lastChange = Math.max(lastChange, snapshot.getTermIndex().getIndex());
        checkJoined();
        tell(changes);
        ready = advance(snapshot.getTermIndex().getIndex());
        log.info("metadata loaded from snapshot {}: {} topics, {} nodes", snapshot.getTermIndex(), s.getTopicsCount(), s.getNodesCount());
      } finally {
        lock.unlock();
      }
      ready.forEach(f -> f.complete(null));
    }

    @Override
    public long takeSnapshot() throws IOException {
      MetadataSnapshot s;
      TermIndex last;
      lock.lock(); // RATIS.md #4: serialised with apply
      try {
        last = getLastAppliedTermIndex();
        s = state.toSnapshot();
      } finally {
        lock.unlock();
      }
      if (last == null) {
        return -1;
      }
      File target = storage.getSnapshotFile(last.getTerm(), last.getIndex());
      Path tmp = target.toPath().resolveSibling(target.getName() + ".writing");
      Files.write(tmp, s.toByteArray());
      Files.move(tmp, target.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      var md5 = MD5FileUtil.computeAndSaveMd5ForFile(target);
      storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(target.toPath(), md5), last));
      return last.getIndex();
    }

    /**
     * A log entry that is not a change (a new leader's first entry, a configuration) was applied:
     * it counts for {@link #appliedAt} as well, or a wait for the leader's applied index
     * ({@link #catchUp}) could outlast a quiet cluster.
     */
    @Override
    public void notifyTermIndexUpdated(long term, long index) {
      super.notifyTermIndexUpdated(term, index);
      List<CompletableFuture<Void>> ready;
      lock.lock();
      try {
        ready = advance(index);
      } finally {
        lock.unlock();
      }
      ready.forEach(f -> f.complete(null));
    }

    /** A read through the leader ({@link #catchUp}): answers the index of its last change ({@link #lastChange}), 8 bytes. */
    @Override
    public CompletableFuture<Message> query(Message request) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(Long.BYTES);
      b.putLong(0, lastChange);
      return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(b)));
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
      var entry = trx.getLogEntry();
      byte[] reply;
      List<CompletableFuture<Void>> ready;
      lock.lock();
      try {
        List<ClusterState.Change> changes = new ArrayList<>();
        try {
          reply = state.apply(entry.getStateMachineLogEntry().getLogData().toByteArray(), changes);
        } catch (IOException | RuntimeException e) {
          // RATIS.md #5: an exception here stops the server; answer a failed reply instead
          log.error("metadata entry {} could not be applied: {}", TermIndex.valueOf(entry), e.toString(), e);
          reply = ClusterState.failed(Status.Code.INTERNAL, "metadata entry could not be applied: " + e);
          changes.clear();
        }
        updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
        lastChange = entry.getIndex();
        checkJoined();
        tell(changes);
        ready = advance(entry.getIndex());
      } finally {
        lock.unlock();
      }
      ready.forEach(f -> f.complete(null));
      return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(reply)));
    }

    @GuardedBy("lock")
    private void checkJoined() {
      ClusterState.Node self = state.nodes.get(nodeId);
      if (!joinedFuture.isDone() && self != null && self.boot().equals(boot) && self.present()) {
        log.info("node {} joined the cluster metadata ({} at {})", nodeId, boot, advertise);
        joinedFuture.complete(null);
      }
    }

    @GuardedBy("lock")
    private List<CompletableFuture<Void>> advance(long index) {
      applied = Math.max(applied, index);
      List<CompletableFuture<Void>> ready = new ArrayList<>();
      while (!waiting.isEmpty() && waiting.firstKey() <= applied) {
        ready.addAll(waiting.pollFirstEntry().getValue());
      }
      return ready;
    }

    // listeners are called with the lock held, on the apply thread, in commit order; they must not block

    @GuardedBy("lock")
    private void tell(List<ClusterState.Change> changes) {
      for (ClusterState.Change c : changes) {
        for (Listener l : listeners) {
          try {
            switch (c) {
              case ClusterState.Created cr -> l.created(cr.topic());
              case ClusterState.Updated u -> l.updated(u.topic());
              case ClusterState.Deleted d -> l.deleted(d.name());
              case ClusterState.Membership m -> l.membershipChanged();
            }
          } catch (RuntimeException e) {
            log.error("a metadata listener failed: {}", e.toString(), e);
          }
        }
      }
    }
  }
}
