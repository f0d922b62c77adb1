package io.herald.broker.security;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit trail: one JSON line per admin operation (create, update, delete, list subscriptions)
 * and per refusal (UNAUTHENTICATED, PERMISSION_DENIED), with time, principal, peer, operation,
 * topic and outcome. To {@code --audit-log FILE} (appended, flushed per line) or, without it, to the
 * broker log under the logger {@code herald.audit} (INFO). Never holds a credential.
 *
 * <p>Thread-safe: a line is written whole under a lock; a write that fails is reported on the
 * broker log (once per failure run) and the line is logged there instead, so no audit line is lost
 * silently.
 */
public final class AuditLog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger("herald.audit");
  private static final Logger self = LoggerFactory.getLogger(AuditLog.class);

  private final Path file;
  private final ReentrantLock lock = new ReentrantLock();
  private BufferedWriter out; // guarded by lock
  private boolean failing; // guarded by lock

  private AuditLog(Path file, BufferedWriter out) {
    this.file = file;
    this.out = out;
  }

  /** To the broker log (logger {@code herald.audit}). */
  public static AuditLog toBrokerLog() {
    return new AuditLog(null, null);
  }

  /**
   * Appends to {@code file} (created if missing).
   *
   * @throws IOException if it cannot be opened for appending (the broker refuses to start)
   */
  public static AuditLog toFile(Path file) throws IOException {
    return new AuditLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
        StandardOpenOption.WRITE));
  }

  /**
   * Records one event.
   *
   * @param outcome {@code ok}, {@code denied}, {@code unauthenticated}, or a status code name
   * @param detail a few words on why (no credential), or null
   */
  public void record(Principal principal, String peer, String operation, String topic, String outcome, String detail) {
    StringBuilder b = new StringBuilder(160).append('{');
    field(b, "time", Instant.now().toString()).append(',');
    field(b, "principal", principal == null ? null : principal.name()).append(',');
    field(b, "auth", principal == null ? null : principal.method()).append(',');
    field(b, "peer", peer).append(',');
    field(b, "operation", operation).append(',');
    field(b, "topic", topic).append(',');
    field(b, "outcome", outcome);
    if (detail != null) {
      b.append(',');
      field(b, "detail", detail);
    }
    String line = b.append('}').toString();
    if (file == null) {
      log.info(line);
      return;
    }
    lock.lock();
    try {
      if (out == null) {
        log.info(line); // closed: the broker is stopping
        return;
      }
      try {
        out.write(line);
        out.newLine();
        out.flush();
        if (failing) {
          failing = false;
          self.info("audit log {} is writable again", file);
        }
      } catch (IOException e) {
        if (!failing) {
          failing = true;
          self.error("audit log {} cannot be written ({}): audit lines go to the broker log (logger herald.audit) until it can", file,
              e.toString());
        }
        log.info(line);
      }
    } finally {
      lock.unlock();
    }
  }

  /** The longest field value written; a longer one (a name a client made up) is cut, with "...". */
  static final int MAX_FIELD_CHARS = 300;

  private static StringBuilder field(StringBuilder b, String name, String value) {
    b.append('"').append(name).append("\":");
    if (value == null) {
      return b.append("null");
    }
    if (value.length() > MAX_FIELD_CHARS) {
      value = value.substring(0, MAX_FIELD_CHARS) + "...";
    }
    b.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"');
  }

  @Override
  public void close() {
    lock.lock();
    try {
      if (out != null) {
        out.close();
        out = null;
      }
    } catch (IOException e) {
      self.warn("closing audit log {}: {}", file, e.toString());
    } finally {
      lock.unlock();
    }
  }
}
