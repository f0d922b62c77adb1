package io.herald.broker.topic;

import io.herald.broker.transport.Errors;
import java.util.regex.Pattern;

/** Topic name rules: 1-249 characters of {@code [A-Za-z0-9._-]}. */
public final class TopicNames {
  public static final int MAX_LENGTH = 249;
  private static final Pattern VALID = Pattern.compile("[A-Za-z0-9._-]{1," + MAX_LENGTH + "}");

  private TopicNames() { }

  /** Returns the name, or throws INVALID_ARGUMENT saying what is wrong with it. */
  public static String validate(String field, String name) {
    if (name == null || name.isEmpty()) {
      throw Errors.invalidField(field, field + " is empty: give a topic name of 1-249 characters [A-Za-z0-9._-]");
    }
    if (name.length() > MAX_LENGTH) {
      throw Errors.invalidField(field, field + " is " + name.length() + " characters long; the limit is " + MAX_LENGTH);
    }
    if (!VALID.matcher(name).matches()) {
      int bad = 0;
      while (bad < name.length() && isValidChar(name.charAt(bad))) {
        bad++;
      }
      throw Errors.invalidField(field, String.format(
          "%s '%s' has a character outside [A-Za-z0-9._-] at index %d (U+%04X)", field, abbreviate(name), bad, (int) name.charAt(bad)));
    }
    return name;
  }

  private static boolean isValidChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  }

  private static String abbreviate(String s) {
    return s.length() <= 64 ? s : s.substring(0, 61) + "...";
  }
}
