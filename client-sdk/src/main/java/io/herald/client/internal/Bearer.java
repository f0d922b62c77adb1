package io.herald.client.internal;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.SecurityLevel;
import io.grpc.Status;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client's bearer credential: where its value comes from (a fixed token, a token file re-read
 * when it changes, or the application's supplier), and the {@link CallCredentials} that put it in
 * every call as {@code authorization: Bearer <value>}. Not part of the public API.
 *
 * <p>The value is never in a {@code toString()}, a log line or an exception message: only the kind
 * of source (and a file's name) is.
 *
 * <p>Thread-safe.
 */
public final class Bearer {
  private static final Logger log = LoggerFactory.getLogger(Bearer.class);
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  /** How often, at most, a token file is read again: {@value} ms. */
  public static final long FILE_RECHECK_MILLIS = 1000;
  /** What may go in a header value after {@code Bearer }: visible ASCII, no spaces. */
  private static final Pattern VALID = Pattern.compile("[\\x21-\\x7E]+");

  private enum Kind { TOKEN, FILE, SUPPLIER }

  private final Kind kind;
  private final Path file;
  private final Supplier<String> supplier;
  /** The token, or a file's last good content. */
  private volatile String value;
  private final AtomicLong nextFileCheck = new AtomicLong();
  private volatile String lastFileProblem;

  private Bearer(Kind kind, String value, Path file, Supplier<String> supplier) {
    this.kind = kind;
    this.value = value;
    this.file = file;
    this.supplier = supplier;
  }

  /**
   * A fixed token.
   *
   * @throws IllegalArgumentException if it is empty or holds a character a header cannot carry
   *     (the message never repeats the token)
   */
  public static Bearer token(String token) {
    return new Bearer(Kind.TOKEN, check(Objects.requireNonNull(token, "token").trim(), "the token"), null, null);
  }

  /** A token file, read now (trimmed) and again, at most every {@value #FILE_RECHECK_MILLIS} ms, when calls are made. */
  public static Bearer file(Path file) {
    Objects.requireNonNull(file, "file");
    String v;
    try {
      v = read(file);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the token file " + file + ": " + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : " " + e.getMessage()), e);
    }
    Bearer b = new Bearer(Kind.FILE, v, file, null);
    b.nextFileCheck.set(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FILE_RECHECK_MILLIS));
    return b;
  }

  /** The application's supplier, asked on the client's callback executor for every call. */
  public static Bearer supplier(Supplier<String> supplier) {
    return new Bearer(Kind.SUPPLIER, null, null, Objects.requireNonNull(supplier, "supplier"));
  }

  private static String read(Path file) throws IOException {
    String v = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).trim();
    try {
      return check(v, "the token file " + file);
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage());
    }
  }

  private static String check(String v, String what) {
    if (v.isEmpty()) {
      throw new IllegalArgumentException(what + " is empty");
    }
    if (!VALID.matcher(v).matches()) {
      throw new IllegalArgumentException(what + " holds a space, a control or a non-ASCII character, which a header cannot carry"
          + " (a token file holds the token alone, on one line)");
    }
    return v;
  }

  /** The value to send now. A file is read again if its last read is older than the recheck interval. */
  String current() {
    switch (kind) {
      case TOKEN:
        return value;
      case FILE:
        long now = System.nanoTime();
        long due = nextFileCheck.get();
        if (now - due >= 0 && nextFileCheck.compareAndSet(due, now + TimeUnit.MILLISECONDS.toNanos(FILE_RECHECK_MILLIS))) {
          reread();
        }
        return value;
      default:
        String v = supplier.get();
        if (v == null) {
          throw new IllegalStateException("the credentials supplier returned null");
        }
        return check(v.trim(), "the credential the supplier returned");
    }
  }

  private void reread() {
    try {
      String v = read(file);
      if (!v.equals(value)) {
        log.info("token file {} changed; sending the new token from now on", file);
        value = v;
      }
      lastFileProblem = null;
    } catch (IOException e) {
      String problem = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
      if (!problem.equals(lastFileProblem)) {
        log.warn("token file {} cannot be read ({}); sending the last token read from it", file, problem);
        lastFileProblem = problem;
      }
    }
  }

  /** What the source is, without the value: for toString and messages. */
  public String describe() {
    return switch (kind) {
      case TOKEN -> "token (hidden)";
      case FILE -> "token file " + file;
      case SUPPLIER -> "credentials supplier";
    };
  }

  @Override
  public String toString() {
    return "Bearer[" + describe() + "]";
  }

  /**
   * The call credentials of a client.
   *
   * @param plaintextAllowed whether the value may go over a connection without TLS (loopback, or
   *     the application said so); if not, such a call fails with UNAUTHENTICATED before it is sent
   * @param executor where a supplier runs (it may block); a token or file is read on the caller's thread
   */
  CallCredentials callCredentials(boolean plaintextAllowed, Executor executor) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor appExecutor, MetadataApplier applier) {
        if (info.getSecurityLevel() != SecurityLevel.PRIVACY_AND_INTEGRITY && !plaintextAllowed) {
          applier.fail(Status.UNAUTHENTICATED.withDescription("not sending the bearer credential (" + describe()
              + ") over a connection without TLS to " + info.getAuthority() + ": configure TLS (HeraldClient.Builder.tls), or, on a"
              + " network you trust, allowCredentialsOverPlaintext(true)"));
          return;
        }
        if (kind != Kind.SUPPLIER) {
          apply(applier);
          return;
        }
        try {
          executor.execute(() -> apply(applier));
        } catch (RejectedExecutionException e) {
          applier.fail(Status.UNAVAILABLE.withDescription("the client is closing").withCause(e));
        }
      }

      private void apply(MetadataApplier applier) {
        String v;
        try {
          v = current();
        } catch (RuntimeException e) {
          // the message of a supplier's exception is not ours to show (it might hold a secret): its type is
          applier.fail(Status.UNAUTHENTICATED.withDescription("no bearer credential to send: the " + describe() + " failed ("
              + e.getClass().getName() + ")").withCause(e));
          return;
        }
        Metadata m = new Metadata();
        m.put(AUTHORIZATION, "Bearer " + v);
        applier.apply(m);
      }
    };
  }

  /**
   * Whether every address is on this machine: {@code localhost}, 127.0.0.0/8 or {@code ::1} as
   * written (no name is looked up). A target ({@code dns:///host:port}) counts by its host.
   */
  public static boolean loopbackOnly(List<String> hostPorts, String target) {
    if (target != null) {
      return isLoopbackHost(hostOfTarget(target));
    }
    if (hostPorts.isEmpty()) {
      return false;
    }
    for (String hp : hostPorts) {
      if (!isLoopbackHost(ClientCore.parse(hp).getHostString())) {
        return false;
      }
    }
    return true;
  }

  /** Whether an authority ({@code host:port}, {@code [::1]:port}, or a host) names this machine. */
  public static boolean isLoopbackAuthority(String authority) {
    if (authority == null) {
      return false;
    }
    String host = authority;
    if (host.startsWith("[")) {
      int end = host.indexOf(']');
      host = end < 0 ? host : host.substring(1, end);
    } else if (host.indexOf(':') == host.lastIndexOf(':') && host.indexOf(':') >= 0) {
      host = host.substring(0, host.indexOf(':'));
    }
    return isLoopbackHost(host);
  }

  private static String hostOfTarget(String target) {
    try {
      URI u = new URI(target);
      if (u.getScheme() == null) {
        return isLoopbackAuthority(target) ? "localhost" : null;
      }
      String path = u.getPath() == null ? "" : u.getPath();
      String name = path.startsWith("/") ? path.substring(1) : path;
      return name.isEmpty() ? null : isLoopbackAuthority(name) ? "localhost" : null;
    } catch (java.net.URISyntaxException e) {
      return isLoopbackAuthority(target) ? "localhost" : null;
    }
  }

  static boolean isLoopbackHost(String host) {
    if (host == null) {
      return false;
    }
    String h = host.toLowerCase(java.util.Locale.ROOT);
    if (h.equals("localhost") || h.equals("::1") || h.equals("0:0:0:0:0:0:0:1")) {
      return true;
    }
    return h.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }
}
