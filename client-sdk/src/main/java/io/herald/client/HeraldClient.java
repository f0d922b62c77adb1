package io.herald.client;

import io.grpc.ManagedChannel;
import io.herald.client.internal.AdminClientImpl;
import io.herald.client.internal.Bearer;
import io.herald.client.internal.ClientCore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The entry point: one connection to a Herald cluster (any broker serves any client), from which
 * publishers, subscriptions and the admin client are made.
 *
 * <pre>{@code
 * try (HeraldClient herald = HeraldClient.builder().endpoints("127.0.0.1:7070").build()) {
 *   Publisher pub = herald.publisher("orders").create();
 *   pub.publish(Event.of("order.created", bytes)).join();
 *   Subscription sub = herald.subscriber("orders")
 *       .handler(d -> process(d.event()))
 *       .onGap(gap -> log.warn("lost {}", gap))
 *       .subscribe();
 * }
 * }</pre>
 *
 * <h2>Threads</h2>
 * A client owns: one network thread ({@code herald-client-io}), one timer thread
 * ({@code herald-client-timer}, for linger and backoff) and, unless you pass your own
 * {@link Builder#callbackExecutor}, a callback pool of {@value #DEFAULT_CALLBACK_THREADS} threads
 * ({@code herald-client-callback-N}). User code (handlers, listeners, receipt continuations) runs
 * only on the callback executor, never on the network thread. {@link #close()} stops all of them.
 *
 * <p>Thread-safe. {@link #close()} is idempotent and bounded.
 */
public final class HeraldClient implements AutoCloseable {
  /** Default callback pool size: {@value}. Handlers that block for long need more, or your own executor. */
  public static final int DEFAULT_CALLBACK_THREADS = 4;
  /** Default keepalive ping interval in seconds: {@value} (brokers permit 10 s and more). */
  public static final long DEFAULT_KEEPALIVE_SECONDS = 30;
  /** Default timeout of admin calls, in seconds: {@value}. */
  public static final long DEFAULT_CALL_TIMEOUT_SECONDS = 10;
  /** Time {@link #close()} gives publishers to flush, in seconds: {@value}. */
  public static final long DEFAULT_CLOSE_TIMEOUT_SECONDS = 10;
  /** Shortest keepalive interval brokers permit, in seconds: {@value}. */
  public static final long MIN_KEEPALIVE_SECONDS = 10;
  /** Default client name: {@value}. */
  public static final String DEFAULT_NAME = "herald-client";
  /** Longest the connection and the client's threads get to stop after the flush, in seconds: {@value}. */
  public static final long MAX_STOP_SECONDS = 12;

  private final ClientCore core;
  private final AdminClient admin;
  private final String description;

  private HeraldClient(ClientCore core, String description) {
    this.core = core;
    this.admin = new AdminClientImpl(core);
    this.description = description;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Configures a publisher for {@code topic}. */
  public PublisherBuilder publisher(String topic) {
    core.checkOpen();
    return new PublisherBuilder(core, topic);
  }

  /** Configures a subscription to {@code topic}. */
  public SubscriptionBuilder subscriber(String topic) {
    core.checkOpen();
    return new SubscriptionBuilder(core, topic);
  }

  /** Topic management. */
  public AdminClient admin() {
    return admin;
  }

  /** The client's name, sent to brokers in the user agent. */
  public String name() {
    return core.name();
  }

  /** The name, where it connects, its TLS settings and the kind of credential; never the credential. */
  @Override
  public String toString() {
    return "HeraldClient" + description;
  }

  /** {@link #close(Duration)} with {@value #DEFAULT_CLOSE_TIMEOUT_SECONDS} s. */
  @Override
  public void close() {
    close(Duration.ofSeconds(DEFAULT_CLOSE_TIMEOUT_SECONDS));
  }

  /**
   * Closes the client: publishers flush for up to {@code timeout} in all (what is still not
   * acknowledged then fails with {@link HeraldException.ClosedException}), subscriptions close, then
   * the connection and the client's threads stop. New publishers and subscriptions are refused from
   * the moment this starts; one created concurrently is either refused or closed by it. Returns
   * within {@code timeout} plus at most {@value #MAX_STOP_SECONDS} s for the connection and threads.
   * Idempotent: a later or concurrent call waits for the first to finish.
   *
   * @param timeout how long publishers may flush, &gt;= 0 ({@link Duration#ZERO}: fail what is pending at once)
   */
  public void close(Duration timeout) {
    if (timeout == null || timeout.isNegative()) {
      throw new IllegalArgumentException("close timeout must be >= 0; got " + timeout);
    }
    core.close(timeout);
  }

  /** {@link #close()} on a separate thread; the future completes when the client is closed. */
  public CompletableFuture<Void> closeAsync() {
    return core.closeAsync(Duration.ofSeconds(DEFAULT_CLOSE_TIMEOUT_SECONDS));
  }

  /** Configures a {@link HeraldClient}. Not thread-safe. */
  public static final class Builder {
    private final List<String> endpoints = new ArrayList<>();
    private String target;
    private ManagedChannel channel;
    private String name = DEFAULT_NAME;
    private Tls tls = Tls.plaintext();
    private Duration keepAlive = Duration.ofSeconds(DEFAULT_KEEPALIVE_SECONDS);
    private Duration callTimeout = Duration.ofSeconds(DEFAULT_CALL_TIMEOUT_SECONDS);
    private Executor callbackExecutor;
    private ConnectionListener listener;
    private RetrySettings retry = RetrySettings.DEFAULT;
    private io.opentelemetry.api.OpenTelemetry openTelemetry;
    private String token;
    private Path tokenFile;
    private Supplier<String> credentials;
    private boolean credentialsOverPlaintext;

    private Builder() { }

    /**
     * Where trace context propagation comes from: publishers put the current W3C {@code traceparent}
     * (and {@code tracestate}) into each event's attributes, and handlers run inside the context
     * extracted from them. Default: {@code GlobalOpenTelemetry}, a no-op until an OpenTelemetry SDK
     * is installed.
     */
    public Builder openTelemetry(io.opentelemetry.api.OpenTelemetry openTelemetry) {
      this.openTelemetry = Objects.requireNonNull(openTelemetry, "openTelemetry");
      return this;
    }

    /**
     * Brokers as {@code host:port} ({@code [::1]:7070} for IPv6); the client uses any that answers and
     * fails over to the others. Set exactly one of endpoints, {@link #target} and {@link #channel}.
     */
    public Builder endpoints(String... hostPorts) {
      endpoints.addAll(Arrays.asList(hostPorts));
      return this;
    }

    /** A gRPC target instead of endpoints, e.g. {@code dns:///herald.internal:7070}. */
    public Builder target(String target) {
      this.target = Objects.requireNonNull(target, "target");
      return this;
    }

    /**
     * Uses a channel you built yourself (for custom transport settings). The client does not own
     * it and does not shut it down; TLS, keepalive and endpoints settings are then yours.
     */
    public Builder channel(ManagedChannel channel) {
      this.channel = Objects.requireNonNull(channel, "channel");
      return this;
    }

    /** Identifies this client to brokers (user agent, logs); default {@value HeraldClient#DEFAULT_NAME}. */
    public Builder name(String name) {
      this.name = Objects.requireNonNull(name, "name");
      return this;
    }

    /** Transport security; default {@link Tls#plaintext()}. */
    public Builder tls(Tls tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * Keepalive ping interval while calls are open, at least {@value HeraldClient#MIN_KEEPALIVE_SECONDS} s
     * (brokers refuse more frequent pings and close the connection); default
     * {@value HeraldClient#DEFAULT_KEEPALIVE_SECONDS} s.
     */
    public Builder keepAlive(Duration interval) {
      if (interval.compareTo(Duration.ofSeconds(MIN_KEEPALIVE_SECONDS)) < 0) {
        throw new IllegalArgumentException("keepAlive must be at least 10s (the broker's permitted minimum); got " + interval);
      }
      this.keepAlive = interval;
      return this;
    }

    /**
     * Timeout of admin calls and of {@code subscribe()} waiting for the broker's confirmation, &gt; 0;
     * default {@value HeraldClient#DEFAULT_CALL_TIMEOUT_SECONDS} s.
     */
    public Builder callTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("callTimeout must be positive; got " + timeout);
      }
      this.callTimeout = timeout;
      return this;
    }

    /**
     * Where handlers, listeners and receipt continuations run. Not shut down by the client.
     * Default: a pool of {@value HeraldClient#DEFAULT_CALLBACK_THREADS} daemon threads the client owns.
     */
    public Builder callbackExecutor(Executor executor) {
      this.callbackExecutor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /** Told of connects, losses, reconnects, resubscriptions and close; default none. */
    public Builder connectionListener(ConnectionListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Backoff for reconnects and publish retries, and the total timeout of a publish; default
     * {@link RetrySettings#DEFAULT} (100 ms doubling up to 5 s; a publish given up after 2 minutes).
     * A publisher may set its own ({@link PublisherBuilder#retry}).
     */
    public Builder retry(RetrySettings retry) {
      this.retry = Objects.requireNonNull(retry, "retry");
      return this;
    }

    /**
     * A bearer token (e.g. one {@code herald token new} made) sent on every call as
     * {@code authorization: Bearer <token>}, for a broker with {@code --auth token} (or a JWT, for
     * {@code --auth jwt}). Surrounding whitespace is trimmed. Set at most one of {@code token},
     * {@link #tokenFile} and {@link #credentials}. The token is never printed: not by
     * {@link #toString()}, a log line or an exception.
     *
     * <p>Without TLS the client sends a credential only to a loopback address ({@code localhost},
     * 127.0.0.0/8, ::1), unless {@link #allowCredentialsOverPlaintext(boolean)} says otherwise.
     *
     * @throws IllegalArgumentException if it is empty or holds a space or a character a header
     *     cannot carry
     */
    public Builder token(String token) {
      Objects.requireNonNull(token, "token");
      checkNoCredential();
      Bearer.token(token); // checks it now, where the caller made the mistake
      this.token = token;
      return this;
    }

    /**
     * A file holding the bearer token alone (trimmed), e.g. a mounted Kubernetes secret. Read by
     * {@link #build()} (which fails if it cannot), then read again at most once a second while calls are made, so a rotated
     * token is sent from the next call on (streams already open keep the credential they were
     * opened with). A version that cannot be read or is empty is logged (never its content) and
     * the last good token is kept. Set at most one of {@link #token}, {@code tokenFile} and {@link #credentials}.
     */
    public Builder tokenFile(Path file) {
      Objects.requireNonNull(file, "file");
      checkNoCredential();
      this.tokenFile = file;
      return this;
    }

    /**
     * Your own source of the bearer value (a token or a JWT you refresh), asked for every call the
     * client opens, on the client's callback executor (so it may block briefly, e.g. to renew a
     * JWT, though caching is better). A null or a throw fails the call with UNAUTHENTICATED (the
     * exception's type is reported, not its message). Set at most one of {@link #token},
     * {@link #tokenFile} and {@code credentials}.
     */
    public Builder credentials(Supplier<String> bearer) {
      Objects.requireNonNull(bearer, "bearer");
      checkNoCredential();
      this.credentials = bearer;
      return this;
    }

    /**
     * Whether the bearer credential may go over a connection without TLS to an address that is
     * not loopback; default false: {@link #build()} refuses that combination, and a call on a
     * plaintext {@link #channel} to another host fails with UNAUTHENTICATED before it is sent.
     * Anyone on the network path could read and replay the token: set this only on a network you
     * trust.
     */
    public Builder allowCredentialsOverPlaintext(boolean allow) {
      this.credentialsOverPlaintext = allow;
      return this;
    }

    private void checkNoCredential() {
      String set = credentialKind();
      if (set != null) {
        throw new IllegalStateException("a credential was already set (" + set + "); set one of token, tokenFile and credentials");
      }
    }

    private String credentialKind() {
      return token != null ? "token (hidden)" : tokenFile != null ? "token file " + tokenFile : credentials != null ? "credentials supplier"
          : null;
    }

    /** The settings, with the kind of credential but never its value. */
    @Override
    public String toString() {
      String credential = credentialKind();
      return "[name=" + name + ", " + (channel != null ? "channel=" + channel.authority() : target != null ? "target=" + target
          : "endpoints=" + endpoints) + ", tls=" + tls + ", credential=" + (credential == null ? "none" : credential)
          + (credentialsOverPlaintext ? " (allowed over plaintext)" : "") + "]";
    }

    /** Connects (lazily: the first call opens the connection) and returns the client. */
    public HeraldClient build() {
      if (channel == null && target == null && endpoints.isEmpty()) {
        throw new IllegalStateException("set endpoints(\"host:port\", ...), target(...) or channel(...)");
      }
      if ((target != null ? 1 : 0) + (endpoints.isEmpty() ? 0 : 1) + (channel != null ? 1 : 0) > 1) {
        throw new IllegalStateException("set only one of endpoints, target and channel");
      }
      Bearer bearer = token != null ? Bearer.token(token) : tokenFile != null ? Bearer.file(tokenFile)
          : credentials != null ? Bearer.supplier(credentials) : null;
      if (bearer != null && channel == null && !tls.enabled() && !credentialsOverPlaintext
          && !Bearer.loopbackOnly(List.copyOf(endpoints), target)) {
        throw new IllegalStateException("refusing to send a bearer credential (" + bearer.describe() + ") without TLS to "
            + (target != null ? target : String.join(",", endpoints)) + ": set tls(Tls.systemTrust()) or tls(Tls.trustCertificates(caPem)),"
            + " or, on a network you trust, allowCredentialsOverPlaintext(true)");
      }
      String description = toString();
      return new HeraldClient(new ClientCore(new ClientCore.Settings(List.copyOf(endpoints), target, channel, name, tls,
          keepAlive, callTimeout, callbackExecutor, listener, retry, openTelemetry, bearer, credentialsOverPlaintext)), description);
    }
  }
}
