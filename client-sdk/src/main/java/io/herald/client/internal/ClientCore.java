package io.herald.client.internal;

import io.grpc.CallCredentials;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.NameResolver;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.herald.client.ConnectionListener;
import io.herald.client.HeraldException;
import io.herald.client.RetrySettings;
import io.herald.client.Tls;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a {@code HeraldClient} owns: the channel (and its event loop), the timer, the callback
 * executor, and the open publishers and subscriptions, so that {@link #close} can stop them all.
 * Not part of the public API.
 */
public final class ClientCore {
  private static final Logger log = LoggerFactory.getLogger(ClientCore.class);

  /** Everything the builder collected. */
  public record Settings(List<String> endpoints, String target, ManagedChannel channel, String name, Tls tls,
      Duration keepAlive, Duration callTimeout, Executor callbackExecutor, ConnectionListener listener, RetrySettings retry,
      io.opentelemetry.api.OpenTelemetry openTelemetry, Bearer bearer, boolean credentialsOverPlaintext) { }

  /** Something the core closes: publishers and subscriptions. */
  public interface Resource {
    void closeFor(Duration timeout);
  }

  private final Settings settings;
  private final ManagedChannel channel;
  /** {@link #channel} with the bearer credential on every call, if there is one. */
  private final Channel calls;
  private final boolean ownsChannel;
  private final EventLoopGroup eventLoop;
  private final ScheduledThreadPoolExecutor timer;
  private final Executor callbacks;
  private final ExecutorService ownedCallbacks;
  private final SerialExecutor listenerExecutor;
  /**
   * Guards the decision "registered before close, so close closes it" against "registered after,
   * so refused": {@link #register} checks and adds, and {@link #close} sets {@code closed} and takes
   * its snapshot, under this lock. Nothing else is done under it.
   */
  private final Object registration = new Object();
  private final Set<Resource> resources = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final CompletableFuture<Void> closedFuture = new CompletableFuture<>();
  private volatile boolean everConnected;
  private final Tracing tracing;

  public ClientCore(Settings s) {
    this.settings = s;
    this.tracing = new Tracing(s.openTelemetry());
    AtomicInteger n = new AtomicInteger();
    this.timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "herald-client-timer");
      t.setDaemon(true);
      return t;
    });
    timer.setRemoveOnCancelPolicy(true);
    if (s.callbackExecutor() != null) {
      this.callbacks = s.callbackExecutor();
      this.ownedCallbacks = null;
    } else {
      ThreadPoolExecutor pool = new ThreadPoolExecutor(io.herald.client.HeraldClient.DEFAULT_CALLBACK_THREADS,
          io.herald.client.HeraldClient.DEFAULT_CALLBACK_THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "herald-client-callback-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
          });
      pool.allowCoreThreadTimeOut(true);
      this.callbacks = pool;
      this.ownedCallbacks = pool;
    }
    this.listenerExecutor = new SerialExecutor(callbacks);
    if (s.channel() != null) {
      this.channel = s.channel();
      this.ownsChannel = false;
      this.eventLoop = null;
    } else {
      this.eventLoop = new NioEventLoopGroup(1, new DefaultThreadFactory("herald-client-io", true));
      this.channel = buildChannel(s, eventLoop);
      this.ownsChannel = true;
    }
    this.calls = s.bearer() == null ? channel : withCredentials(channel, s.bearer().callCredentials(
        s.credentialsOverPlaintext() || Bearer.isLoopbackAuthority(channel.authority()) || s.channel() == null
            && Bearer.loopbackOnly(s.endpoints(), s.target()), callbacks));
    watchState(ConnectivityState.IDLE);
  }

  /** Every call on {@code channel} carries {@code credentials}, unless the caller set its own. */
  private static Channel withCredentials(ManagedChannel channel, CallCredentials credentials) {
    return ClientInterceptors.intercept(channel, new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        return next.newCall(method, options.getCredentials() == null ? options.withCallCredentials(credentials) : options);
      }
    });
  }

  private static ManagedChannel buildChannel(Settings s, EventLoopGroup group) {
    NettyChannelBuilder b;
    if (s.target() != null) {
      b = NettyChannelBuilder.forTarget(s.target());
    } else if (s.endpoints().size() == 1) {
      InetSocketAddress a = parse(s.endpoints().get(0));
      b = NettyChannelBuilder.forAddress(a.getHostString(), a.getPort());
    } else {
      List<InetSocketAddress> addresses = new ArrayList<>();
      for (String e : s.endpoints()) {
        addresses.add(parse(e));
      }
      b = staticTarget(addresses);
    }
    b.eventLoopGroup(group)
        .channelType(NioSocketChannel.class)
        .directExecutor() // the SDK's observers never block; user code goes to the callback executor
        .userAgent(s.name())
        .keepAliveTime(s.keepAlive().toMillis(), TimeUnit.MILLISECONDS)
        .keepAliveWithoutCalls(false)
        .maxInboundMessageSize(8 << 20);
    if (s.tls().enabled()) {
      b.sslContext(sslContext(s.tls())).useTransportSecurity();
    } else {
      b.usePlaintext();
    }
    return b.build();
  }

  /**
   * The client-side TLS context of {@code tls}: its trust (the JVM's, or a PEM file) and its client
   * certificate, if any. Public for the CLI's benchmark, which builds its own channels.
   *
   * @throws IllegalArgumentException if a file does not load (not PEM, a key that is not PKCS#8, a
   *     key that does not match the certificate)
   */
  public static SslContext sslContext(Tls tls) {
    try {
      var ssl = GrpcSslContexts.forClient();
      if (tls.trustCertificatesFile() != null) {
        ssl.trustManager(tls.trustCertificatesFile().toFile());
      }
      if (tls.clientCertificateFile() != null) {
        ssl.keyManager(tls.clientCertificateFile().toFile(), tls.clientKeyFile().toFile());
      }
      return ssl.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("cannot set up TLS with " + tls + ": " + e.getMessage()
          + (tls.clientKeyFile() == null ? "" : " (the client key must be an unencrypted PKCS#8 PEM, -----BEGIN PRIVATE KEY-----)"), e);
    }
  }

  @SuppressWarnings("deprecation") // a fixed address list needs its own resolver; the factory hook is the way to scope it to this channel
  private static NettyChannelBuilder staticTarget(List<InetSocketAddress> endpoints) {
    NameResolver.Factory factory = new NameResolver.Factory() {
      @Override
      public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
        return new NameResolver() {
          private Listener2 listener;

          @Override
          public String getServiceAuthority() {
            return "herald";
          }

          @Override
          public void start(Listener2 l) {
            this.listener = l;
            resolve();
          }

          /** Looks the names up again on every refresh: a restarted broker may have a new address. */
          @Override
          public void refresh() {
            resolve();
          }

          private void resolve() {
            List<EquivalentAddressGroup> groups = new ArrayList<>();
            for (InetSocketAddress e : endpoints) {
              InetSocketAddress resolved = new InetSocketAddress(e.getHostString(), e.getPort());
              if (!resolved.isUnresolved()) {
                groups.add(new EquivalentAddressGroup(resolved));
              }
            }
            if (groups.isEmpty()) {
              listener.onError(io.grpc.Status.UNAVAILABLE.withDescription("none of the endpoints " + endpoints + " resolves"));
            } else {
              listener.onResult(ResolutionResult.newBuilder().setAddresses(groups).build());
            }
          }

          @Override
          public void shutdown() { }
        };
      }

      @Override
      public String getDefaultScheme() {
        return "herald-static";
      }
    };
    return NettyChannelBuilder.forTarget("herald-static:///brokers").nameResolverFactory(factory);
  }

  static InetSocketAddress parse(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException("endpoint '" + hostPort + "' is not host:port");
    }
    try {
      String host = hostPort.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      return InetSocketAddress.createUnresolved(host, Integer.parseInt(hostPort.substring(colon + 1)));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("endpoint '" + hostPort + "' has a port that is not a number");
    }
  }

  private void watchState(ConnectivityState last) {
    if (closed.get()) {
      return;
    }
    ConnectivityState now = channel.getState(false);
    if (now != last) {
      if (now == ConnectivityState.READY) {
        notifyListener(everConnected ? ConnectionListener.Kind.RECONNECTED : ConnectionListener.Kind.CONNECTED, channel.authority());
        everConnected = true;
      } else if (last == ConnectivityState.READY && (now == ConnectivityState.TRANSIENT_FAILURE || now == ConnectivityState.IDLE)) {
        notifyListener(ConnectionListener.Kind.DISCONNECTED, channel.authority());
      }
    }
    if (now != ConnectivityState.SHUTDOWN) {
      channel.notifyWhenStateChanged(now, () -> watchState(now));
    }
  }

  public void notifyListener(ConnectionListener.Kind kind, String detail) {
    ConnectionListener l = settings.listener();
    if (l != null) {
      listenerExecutor.execute(() -> l.onEvent(kind, detail));
    }
  }

  /** Where calls go: the channel, with the client's bearer credential on every call if it has one. */
  public Channel channel() {
    return calls;
  }

  public Executor callbacks() {
    return callbacks;
  }

  public RetrySettings retry() {
    return settings.retry();
  }

  /** Trace context propagation for events (W3C traceparent in attributes). */
  public Tracing tracing() {
    return tracing;
  }

  public Duration callTimeout() {
    return settings.callTimeout();
  }

  public String name() {
    return settings.name();
  }

  /** Runs {@code task} after {@code delayMillis} on the timer; no-op once closed. */
  public ScheduledFuture<?> schedule(Runnable task, long delayMillis) {
    if (closed.get()) {
      return null;
    }
    try {
      return timer.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      return null;
    }
  }

  public boolean isClosed() {
    return closed.get();
  }

  public void checkOpen() {
    if (closed.get()) {
      throw new HeraldException.ClosedException("the client is closed");
    }
  }

  /**
   * Adds a publisher or subscription that {@link #close} will close; throws
   * {@link HeraldException.ClosedException} once close has begun. Register before starting any
   * stream, so that a resource either is closed by close or never starts.
   */
  public <T extends Resource> T register(T r) {
    synchronized (registration) {
      checkOpen();
      resources.add(r);
    }
    return r;
  }

  public void unregister(Resource r) {
    resources.remove(r);
  }

  public CompletableFuture<Void> closeAsync(Duration timeout) {
    if (closed.get()) {
      return closedFuture; // closing or closed already: no thread for a second close
    }
    Thread t = new Thread(() -> close(timeout), "herald-client-close");
    t.setDaemon(true);
    t.start();
    return closedFuture;
  }

  /** Closes publishers (flushing up to {@code timeout} in all), then subscriptions, then the channel and threads. */
  public void close(Duration timeout) {
    List<Resource> toClose;
    synchronized (registration) {
      toClose = closed.compareAndSet(false, true) ? new ArrayList<>(resources) : null;
    }
    if (toClose == null) {
      closedFuture.join();
      return;
    }
    // publishers flush first, while subscriptions still run (one may be what the flush waits for)
    toClose.sort(java.util.Comparator.comparingInt(r -> r instanceof PublisherImpl ? 0 : 1));
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      for (Resource r : toClose) {
        long left = Math.max(0, deadline - System.nanoTime());
        r.closeFor(Duration.ofNanos(left));
      }
      resources.clear();
      if (ownsChannel) {
        channel.shutdown();
        if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
          channel.shutdownNow();
          channel.awaitTermination(2, TimeUnit.SECONDS);
        }
        eventLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
      }
      timer.shutdownNow();
      timer.awaitTermination(2, TimeUnit.SECONDS);
      notifyListener(ConnectionListener.Kind.CLOSED, name()); // queued before the pool stops, so it runs
      if (ownedCallbacks != null) {
        ownedCallbacks.shutdown();
        if (!ownedCallbacks.awaitTermination(2, TimeUnit.SECONDS)) {
          ownedCallbacks.shutdownNow();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      closedFuture.complete(null);
    }
  }
}
