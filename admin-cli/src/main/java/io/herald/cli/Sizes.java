package io.herald.cli;

import java.util.Locale;
import picocli.CommandLine;

/** Parses byte sizes: 1048576, 512KiB, 16MiB, 1GiB (also KB/MB/GB, meaning the same powers of 1024). */
public final class Sizes implements CommandLine.ITypeConverter<Long> {
  @Override
  public Long convert(String s) {
    String v = s.trim().toLowerCase(Locale.ROOT).replace("ib", "b");
    long mul = 1;
    if (v.endsWith("kb") || v.endsWith("k")) {
      mul = 1L << 10;
    } else if (v.endsWith("mb") || v.endsWith("m")) {
      mul = 1L << 20;
    } else if (v.endsWith("gb") || v.endsWith("g")) {
      mul = 1L << 30;
    }
    String digits = v.replaceAll("[a-z]+$", "");
    try {
      return Math.multiplyExact(Long.parseLong(digits), mul);
    } catch (RuntimeException e) {
      throw new CommandLine.TypeConversionException("'" + s + "' is not a size; use e.g. 4096, 512KiB, 16MiB, 1GiB");
    }
  }
}
