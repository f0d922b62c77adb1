package io.herald.broker.metadata;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.broker.topic.TopicSettings;
import io.herald.proto.v1.EpochCause;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.Topic;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcFactory;
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
 * Topic metadata replicated over a Raft group (Apache Ratis 3.3.0, gRPC transport): every change is
 * a log entry, applied in log order by {@link TopicStateMachine#applyTransaction} on every peer,
 * which tells this node's listeners. See {@code docs/concurrency.md} and {@code RATIS.md}.
 *
 * <h2>Determinism</h2>
 * Everything an entry needs is in the entry: the proposer puts its clock reading in (for the create
 * time and the clock part of {@link TopicRecord#nextEpoch}); validation (exists, not found, other
 * incarnation) happens inside apply, on the replicated state, and a refused change is a failed
 * <em>reply</em> (status code + description), never an exception (which would stop the server).
 *
 * <h2>Snapshots and restarts</h2>
 * A snapshot (the topics as a {@code ListTopicsResponse}, proto binary) is taken every
 * {@link Options#snapshotThreshold} entries, so the log stays short. On restart the snapshot is loaded
 * and the entries after it are re-applied. A snapshot installed from the leader replaces the state
 * wholesale: {@code reinitialize} then tells the listeners the difference (created, updated,
 * deleted), a full resync. Listener calls are derived from the state before and after each change,
 * so re-applying an entry whose effect is already there tells nobody anything.
 *
 * <h2>Limits of this slice</h2>
 * {@link #update} applies the operator to this node's view and replicates the resulting settings
 * (last writer wins between concurrent updates of one topic). Every node still runs its own loop
 * for every topic (no ownership yet), so the loops of several nodes write one topic's floor and
 * epoch: correct with one broker per topic, not yet with several. {@link #recordCleanStop}
 * completes at once and a restart never starts CRASH_RECOVERY epochs: under Raft these belong with
 * ownership (the next slice), which decides who continues a topic after a crash.
 */
public final class RaftMetadataStore implements MetadataStore {
  private static final Logger log = LoggerFactory.getLogger(RaftMetadataStore.class);

  private static final byte CREATE = 1;
  private static final byte UPDATE = 2;
  private static final byte DELETE = 3;
  private static final byte FLOOR = 4;
  private static final byte NEW_EPOCH = 5;

  /** Raft settings; the defaults hold on a loaded 2-core machine (RATIS.md #11). */
  public record Options(Duration electionTimeoutMin, Duration electionTimeoutMax, Duration requestTimeout,
      long snapshotThreshold, String clusterName) {
    public static final Options DEFAULTS =
        new Options(Duration.ofMillis(1000), Duration.ofMillis(2000), Duration.ofSeconds(10), 1024, "herald");

    public Options {
      if (electionTimeoutMin.toMillis() < 50 || electionTimeoutMax.compareTo(electionTimeoutMin) <= 0) {
        throw new IllegalArgumentException("--raft-election-timeout must be at least 50ms and below --raft-election-timeout-max; got "
            + electionTimeoutMin + " and " + electionTimeoutMax);
      }
    }

    public Options withElectionTimeouts(Duration min, Duration max) {
      return new Options(min, max, requestTimeout, snapshotThreshold, clusterName);
    }

    public Options withSnapshotThreshold(long n) {
      return new Options(electionTimeoutMin, electionTimeoutMax, requestTimeout, n, clusterName);
    }
  }

  private final TopicStateMachine sm = new TopicStateMachine();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final RaftServer server;
  private final RaftClient client;
  private final Options options;
  private final String nodeId;

  /**
   * Starts this node's Raft peer; returns without waiting for a leader (writes wait for one, up to
   * the request timeout). {@code peers} maps node ids to their Raft {@code host:port}, this node's
   * included; {@code dataDir} holds its log and snapshots.
   */
  public RaftMetadataStore(String nodeId, Map<String, String> peers, Path dataDir, Options options) {
    this(nodeId, peers, null, dataDir, options);
  }

  /** As above, binding the Raft server to {@code raftListen} ({@code host:port}; null: this node's entry in {@code peers}). */
  public RaftMetadataStore(String nodeId, Map<String, String> peers, String raftListen, Path dataDir, Options options) {
    if (!peers.containsKey(nodeId)) {
      throw new IllegalArgumentException("--node-id " + nodeId + " is not among --peers " + peers.keySet());
    }
    this.nodeId = nodeId;
    this.options = options;
    List<RaftPeer> raftPeers = new ArrayList<>();
    peers.forEach((id, addr) -> raftPeers.add(RaftPeer.newBuilder().setId(RaftPeerId.valueOf(id)).setAddress(addr).build()));
    RaftGroupId groupId = RaftGroupId.valueOf(UUID.nameUUIDFromBytes(("herald-metadata:" + options.clusterName()).getBytes(StandardCharsets.UTF_8)));
    RaftGroup group = RaftGroup.valueOf(groupId, raftPeers);

    RaftProperties props = new RaftProperties();
    Path storage = dataDir.resolve("raft");
    try {
      Files.createDirectories(storage);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + storage + ": " + e.getMessage(), e);
    }
    RaftServerConfigKeys.setStorageDir(props, List.of(storage.toFile()));
    String own = raftListen == null ? peers.get(nodeId) : raftListen;
    var bind = io.herald.broker.config.BrokerConfig.parseAddress(own);
    GrpcConfigKeys.Server.setHost(props, bind.getHostString());
    GrpcConfigKeys.Server.setPort(props, bind.getPort());
    RaftServerConfigKeys.Rpc.setTimeoutMin(props, ms(options.electionTimeoutMin()));
    RaftServerConfigKeys.Rpc.setTimeoutMax(props, ms(options.electionTimeoutMax()));
    RaftServerConfigKeys.Rpc.setRequestTimeout(props, ms(options.requestTimeout()));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(props, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(props, options.snapshotThreshold());
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(props, 2); // older snapshot files are removed
    RaftServerConfigKeys.Log.setSegmentSizeMax(props, SizeInBytes.valueOf("8MB"));
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
          .setOption(formatted ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
          .build();
      s.start();
      RaftProperties clientProps = new RaftProperties();
      RaftServerConfigKeys.Rpc.setRequestTimeout(clientProps, ms(options.requestTimeout()));
      c = RaftClient.newBuilder()
          .setProperties(clientProps)
          .setRaftGroup(group)
          .setLeaderId(null)
          .setClientRpc(new GrpcFactory(new Parameters()).newRaftClientRpc(ClientId.randomId(), clientProps))
          // RATIS.md #7: the default policy spins with no sleep while there is no leader
          .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
              (int) Math.max(1, options.requestTimeout().toMillis() / 100), TimeDuration.valueOf(100, TimeUnit.MILLISECONDS)))
          .build();
    } catch (IOException | RuntimeException e) {
      // RATIS.md #2: Ratis threads are non-daemon; a failed start must not leave them running
      closeQuietly(c);
      closeQuietly(s);
      throw new IllegalStateException("cannot start the metadata Raft peer " + nodeId + " on " + own + " (data " + storage + "): " + e, e);
    }
    this.server = s;
    this.client = c;
    log.info("metadata Raft peer {} on {} started ({} peers, data {}, {})", nodeId, own, peers.size(), storage,
        formatted ? "recovered" : "new");
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
      var parsed = io.herald.broker.config.BrokerConfig.parseAddress(addr); // validates host:port
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

  public String nodeId() {
    return nodeId;
  }

  /** True when this peer is the Raft leader (tests, metrics). */
  public boolean isLeader() {
    try {
      return server.getDivision(server.getGroupIds().iterator().next()).getInfo().isLeader();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  // ---- changes: encode, replicate, decode the reply ----

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
    });
  }

  private static StatusRuntimeException unavailable(Throwable e) {
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof StatusRuntimeException sre) {
      return sre;
    }
    return Status.UNAVAILABLE.withDescription("metadata not replicated (no Raft leader reachable?): " + cause)
        .withCause(cause).asRuntimeException();
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
    return send(encode(CREATE, out -> {
      out.writeUTF(name);
      writeBytes(out, settings.toProto().toByteArray());
      out.writeLong(now.getEpochSecond());
      out.writeInt(now.getNano());
    })).thenApply(RaftMetadataStore::recordFrom);
  }

  @Override
  public CompletableFuture<TopicRecord> update(String name, UnaryOperator<TopicSettings> change) {
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
    return send(encode(UPDATE, out -> {
      out.writeUTF(name);
      out.writeLong(old.createEpoch());
      writeBytes(out, next.toProto().toByteArray());
    })).thenApply(RaftMetadataStore::recordFrom);
  }

  @Override
  public CompletableFuture<Void> delete(String name) {
    return send(encode(DELETE, out -> out.writeUTF(name))).thenApply(r -> null);
  }

  @Override
  public CompletableFuture<Void> setSequenceFloor(String name, long incarnation, long floor) {
    return send(encode(FLOOR, out -> {
      out.writeUTF(name);
      out.writeLong(incarnation);
      out.writeLong(floor);
    })).thenApply(r -> null);
  }

  @Override
  public CompletableFuture<TopicRecord> newEpoch(String name, long incarnation, long startSequence, EpochCause cause) {
    long clock = System.currentTimeMillis();
    return send(encode(NEW_EPOCH, out -> {
      out.writeUTF(name);
      out.writeLong(incarnation);
      out.writeLong(startSequence);
      out.writeInt(cause.getNumber());
      out.writeLong(clock);
    })).thenApply(RaftMetadataStore::recordFrom);
  }

  @Override
  public CompletableFuture<Void> recordCleanStop() {
    return CompletableFuture.completedFuture(null);
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

  /** Closes the client and the Raft server (every Ratis thread this store started). Does not hand leadership off. */
  @Override
  public void close() {
    try {
      closeQuietly(client);
    } finally {
      closeQuietly(server);
      listeners.clear();
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

  // ---- encoding ----

  private interface Writer {
    void write(DataOutputStream out) throws IOException;
  }

  private static byte[] encode(byte op, Writer w) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      out.writeByte(op);
      w.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return b.toByteArray();
  }

  private static void writeBytes(DataOutputStream out, byte[] bytes) throws IOException {
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  private static byte[] readBytes(DataInputStream in) throws IOException {
    byte[] b = new byte[in.readInt()];
    in.readFully(b);
    return b;
  }


  private static byte[] ok(TopicRecord r) {
    byte[] body = r == null ? new byte[0] : r.toStored().toByteArray();
    byte[] out = new byte[body.length + 1];
    System.arraycopy(body, 0, out, 1, body.length);
    return out;
  }

  private static byte[] failed(Status.Code code, String description) {
    byte[] d = description.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[d.length + 1];
    out[0] = (byte) code.value();
    System.arraycopy(d, 0, out, 1, d.length);
    return out;
  }

  // ---- the replicated state machine ----

  /**
   * The topics, changed only by applying log entries (one at a time, on Ratis's apply thread) or by
   * loading a snapshot. {@link #lock} guards the map and is held while listeners are told, so a
   * listener registering sees each change exactly once: either in its replay or as a call.
   */
  final class TopicStateMachine extends BaseStateMachine {
    private final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();
    private final ReentrantLock lock = new ReentrantLock();
    @GuardedBy("lock")
    private final TreeMap<String, TopicRecord> topics = new TreeMap<>();

    TopicRecord get(String name) {
      lock.lock();
      try {
        return topics.get(name);
      } finally {
        lock.unlock();
      }
    }

    List<TopicRecord> list(String afterName, int limit) {
      lock.lock();
      try {
        return TopicRecord.page(topics, afterName, limit);
      } finally {
        lock.unlock();
      }
    }

    void register(Listener l) {
      lock.lock();
      try {
        listeners.add(l);
        for (TopicRecord r : topics.values()) {
          l.created(r);
        }
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
      load(storage.loadLatestSnapshot(), false);
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
      load(storage.loadLatestSnapshot(), true);
      LifeCycle lc = getLifeCycle();
      if (lc.getCurrentState() == LifeCycle.State.PAUSED) {
        lc.transition(LifeCycle.State.STARTING);
        lc.transition(LifeCycle.State.RUNNING);
      }
    }

    /** Replaces the state with the snapshot's; when {@code resync}, tells the listeners the difference. */
    private void load(SingleFileSnapshotInfo snapshot, boolean resync) throws IOException {
      if (snapshot == null) {
        return;
      }
      Path file = snapshot.getFile().getPath();
      if (snapshot.getFile().getFileDigest() != null) {
        MD5FileUtil.verifySavedMD5(file.toFile(), snapshot.getFile().getFileDigest());
      }
      ListTopicsResponse all = ListTopicsResponse.parseFrom(Files.readAllBytes(file));
      TreeMap<String, TopicRecord> next = new TreeMap<>();
      for (Topic t : all.getTopicsList()) {
        next.put(t.getName(), TopicRecord.fromStored(t));
      }
      lock.lock();
      try {
        Map<String, TopicRecord> before = new HashMap<>(topics);
        topics.clear();
        topics.putAll(next);
        setLastAppliedTermIndex(snapshot.getTermIndex());
        if (resync) {
          for (var e : before.entrySet()) {
            TopicRecord now = next.get(e.getKey());
            if (now == null || now.createEpoch() != e.getValue().createEpoch()) {
              tellDeleted(e.getKey());
            }
          }
          for (TopicRecord now : next.values()) {
            TopicRecord was = before.get(now.name());
            if (was == null || was.createEpoch() != now.createEpoch()) {
              tellCreated(now);
            } else if (!was.settings().equals(now.settings())) {
              tellUpdated(now);
            }
          }
          log.info("metadata resynced from snapshot {}: {} topics", snapshot.getTermIndex(), next.size());
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public long takeSnapshot() throws IOException {
      ListTopicsResponse.Builder b = ListTopicsResponse.newBuilder();
      TermIndex last;
      lock.lock(); // RATIS.md #4: serialised with apply
      try {
        last = getLastAppliedTermIndex();
        for (TopicRecord r : topics.values()) {
          b.addTopics(r.toStored());
        }
      } finally {
        lock.unlock();
      }
      if (last == null) {
        return -1;
      }
      File target = storage.getSnapshotFile(last.getTerm(), last.getIndex());
      Path tmp = target.toPath().resolveSibling(target.getName() + ".writing");
      Files.write(tmp, b.build().toByteArray());
      Files.move(tmp, target.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      var md5 = MD5FileUtil.computeAndSaveMd5ForFile(target);
      storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(target.toPath(), md5), last));
      return last.getIndex();
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
      var entry = trx.getLogEntry();
      byte[] reply;
      lock.lock();
      try {
        try {
          reply = apply(entry.getStateMachineLogEntry().getLogData().toByteArray());
        } catch (IOException | RuntimeException e) {
          // RATIS.md #5: an exception here stops the server; answer a failed reply instead
          log.error("metadata entry {} could not be applied: {}", TermIndex.valueOf(entry), e.toString(), e);
          reply = failed(Status.Code.INTERNAL, "metadata entry could not be applied: " + e);
        }
        updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
      } finally {
        lock.unlock();
      }
      return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(reply)));
    }

    @GuardedBy("lock")
    private byte[] apply(byte[] data) throws IOException {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
      byte op = in.readByte();
      String name = in.readUTF();
      TopicRecord old = topics.get(name);
      switch (op) {
        case CREATE -> {
          TopicSettings settings = TopicSettings.DEFAULTS.merge(io.herald.proto.v1.TopicConfig.parseFrom(readBytes(in)));
          long seconds = in.readLong();
          int nanos = in.readInt();
          if (old != null) {
            return failed(Status.Code.ALREADY_EXISTS, "topic '" + name + "' already exists");
          }
          long lastEpoch = 0;
          for (TopicRecord t : topics.values()) {
            lastEpoch = Math.max(lastEpoch, t.epoch());
          }
          Instant created = Instant.ofEpochSecond(seconds, nanos);
          // the proposer's clock, not this node's: every peer computes the same epoch
          long epoch = Math.max(lastEpoch + 1, created.toEpochMilli());
          TopicRecord r = TopicRecord.created(name, settings, created, epoch);
          topics.put(name, r);
          tellCreated(r);
          return ok(r);
        }
        case UPDATE -> {
          long incarnation = in.readLong();
          TopicSettings settings = TopicSettings.DEFAULTS.merge(io.herald.proto.v1.TopicConfig.parseFrom(readBytes(in)));
          if (old == null || old.createEpoch() != incarnation) {
            return failed(Status.Code.NOT_FOUND, "topic '" + name + "' does not exist");
          }
          TopicRecord r = old.withSettings(settings);
          topics.put(name, r);
          if (!old.settings().equals(settings)) {
            tellUpdated(r);
          }
          return ok(r);
        }
        case DELETE -> {
          if (old == null) {
            return failed(Status.Code.NOT_FOUND, "topic '" + name + "' does not exist");
          }
          topics.remove(name);
          tellDeleted(name);
          return ok(null);
        }
        case FLOOR -> {
          long incarnation = in.readLong();
          long floor = in.readLong();
          // exactly what was asked, as LocalMetadataStore does: a clean stop records the exact next
          // sequence, so the next start continues without a jump
          if (old != null && old.createEpoch() == incarnation && floor != old.sequenceFloor()) {
            topics.put(name, old.withSequenceFloor(floor));
          }
          return ok(null);
        }
        case NEW_EPOCH -> {
          long incarnation = in.readLong();
          long start = in.readLong();
          EpochCause cause = EpochCause.forNumber(in.readInt());
          long clock = in.readLong();
          if (old == null || old.createEpoch() != incarnation) {
            return failed(Status.Code.NOT_FOUND, "topic '" + name + "' does not exist");
          }
          TopicRecord r = old.withNewEpoch(Math.max(old.epoch() + 1, clock),
              start, cause == null ? EpochCause.EPOCH_CAUSE_UNSPECIFIED : cause);
          topics.put(name, r);
          return ok(r);
        }
        default -> {
          return failed(Status.Code.INTERNAL, "unknown metadata operation " + op + " (a newer broker wrote this entry?)");
        }
      }
    }

    // listeners are called with the lock held, on the apply thread, in commit order; they must not block

    private void tellCreated(TopicRecord r) {
      for (Listener l : listeners) {
        guard(() -> l.created(r));
      }
    }

    private void tellUpdated(TopicRecord r) {
      for (Listener l : listeners) {
        guard(() -> l.updated(r));
      }
    }

    private void tellDeleted(String name) {
      for (Listener l : listeners) {
        guard(() -> l.deleted(name));
      }
    }

    private void guard(Runnable call) {
      try {
        call.run();
      } catch (RuntimeException e) {
        log.error("a metadata listener failed: {}", e.toString(), e);
      }
    }
  }
}
