package io.herald.cli;

import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine;

/** Parses 500ms, 10s, 2m, 1h, or ISO-8601 (PT10S). */
public final class Durations implements CommandLine.ITypeConverter<Duration> {
  @Override
  public Duration convert(String s) {
    return parse(s);
  }

  public static Duration parse(String s) {
    String v = s.trim().toLowerCase(Locale.ROOT);
    try {
      if (v.startsWith("p")) {
        return Duration.parse(v.toUpperCase(Locale.ROOT));
      }
      if (v.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
      }
      long n = Long.parseLong(v.substring(0, v.length() - 1));
      return switch (v.charAt(v.length() - 1)) {
        case 's' -> Duration.ofSeconds(n);
        case 'm' -> Duration.ofMinutes(n);
        case 'h' -> Duration.ofHours(n);
        default -> throw new NumberFormatException();
      };
    } catch (RuntimeException e) {
      throw new CommandLine.TypeConversionException("'" + s + "' is not a duration; use e.g. 500ms, 10s, 2m, 1h");
    }
  }

  /** 1h, 2m, 10s, 500ms: the shortest exact form. */
  public static String format(Duration d) {
    long ms = d.toMillis();
    if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
