package io.herald.it.loadgen;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.Credit;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.OverflowPolicy;
import io.herald.proto.v1.PublishStreamRequest;
import io.herald.proto.v1.PublishStreamResponse;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.SubscribeInit;
import io.herald.proto.v1.SubscribeRequest;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A plain gRPC load driver for the broker, no SDK: generated stubs, manual flow control on every
 * stream, batches of events per message. Every loop is bounded in time and count; targets are
 * loopback only.
 */
@Command(name = "herald-loadgen", mixinStandardHelpOptions = true, subcommands = {LoadDriver.Fanout.class, LoadDriver.Memory.class},
    description = "Plain gRPC load driver for a Herald broker (loopback only).")
public final class LoadDriver {

  public static void main(String[] args) {
    System.exit(new CommandLine(new LoadDriver()).execute(args));
  }

  /** Where the broker is: a running one (--target) or one this driver starts from its jar. */
  static class Target {
    @Option(names = "--target", description = "A running broker, 127.0.0.1:PORT (loopback only).")
    String target;

    @Option(names = "--broker-jar", description = "Start this broker jar as a child process instead (default ${DEFAULT-VALUE}).",
        defaultValue = "broker-server/target/herald-broker.jar")
    Path brokerJar;

    @Option(names = "--broker-jvm", split = " ", description = "JVM options for a started broker (default: ${DEFAULT-VALUE}).",
        defaultValue = "-Xms1g -Xmx2g")
    List<String> brokerJvm;

    static String loopback(String t) {
      String host = t.substring(0, t.lastIndexOf(':'));
      if (!(host.startsWith("127.") || host.equals("localhost"))) {
        throw new CommandLine.ParameterException(new CommandLine(new LoadDriver()), "only loopback targets (127.0.0.0/8) are allowed: " + t);
      }
      return t;
    }
  }

  static EventLoopGroup eventLoops(int threads) {
    return Epoll.isAvailable()
        ? new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("loadgen-io", true), EpollIoHandler.newFactory())
        : new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("loadgen-io", true), NioIoHandler.newFactory());
  }

  static ManagedChannel channel(String host, int port, EventLoopGroup group) {
    return NettyChannelBuilder.forAddress(host, port)
        .eventLoopGroup(group)
        .channelType(Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class)
        .directExecutor()
        .usePlaintext()
        .build();
  }

  @Command(name = "fanout", mixinStandardHelpOptions = true,
      description = "1 publisher -> N subscribers on one topic, as fast as flow control allows; reports delivered events/s.")
  static final class Fanout implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Mixin
    Target where = new Target();

    @Option(names = "--subscribers", defaultValue = "8")
    int subscribers;

    @Option(names = "--size", defaultValue = "128", description = "Payload bytes per event (default ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--batch", defaultValue = "256", description = "Events per publish message (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--window", defaultValue = "16", description = "Publish batches in flight (default ${DEFAULT-VALUE}).")
    int window;

    @Option(names = "--warmup", defaultValue = "3", description = "Warm-up seconds (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--seconds", defaultValue = "10", description = "Measured seconds, at most 120 (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--policy", defaultValue = "BLOCK", description = "Subscriber policy: BLOCK (lossless), DROP_OLDEST, DROP_NEWEST.")
    String policy;

    @Option(names = "--io-threads", defaultValue = "2", description = "Driver Netty threads (default ${DEFAULT-VALUE}).")
    int ioThreads;

    @Override
    public Integer call() throws Exception {
      if (seconds < 1 || seconds > 120 || warmup < 0 || warmup > 60) {
        throw new IllegalArgumentException("--seconds must be 1..120 and --warmup 0..60");
      }
      BrokerProcess broker = null;
      String host = "127.0.0.1";
      int port;
      if (where.target != null) {
        String t = Target.loopback(where.target);
        host = t.substring(0, t.lastIndexOf(':'));
        port = Integer.parseInt(t.substring(t.lastIndexOf(':') + 1));
      } else {
        broker = BrokerProcess.start(where.brokerJar, where.brokerJvm, List.of());
        port = broker.port();
      }
      EventLoopGroup group = eventLoops(ioThreads);
      List<ManagedChannel> channels = new ArrayList<>();
      try {
        ManagedChannel admin = channel(host, port, group);
        channels.add(admin);
        var adminStub = TopicAdminServiceGrpc.newBlockingStub(admin).withDeadlineAfter(30, TimeUnit.SECONDS);
        String topic = "loadgen-fanout";
        try {
          adminStub.deleteTopic(DeleteTopicRequest.newBuilder().setName(topic).build());
        } catch (StatusRuntimeException ignored) {
          // not there
        }
        adminStub.createTopic(CreateTopicRequest.newBuilder().setName(topic).setConfig(TopicConfig.newBuilder()
            .setDefaultOverflowPolicy(OverflowPolicy.valueOf("OVERFLOW_POLICY_" + policy))
            .setSubscriberBufferMaxEvents(50_000)
            .setInboxMaxEvents(50_000)
            .setRetention(io.herald.proto.v1.Retention.newBuilder().setMaxEvents(0))
            .setDedupMaxIds(0)).build());

        List<Sub> subs = new ArrayList<>();
        for (int i = 0; i < subscribers; i++) {
          ManagedChannel c = channel(host, port, group);
          channels.add(c);
          Sub s = new Sub();
          SubscribeServiceGrpc.newStub(c).subscribe(s);
          s.start(topic);
          subs.add(s);
        }
        for (Sub s : subs) {
          s.started.get(30, TimeUnit.SECONDS);
        }
        ManagedChannel pc = channel(host, port, group);
        channels.add(pc);
        Pub pub = new Pub(topic, size, batch, window);
        PublishServiceGrpc.newStub(pc).publishStream(pub);

        Thread.sleep(warmup * 1000L); // the warm-up is a fixed period by definition
        long d0 = delivered(subs);
        long p0 = pub.acked.get();
        double cpu0 = broker == null ? 0 : broker.cpuSeconds();
        double self0 = BrokerProcess.cpuSecondsOf(ProcessHandle.current().pid());
        long t0 = System.nanoTime();
        Thread.sleep(seconds * 1000L);
        long d1 = delivered(subs);
        long p1 = pub.acked.get();
        double secs = (System.nanoTime() - t0) / 1e9;
        double cpu1 = broker == null ? 0 : broker.cpuSeconds();
        double self1 = BrokerProcess.cpuSecondsOf(ProcessHandle.current().pid());
        pub.stop();
        TopicStats stats = adminStub.withDeadlineAfter(10, TimeUnit.SECONDS)
            .getTopic(GetTopicRequest.newBuilder().setName(topic).build()).getTopic().getStats();
        double delivered = (d1 - d0) / secs;
        double published = (p1 - p0) / secs;
        System.out.printf("fanout 1->%d, %d B, batch %d, policy %s: published %.0f ev/s, delivered %.0f ev/s (%.0f per subscriber)%s, driver CPU %.2f cores%n",
            subscribers, size, batch, policy, published, delivered, delivered / subscribers,
            broker == null ? "" : String.format(", broker CPU %.2f cores, %.2f us/delivery", (cpu1 - cpu0) / secs, (cpu1 - cpu0) / secs / delivered * 1e6),
            (self1 - self0) / secs);
        System.out.printf("{\"workload\":\"fanout\",\"subscribers\":%d,\"size\":%d,\"batch\":%d,\"policy\":\"%s\",\"seconds\":%.2f,"
                + "\"published_per_s\":%.0f,\"delivered_per_s\":%.0f,\"broker_cpu_cores\":%.3f,\"driver_cpu_cores\":%.3f,\"broker_dropped\":%d,\"broker_published\":%d}%n",
            subscribers, size, batch, policy, secs, published, delivered, broker == null ? -1 : (cpu1 - cpu0) / secs, (self1 - self0) / secs,
            stats.getDropped(), stats.getPublished());
        for (Sub s : subs) {
          s.cancel();
        }
        return 0;
      } finally {
        for (ManagedChannel c : channels) {
          c.shutdownNow();
        }
        for (ManagedChannel c : channels) {
          c.awaitTermination(5, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        if (broker != null) {
          broker.close();
        }
      }
    }

    private static long delivered(List<Sub> subs) {
      long n = 0;
      for (Sub s : subs) {
        n += s.received.get();
      }
      return n;
    }
  }

  /** A subscriber that counts and keeps the broker supplied with credit. */
  static final class Sub implements ClientResponseObserver<SubscribeRequest, SubscribeResponse> {
    static final long CREDIT_CHUNK = 100_000;
    final AtomicLong received = new AtomicLong();
    final CompletableFuture<Void> started = new CompletableFuture<>();
    private ClientCallStreamObserver<SubscribeRequest> out;
    private long sinceGrant;

    @Override
    public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {
      out = requestStream;
    }

    void start(String topic) {
      out.onNext(SubscribeRequest.newBuilder().setInit(SubscribeInit.newBuilder().setTopic(topic)
          .setSubscriberName("loadgen").setInitialCredit(Credit.newBuilder().setEvents(2 * CREDIT_CHUNK))).build());
    }

    @Override
    public void onNext(SubscribeResponse r) {
      switch (r.getFrameCase()) {
        case STARTED -> started.complete(null);
        case BATCH -> {
          int n = r.getBatch().getEventsCount();
          received.addAndGet(n);
          sinceGrant += n;
          if (sinceGrant >= CREDIT_CHUNK) {
            out.onNext(SubscribeRequest.newBuilder().setCredit(Credit.newBuilder().setEvents(sinceGrant)).build());
            sinceGrant = 0;
          }
        }
        default -> { }
      }
    }

    void cancel() {
      out.cancel("done", null);
    }

    @Override
    public void onError(Throwable t) {
      started.completeExceptionally(t);
    }

    @Override
    public void onCompleted() { }
  }

  /** A publish stream that keeps `window` batches in flight while the transport is ready. */
  static final class Pub implements ClientResponseObserver<PublishStreamRequest, PublishStreamResponse> {
    final AtomicLong acked = new AtomicLong();
    private final PublishStreamRequest request;
    private final int window;
    private final CountDownLatch done = new CountDownLatch(1);
    private ClientCallStreamObserver<PublishStreamRequest> out;
    private int inFlight;
    private volatile boolean stopped;

    Pub(String topic, int size, int batch, int window) {
      this.window = window;
      Event e = Event.newBuilder().setType("loadgen").setData(ByteString.copyFrom(new byte[size])).build();
      PublishStreamRequest.Builder b = PublishStreamRequest.newBuilder().setTopic(topic);
      for (int i = 0; i < batch; i++) {
        b.addEvents(e);
      }
      this.request = b.build();
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<PublishStreamRequest> requestStream) {
      out = requestStream;
      requestStream.setOnReadyHandler(this::pump);
    }

    private synchronized void pump() {
      while (!stopped && inFlight < window && out.isReady()) {
        inFlight++;
        out.onNext(request);
      }
    }

    @Override
    public void onNext(PublishStreamResponse r) {
      if (r.hasError()) {
        System.err.println("batch refused: " + r.getError());
      }
      acked.addAndGet(r.getAcksCount());
      synchronized (this) {
        inFlight--;
      }
      pump();
    }

    synchronized void stop() {
      stopped = true;
      out.onCompleted();
    }

    @Override
    public void onError(Throwable t) {
      System.err.println("publish stream failed: " + t);
      done.countDown();
    }

    @Override
    public void onCompleted() {
      done.countDown();
    }
  }

  @Command(name = "memory", mixinStandardHelpOptions = true,
      description = "Starts a broker process and reports its heap per idle topic and per idle subscription, and its threads.")
  static final class Memory implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Mixin
    Target where = new Target();

    @Option(names = "--topics", defaultValue = "10000")
    int topics;

    @Option(names = "--subscriptions", defaultValue = "10000")
    int subscriptions;

    @Override
    public Integer call() throws Exception {
      if (topics < 2 || topics > 100_000 || subscriptions < 0 || subscriptions > topics) {
        throw new IllegalArgumentException("--topics must be 2..100000 and --subscriptions 0..topics");
      }
      EventLoopGroup group = eventLoops(2);
      List<ManagedChannel> channels = new ArrayList<>();
      try (BrokerProcess broker = BrokerProcess.start(where.brokerJar, where.brokerJvm, List.of("--max-calls-per-connection", "100000"))) {
        ManagedChannel admin = channel("127.0.0.1", broker.port(), group);
        channels.add(admin);
        var stub = TopicAdminServiceGrpc.newBlockingStub(admin);
        stub.withDeadlineAfter(30, TimeUnit.SECONDS).createTopic(CreateTopicRequest.newBuilder().setName("mem-0").build());
        long heap1 = broker.heapUsedAfterGc();
        List<String> threads1 = broker.javaPlatformThreads();
        int os1 = broker.osThreads();
        for (int i = 1; i < topics; i++) {
          stub.withDeadlineAfter(30, TimeUnit.SECONDS).createTopic(CreateTopicRequest.newBuilder().setName("mem-" + i).build());
        }
        long heapT = broker.heapUsedAfterGc();
        List<String> threadsT = broker.javaPlatformThreads();
        int osT = broker.osThreads();
        // subscriptions on their own channels, 1000 streams per connection
        List<Sub> subs = new ArrayList<>();
        ManagedChannel c = null;
        for (int i = 0; i < subscriptions; i++) {
          if (i % 1000 == 0) {
            c = channel("127.0.0.1", broker.port(), group);
            channels.add(c);
          }
          Sub s = new Sub();
          SubscribeServiceGrpc.newStub(c).subscribe(s);
          s.start("mem-" + i);
          subs.add(s);
        }
        for (Sub s : subs) {
          s.started.get(60, TimeUnit.SECONDS);
        }
        long heapS = broker.heapUsedAfterGc();
        List<String> threadsS = broker.javaPlatformThreads();
        int osS = broker.osThreads();
        double perTopic = (heapT - heap1) / (double) (topics - 1);
        double perSub = subscriptions == 0 ? 0 : (heapS - heapT) / (double) subscriptions;
        System.out.printf("heap after GC: 1 topic %.1f MiB; %d topics %.1f MiB; + %d subscriptions %.1f MiB%n",
            heap1 / 1048576.0, topics, heapT / 1048576.0, subscriptions, heapS / 1048576.0);
        System.out.printf("per idle topic: %.0f B; per idle subscription: %.0f B (broker side, incl. its gRPC stream)%n", perTopic, perSub);
        System.out.printf("java platform threads: %d with 1 topic, %d with %d topics, %d with %d subscriptions (OS threads %d / %d / %d)%n",
            threads1.size(), threadsT.size(), topics, threadsS.size(), subscriptions, os1, osT, osS);
        List<String> added = new ArrayList<>(threadsS);
        added.removeAll(threads1);
        System.out.printf("threads added between 1 topic and the end: %s%n", added);
        System.out.printf("{\"workload\":\"memory\",\"topics\":%d,\"subscriptions\":%d,\"heap_1_topic\":%d,\"heap_topics\":%d,\"heap_subscriptions\":%d,"
                + "\"bytes_per_topic\":%.0f,\"bytes_per_subscription\":%.0f,\"platform_threads\":[%d,%d,%d],\"os_threads\":[%d,%d,%d]}%n",
            topics, subscriptions, heap1, heapT, heapS, perTopic, perSub, threads1.size(), threadsT.size(), threadsS.size(), os1, osT, osS);
        return 0;
      } finally {
        for (ManagedChannel ch : channels) {
          ch.shutdownNow();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }
  }
}
