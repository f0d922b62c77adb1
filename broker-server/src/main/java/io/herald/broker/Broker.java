package io.herald.broker;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.ServerInterceptors;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.herald.broker.admin.TopicAdminService;
import io.herald.broker.cluster.ClusterTopic;
import io.herald.broker.cluster.PeerForwardService;
import io.herald.broker.cluster.PeerLinks;
import io.herald.broker.config.BrokerConfig;
import io.herald.broker.config.ConnectionLimits;
import io.herald.broker.delivery.SubscribeService;
import io.herald.broker.metadata.RaftMetadataStore;
import io.herald.broker.observability.BrokerMetrics;
import io.herald.broker.observability.GrpcMetricsInterceptor;
import io.herald.broker.observability.HttpEndpoint;
import io.herald.broker.publish.PublishService;
import io.herald.broker.security.Security;
import io.herald.broker.topic.TopicRegistry;
import io.herald.broker.transport.ConnectionLog;
import io.herald.broker.transport.ErrorDetailsInterceptor;
import io.herald.broker.transport.Errors;
import io.herald.broker.transport.PeerInterceptor;
import io.herald.broker.transport.ServerFactory;
import io.herald.broker.transport.UndecodableRequests;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One broker node: wiring and lifecycle. Owns every thread it starts: the Netty event loops
 * ({@code herald-netty-*}), the writer pool ({@code herald-writer-*}), the admin executor (virtual
 * threads {@code herald-admin-*}), the timer ({@code herald-timer}: Subscribe init deadlines) and,
 * through the {@link TopicRegistry}, one virtual dispatch thread per topic.
 *
 * <h2>Shutdown, from the outside in</h2>
 * {@link #close()}: health goes NOT_SERVING and the server takes no new calls; topics refuse new
 * publishes (UNAVAILABLE) but sequence what they accepted; subscription writers send what is
 * buffered, as credit allows, then end their streams with UNAVAILABLE; at the drain deadline
 * whatever is left is closed by force (publish streams and subscriptions end with UNAVAILABLE);
 * loops stop; pools and event loops shut down. {@link #closeNow()} (or a second signal) makes the
 * deadline "now". Both are idempotent; a second call waits for the first.
 */
public final class Broker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Broker.class);

  private final BrokerConfig config;
  private final RaftMetadataStore metadata;
  private final BrokerConfig.Cluster cluster;
  /** The data dir made up for a broker without {@code --data-dir}; removed at close. */
  private java.nio.file.Path tempDataDir;
  private final TopicRegistry topics;
  private final ThreadPoolExecutor writers;
  private final ExecutorService admin;
  /** One thread for the broker's deadlines (a Subscribe's init frame); tasks are short and never block. */
  private final ScheduledThreadPoolExecutor timer;
  private final ServerFactory transport;
  private final HealthStatusManager health = new HealthStatusManager();
  private final PublishService publishService;
  /** Forwarded publishes out (one stream per peer) and in. */
  private final PeerLinks peerLinks;
  private final PeerForwardService peerForward;
  private final SubscribeService subscribeService;
  private final Server server;
  /** TLS, authentication, ACL, audit; null only if the start failed before it was made. */
  private final Security security;
  private final BrokerMetrics metrics;
  private final HttpEndpoint http;
  private volatile boolean ready;
  /** Set by {@link #haltForTests()}: shut down without telling the cluster anything. */
  private volatile boolean halt;

  private final AtomicBoolean closing = new AtomicBoolean();
  private final AtomicLong drainDeadline = new AtomicLong(Long.MAX_VALUE);
  private final CountDownLatch closed = new CountDownLatch(1);

  private Broker(BrokerConfig config) throws IOException {
    this.config = config;
    this.cluster = config.cluster() != null ? config.cluster() : BrokerConfig.Cluster.standalone(null, null);
    this.metadata = openMetadata(config);
    try {
      this.topics = new TopicRegistry(metadata, config.autoCreateTopics());
      AtomicInteger n = new AtomicInteger();
      // queue bound: a Drainer is queued at most once at a time, so at most one task per open stream
      this.writers = new ThreadPoolExecutor(config.effectiveWriterThreads(), config.effectiveWriterThreads(), 0, TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "herald-writer-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
          });
      this.admin = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("herald-admin-", 0).factory());
      this.timer = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "herald-timer");
        t.setDaemon(true);
        return t;
      });
      timer.setRemoveOnCancelPolicy(true); // a stream that sent its init takes its deadline out of the queue
      this.transport = new ServerFactory(config.effectiveIoThreads());
      this.security = Security.start(config.security(), timer);
      this.publishService = new PublishService(topics, writers, security.access());
      this.subscribeService = new SubscribeService(topics, writers, timer, config.subscribeInitTimeout(), security.access());
      this.metrics = new BrokerMetrics(topics, config.metricsTopicLabels(), config.metricsTopSubscriptions());
      topics.onLifecycle(new TopicRegistry.Lifecycle() {
        @Override
        public void started(io.herald.broker.topic.Topic t) {
          metrics.topicStarted(t);
        }

        @Override
        public void stopped(io.herald.broker.topic.Topic t) {
          metrics.topicStopped(t);
        }
      });
      io.grpc.ChannelCredentials peerCredentials = security.peerChannelCredentials();
      this.peerLinks = new PeerLinks(cluster.nodeId(), PeerLinks.withKeepAlive(a -> transport.channelBuilder(a, peerCredentials)), writers,
          PeerLinks.Options.DEFAULTS);
      // a forwarded batch goes only into a topic this node runs: a node that no longer owns it
      // refuses (retryable) instead of forwarding again, so forwarding never loops
      io.herald.broker.cluster.HandOvers handOvers = new io.herald.broker.cluster.HandOvers();
      timer.scheduleWithFixedDelay(handOvers::expire, 5, 5, TimeUnit.SECONDS);
      topics.dedupHandOver(new io.herald.broker.cluster.DedupWindows(metadata, peerLinks, handOvers));
      this.peerForward = new PeerForwardService(name -> topics.resolve(name).thenCompose(h -> h instanceof io.herald.broker.topic.Topic
          ? CompletableFuture.completedFuture(h)
          : CompletableFuture.failedFuture(Errors.error(io.herald.proto.v1.ErrorReason.ERROR_REASON_OWNER_UNAVAILABLE, "topic '" + name
              + "' moved: this node does not own it any more; the forwarding node retries at the new owner", "topic", name))), writers,
          handOvers);
      topics.remoteTopics((r, address) -> new ClusterTopic(r, address, cluster.nodeId(), peerLinks, timer,
          a -> io.grpc.netty.NettyChannelBuilder.forTarget(a, peerCredentials).build()));
      // a peer the metadata marks down will not answer what was forwarded to it: fail those batches
      // now (retryable), so publishers retry towards the topics' new owners instead of waiting for TCP
      metadata.addListener(new io.herald.broker.cluster.PeerLoss(cluster.nodeId(), metadata, peerLinks, writers));
      publishService.onRejected(metrics::rejected);
      metrics.writers("subscription", subscribeService::liveCount);
      metrics.cluster(metadata);
      metrics.forwarding(peerLinks, peerForward);
      metrics.writers("publish", publishService::streamCount);
    } catch (RuntimeException e) {
      metadata.close(); // a Raft store runs non-daemon threads: never leave them behind a failed start
      throw e;
    }
    PeerInterceptor peer = new PeerInterceptor();
    ConnectionLog connections = new ConnectionLog();
    io.micrometer.core.instrument.Gauge.builder("herald_connections", connections, ConnectionLog::open)
        .description("Open client connections").register(metrics.registry());
    HttpEndpoint endpoint = null;
    try {
      topics.start();
      io.grpc.netty.NettyServerBuilder builder = transport.builder(config.listen(), security.credentials());
      ConnectionLimits limits = config.limits();
      if (limits.maxConnectionIdle() != null) {
        builder.maxConnectionIdle(limits.maxConnectionIdle().toMillis(), TimeUnit.MILLISECONDS);
      }
      if (limits.maxConnectionAge() != null) {
        builder.maxConnectionAge(limits.maxConnectionAge().toMillis(), TimeUnit.MILLISECONDS)
            .maxConnectionAgeGrace(limits.maxConnectionAgeGrace().toMillis(), TimeUnit.MILLISECONDS);
      }
      if (limits.maxRstPerWindow() > 0) {
        builder.maxRstFramesPerWindow(limits.maxRstPerWindow(), (int) limits.rstWindow().toSeconds());
      }
      if (security.authentication() != null) {
        // innermost of the server's interceptors: refusals are counted and get their details like any error
        builder.intercept(security.authentication());
      }
      this.server = builder
          .directExecutor() // data-plane handlers never block
          .callExecutor(new ServerCallExecutorSupplier() {
            @Override
            public <Q, R> java.util.concurrent.Executor getExecutor(ServerCall<Q, R> call, Metadata headers) {
              // admin calls may wait on the metadata store (disk now, consensus later)
              return TopicAdminServiceGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName()) ? admin : null;
            }
          })
          // every service decodes requests where a bad one can be answered with INVALID_ARGUMENT
          .addService(ServerInterceptors.intercept(UndecodableRequests.guard(publishService.definition()), peer))
          .addService(ServerInterceptors.intercept(UndecodableRequests.guard(subscribeService.definition()), peer))
          .addService(UndecodableRequests.guard(new TopicAdminService(metadata, topics, security.access()).bindService()))
          // broker to broker; not guarded: a forwarded 4 MiB publish is a little over 4 MiB, and a
          // bad batch is refused on its own (the shared stream goes on)
          .addService(peerForward.definition())
          .addService(UndecodableRequests.guard(health.getHealthService().bindService()))
          .addService(UndecodableRequests.guard(ProtoReflectionServiceV1.newInstance().bindService()))
          // calls to methods it does not serve go through the interceptors too (UNIMPLEMENTED)
          .fallbackHandlerRegistry(ErrorDetailsInterceptor.unknownMethods())
          .intercept(new GrpcMetricsInterceptor(metrics.registry()))
          // every error status leaves with a google.rpc.ErrorInfo
          .intercept(new ErrorDetailsInterceptor())
          .addTransportFilter(connections)
          // twice the API's 4 MiB, so that the broker refuses a message up to that size itself,
          // with details (UndecodableRequests)
          .maxInboundMessageSize(UndecodableRequests.TRANSPORT_MAX_MESSAGE_BYTES)
          .maxConcurrentCallsPerConnection(config.maxCallsPerConnection())
          .permitKeepAliveTime(config.limits().permitKeepAliveTime().toMillis(), TimeUnit.MILLISECONDS)
          .permitKeepAliveWithoutCalls(true)
          .handshakeTimeout(config.limits().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS)
          .build();
      server.start();
      if (config.httpListen() != null) {
        endpoint = new HttpEndpoint(transport.httpBootstrap(), config.httpListen(), metrics::scrape, () -> ready && metadata.joined(), admin);
      }
    } catch (IOException | RuntimeException | InterruptedException e) {
      if (endpoint != null) {
        endpoint.close();
      }
      releaseAll();
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting", e);
      }
      if (e instanceof HttpEndpoint.BindFailed hb) {
        throw hb;
      }
      if (e instanceof IOException io) {
        throw new IOException("cannot listen on " + config.listen().getHostString() + ":" + config.listen().getPort()
            + " (" + io.getMessage() + "); is another broker running there? choose another with --listen / HERALD_LISTEN", io);
      }
      throw (RuntimeException) e;
    }
    this.http = endpoint;
    metadata.advertise(cluster.advertise() != null ? cluster.advertise() : advertised(address()));
    if (cluster.peers().size() == 1) {
      // a cluster of one: its topics run once its start is recorded (a restart's epochs committed)
      try {
        metadata.joinedFuture().get(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        releaseAll();
        throw new IOException("interrupted while joining the metadata group", e);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        releaseAll();
        throw new IOException("could not record this node's start in its metadata (Raft group of one) within 30 s: " + e, e);
      }
    }
    for (String service : new String[] {"", PublishServiceGrpc.SERVICE_NAME, SubscribeServiceGrpc.SERVICE_NAME, TopicAdminServiceGrpc.SERVICE_NAME}) {
      health.setStatus(service, io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    }
    ready = true;
  }

  /**
   * This node's {@link RaftMetadataStore} peer: of the group in {@code --peers}, or a group of one
   * for a standalone broker. Without a data dir it keeps its log in a fresh temporary directory,
   * removed at close.
   */
  private RaftMetadataStore openMetadata(BrokerConfig config) throws IOException {
    BrokerConfig.Cluster c = cluster;
    java.nio.file.Path dir = config.dataDir();
    if (dir == null) {
      dir = java.nio.file.Files.createTempDirectory("herald-" + c.nodeId() + "-");
      tempDataDir = dir;
      log.warn("no --data-dir: this node's metadata (Raft log and snapshots) is in the fresh temporary directory {}, removed at"
          + " stop; topics do not survive a restart (set --data-dir to keep them)", dir);
    }
    return new RaftMetadataStore(c.nodeId(), c.peers(), c.raftListen(), c.raftAdvertise(), c.listener(), c.advertise(), dir,
        RaftMetadataStore.Options.DEFAULTS.withElectionTimeouts(c.electionTimeout(), c.electionTimeout().multipliedBy(2))
            .withLivenessTimeout(c.livenessTimeout()).withTls(Security.raftTls(config.security())));
  }

  /** The address peers and clients should use for {@code bound}: a wildcard listen address gives the host name. */
  private static String advertised(InetSocketAddress bound) {
    String host = bound.getAddress() != null && bound.getAddress().isAnyLocalAddress() ? hostName() : bound.getHostString();
    return host + ":" + bound.getPort();
  }

  private static String hostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "127.0.0.1";
    }
  }

  /** The HTTP endpoint's address, or null when it is off. */
  public InetSocketAddress httpAddress() {
    return http == null ? null : http.address();
  }

  /** True while the broker accepts traffic (started and joined the cluster, not draining): what /readyz says. */
  public boolean ready() {
    return ready && metadata.joined();
  }

  public BrokerMetrics metrics() {
    return metrics;
  }

  /** Starts a broker; it serves until {@link #close()}. */
  public static Broker start(BrokerConfig config) throws IOException {
    if (!org.slf4j.bridge.SLF4JBridgeHandler.isInstalled()) {
      org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
      org.slf4j.bridge.SLF4JBridgeHandler.install();
    }
    log.info("starting herald broker: {}", config.describe());
    Broker b = new Broker(config);
    log.info("herald broker listening on {} (transport {}, {} topics){}", b.address(), b.transport.transport(), b.topics.size(),
        b.http == null ? "" : ", HTTP /metrics /healthz /readyz on " + b.http.address());
    return b;
  }

  /** The bound address (the real port when configured with port 0). */
  public InetSocketAddress address() {
    InetSocketAddress a = (InetSocketAddress) server.getListenSockets().get(0);
    return a;
  }

  public int port() {
    return address().getPort();
  }

  public BrokerConfig config() {
    return config;
  }

  public TopicRegistry topics() {
    return topics;
  }

  /** Graceful shutdown within the configured drain timeout. */
  @Override
  public void close() {
    shutdown(config.drainTimeout());
  }

  /**
   * For tests: stops like a killed process as far as the cluster can tell: nothing is handed over
   * and no clean stop recorded (topics continue in new epochs above their reserved floors), though
   * threads and ports are released.
   */
  public void haltForTests() {
    halt = true;
    closeNow();
  }

  /** The metadata store (tests, status). */
  public RaftMetadataStore metadata() {
    return metadata;
  }

  /** Shutdown without draining; also cuts short a graceful shutdown under way. */
  public void closeNow() {
    drainDeadline.set(System.nanoTime());
    shutdown(Duration.ZERO);
  }

  /** Waits until the broker is closed. */
  public void awaitClosed() throws InterruptedException {
    closed.await();
  }

  private void shutdown(Duration drain) {
    if (!closing.compareAndSet(false, true)) {
      try {
        closed.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return;
    }
    long start = System.nanoTime();
    drainDeadline.accumulateAndGet(start + drain.toNanos(), Math::min);
    log.info("shutting down: draining for up to {}", drain);
    StatusRuntimeException unavailable = Errors.shuttingDown("broker is shutting down; reconnect (to another broker) and retry");
    ready = false;
    try {
      health.enterTerminalState();
      server.shutdown();
      // no new topics come here; the ones it owns are handed over once their loops end (closeAll)
      CompletableFuture<Void> draining = !halt && metadata.cluster().nodes().size() > 1
          ? metadata.drain() : CompletableFuture.completedFuture(null);
      topics.stopAccepting(unavailable);
      peerLinks.stopAccepting(); // batches already forwarded are answered by their owners
      awaitUntilDeadline(() -> peerLinks.awaitDrained(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50)));
      boolean sequenced = awaitUntilDeadline(() -> topics.awaitInboxesEmpty(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50)));
      topics.drainSubscribers();
      boolean drained = awaitUntilDeadline(() -> subscribeService.awaitAllEnded(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50)));
      if (!sequenced || !drained) {
        log.warn("drain deadline passed (inboxes sequenced: {}, subscriptions drained: {}); closing the rest", sequenced, drained);
      }
      awaitQuietly(draining, "marking this node as draining");
      topics.closeAll(unavailable, !halt);
      if (!halt && metadata.cluster().nodes().size() > 1) {
        awaitQuietly(metadata.leave(), "recording that this node left");
        // nodes stopping at the same time (compose down) may still need this node's vote
        metadata.awaitOthersDrained(java.time.Duration.ofSeconds(10));
      }
      publishService.closeAll(unavailable);
      peerForward.closeAll(unavailable);
      subscribeService.awaitAllEnded(System.nanoTime() + TimeUnit.SECONDS.toNanos(2));
      if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    } finally {
      releaseAll();
      log.info("broker stopped after {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      closed.countDown();
    }
  }

  private static void awaitQuietly(CompletableFuture<?> f, String what) throws InterruptedException {
    try {
      f.get(3, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      log.warn("{} failed ({}); the cluster finds out through the liveness timeout", what, e.toString());
    }
  }

  private interface Wait {
    boolean once() throws InterruptedException;
  }

  /** Repeats a short wait until it succeeds or the (movable) drain deadline passes. */
  private boolean awaitUntilDeadline(Wait w) throws InterruptedException {
    while (true) {
      if (w.once()) {
        return true;
      }
      if (System.nanoTime() >= drainDeadline.get()) {
        return false;
      }
    }
  }

  private void releaseAll() {
    if (http != null) {
      http.close();
    }
    if (server != null) {
      server.shutdownNow();
    }
    writers.shutdown();
    admin.shutdown();
    timer.shutdownNow(); // pending init deadlines: their streams are gone with the server
    try {
      if (!writers.awaitTermination(5, TimeUnit.SECONDS)) {
        writers.shutdownNow();
      }
      if (!admin.awaitTermination(5, TimeUnit.SECONDS)) {
        admin.shutdownNow();
      }
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (peerLinks != null) {
      peerLinks.close();
    }
    if (security != null) {
      security.close();
    }
    transport.shutdown(2000);
    metadata.close();
    if (tempDataDir != null) {
      deleteTree(tempDataDir);
    }
  }

  private static void deleteTree(java.nio.file.Path dir) {
    try (var paths = java.nio.file.Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | RuntimeException e) {
      log.warn("could not remove the temporary data dir {}: {}", dir, e.toString());
    }
  }
}
