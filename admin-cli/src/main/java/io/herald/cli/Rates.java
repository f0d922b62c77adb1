package io.herald.cli;

/** Parses rates given as {@code N/s} (or a bare number), 1 to 10,000,000 per second. */
final class Rates {
  private Rates() { }

  static double parse(String option, String rate) {
    String r = rate.endsWith("/s") ? rate.substring(0, rate.length() - 2) : rate;
    try {
      double v = Double.parseDouble(r);
      if (v > 0 && v <= 10_000_000) {
        return v;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(option + " '" + rate + "' is not a rate; use e.g. 100/s (1 to 10000000 per second)");
  }
}
