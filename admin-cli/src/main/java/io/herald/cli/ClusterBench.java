package io.herald.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.herald.client.Batching;
import io.herald.client.Delivery;
import io.herald.client.Event;
import io.herald.client.Gap;
import io.herald.client.HeraldClient;
import io.herald.client.Publisher;
import io.herald.client.RetrySettings;
import io.herald.client.StartPosition;
import io.herald.client.Subscription;
import io.herald.client.WhenFull;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.GetClusterStatusRequest;
import io.herald.proto.v1.GetClusterStatusResponse;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.Topic;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.UpdateTopicRequest;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The cluster workloads of {@code herald bench}: how long a metadata change takes to reach every
 * node ({@link Metadata}), and how long a topic is without an owner when its owner is killed
 * ({@link Failover}). Both are bounded in rounds and in time, and talk only to the nodes given in
 * {@code --servers}.
 */
final class ClusterBench {
  private ClusterBench() { }

  /** What both commands share: the nodes, the bounds. */
  abstract static class Base implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--servers", required = true, split = ",", paramLabel = "HOST:PORT",
        description = "The cluster's nodes (their gRPC addresses), comma-separated: --servers=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270.")
    List<String> servers;

    abstract int minServers();

    Connection conn() {
      return Connection.of(spec);
    }

    CommandLine.ParameterException usage(String message) {
      return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /** Checks --servers; returns them without duplicates, in order. */
    List<String> servers() {
      LinkedHashSet<String> set = new LinkedHashSet<>();
      for (String s : servers) {
        String v = s.trim();
        int colon = v.lastIndexOf(':');
        int port = -1;
        if (colon > 0) {
          try {
            port = Integer.parseInt(v.substring(colon + 1));
          } catch (NumberFormatException e) {
            // reported below
          }
        }
        if (port < 1 || port > 65535) {
          throw usage("--servers: '" + s + "' is not HOST:PORT (e.g. 127.0.0.1:7070)");
        }
        if (!set.add(v)) {
          throw usage("--servers: '" + v + "' is given twice; list each node once");
        }
      }
      if (set.size() < minServers()) {
        throw usage("--servers: " + spec.name() + " needs " + (minServers() == 1 ? "at least one node" : "the " + minServers()
            + " (or more) nodes of one cluster") + ", e.g. --servers=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270; got " + set.size());
      }
      return new ArrayList<>(set);
    }

    Duration checkedDuration(String option, Duration d, Duration min, Duration max) {
      if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
        throw usage(option + " must be within " + Durations.format(min) + ".." + Durations.format(max) + "; got " + Durations.format(d));
      }
      return d;
    }

    double checkedRate(String option, String rate) {
      try {
        return Rates.parse(option, rate);
      } catch (IllegalArgumentException e) {
        throw usage(e.getMessage());
      }
    }

    HeraldClient client(String server, Duration callTimeout, List<HeraldClient> all) {
      HeraldClient c = conn().build(HeraldClient.builder().endpoints(server).name("herald-bench").callTimeout(callTimeout)
          .tls(conn().tlsSettings()).retry(new RetrySettings(Duration.ofMillis(50), Duration.ofMillis(250), 2.0, Duration.ofSeconds(60))));
      all.add(c);
      return c;
    }

    static void closeAll(List<HeraldClient> clients) {
      for (HeraldClient c : clients) {
        try {
          c.close(Duration.ofSeconds(2));
        } catch (RuntimeException e) {
          // best effort
        }
      }
    }

    static TopicAdminServiceGrpc.TopicAdminServiceBlockingStub admin(HeraldClient c) {
      return Connection.admin(c);
    }

    static boolean notFound(RuntimeException e) {
      return e instanceof StatusRuntimeException s && s.getStatus().getCode() == Status.Code.NOT_FOUND;
    }

    /** True when there was a topic to delete. */
    static boolean deleteIfThere(HeraldClient c, String topic) {
      try {
        admin(c).deleteTopic(DeleteTopicRequest.newBuilder().setName(topic).build());
        return true;
      } catch (RuntimeException e) {
        if (!notFound(e)) {
          throw e;
        }
        return false;
      }
    }
  }

  /** p50 / p99 / max of a histogram of microseconds, in milliseconds. */
  static String ms(long micros) {
    return String.format(Locale.ROOT, "%.1f", micros / 1000.0);
  }

  static String jsonStats(Histogram h) {
    return String.format(Locale.ROOT, "{\"count\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}", h.getTotalCount(),
        h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(50) / 1000.0, h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(99) / 1000.0,
        h.getTotalCount() == 0 ? 0 : h.getMaxValue() / 1000.0);
  }

  // ---------------------------------------------------------------------------------------------

  @Command(name = "metadata", mixinStandardHelpOptions = true,
      description = {"Metadata visibility: creates, updates (max event bytes) and deletes a topic through one node, round after round,"
          + " and measures for each change the time from the request until every node in --servers answers GetTopic with it"
          + " (every node polled concurrently, every --poll-interval). Reports p50/p99/max per kind of change."
          + " Works against one node too (then it measures the node's own commit).",
          "", "Examples:",
          "  herald bench metadata --servers=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270 --rounds 200 --duration 60s",
          "  herald bench metadata --servers=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270 --load 5000/s -o json"})
  static final class Metadata extends Base {
    @Option(names = "--rounds", defaultValue = "200", description = "Create/update/delete rounds, 1..100000 (default ${DEFAULT-VALUE}).") int rounds;
    @Option(names = "--duration", defaultValue = "60s", converter = Durations.class,
        description = "Stop starting rounds after this long, 1s..600s (default ${DEFAULT-VALUE}).") Duration duration;
    @Option(names = "--via", paramLabel = "HOST:PORT", description = "The node the changes go through (default: the first of --servers).") String via;
    @Option(names = "--poll-interval", defaultValue = "1ms", converter = Durations.class,
        description = "Pause between two GetTopic polls of one node, 0ms..100ms (default ${DEFAULT-VALUE}).") Duration pollInterval;
    @Option(names = "--op-timeout", defaultValue = "10s", converter = Durations.class,
        description = "A change not visible on every node after this long counts as not visible, 1s..60s (default ${DEFAULT-VALUE}).") Duration opTimeout;
    @Option(names = "--load", paramLabel = "RATE",
        description = "Background load while measuring: one publisher at RATE (e.g. 5000/s, 128 B events) on the second node"
            + " and a subscriber on the third (of --servers), on topic bench-metadata-load.") String load;
    @Option(names = "--topic-prefix", defaultValue = "bench-metadata", description = "Topics are PREFIX-ROUND (default ${DEFAULT-VALUE}).") String prefix;

    @Override int minServers() {
      return 1;
    }

    @Override
    public Integer call() throws Exception {
      List<String> nodes = servers();
      if (rounds < 1 || rounds > 100_000) {
        throw usage("--rounds must be within 1..100000; got " + rounds);
      }
      checkedDuration("--duration", duration, Duration.ofSeconds(1), Duration.ofSeconds(BenchCommand.MAX_SECONDS));
      checkedDuration("--poll-interval", pollInterval, Duration.ZERO, Duration.ofMillis(100));
      checkedDuration("--op-timeout", opTimeout, Duration.ofSeconds(1), Duration.ofSeconds(60));
      double loadRate = load == null ? 0 : checkedRate("--load", load);
      String through = via != null ? via.trim() : nodes.get(0);
      if (!through.matches(".+:\\d{1,5}")) {
        throw usage("--via: '" + via + "' is not HOST:PORT");
      }
      return new MetadataRun(this, nodes, through, loadRate).execute();
    }
  }

  enum Op { create, update, delete }

  static final class MetadataRun {
    private final Metadata o;
    private final List<String> nodes;
    private final String via;
    private final double loadRate;
    private final PrintWriter out;
    private final Map<Op, Histogram> visible = new LinkedHashMap<>();
    private final Map<Op, Histogram> rpc = new LinkedHashMap<>();
    private final Map<Op, Long> notVisible = new HashMap<>();
    /** Per node (index in --servers): from sending the change to that node answering with it. */
    private final Map<Op, List<Histogram>> perNode = new LinkedHashMap<>();
    private final LongAdder polls = new LongAdder();
    private final LongAdder loadPublished = new LongAdder();
    private final LongAdder loadDelivered = new LongAdder();
    private final LongAdder loadErrors = new LongAdder();
    private final AtomicBoolean stop = new AtomicBoolean();

    MetadataRun(Metadata o, List<String> nodes, String via, double loadRate) {
      this.o = o;
      this.nodes = nodes;
      this.via = via;
      this.loadRate = loadRate;
      this.out = o.spec.commandLine().getOut();
      for (Op op : Op.values()) {
        visible.put(op, new Histogram(TimeUnit.SECONDS.toMicros(120), 3));
        rpc.put(op, new Histogram(TimeUnit.SECONDS.toMicros(120), 3));
        notVisible.put(op, 0L);
        List<Histogram> hs = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
          hs.add(new Histogram(TimeUnit.SECONDS.toMicros(120), 3));
        }
        perNode.put(op, hs);
      }
    }

    int execute() throws Exception {
      List<HeraldClient> clients = new ArrayList<>();
      ExecutorService pollers = Executors.newFixedThreadPool(nodes.size(), r -> {
        Thread t = new Thread(r, "bench-poller");
        t.setDaemon(true);
        return t;
      });
      Thread loadThread = null;
      Subscription loadSub = null;
      Publisher loadPub = null;
      String loadTopic = o.prefix + "-load";
      Duration callTimeout = Duration.ofMillis(Math.max(1000, o.opTimeout.toMillis()));
      int done = 0;
      long start = System.nanoTime();
      try {
        HeraldClient viaClient = o.client(via, callTimeout, clients);
        List<HeraldClient> nodeClients = new ArrayList<>();
        for (String n : nodes) {
          nodeClients.add(o.client(n, callTimeout, clients));
        }
        if (loadRate > 0) {
          Base.deleteIfThere(viaClient, loadTopic);
          Base.admin(viaClient).createTopic(CreateTopicRequest.newBuilder().setName(loadTopic).build());
          HeraldClient pubClient = o.client(nodes.get(Math.min(1, nodes.size() - 1)), callTimeout, clients);
          HeraldClient subClient = o.client(nodes.get(Math.min(2, nodes.size() - 1)), callTimeout, clients);
          awaitEverywhere(pollers, nodeClients, loadTopic, r -> r != null);
          loadSub = subClient.subscriber(loadTopic).name("bench-metadata-load").maxOutstanding(20_000)
              .handler(d -> loadDelivered.increment()).subscribe();
          Publisher p = pubClient.publisher(loadTopic).maxPending(20_000, 64L << 20).whenFull(WhenFull.blockUpTo(Duration.ofSeconds(10))).create();
          loadPub = p;
          long interval = (long) (1e9 / loadRate);
          loadThread = new Thread(() -> {
            byte[] payload = new byte[128];
            long t0 = System.nanoTime();
            for (long n = 0; !stop.get(); n++) {
              long intended = t0 + n * interval;
              long wait = intended - System.nanoTime();
              if (wait > 0) {
                LockSupport.parkNanos(wait);
              }
              try {
                p.publish(Event.of("bench", payload)).whenComplete((r, e) -> {
                  if (e != null) {
                    loadErrors.increment();
                  } else {
                    loadPublished.increment();
                  }
                });
              } catch (RuntimeException e) {
                loadErrors.increment();
              }
            }
          }, "bench-metadata-load");
          loadThread.setDaemon(true);
          loadThread.start();
          LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1)); // let the load reach a steady state before measuring
        }
        long end = System.nanoTime() + o.duration.toNanos();
        for (int r = 1; r <= o.rounds && System.nanoTime() < end; r++) {
          String topic = o.prefix + "-" + r;
          if (Base.deleteIfThere(viaClient, topic)) { // left over from an earlier run
            awaitEverywhere(pollers, nodeClients, topic, t -> t == null);
          }
          measure(Op.create, pollers, nodeClients, topic, t -> t != null,
              () -> Base.admin(viaClient).createTopic(CreateTopicRequest.newBuilder().setName(topic).build()));
          int bytes = 100_000 + r;
          measure(Op.update, pollers, nodeClients, topic, t -> t != null && t.getConfig().getMaxEventBytes() == bytes,
              () -> Base.admin(viaClient).updateTopic(UpdateTopicRequest.newBuilder().setName(topic)
                  .setConfig(TopicConfig.newBuilder().setMaxEventBytes(bytes)).build()));
          measure(Op.delete, pollers, nodeClients, topic, t -> t == null,
              () -> Base.admin(viaClient).deleteTopic(DeleteTopicRequest.newBuilder().setName(topic).build()));
          done = r;
        }
        double secs = (System.nanoTime() - start) / 1e9;
        stop.set(true);
        if (loadThread != null) {
          loadThread.join(TimeUnit.SECONDS.toMillis(15));
          try {
            loadPub.flush().get(15, TimeUnit.SECONDS);
          } catch (Exception e) {
            loadErrors.increment();
          }
        }
        report(done, secs);
        long missing = notVisible.values().stream().mapToLong(Long::longValue).sum();
        return missing == 0 ? Main.OK : Main.ERROR;
      } finally {
        stop.set(true);
        if (loadSub != null) {
          loadSub.close();
        }
        if (loadPub != null) {
          loadPub.close(Duration.ofSeconds(2));
        }
        if (loadRate > 0 && !clients.isEmpty()) {
          try {
            Base.deleteIfThere(clients.get(0), loadTopic);
          } catch (RuntimeException e) {
            // best effort
          }
        }
        pollers.shutdownNow();
        Base.closeAll(clients);
      }
    }

    /** Runs the change, then polls every node until each shows it; records the slowest node's time. */
    private void measure(Op op, ExecutorService pollers, List<HeraldClient> nodeClients, String topic, Predicate<Topic> shows,
        Runnable change) throws Exception {
      long t0 = System.nanoTime();
      change.run();
      long t1 = System.nanoTime();
      rpc.get(op).recordValue((t1 - t0) / 1000);
      long[] at = new long[nodeClients.size()];
      long last = awaitEverywhere(pollers, nodeClients, topic, shows, at);
      for (int i = 0; i < at.length; i++) {
        if (at[i] > 0) {
          perNode.get(op).get(i).recordValue(Math.max(0, (at[i] - t0) / 1000));
        }
      }
      if (last < 0) {
        notVisible.merge(op, 1L, Long::sum);
      } else {
        visible.get(op).recordValue(Math.max(0, (last - t0) / 1000));
      }
    }

    /** When the last node showed it (System.nanoTime), or -1 when one did not within --op-timeout. */
    private long awaitEverywhere(ExecutorService pollers, List<HeraldClient> nodeClients, String topic, Predicate<Topic> shows)
        throws Exception {
      return awaitEverywhere(pollers, nodeClients, topic, shows, new long[nodeClients.size()]);
    }

    /** As above; {@code at[i]} is when node i showed it (0 if it did not). */
    private long awaitEverywhere(ExecutorService pollers, List<HeraldClient> nodeClients, String topic, Predicate<Topic> shows, long[] at)
        throws Exception {
      long deadline = System.nanoTime() + o.opTimeout.toNanos();
      long pause = o.pollInterval.toNanos();
      List<Future<Long>> seen = new ArrayList<>();
      for (HeraldClient c : nodeClients) {
        seen.add(pollers.submit(() -> {
          while (System.nanoTime() < deadline && !stop.get()) {
            Topic t;
            try {
              t = Base.admin(c).getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic();
            } catch (RuntimeException e) {
              t = null;
              if (!Base.notFound(e)) {
                // unavailable for a moment (an election, a topic moving): neither yes nor no; ask again
                polls.increment();
                LockSupport.parkNanos(Math.max(pause, TimeUnit.MILLISECONDS.toNanos(1)));
                continue;
              }
            }
            polls.increment();
            long now = System.nanoTime();
            if (shows.test(t)) {
              return now;
            }
            if (pause > 0) {
              LockSupport.parkNanos(pause);
            }
          }
          return -1L;
        }));
      }
      long last = 0;
      for (int i = 0; i < seen.size(); i++) {
        long t = seen.get(i).get(o.opTimeout.toMillis() + 30_000, TimeUnit.MILLISECONDS);
        at[i] = Math.max(0, t);
        last = t < 0 || last < 0 ? -1 : Math.max(last, t);
      }
      return last;
    }

    private void report(int done, double secs) {
      if (o.conn().json()) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "{\"mode\":\"metadata\",\"servers\":%d,\"via\":\"%s\",\"rounds\":%d,\"seconds\":%.3f,"
            + "\"poll_interval_ms\":%.3f,\"polls\":%d,\"load_rate\":%.0f", nodes.size(), via, done, secs,
            o.pollInterval.toNanos() / 1e6, polls.sum(), loadRate));
        for (Op op : Op.values()) {
          sb.append(",\"").append(op).append("\":{\"visible\":").append(jsonStats(visible.get(op))).append(",\"rpc\":")
              .append(jsonStats(rpc.get(op))).append(",\"not_visible\":").append(notVisible.get(op)).append(",\"per_node\":{");
          for (int i = 0; i < nodes.size(); i++) {
            sb.append(i == 0 ? "" : ",").append('"').append(nodes.get(i)).append("\":").append(jsonStats(perNode.get(op).get(i)));
          }
          sb.append("}}");
        }
        if (loadRate > 0) {
          sb.append(String.format(Locale.ROOT, ",\"load\":{\"published\":%d,\"delivered\":%d,\"errors\":%d}", loadPublished.sum(),
              loadDelivered.sum(), loadErrors.sum()));
        }
        out.println(sb.append('}'));
        out.flush();
        return;
      }
      out.printf(Locale.ROOT, "herald bench metadata: %d node(s), changes through %s, %d round(s) in %.1f s, polling every %s, %s%n",
          nodes.size(), via, done, secs, Durations.format(o.pollInterval),
          loadRate > 0 ? String.format(Locale.ROOT, "load %,.0f ev/s", loadRate) : "no load");
      Table t = new Table("CHANGE", "COUNT", "RPC P50/P99 MS", "VISIBLE EVERYWHERE P50 MS", "P99 MS", "MAX MS", "NOT VISIBLE");
      for (Op op : Op.values()) {
        Histogram v = visible.get(op);
        t.row(op, v.getTotalCount(), ms(rpc.get(op).getValueAtPercentile(50)) + " / " + ms(rpc.get(op).getValueAtPercentile(99)),
            ms(v.getValueAtPercentile(50)),
            ms(v.getValueAtPercentile(99)), ms(v.getMaxValue()), notVisible.get(op));
      }
      t.print(out);
      out.printf(Locale.ROOT, "  (from sending the change to the last node answering GetTopic with it; %,d polls)%n", polls.sum());
      if (nodes.size() > 1) {
        Table n = new Table("NODE", "CREATE P50/P99 MS", "UPDATE P50/P99 MS", "DELETE P50/P99 MS");
        for (int i = 0; i < nodes.size(); i++) {
          List<String> cells = new ArrayList<>(List.of(nodes.get(i)));
          for (Op op : Op.values()) {
            Histogram h = perNode.get(op).get(i);
            cells.add(ms(h.getValueAtPercentile(50)) + " / " + ms(h.getValueAtPercentile(99)));
          }
          n.row(cells.toArray());
        }
        n.print(out);
      }
      if (loadRate > 0) {
        out.printf(Locale.ROOT, "  load: published %,d, delivered %,d, publish errors %d%n", loadPublished.sum(), loadDelivered.sum(),
            loadErrors.sum());
      }
      out.flush();
    }
  }

  // ---------------------------------------------------------------------------------------------

  @Command(name = "failover", mixinStandardHelpOptions = true,
      description = {"Owner failover: per round, creates a topic, publishes to it through a node that does not own it (at --rate,"
          + " retrying) and subscribes through the other non-owner, then runs --kill-command against the owner and measures"
          + " kill -> first event of a new epoch at the subscriber and kill -> first acknowledgement in a new epoch."
          + " Checks that every acknowledged event was delivered or reported in a gap. This command kills nothing itself.",
          "In the commands, {node} is the owner's node id and {address} its gRPC address; they run with sh -c.",
          "", "Examples:",
          "  herald bench failover --servers=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270 \\",
          "      --kill-command 'kill -9 $(cat /tmp/herald-fo/{node}.pid)' --restart-command 'bench/cluster-lib.sh start-node {node}' --rounds 6"})
  static final class Failover extends Base {
    @Option(names = "--kill-command", required = true, paramLabel = "COMMAND",
        description = "Kills the owner, e.g. 'kill -9 $(cat /tmp/herald-fo/{node}.pid)'; must use {node} or {address}.") String killCommand;
    @Option(names = "--restart-command", paramLabel = "COMMAND",
        description = "Starts the killed node again after each round (needed for more than one round); may use {node} and {address}.")
    String restartCommand;
    @Option(names = "--rounds", defaultValue = "1", description = "Kills, 1..50 (default ${DEFAULT-VALUE}).") int rounds;
    @Option(names = "--duration", defaultValue = "600s", converter = Durations.class,
        description = "Stop starting rounds after this long, 10s..3600s (default ${DEFAULT-VALUE}).") Duration duration;
    @Option(names = "--rate", defaultValue = "200/s", description = "Publish rate (default ${DEFAULT-VALUE}).") String rate;
    @Option(names = "--before", defaultValue = "2s", converter = Durations.class,
        description = "Steady publishing before the kill, 500ms..60s (default ${DEFAULT-VALUE}).") Duration before;
    @Option(names = "--after", defaultValue = "2s", converter = Durations.class,
        description = "Publishing after the new owner answered, 0s..60s (default ${DEFAULT-VALUE}).") Duration after;
    @Option(names = "--round-timeout", defaultValue = "60s", converter = Durations.class,
        description = "Longest wait for the new owner after a kill, 5s..300s (default ${DEFAULT-VALUE}).") Duration roundTimeout;
    @Option(names = "--settle-timeout", defaultValue = "120s", converter = Durations.class,
        description = "Longest wait for every node to be alive before a round, 5s..600s (default ${DEFAULT-VALUE}).") Duration settleTimeout;
    @Option(names = "--topic-prefix", defaultValue = "bench-failover", description = "Topics are PREFIX-ROUND (default ${DEFAULT-VALUE}).") String prefix;

    @Override int minServers() {
      return 3;
    }

    @Override
    public Integer call() throws Exception {
      List<String> nodes = servers();
      if (!killCommand.contains("{node}") && !killCommand.contains("{address}")) {
        throw usage("--kill-command must name the owner with {node} (its node id) or {address} (its gRPC address),"
            + " e.g. 'kill -9 $(cat /tmp/herald-fo/{node}.pid)'");
      }
      if (rounds < 1 || rounds > 50) {
        throw usage("--rounds must be within 1..50; got " + rounds);
      }
      if (rounds > 1 && (restartCommand == null || restartCommand.isBlank())) {
        throw usage("--rounds " + rounds + " needs --restart-command to start the killed node again between rounds"
            + " (with one node down a second kill would leave no majority)");
      }
      double r = checkedRate("--rate", rate);
      if (r > 100_000) {
        throw usage("--rate must be at most 100000/s for a failover run (it measures availability, not throughput); got " + rate);
      }
      checkedDuration("--duration", duration, Duration.ofSeconds(10), Duration.ofHours(1));
      checkedDuration("--before", before, Duration.ofMillis(500), Duration.ofSeconds(60));
      checkedDuration("--after", after, Duration.ZERO, Duration.ofSeconds(60));
      checkedDuration("--round-timeout", roundTimeout, Duration.ofSeconds(5), Duration.ofSeconds(300));
      checkedDuration("--settle-timeout", settleTimeout, Duration.ofSeconds(5), Duration.ofSeconds(600));
      return new FailoverRun(this, nodes, r).execute();
    }
  }

  /** One failover round's outcome. */
  record Round(int round, String owner, boolean ownerWasLeader, long oldEpoch, long newEpoch, long killToDeliveryMicros,
      long killToAckMicros, long acked, long delivered, long duplicates, long gapNotices, long gapEvents, long coveredByGap,
      long unaccounted, long publishErrors) {
    String json() {
      return String.format(Locale.ROOT, "{\"round\":%d,\"owner\":\"%s\",\"owner_was_leader\":%b,\"old_epoch\":%d,\"new_epoch\":%d,"
              + "\"kill_to_first_delivery_ms\":%.1f,\"kill_to_first_ack_ms\":%.1f,\"acked\":%d,\"delivered\":%d,\"duplicates\":%d,"
              + "\"gap_notices\":%d,\"gap_events\":%d,\"acked_in_gaps\":%d,\"unaccounted\":%d,\"publish_errors\":%d}",
          round, owner, ownerWasLeader, oldEpoch, newEpoch, killToDeliveryMicros / 1000.0, killToAckMicros / 1000.0, acked, delivered,
          duplicates, gapNotices, gapEvents, coveredByGap, unaccounted, publishErrors);
    }
  }

  static final class FailoverRun {
    private final Failover o;
    private final List<String> nodes;
    private final double rate;
    private final PrintWriter out;
    private final PrintWriter err;

    FailoverRun(Failover o, List<String> nodes, double rate) {
      this.o = o;
      this.nodes = nodes;
      this.rate = rate;
      this.out = o.spec.commandLine().getOut();
      this.err = o.spec.commandLine().getErr();
    }

    int execute() throws Exception {
      List<Round> done = new ArrayList<>();
      long end = System.nanoTime() + o.duration.toNanos();
      String failure = null;
      for (int r = 1; r <= o.rounds && System.nanoTime() < end; r++) {
        try {
          done.add(round(r));
        } catch (RoundFailed e) {
          failure = "round " + r + ": " + e.getMessage();
          break;
        }
      }
      report(done, failure);
      boolean ok = failure == null && !done.isEmpty() && done.stream().allMatch(x -> x.unaccounted() == 0 && x.killToDeliveryMicros() >= 0
          && x.killToAckMicros() >= 0);
      return ok ? Main.OK : Main.ERROR;
    }

    static final class RoundFailed extends Exception {
      RoundFailed(String m) {
        super(m);
      }
    }

    /** Node id of each server (what it answers cluster status as), once every node is alive and there is a leader. */
    private Map<String, String> settle(List<HeraldClient> admins) throws RoundFailed {
      long deadline = System.nanoTime() + o.settleTimeout.toNanos();
      String last = "no answer";
      while (System.nanoTime() < deadline) {
        Map<String, String> ids = new LinkedHashMap<>();
        boolean ok = true;
        for (int i = 0; i < nodes.size() && ok; i++) {
          try {
            GetClusterStatusResponse s = Base.admin(admins.get(i)).getClusterStatus(GetClusterStatusRequest.getDefaultInstance());
            ids.put(nodes.get(i), s.getAnsweredBy());
            long alive = s.getNodesList().stream().filter(n -> n.getAlive() && !n.getDraining()).count();
            if (s.getLeaderId().isEmpty() || alive < s.getNodesCount() || s.getNodesCount() < nodes.size()) {
              ok = false;
              last = nodes.get(i) + " sees " + alive + " of " + s.getNodesCount() + " nodes alive, leader '" + s.getLeaderId() + "'";
            }
          } catch (RuntimeException e) {
            ok = false;
            last = nodes.get(i) + ": " + Main.message(e);
          }
        }
        if (ok) {
          return ids;
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
      }
      throw new RoundFailed("the cluster did not settle (every node alive, a leader) within " + Durations.format(o.settleTimeout) + ": " + last);
    }

    private Round round(int r) throws Exception {
      List<HeraldClient> clients = new ArrayList<>();
      List<HeraldClient> admins = new ArrayList<>();
      Duration callTimeout = Duration.ofSeconds(5);
      for (String n : nodes) {
        admins.add(o.client(n, callTimeout, clients));
      }
      String topic = o.prefix + "-" + r;
      Map<String, String> ids = settle(admins);
      Map<String, String> serverOf = new HashMap<>();
      ids.forEach((server, id) -> serverOf.put(id, server));
      String owner = null;
      String ownerAddress = null;
      AtomicBoolean stop = new AtomicBoolean();
      Thread pubThread = null;
      Subscription sub = null;
      Publisher pub = null;
      boolean killed = false;
      try {
        HeraldClient a0 = admins.get(0);
        Base.deleteIfThere(a0, topic);
        Topic created = Base.admin(a0).createTopic(CreateTopicRequest.newBuilder().setName(topic).build()).getTopic();
        // the owner is assigned with the creation; ask until it shows (a moment after a node rejoined)
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (created.getOwner().isEmpty() && System.nanoTime() < until) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
          created = Base.admin(a0).getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic();
        }
        owner = created.getOwner();
        long oldEpoch = created.getEpoch();
        if (!serverOf.containsKey(owner)) {
          throw new RoundFailed("the owner of " + topic + " is node '" + owner + "', which is none of --servers " + ids);
        }
        ownerAddress = serverOf.get(owner);
        List<String> others = new ArrayList<>(nodes);
        others.remove(ownerAddress);
        String pubServer = others.get(0);
        String subServer = others.get(1);

        // subscriber on a non-owner (a relay), publisher on the other non-owner (forwarding)
        ConcurrentHashMap<Long, Boolean> delivered = new ConcurrentHashMap<>();
        LongAdder duplicates = new LongAdder();
        List<Gap> gaps = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicLong firstNewEpochDelivery = new AtomicLong();
        AtomicLong firstNewEpochAck = new AtomicLong();
        AtomicLong killAt = new AtomicLong(Long.MAX_VALUE);
        java.util.Set<String> deliveredPositions = ConcurrentHashMap.newKeySet();
        HeraldClient subClient = o.client(subServer, callTimeout, clients);
        HeraldClient pubClient = o.client(pubServer, callTimeout, clients);
        sub = subClient.subscriber(topic).name("bench-failover").maxOutstanding(20_000).startAt(StartPosition.earliest())
            .handler((Delivery d) -> {
              long idx = d.dataBuffer().getLong(0);
              if (delivered.putIfAbsent(idx, Boolean.TRUE) != null) {
                duplicates.increment();
              }
              deliveredPositions.add(d.epoch() + ":" + d.sequence());
              if (d.epoch() > oldEpoch) {
                firstNewEpochDelivery.compareAndSet(0, System.nanoTime());
              }
            })
            .onGap(gaps::add)
            .subscribe();
        ConcurrentHashMap<Long, String> acked = new ConcurrentHashMap<>(); // index -> epoch:sequence
        LongAdder publishErrors = new LongAdder();
        pub = pubClient.publisher(topic).batching(Batching.defaults().maxEvents(100).linger(Duration.ofMillis(1)))
            .maxPending(100_000, 64L << 20).whenFull(WhenFull.blockUpTo(Duration.ofSeconds(60)))
            .retry(new RetrySettings(Duration.ofMillis(50), Duration.ofMillis(250), 2.0, Duration.ofSeconds(90))).create();
        Publisher p = pub;
        long interval = (long) (1e9 / rate);
        pubThread = new Thread(() -> {
          long t0 = System.nanoTime();
          for (long n = 0; !stop.get(); n++) {
            long intended = t0 + n * interval;
            long wait = intended - System.nanoTime();
            if (wait > 0) {
              LockSupport.parkNanos(wait);
            }
            long idx = n;
            byte[] payload = new byte[16];
            ByteBuffer.wrap(payload).putLong(0, idx).putLong(8, intended);
            try {
              p.publish(Event.of("bench", payload)).whenComplete((rc, e) -> {
                if (e != null) {
                  publishErrors.increment();
                  return;
                }
                acked.put(idx, rc.epoch() + ":" + rc.sequence());
                if (rc.epoch() > oldEpoch && System.nanoTime() > killAt.get()) {
                  firstNewEpochAck.compareAndSet(0, System.nanoTime());
                }
              });
            } catch (RuntimeException e) {
              publishErrors.increment();
            }
          }
        }, "bench-failover-publisher");
        pubThread.setDaemon(true);
        pubThread.start();

        // traffic flows first (a node that has just come back may take a moment), then --before of steady publishing
        long flowing = System.nanoTime();
        long flowDeadline = flowing + o.settleTimeout.toNanos();
        while ((acked.isEmpty() || delivered.isEmpty()) && System.nanoTime() < flowDeadline) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        if (acked.isEmpty() || delivered.isEmpty()) {
          throw new RoundFailed("no traffic within --settle-timeout " + Durations.format(o.settleTimeout) + " (acked " + acked.size()
              + ", delivered " + delivered.size() + "; publishing through " + ids.get(pubServer) + ", subscribing through "
              + ids.get(subServer) + ", owner " + owner + ")");
        }
        err.printf(Locale.ROOT, "round %d: %s owned by %s; publishing through %s, subscribing through %s; first ack and delivery after %.0f ms%n",
            r, topic, owner, ids.get(pubServer), ids.get(subServer), (System.nanoTime() - flowing) / 1e6);
        LockSupport.parkNanos(o.before.toNanos());
        String leader = Base.admin(admins.get(nodes.indexOf(pubServer))).getClusterStatus(GetClusterStatusRequest.getDefaultInstance())
            .getLeaderId();
        long beforeKill = System.nanoTime();
        killAt.set(beforeKill);
        killed = true;
        run("kill", o.killCommand, owner, ownerAddress);
        long kill = System.nanoTime();
        err.printf(Locale.ROOT, "round %d: killed %s (%s%s) in %.0f ms%n", r, owner, ownerAddress, owner.equals(leader) ? ", the metadata leader" : "",
            (kill - beforeKill) / 1e6);
        err.flush();
        long deadline = kill + o.roundTimeout.toNanos();
        while ((firstNewEpochDelivery.get() == 0 || firstNewEpochAck.get() == 0) && System.nanoTime() < deadline) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        LockSupport.parkNanos(o.after.toNanos());
        stop.set(true);
        pubThread.join(TimeUnit.SECONDS.toMillis(10));
        try {
          pub.flush().get(90, TimeUnit.SECONDS);
        } catch (Exception e) {
          // the receipts say which failed
        }
        // every acknowledged event delivered or inside a gap; wait while that still grows
        long drainEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        long lastCount = -1;
        long lastChange = System.nanoTime();
        while (System.nanoTime() < drainEnd) {
          long missing = unaccounted(acked, deliveredPositions, gaps)[1];
          if (missing == 0) {
            break;
          }
          long now = deliveredPositions.size();
          if (now != lastCount) {
            lastCount = now;
            lastChange = System.nanoTime();
          } else if (System.nanoTime() - lastChange > TimeUnit.SECONDS.toNanos(3)) {
            break;
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
        long[] acc = unaccounted(acked, deliveredPositions, gaps);
        long newEpoch = sub.lastEpoch();
        long gapEvents = 0;
        for (Gap g : gaps) {
          gapEvents += g.count();
        }
        long fd = firstNewEpochDelivery.get();
        long fa = firstNewEpochAck.get();
        return new Round(r, owner, owner.equals(leader), oldEpoch, newEpoch, fd == 0 ? -1 : (fd - beforeKill) / 1000,
            fa == 0 ? -1 : (fa - beforeKill) / 1000, acked.size(), delivered.size(), duplicates.sum(), gaps.size(), gapEvents, acc[0], acc[1],
            publishErrors.sum());
      } finally {
        stop.set(true);
        if (pubThread != null) {
          pubThread.join(TimeUnit.SECONDS.toMillis(10));
        }
        if (sub != null) {
          sub.close();
        }
        if (pub != null) {
          pub.close(Duration.ofSeconds(2));
        }
        for (HeraldClient c : admins) {
          try {
            Base.deleteIfThere(c, topic);
            break;
          } catch (RuntimeException e) {
            // try the next node (this one may be the killed owner)
          }
        }
        Base.closeAll(clients);
        if (killed && o.restartCommand != null && !o.restartCommand.isBlank()) {
          run("restart", o.restartCommand, owner, ownerAddress);
        }
      }
    }

    /** {acked events inside a gap, acked events neither delivered nor inside a gap}. */
    private static long[] unaccounted(Map<Long, String> acked, java.util.Set<String> delivered, List<Gap> gaps) {
      List<Gap> gs;
      synchronized (gaps) {
        gs = new ArrayList<>(gaps);
      }
      long inGap = 0;
      long missing = 0;
      for (String pos : acked.values()) {
        if (delivered.contains(pos)) {
          continue;
        }
        int colon = pos.indexOf(':');
        long epoch = Long.parseLong(pos.substring(0, colon));
        long seq = Long.parseLong(pos.substring(colon + 1));
        boolean covered = false;
        for (Gap g : gs) {
          if (g.epoch() == epoch && seq >= g.firstSequence() && (g.lastSequence() == 0 || seq <= g.lastSequence())) {
            covered = true;
            break;
          }
        }
        if (covered) {
          inGap++;
        } else {
          missing++;
        }
      }
      return new long[] {inGap, missing};
    }

    private void run(String what, String template, String node, String address) throws RoundFailed, InterruptedException {
      String cmd = template.replace("{node}", node).replace("{address}", address);
      try {
        Process p = new ProcessBuilder("sh", "-c", cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new RoundFailed("--" + what + "-command did not finish within 60 s: " + cmd);
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.exitValue() != 0) {
          throw new RoundFailed("--" + what + "-command exited " + p.exitValue() + ": " + cmd + (output.isEmpty() ? "" : ": " + output));
        }
      } catch (IOException e) {
        throw new RoundFailed("--" + what + "-command could not run: " + cmd + ": " + e.getMessage());
      }
    }

    private void report(List<Round> done, String failure) {
      Histogram delivery = new Histogram(TimeUnit.SECONDS.toMicros(600), 3);
      Histogram ack = new Histogram(TimeUnit.SECONDS.toMicros(600), 3);
      Histogram leaderDelivery = new Histogram(TimeUnit.SECONDS.toMicros(600), 3);
      for (Round x : done) {
        if (x.killToDeliveryMicros() >= 0) {
          delivery.recordValue(x.killToDeliveryMicros());
          if (x.ownerWasLeader()) {
            leaderDelivery.recordValue(x.killToDeliveryMicros());
          }
        }
        if (x.killToAckMicros() >= 0) {
          ack.recordValue(x.killToAckMicros());
        }
      }
      long unaccounted = done.stream().mapToLong(Round::unaccounted).sum();
      if (o.conn().json()) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "{\"mode\":\"failover\",\"servers\":%d,\"rate\":%.0f,\"rounds\":%d,",
            nodes.size(), rate, done.size()));
        sb.append("\"kill_to_first_delivery\":").append(jsonStats(delivery)).append(",\"kill_to_first_ack\":").append(jsonStats(ack))
            .append(",\"owner_was_leader_kill_to_first_delivery\":").append(jsonStats(leaderDelivery))
            .append(",\"unaccounted\":").append(unaccounted).append(",\"failure\":")
            .append(failure == null ? "null" : "\"" + failure.replace("\\", "\\\\").replace("\"", "\\\"") + "\"").append(",\"round_results\":[");
        for (int i = 0; i < done.size(); i++) {
          sb.append(i == 0 ? "" : ",").append(done.get(i).json());
        }
        out.println(sb.append("]}"));
        out.flush();
        return;
      }
      out.printf(Locale.ROOT, "herald bench failover: %d node(s), %d round(s), publishing %,.0f ev/s through a non-owner, subscribing through the other%n",
          nodes.size(), done.size(), rate);
      Table t = new Table("ROUND", "KILLED OWNER", "EPOCH", "KILL->DELIVERY MS", "KILL->ACK MS", "ACKED", "DELIVERED", "DUPLICATES",
          "GAPS", "ACKED IN GAPS", "UNACCOUNTED");
      for (Round x : done) {
        t.row(x.round(), x.owner() + (x.ownerWasLeader() ? " (leader)" : ""), x.oldEpoch() + "->" + x.newEpoch(),
            x.killToDeliveryMicros() < 0 ? "none" : ms(x.killToDeliveryMicros()), x.killToAckMicros() < 0 ? "none" : ms(x.killToAckMicros()),
            x.acked(), x.delivered(), x.duplicates(), x.gapNotices() + " / " + x.gapEvents(), x.coveredByGap(), x.unaccounted());
      }
      t.print(out);
      Table s = new Table("MEASURE", "COUNT", "P50 MS", "P99 MS", "MAX MS");
      s.row("kill -> first new-epoch delivery", delivery.getTotalCount(), ms(delivery.getValueAtPercentile(50)),
          ms(delivery.getValueAtPercentile(99)), ms(delivery.getMaxValue()));
      s.row("kill -> first new-epoch ack", ack.getTotalCount(), ms(ack.getValueAtPercentile(50)), ms(ack.getValueAtPercentile(99)),
          ms(ack.getMaxValue()));
      if (leaderDelivery.getTotalCount() > 0) {
        s.row("  of which the owner was the leader", leaderDelivery.getTotalCount(), ms(leaderDelivery.getValueAtPercentile(50)),
            ms(leaderDelivery.getValueAtPercentile(99)), ms(leaderDelivery.getMaxValue()));
      }
      s.print(out);
      out.printf(Locale.ROOT, "  accounting: %s%n", unaccounted == 0 ? "every acknowledged event was delivered or reported in a gap"
          : unaccounted + " acknowledged event(s) neither delivered nor reported in a gap");
      if (failure != null) {
        out.println("  stopped early: " + failure);
      }
      out.flush();
    }
  }

}
