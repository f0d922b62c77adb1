package io.herald.broker.security;

/**
 * A topic pattern of the {@code --acl} file: {@code *} matches any run of characters (dots
 * included, and the empty run), {@code ?} exactly one character, and every other character only
 * itself ({@code a.b} does not match {@code axb}: nothing here is a regular expression).
 *
 * <p>Compiled once; {@link #matches} runs without regular expressions, allocation or recursion,
 * in at most O(pattern length × name length) steps (a greedy scan that, on a mismatch, only moves
 * the last {@code *}'s start forward: no exponential backtracking). Patterns without {@code *}
 * run in O(pattern length). Immutable and thread-safe.
 */
final class Glob {
  private final String pattern;
  /** The pattern with runs of {@code *} collapsed into one. */
  private final char[] p;
  private final boolean wildcards;

  private Glob(String pattern) {
    this.pattern = pattern;
    StringBuilder b = new StringBuilder(pattern.length());
    for (int i = 0; i < pattern.length(); i++) {
      char c = pattern.charAt(i);
      if (c != '*' || b.isEmpty() || b.charAt(b.length() - 1) != '*') {
        b.append(c);
      }
    }
    this.p = b.toString().toCharArray();
    this.wildcards = pattern.indexOf('*') >= 0 || pattern.indexOf('?') >= 0;
  }

  static Glob compile(String pattern) {
    if (pattern == null) {
      throw new IllegalArgumentException("a topic pattern is needed");
    }
    return new Glob(pattern);
  }

  /** True if the whole of {@code name} matches the pattern. */
  boolean matches(String name) {
    if (!wildcards) {
      return pattern.equals(name);
    }
    int n = name.length();
    int pi = 0;
    int ni = 0;
    int star = -1; // index in p of the last '*' seen, -1 before any
    int resume = 0; // where in name that '*''s run ends now
    while (ni < n) {
      if (pi < p.length && p[pi] != '*' && (p[pi] == '?' || p[pi] == name.charAt(ni))) {
        pi++;
        ni++;
      } else if (pi < p.length && p[pi] == '*') {
        star = pi++;
        resume = ni; // the run starts empty
      } else if (star >= 0) {
        pi = star + 1; // the last '*' takes one more character
        ni = ++resume;
      } else {
        return false;
      }
    }
    while (pi < p.length && p[pi] == '*') {
      pi++;
    }
    return pi == p.length;
  }

  String pattern() {
    return pattern;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
