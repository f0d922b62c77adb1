package io.herald.cli;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.herald.client.Batching;
import io.herald.client.Event;
import io.herald.client.HeraldClient;
import io.herald.client.OverflowPolicy;
import io.herald.client.Publisher;
import io.herald.client.StartPosition;
import io.herald.client.Subscription;
import io.herald.client.TopicInfo;
import io.herald.client.Tls;
import io.herald.client.TopicSettings;
import io.herald.client.WhenFull;
import io.herald.client.internal.ClientCore;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code herald bench}: a load generator on the client SDK. Every publisher and subscriber has its
 * own connection (all sharing {@code --io-threads} network threads and one callback pool), as
 * separate services would. Latency is measured from the <em>intended</em> send time (a fixed-rate
 * schedule; a stall delays every event behind it and counts), with HdrHistogram. Runs are bounded:
 * at most {@value #MAX_SECONDS} s of warm-up plus measurement, and loopback or named hosts only as
 * the user gives them.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class, description = "Load-test a broker: pub, sub, fanout and latency workloads; metadata visibility and owner failover in a cluster.",
    subcommands = {BenchCommand.Pub.class, BenchCommand.Sub.class, BenchCommand.Fanout.class, BenchCommand.Latency.class,
        ClusterBench.Metadata.class, ClusterBench.Failover.class, CommandLine.HelpCommand.class},
    footer = {"", "Examples:",
        "  herald bench fanout --subscribers 8 --size 128 --duration 10s",
        "  herald bench latency --rate 10000/s --duration 15s",
        "  herald bench fanout --subscribers 1 --slow-subscribers 1 --slow-delay 1ms --policy DROP_OLDEST",
        "  herald bench pub --publishers 4 --topics 4 -o json",
        "  herald bench metadata --servers=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270 --rounds 200",
        "  herald bench failover --servers=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270 --kill-command 'kill -9 $(cat /tmp/herald-fo/{node}.pid)'"})
final class BenchCommand {
  static final int MAX_SECONDS = 600;

  /** Options every mode has. */
  abstract static class Base implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }

    @Option(names = "--size", defaultValue = "128", description = "Payload bytes per event, at least 16 (default ${DEFAULT-VALUE}).") int size;
    @Option(names = "--duration", defaultValue = "10s", converter = Durations.class, description = "Measured time (default ${DEFAULT-VALUE}).") Duration duration;
    @Option(names = "--warmup", defaultValue = "3s", converter = Durations.class, description = "Warm-up before measuring (default ${DEFAULT-VALUE}).") Duration warmup;
    @Option(names = "--topics", defaultValue = "1", description = "Topics (default ${DEFAULT-VALUE}); publishers and subscribers are per topic.") int topics;
    @Option(names = "--policy", defaultValue = "BLOCK", description = "Subscriber policy: DROP_OLDEST, DROP_NEWEST, BLOCK (default ${DEFAULT-VALUE}).") OverflowPolicy policy;
    @Option(names = "--batch", defaultValue = "500", description = "Publisher batch, events (default ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--linger", defaultValue = "0ms", converter = Durations.class,
        description = "Publisher linger (default ${DEFAULT-VALUE}: send at once when the stream has room, batch what piles up).") Duration linger;
    @Option(names = "--buffer", defaultValue = "100000",
        description = "Each bench topic's subscriber buffer and inbox, in events (default ${DEFAULT-VALUE}; 256 MiB each by bytes)."
            + " With many topics, smaller buffers make BLOCK pace the publishers within the warm-up, so the run measures a steady state.")
    int buffer;
    @Option(names = "--max-outstanding", defaultValue = "20000", description = "Subscriber credit, events (default ${DEFAULT-VALUE}).") long maxOutstanding;
    @Option(names = "--io-threads", defaultValue = "0", description = "Client network threads; 0 = one per core.") int ioThreads;
    @Option(names = "--dedup", description = "Keep the broker's dedup window on for the bench topics (default off, like the peers).") boolean dedup;
    @Option(names = "--keep", description = "Keep the bench topics afterwards.") boolean keep;
    @Option(names = "--hgrm", paramLabel = "FILE",
        description = "Also write the measured latency's percentile distribution to FILE (HdrHistogram .hgrm, in microseconds),"
            + " for bench/plot-latency.sh.") java.nio.file.Path hgrm;
    @Option(names = "--publish-server", paramLabel = "HOST:PORT",
        description = "Where publishers connect (default: --server); in a cluster, a node that forwards to the owner.") String publishServer;
    @Option(names = "--subscribe-server", paramLabel = "HOST:PORT",
        description = "Where subscribers connect (default: --server); in a cluster, a node that relays from the owner.") String subscribeServer;

    int publishers() {
      return 1;
    }

    int subscribers() {
      return 0;
    }

    int slowSubscribers() {
      return 0;
    }

    Duration slowDelay() {
      return Duration.ZERO;
    }

    /** Events per second per publisher; 0 = as fast as flow control allows. */
    double rate() {
      return 0;
    }

    abstract String mode();

    long preload() {
      return 0;
    }

    @Override
    public Integer call() throws Exception {
      if (size < 16) {
        throw new IllegalArgumentException("--size must be at least 16 (the payload carries the send time)");
      }
      if (duration.isZero() || duration.plus(warmup).getSeconds() > MAX_SECONDS || topics < 1 || topics > 1000) {
        throw new IllegalArgumentException("--duration + --warmup must be within 1s.." + MAX_SECONDS + "s and --topics 1..1000");
      }
      if (buffer < 1) {
        throw new IllegalArgumentException("--buffer must be at least 1 event");
      }
      if (hgrm != null) {
        java.nio.file.Path dir = hgrm.toAbsolutePath().getParent();
        if (dir != null && !java.nio.file.Files.isDirectory(dir)) {
          throw new IllegalArgumentException("--hgrm " + hgrm + ": the folder " + dir + " does not exist");
        }
      }
      return new Run(this).execute();
    }
  }

  @Command(name = "pub", mixinStandardHelpOptions = true, description = "Publish throughput (no subscribers unless asked).")
  static final class Pub extends Base {
    @Option(names = "--publishers", defaultValue = "1", description = "Per topic (default ${DEFAULT-VALUE}).") int publishers;
    @Option(names = "--subscribers", defaultValue = "0", description = "Per topic (default ${DEFAULT-VALUE}).") int subscribers;
    @Option(names = "--rate", defaultValue = "max", description = "Per publisher: max or N/s (default ${DEFAULT-VALUE}).") String rate;

    @Override int publishers() { return publishers; }
    @Override int subscribers() { return subscribers; }
    @Override double rate() { return parseRate(spec, rate); }
    @Override String mode() { return "pub"; }
  }

  @Command(name = "sub", mixinStandardHelpOptions = true,
      description = "Subscribe throughput: preloads --messages events into the topic's retention, then subscribers read them from the earliest.")
  static final class Sub extends Base {
    @Option(names = "--subscribers", defaultValue = "1", description = "Per topic (default ${DEFAULT-VALUE}).") int subscribers;
    @Option(names = "--messages", defaultValue = "1000000", description = "Events preloaded per topic, at most 10000000 (default ${DEFAULT-VALUE}).") long messages;

    @Override int publishers() { return 0; }
    @Override int subscribers() { return subscribers; }
    @Override long preload() { return messages; }
    @Override String mode() { return "sub"; }
  }

  @Command(name = "fanout", mixinStandardHelpOptions = true,
      description = "Publishers -> N subscribers per topic as fast as flow control allows; optional slow subscribers beside them.")
  static final class Fanout extends Base {
    @Option(names = "--publishers", defaultValue = "1", description = "Per topic (default ${DEFAULT-VALUE}).") int publishers;
    @Option(names = "--subscribers", defaultValue = "8", description = "Fast subscribers per topic (default ${DEFAULT-VALUE}).") int subscribers;
    @Option(names = "--slow-subscribers", defaultValue = "0", description = "Subscribers whose handler sleeps --slow-delay per event.") int slow;
    @Option(names = "--slow-delay", defaultValue = "1ms", converter = Durations.class, description = "Default ${DEFAULT-VALUE}.") Duration slowDelay;
    @Option(names = "--rate", defaultValue = "max", description = "Per publisher: max or N/s (default ${DEFAULT-VALUE}).") String rate;

    @Override int publishers() { return publishers; }
    @Override int subscribers() { return subscribers; }
    @Override int slowSubscribers() { return slow; }
    @Override Duration slowDelay() { return slowDelay; }
    @Override double rate() { return parseRate(spec, rate); }
    @Override String mode() { return "fanout"; }
  }

  @Command(name = "latency", mixinStandardHelpOptions = true,
      description = "End-to-end latency at a fixed rate, from the intended send time (1 publisher, 1 subscriber per topic).")
  static final class Latency extends Base {
    @Option(names = "--rate", defaultValue = "10000/s", description = "Events per second (default ${DEFAULT-VALUE}).") String rate;
    @Option(names = "--subscribers", defaultValue = "1", description = "Per topic (default ${DEFAULT-VALUE}).") int subscribers;

    @Override int subscribers() { return subscribers; }
    @Override double rate() {
      double r = parseRate(spec, rate);
      if (r == 0) {
        throw new IllegalArgumentException("latency needs a fixed --rate, e.g. 10000/s");
      }
      return r;
    }
    @Override String mode() { return "latency"; }
  }

  static double parseRate(CommandLine.Model.CommandSpec spec, String rate) {
    return rate.equalsIgnoreCase("max") ? 0 : Rates.parse("--rate", rate);
  }

  /** One bench run: owns its channels, threads and topics, and removes them at the end. */
  static final class Run {
    private final Base o;
    private final PrintWriter out;
    private final PrintWriter err;
    private final Recorder latency = new Recorder(TimeUnit.SECONDS.toMicros(60), 3);
    private final LongAdder published = new LongAdder();
    private final LongAdder delivered = new LongAdder();
    private final LongAdder slowDelivered = new LongAdder();
    private final LongAdder gapEvents = new LongAdder();
    private final LongAdder gapNotices = new LongAdder();
    private final LongAdder publishErrors = new LongAdder();
    private volatile boolean measuring;
    private final AtomicBoolean stop = new AtomicBoolean();

    Run(Base o) {
      this.o = o;
      this.out = o.spec.commandLine().getOut();
      this.err = o.spec.commandLine().getErr();
    }

    int execute() throws Exception {
      int io = o.ioThreads > 0 ? o.ioThreads : Runtime.getRuntime().availableProcessors();
      EventLoopGroup group = new NioEventLoopGroup(io, new DefaultThreadFactory("bench-io", true));
      AtomicInteger cb = new AtomicInteger();
      ExecutorService callbacks = Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors()), r -> {
        Thread t = new Thread(r, "bench-callback-" + cb.incrementAndGet());
        t.setDaemon(true);
        return t;
      });
      List<ManagedChannel> channels = new ArrayList<>();
      List<HeraldClient> clients = new ArrayList<>();
      List<Thread> pubThreads = new ArrayList<>();
      List<String> topicNames = new ArrayList<>();
      HeraldClient admin = client(o.conn().server, group, callbacks, channels, clients);
      try {
        for (int t = 0; t < o.topics; t++) {
          String name = "bench-" + o.mode() + "-" + t;
          topicNames.add(name);
          try {
            admin.admin().deleteTopic(name);
          } catch (RuntimeException e) {
            // was not there
          }
          TopicSettings.Builder s = TopicSettings.builder().defaultPolicy(o.policy)
              .subscriberBuffer(o.buffer, 256L << 20).inbox(o.buffer, 256L << 20).maxBlock(Duration.ofMinutes(5));
          if (o.preload() > 0) {
            s.retention((int) Math.min(o.preload(), 10_000_000), 16L << 30, Duration.ofHours(1));
          } else {
            s.retention(0, 0, Duration.ZERO);
          }
          if (!o.dedup) {
            s.dedup(Duration.ZERO, 0);
          }
          admin.admin().createTopic(name, s.build());
        }
        if (o.preload() > 0) {
          preload(admin, topicNames);
        }
        List<Subscription> subs = new ArrayList<>();
        for (String name : topicNames) {
          for (int i = 0; i < o.subscribers() + o.slowSubscribers(); i++) {
            boolean slow = i >= o.subscribers();
            HeraldClient c = client(o.subscribeServer != null ? o.subscribeServer : o.conn().server, group, callbacks, channels, clients);
            long slowNanos = o.slowDelay().toNanos();
            subs.add(c.subscriber(name).name(slow ? "bench-slow" : "bench").maxOutstanding(slow ? 1000 : o.maxOutstanding)
                .startAt(o.preload() > 0 ? StartPosition.earliest() : StartPosition.latest())
                .handler(d -> {
                  if (slow) {
                    slowDelivered.increment();
                    LockSupport.parkNanos(slowNanos);
                    return;
                  }
                  delivered.increment();
                  if (measuring && o.preload() == 0) {
                    long sent = d.dataBuffer().getLong(0);
                    latency.recordValue(Math.max(0, (System.nanoTime() - sent) / 1000));
                  }
                })
                .onGap(g -> {
                  gapNotices.increment();
                  gapEvents.add(g.count());
                })
                .subscribe());
          }
        }
        long start = System.nanoTime();
        for (String name : topicNames) {
          for (int p = 0; p < o.publishers(); p++) {
            HeraldClient c = client(o.publishServer != null ? o.publishServer : o.conn().server, group, callbacks, channels, clients);
            Publisher pub = c.publisher(name).batching(Batching.defaults().maxEvents(o.batch).linger(o.linger))
                .maxPending(Math.max(20_000, o.batch * 8L), 256L << 20).whenFull(WhenFull.blockUpTo(Duration.ofSeconds(30))).create();
            Thread t = new Thread(() -> publishLoop(pub, start), "bench-publisher-" + pubThreads.size());
            t.setDaemon(true);
            pubThreads.add(t);
          }
        }
        pubThreads.forEach(Thread::start);
        boolean progress = Terminal.isTerminal();
        long warmEnd = start + o.warmup.toNanos();
        sleepUntil(warmEnd, progress, start);
        latency.reset();
        long p0 = published.sum();
        long d0 = delivered.sum();
        long s0 = slowDelivered.sum();
        long g0 = gapEvents.sum();
        measuring = true;
        long measureStart = System.nanoTime();
        if (!progress) {
          // for scripts that sample the broker over the measured window (bench/herald-scaling.sh)
          err.printf(Locale.ROOT, "herald bench: warm-up over, measuring for %s%n", o.duration);
          err.flush();
        }
        long measureEnd = measureStart + o.duration.toNanos();
        if (o.preload() > 0) {
          // sub mode: measure until everything preloaded is read, or the duration ends
          long expected = o.preload() * o.topics * o.subscribers();
          while (System.nanoTime() < measureEnd && delivered.sum() + gapEvents.sum() < expected) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
          }
          measureEnd = Math.min(measureEnd, System.nanoTime());
        } else {
          sleepUntil(measureEnd, progress, start);
        }
        long p1 = published.sum();
        long d1 = delivered.sum();
        long s1 = slowDelivered.sum();
        long g1 = gapEvents.sum();
        measuring = false;
        Histogram h = latency.getIntervalHistogram();
        if (o.hgrm != null) {
          try (java.io.PrintStream ps = new java.io.PrintStream(java.nio.file.Files.newOutputStream(o.hgrm), false,
              java.nio.charset.StandardCharsets.UTF_8)) {
            h.outputPercentileDistribution(ps, 1.0); // microseconds, as ../shared/bench writes its .hgrm files
          } catch (java.io.IOException e) {
            err.println("herald bench: could not write --hgrm " + o.hgrm + ": " + e.getMessage() + " (the run's figures follow)");
          }
        }
        double secs = (Math.min(System.nanoTime(), measureEnd) - measureStart) / 1e9;
        stop.set(true);
        for (Thread t : pubThreads) {
          t.join(TimeUnit.SECONDS.toMillis(40));
        }
        // drain: everything published reaches every fast subscriber, or a gap says it will not
        long expectedDeliveries = published.sum() * o.subscribers() + o.preload() * o.topics * o.subscribers();
        long last = -1;
        long lastChange = System.nanoTime();
        long drainDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (delivered.sum() + gapEvents.sum() < expectedDeliveries && System.nanoTime() < drainDeadline) {
          long now = delivered.sum() + gapEvents.sum();
          if (now != last) {
            last = now;
            lastChange = System.nanoTime();
          } else if (System.nanoTime() - lastChange > TimeUnit.SECONDS.toNanos(2)) {
            break;
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
        long brokerPublished = 0;
        long brokerDelivered = 0;
        long brokerDropped = 0;
        for (String name : topicNames) {
          TopicInfo info = admin.admin().getTopic(name);
          brokerPublished += info.stats().published();
          brokerDelivered += info.stats().delivered();
          brokerDropped += info.stats().dropped();
        }
        for (Subscription s : subs) {
          s.close();
        }
        Summary sum = new Summary(o.mode(), o.topics, o.publishers(), o.subscribers(), o.slowSubscribers(), o.size, o.policy.name(),
            o.rate(), secs, (p1 - p0) / secs, (d1 - d0) / secs, (s1 - s0) / secs, published.sum(), delivered.sum(), expectedDeliveries,
            Math.max(0, expectedDeliveries - delivered.sum() - gapEvents.sum()), gapNotices.sum(), gapEvents.sum(), g1 - g0,
            publishErrors.sum(), brokerPublished, brokerDelivered, brokerDropped, h);
        if (progress) {
          err.print("\r" + " ".repeat(100) + "\r");
          err.flush();
        }
        if (o.conn().json()) {
          out.println(sum.json());
        } else {
          sum.print(out);
        }
        out.flush();
        return Main.OK;
      } finally {
        stop.set(true);
        if (!o.keep) {
          for (String name : topicNames) {
            try {
              admin.admin().deleteTopic(name);
            } catch (RuntimeException e) {
              // best effort
            }
          }
        }
        for (HeraldClient c : clients) {
          c.close();
        }
        for (ManagedChannel ch : channels) {
          ch.shutdownNow();
        }
        for (ManagedChannel ch : channels) {
          ch.awaitTermination(5, TimeUnit.SECONDS);
        }
        callbacks.shutdownNow();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }

    private HeraldClient client(String server, EventLoopGroup group, ExecutorService callbacks, List<ManagedChannel> channels,
        List<HeraldClient> clients) {
      int colon = server.lastIndexOf(':');
      NettyChannelBuilder b = NettyChannelBuilder.forAddress(server.substring(0, colon), Integer.parseInt(server.substring(colon + 1)))
          .eventLoopGroup(group).channelType(NioSocketChannel.class).directExecutor();
      Tls tls = o.conn().tlsSettings();
      if (tls.enabled()) {
        b.sslContext(ClientCore.sslContext(tls)).useTransportSecurity();
      } else {
        b.usePlaintext();
      }
      ManagedChannel ch = b.build();
      channels.add(ch);
      // the channel is the bench's own (to share one event loop): the token goes per call, and
      // without TLS only to loopback unless --allow-plaintext-token
      HeraldClient c = o.conn().build(HeraldClient.builder().channel(ch).callbackExecutor(callbacks).callTimeout(o.conn().timeout)
          .name("herald-bench"));
      clients.add(c);
      return c;
    }

    private void preload(HeraldClient admin, List<String> names) throws Exception {
      if (o.preload() > 10_000_000) {
        throw new IllegalArgumentException("--messages must be at most 10000000");
      }
      for (String name : names) {
        Publisher p = admin.publisher(name).batching(Batching.defaults().maxEvents(o.batch)).maxPending(100_000, 256L << 20).create();
        byte[] payload = new byte[o.size];
        for (long i = 0; i < o.preload() && !stop.get(); i++) {
          p.publish(Event.of("bench", payload)).whenComplete((r, e) -> {
            if (e != null) {
              publishErrors.increment();
            }
          });
        }
        p.flush().get(10, TimeUnit.MINUTES);
        p.close();
      }
    }

    private void publishLoop(Publisher pub, long start) {
      double rate = o.rate();
      long interval = rate > 0 ? (long) (1e9 / rate) : 0;
      long n = 0;
      byte[] base = new byte[o.size];
      while (!stop.get()) {
        long intended;
        if (interval > 0) {
          intended = start + n * interval;
          long wait = intended - System.nanoTime();
          if (wait > 50_000) {
            LockSupport.parkNanos(wait - 20_000);
          }
          while (System.nanoTime() < intended) {
            Thread.onSpinWait();
          }
        } else {
          intended = System.nanoTime();
        }
        byte[] payload = base.clone();
        ByteBuffer.wrap(payload).putLong(0, intended).putLong(8, n);
        pub.publish(Event.of("bench", payload)).whenComplete((r, e) -> {
          if (e != null) {
            publishErrors.increment();
          } else {
            published.increment();
          }
        });
        n++;
      }
      try {
        pub.flush().get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        publishErrors.increment();
      }
    }

    private void sleepUntil(long deadline, boolean progress, long start) {
      long lastP = published.sum();
      long lastD = delivered.sum();
      long lastT = System.nanoTime();
      while (System.nanoTime() < deadline) {
        LockSupport.parkNanos(Math.min(deadline - System.nanoTime(), TimeUnit.SECONDS.toNanos(1)));
        if (progress) {
          long now = System.nanoTime();
          double dt = (now - lastT) / 1e9;
          long p = published.sum();
          long d = delivered.sum();
          err.printf(Locale.ROOT, "\r[%3ds] %s publish %,.0f ev/s  deliver %,.0f ev/s  gaps %d      ", (now - start) / 1_000_000_000L,
              measuring ? "measuring" : "warm-up  ", (p - lastP) / dt, (d - lastD) / dt, gapNotices.sum());
          err.flush();
          lastP = p;
          lastD = d;
          lastT = now;
        }
      }
    }
  }

  /** What a run measured, and what the broker counted. */
  record Summary(String mode, int topics, int publishers, int subscribers, int slowSubscribers, int size, String policy, double rate,
      double seconds, double publishRate, double deliverRate, double slowDeliverRate, long publishedTotal, long deliveredTotal,
      long expectedDeliveries, long loss, long gapNotices, long gapEvents, long gapEventsMeasured, long publishErrors,
      long brokerPublished, long brokerDelivered, long brokerDropped, Histogram latency) {

    void print(PrintWriter out) {
      out.printf(Locale.ROOT, "herald bench %s: %d topic(s), %d publisher(s) and %d subscriber(s) per topic%s, %d B, policy %s, %s%n",
          mode, topics, publishers, subscribers, slowSubscribers > 0 ? " + " + slowSubscribers + " slow" : "", size, policy,
          rate > 0 ? String.format(Locale.ROOT, "%,.0f ev/s per publisher", rate) : "max rate");
      out.printf(Locale.ROOT, "  measured %.1f s: publish %,.0f ev/s, deliver %,.0f ev/s%s%n", seconds, publishRate, deliverRate,
          slowSubscribers > 0 ? String.format(Locale.ROOT, " (slow subscribers %,.0f ev/s)", slowDeliverRate) : "");
      out.printf(Locale.ROOT, "  totals: published %,d, delivered %,d of %,d expected, gaps %d notices / %,d events, unaccounted %,d, publish errors %d%n",
          publishedTotal, deliveredTotal, expectedDeliveries, gapNotices, gapEvents, loss, publishErrors);
      out.printf(Locale.ROOT, "  broker: published %,d, delivered %,d, dropped %,d%n", brokerPublished, brokerDelivered, brokerDropped);
      if (latency.getTotalCount() > 0) {
        out.printf(Locale.ROOT, "  latency from intended send (us): p50 %d  p90 %d  p99 %d  p99.9 %d  max %d  (n=%,d)%n",
            latency.getValueAtPercentile(50), latency.getValueAtPercentile(90), latency.getValueAtPercentile(99),
            latency.getValueAtPercentile(99.9), latency.getMaxValue(), latency.getTotalCount());
      }
    }

    String json() {
      return String.format(Locale.ROOT, "{\"mode\":\"%s\",\"topics\":%d,\"publishers\":%d,\"subscribers\":%d,\"slow_subscribers\":%d,\"size\":%d,"
              + "\"policy\":\"%s\",\"rate\":%.0f,\"seconds\":%.3f,\"publish_rate\":%.0f,\"deliver_rate\":%.0f,\"slow_deliver_rate\":%.0f,"
              + "\"published\":%d,\"delivered\":%d,\"expected_deliveries\":%d,\"unaccounted\":%d,\"gap_notices\":%d,\"gap_events\":%d,"
              + "\"publish_errors\":%d,\"broker_published\":%d,\"broker_delivered\":%d,\"broker_dropped\":%d,"
              + "\"latency_us\":{\"count\":%d,\"p50\":%d,\"p90\":%d,\"p99\":%d,\"p999\":%d,\"max\":%d}}",
          mode, topics, publishers, subscribers, slowSubscribers, size, policy, rate, seconds, publishRate, deliverRate, slowDeliverRate,
          publishedTotal, deliveredTotal, expectedDeliveries, loss, gapNotices, gapEvents, publishErrors, brokerPublished, brokerDelivered,
          brokerDropped, latency.getTotalCount(), latency.getValueAtPercentile(50), latency.getValueAtPercentile(90),
          latency.getValueAtPercentile(99), latency.getValueAtPercentile(99.9), latency.getMaxValue());
    }
  }
}
