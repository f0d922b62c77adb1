package io.herald.broker.security;

import java.util.List;

/** Shared wording of the security files' parse errors. */
final class ParseErrors {
  /** How many problems one message lists before it says how many more there are. */
  static final int MAX_LISTED = 10;

  private ParseErrors() { }

  /** The problems, one per line, at most {@link #MAX_LISTED} of them. */
  static String join(List<String> problems) {
    if (problems.size() <= MAX_LISTED) {
      return String.join("\n", problems);
    }
    return String.join("\n", problems.subList(0, MAX_LISTED)) + "\n(and " + (problems.size() - MAX_LISTED) + " more)";
  }

  /** A value for a message: at most 64 characters, control characters shown as '?'. */
  static String abbreviate(String s) {
    String cut = s.length() <= 64 ? s : s.substring(0, 61) + "...";
    StringBuilder b = new StringBuilder(cut.length());
    for (int i = 0; i < cut.length(); i++) {
      char c = cut.charAt(i);
      b.append(Character.isISOControl(c) ? '?' : c);
    }
    return b.toString();
  }
}
