package io.herald.broker.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The {@code --auth-tokens} file: one line per token, {@code PRINCIPAL sha256:HEX [GROUP,GROUP...]},
 * where HEX is the lowercase hex SHA-256 of the token's UTF-8 bytes ({@link #sha256Hex}). The file
 * holds no secret, only hashes. A {@code #} starts a comment (a whole line, or the rest of a line
 * after a space); blank lines are skipped; fields are separated by spaces or tabs; groups by
 * commas, without spaces. A principal may have several lines (one per token, to rotate them).
 *
 * <pre>{@code
 * # herald token new client-a --groups producers
 * client-a sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 producers,audit
 * }</pre>
 *
 * <p>Parsing refuses, with the line number of each fault: a hash that is not {@code sha256:}
 * and 64 lowercase hex digits, the same hash twice, a principal or group that is empty, holds a
 * control character, or is {@code *}, and anything after the groups. Tokens are looked up by their
 * hash (the hash of a long random token reveals nothing and needs no constant-time compare).
 *
 * <p>Immutable and thread-safe.
 */
public final class TokenFile {
  /** The {@link Principal#method()} of a principal proved by a token: {@value}. */
  public static final String METHOD = "token";
  /** Presented tokens longer than this many characters are refused without hashing: {@value}. */
  public static final int MAX_TOKEN_CHARS = 4096;
  /** The prefix of a hash in the file: {@value}. */
  public static final String HASH_PREFIX = "sha256:";

  private static final int HEX_LENGTH = 64;

  private final Map<String, Principal> byHash;

  private TokenFile(Map<String, Principal> byHash) {
    this.byHash = byHash;
  }

  /**
   * Parses a token file's text.
   *
   * @param source names the text in messages (the file's path)
   * @throws IllegalArgumentException listing each faulty line by number
   */
  public static TokenFile parse(String text, String source) {
    Map<String, Principal> byHash = new HashMap<>();
    Map<String, Integer> lineOfHash = new HashMap<>();
    List<String> errors = new ArrayList<>();
    String[] lines = text.split("\r?\n|\r", -1);
    for (int i = 0; i < lines.length; i++) {
      int lineNo = i + 1;
      String at = source + ": line " + lineNo;
      List<String> fields = fields(lines[i]);
      if (fields.isEmpty()) {
        continue;
      }
      try {
        if (fields.get(0).startsWith("hrld_")) {
          throw new IllegalArgumentException(at + ": this line holds a token itself, a secret: remove it (the file takes only"
              + " 'PRINCIPAL sha256:HEX [GROUP,...]' lines; 'herald token new' prints the token on its first line, the line to add on its second)");
        }
        String principal = checkName(fields.get(0), "principal", at);
        if (principal.startsWith(HASH_PREFIX)) {
          throw new IllegalArgumentException(at + ": starts with the hash; write PRINCIPAL sha256:HEX [GROUP,...]");
        }
        if (fields.size() < 2) {
          throw new IllegalArgumentException(at + ": principal '" + ParseErrors.abbreviate(principal)
              + "' has no hash; write PRINCIPAL sha256:HEX [GROUP,...] (herald token new PRINCIPAL prints such a line)");
        }
        String hash = checkHash(fields.get(1), at);
        Set<String> groups = fields.size() > 2 ? groups(fields.get(2), at) : Set.of();
        if (fields.size() > 3) {
          throw new IllegalArgumentException(at + ": unexpected text after the groups (not shown: it may be a secret); separate groups with commas and no spaces (a,b), or start a comment with #");
        }
        Integer first = lineOfHash.putIfAbsent(hash, lineNo);
        if (first != null) {
          throw new IllegalArgumentException(at + ": the same hash as line " + first
              + "; every token must be different (herald token new makes a fresh one)");
        }
        byHash.put(hash, new Principal(principal, groups, METHOD));
      } catch (IllegalArgumentException e) {
        errors.add(e.getMessage());
      }
    }
    if (!errors.isEmpty()) {
      throw new IllegalArgumentException(ParseErrors.join(errors));
    }
    return new TokenFile(Map.copyOf(byHash));
  }

  /** The fields of a line, up to a comment: a field that starts with '#'. */
  private static List<String> fields(String line) {
    List<String> fields = new ArrayList<>(3);
    for (String f : line.strip().split("[ \\t]+", -1)) {
      if (f.startsWith("#")) {
        break;
      }
      if (!f.isEmpty()) {
        fields.add(f);
      }
    }
    return fields;
  }

  private static String checkName(String name, String what, String at) {
    if (Acl.ANY.equals(name)) {
      throw new IllegalArgumentException(at + ": '*' cannot be a " + what + " name (in the ACL it means any principal)");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isISOControl(c) || Character.isWhitespace(c)) {
        throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
            "%s: the %s has a space or control character (U+%04X) at index %d", at, what, (int) c, i));
      }
    }
    return name;
  }

  private static String checkHash(String field, String at) {
    if (!field.startsWith(HASH_PREFIX)) {
      throw new IllegalArgumentException(at + ": the second field must be sha256:HEX (the SHA-256 of the token),"
          + " not the token itself or another hash; herald token new prints the line to add");
    }
    String hex = field.substring(HASH_PREFIX.length());
    if (hex.length() != HEX_LENGTH) {
      throw new IllegalArgumentException(at + ": the hash has " + hex.length() + " hex digits; SHA-256 has " + HEX_LENGTH);
    }
    for (int i = 0; i < hex.length(); i++) {
      char c = hex.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        throw new IllegalArgumentException(at + ": the hash has " + (c >= 'A' && c <= 'F' ? "an uppercase" : "a non-hex")
            + " character at index " + i + "; write 64 lowercase hex digits (0-9, a-f)");
      }
    }
    return hex;
  }

  private static Set<String> groups(String field, String at) {
    Set<String> groups = new LinkedHashSet<>();
    for (String g : field.split(",", -1)) {
      if (g.isEmpty()) {
        throw new IllegalArgumentException(at + ": an empty group in '" + ParseErrors.abbreviate(field)
            + "'; separate groups with single commas (a,b)");
      }
      checkName(g, "group", at);
      groups.add(g);
    }
    return groups;
  }

  /**
   * The principal whose line holds the hash of {@code token}, or empty (also for a null, empty or
   * over-long token). Never logs or keeps the token.
   */
  public Optional<Principal> authenticate(String token) {
    if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
      return Optional.empty();
    }
    return Optional.ofNullable(byHash.get(sha256Hex(token)));
  }

  /** The number of tokens (lines) in the file. */
  public int size() {
    return byHash.size();
  }

  /** The lowercase hex SHA-256 of the token's UTF-8 bytes: the HEX of a token line. */
  public static String sha256Hex(String token) {
    byte[] digest = sha256().digest(token.getBytes(StandardCharsets.UTF_8));
    return java.util.HexFormat.of().formatHex(digest);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
