package io.herald.broker.security;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The parsed value of a file that may change while the broker runs ({@code --auth-tokens},
 * {@code --auth-jwks}, {@code --acl}): parsed once at {@link #open}, then polled, and the new value
 * swapped in when the file's content changes.
 *
 * <p><b>Change detection.</b> Polling, not a {@code WatchService}: watch events miss changes made
 * through bind mounts and Kubernetes' ConfigMap/Secret updates (a symlink swap of a parent
 * folder). Each poll reads the file's attributes (following links): modification time, size and
 * file key (inode). If they changed, or the modification time is so recent (under
 * {@link #RACY_WINDOW_MILLIS} ms before the poll) that a same-size rewrite within the file system's
 * time granularity could hide, the content is read and its SHA-256 compared with the last content
 * seen; only different content is parsed.
 *
 * <p><b>Faults.</b> A file that cannot be read or parsed at {@link #open} throws
 * {@link IllegalArgumentException} (the parser's message names the file and the line or entry at
 * fault), so the broker refuses to start. Later, a bad version keeps the last good value and logs
 * one WARN naming the file and the fault: once per bad content, and once per read failure until
 * the file is readable again. Only the parser's message is logged, never the content; parsers must
 * not put secrets in their messages. Files over {@link #MAX_BYTES} bytes, and bytes that are not
 * UTF-8, are refused.
 *
 * <p><b>Threads.</b> {@link #current()} may be called from any thread: it reads a volatile
 * reference, and each value is immutable (the parser's responsibility). Polls run on the caller's
 * timer, one at a time; {@link #onReload} listeners run on that timer thread after the swap and
 * must not block. {@link #close()} cancels the poll task (the timer belongs to the caller and is
 * not shut down) and is idempotent.
 *
 * @param <T> the parsed value, immutable
 */
public final class ReloadingFile<T> implements AutoCloseable {
  /** Parses a file's text, throwing {@link IllegalArgumentException} with an actionable message (no secrets). */
  @FunctionalInterface
  public interface Parser<T> {
    /**
     * The value the text stands for.
     *
     * @param text the file's content
     * @param source names the file in messages (its path)
     */
    T parse(String text, String source);
  }

  /** The largest file read, in bytes: {@value}. */
  public static final long MAX_BYTES = 8L << 20;
  /** A file modified less than this many milliseconds before a poll is read again at the next poll: {@value}. */
  public static final long RACY_WINDOW_MILLIS = 2_000;

  private static final Logger log = LoggerFactory.getLogger(ReloadingFile.class);

  /** What a poll compares before reading the content. */
  private record Stamp(FileTime modified, long size, Object fileKey) { }

  private final Path file;
  private final String source;
  private final Parser<T> parser;
  private final List<Consumer<? super T>> listeners = new CopyOnWriteArrayList<>();
  private volatile T current;
  private volatile Instant loadedAt;
  private volatile boolean closed;
  private volatile ScheduledFuture<?> task;

  private final Object pollLock = new Object();
  @GuardedBy("pollLock") private Stamp stamp;
  @GuardedBy("pollLock") private long stampedAtMillis;
  @GuardedBy("pollLock") private byte[] hash;
  @GuardedBy("pollLock") private String readProblem;

  private ReloadingFile(Path file, Parser<T> parser) {
    this.file = file;
    this.source = file.toString();
    this.parser = parser;
  }

  /**
   * Reads and parses {@code file} now, then polls it every {@code poll} on {@code timer}.
   *
   * @throws IllegalArgumentException if the file cannot be read or parsed (the message says why
   *     and where), or {@code poll} is not positive
   */
  public static <T> ReloadingFile<T> open(Path file, Parser<T> parser, ScheduledExecutorService timer, Duration poll) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(parser, "parser");
    Objects.requireNonNull(timer, "timer");
    if (poll == null || poll.isNegative() || poll.isZero()) {
      throw new IllegalArgumentException("the poll interval of " + file + " must be positive, was " + poll);
    }
    ReloadingFile<T> f = new ReloadingFile<>(file, parser);
    synchronized (f.pollLock) {
      long now = System.currentTimeMillis();
      Stamp stamp;
      byte[] bytes;
      try {
        stamp = stamp(file);
        bytes = read(file, stamp);
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read " + file + ": " + describe(e), e);
      }
      T value = f.parser.parse(text(bytes, f.source), f.source);
      f.current = Objects.requireNonNull(value, "the parser returned null");
      f.loadedAt = Instant.now();
      f.stamp = stamp;
      f.stampedAtMillis = now;
      f.hash = sha256(bytes);
    }
    long millis = Math.max(1, poll.toMillis());
    f.task = timer.scheduleWithFixedDelay(f::pollQuietly, millis, millis, TimeUnit.MILLISECONDS);
    return f;
  }

  /** The value of the last good version of the file. */
  public T current() {
    return current;
  }

  /** The file. */
  public Path file() {
    return file;
  }

  /** Calls {@code listener} with each new value, on the timer thread, after it became {@link #current()}. */
  public void onReload(Consumer<? super T> listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  /** Stops polling; {@link #current()} keeps its value. Idempotent. */
  @Override
  public void close() {
    closed = true;
    ScheduledFuture<?> t = task;
    if (t != null) {
      t.cancel(false);
    }
  }

  private void pollQuietly() {
    try {
      poll();
    } catch (RuntimeException e) { // an exception would silently cancel the timer task
      log.warn("{}: checking for changes failed ({}); will try again", source, e.getClass().getName(), e);
    }
  }

  /** Checks the file once; true if a new value was swapped in. Package-private for tests. */
  boolean poll() {
    List<Consumer<? super T>> notify;
    T value;
    synchronized (pollLock) {
      if (closed) {
        return false;
      }
      long now = System.currentTimeMillis();
      Stamp seen;
      byte[] bytes;
      try {
        seen = stamp(file);
        // modified shortly before the last read: a same-size rewrite may not have changed the time
        boolean racy = stamp != null && stampedAtMillis - stamp.modified().toMillis() < RACY_WINDOW_MILLIS;
        if (seen.equals(stamp) && !racy) {
          return false;
        }
        bytes = read(file, seen);
      } catch (IOException e) {
        String problem = "cannot read it (" + describe(e) + ")";
        if (!problem.equals(readProblem)) {
          log.warn("{}: {}; keeping the version loaded at {}", source, problem, loadedAt);
        }
        readProblem = problem;
        stamp = null;
        return false;
      }
      stamp = seen;
      stampedAtMillis = now;
      if (readProblem != null) {
        log.info("{} is readable again", source);
        readProblem = null;
      }
      byte[] h = sha256(bytes);
      if (MessageDigest.isEqual(h, hash)) {
        return false;
      }
      hash = h;
      try {
        value = Objects.requireNonNull(parser.parse(text(bytes, source), source), "the parser returned null");
      } catch (IllegalArgumentException e) {
        log.warn("{} changed but is not valid, keeping the version loaded at {}: {}", source, loadedAt, e.getMessage());
        return false;
      } catch (RuntimeException e) {
        log.warn("{} changed but could not be parsed ({}), keeping the version loaded at {}", source, e.getClass().getName(), loadedAt);
        return false;
      }
      current = value;
      loadedAt = Instant.now();
      notify = List.copyOf(listeners);
    }
    log.info("reloaded {}", source);
    for (Consumer<? super T> l : notify) {
      try {
        l.accept(value);
      } catch (RuntimeException e) {
        log.warn("{}: a reload listener failed", source, e);
      }
    }
    return true;
  }

  private static Stamp stamp(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    if (!a.isRegularFile()) {
      throw new IOException("not a regular file");
    }
    return new Stamp(a.lastModifiedTime(), a.size(), a.fileKey());
  }

  private static byte[] read(Path file, Stamp stamp) throws IOException {
    if (stamp.size() > MAX_BYTES) {
      throw new IOException("it is " + stamp.size() + " bytes; the limit is " + MAX_BYTES);
    }
    byte[] bytes = Files.readAllBytes(file);
    if (bytes.length > MAX_BYTES) {
      throw new IOException("it is " + bytes.length + " bytes; the limit is " + MAX_BYTES);
    }
    return bytes;
  }

  private static String text(byte[] bytes, String source) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(source + " is not UTF-8 text");
    }
  }

  private static String describe(IOException e) {
    return e instanceof java.nio.file.NoSuchFileException ? "no such file"
        : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
        : e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
