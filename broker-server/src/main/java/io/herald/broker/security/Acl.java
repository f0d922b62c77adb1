package io.herald.broker.security;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * The {@code --acl} file: a YAML list of grants, and nothing is allowed that no grant allows.
 *
 * <pre>{@code
 * - principal: client-a          # or group: producers; "*" = any authenticated principal
 *   topics: ["a.*"]              # glob: * matches any run of characters, ? one
 *   allow: [publish, subscribe]  # publish | subscribe | admin
 * }</pre>
 *
 * <p>A grant names exactly one of {@code principal} (a token file's first column, a JWT's
 * {@code sub}) or {@code group} (a token line's groups, a JWT's {@code groups} claim).
 * {@code principal: "*"} matches every principal except the {@linkplain Principal#anonymous()
 * anonymous} one of a broker without authentication: whether an ACL applies when authentication is
 * off is the caller's decision, not this class's. Topic patterns are {@link Glob globs} compiled
 * at parse time; a check looks up the grants of the principal's name, of each of its groups and of
 * {@code "*"}, and matches only their patterns (no regular expressions).
 *
 * <p>Parsing refuses, with the entry's number (from 1), its line and the field at fault: a
 * document that is not a list, unknown keys, both or neither of principal/group, an empty or
 * non-string topic list, a topic pattern with a character no topic name has, and an {@code allow}
 * that is empty or holds anything but {@code publish}, {@code subscribe}, {@code admin}. An empty
 * file is refused too (a half-written file must not deny everything): {@code []} denies everything.
 * The input is bounded ({@link #MAX_CHARS} characters, no recursive keys, few aliases).
 *
 * <p>Immutable and thread-safe.
 */
public final class Acl {
  /** The largest ACL text accepted, in characters: {@value}. */
  public static final int MAX_CHARS = 4 << 20;
  /** The name that stands for any authenticated principal. */
  public static final String ANY = "*";

  private static final List<String> KEYS = List.of("principal", "group", "topics", "allow");
  private static final String TOPIC_CHARS = "[A-Za-z0-9._-] and the wildcards * and ?";

  /** One entry of the file. */
  private record Grant(int entry, List<Glob> topics, Set<Permission> allow) {
    boolean matches(String topic) {
      for (Glob g : topics) {
        if (g.matches(topic)) {
          return true;
        }
      }
      return false;
    }
  }

  private final Map<String, List<Grant>> byPrincipal;
  private final Map<String, List<Grant>> byGroup;
  private final List<Grant> anyone;
  private final int size;

  private Acl(Map<String, List<Grant>> byPrincipal, Map<String, List<Grant>> byGroup, List<Grant> anyone, int size) {
    this.byPrincipal = byPrincipal;
    this.byGroup = byGroup;
    this.anyone = anyone;
    this.size = size;
  }

  /**
   * Parses an ACL file's text.
   *
   * @param source names the text in messages (the file's path)
   * @throws IllegalArgumentException saying which entry, line and field are at fault
   */
  public static Acl parse(String yaml, String source) {
    if (yaml.length() > MAX_CHARS) {
      throw new IllegalArgumentException(source + ": the ACL is " + yaml.length() + " characters long; the limit is " + MAX_CHARS);
    }
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    options.setAllowRecursiveKeys(false);
    options.setMaxAliasesForCollections(20);
    options.setNestingDepthLimit(10);
    options.setCodePointLimit(MAX_CHARS);
    Node doc;
    try {
      doc = new Yaml(new SafeConstructor(options)).compose(new StringReader(yaml));
    } catch (YAMLException e) {
      throw new IllegalArgumentException(source + " is not valid YAML: " + e.getMessage(), e);
    }
    if (doc == null) {
      throw new IllegalArgumentException(source + " is empty: write a list of grants"
          + " (- principal: NAME / topics: [PATTERN] / allow: [publish]), or [] to deny everything");
    }
    if (!(doc instanceof SequenceNode list)) {
      throw new IllegalArgumentException(source + " (line " + line(doc) + ") must be a list of grants, each starting with '- ',"
          + " e.g. '- principal: client-a', 'topics: [\"a.*\"]', 'allow: [publish]'");
    }
    Map<String, List<Grant>> byPrincipal = new HashMap<>();
    Map<String, List<Grant>> byGroup = new HashMap<>();
    List<Grant> anyone = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    int entry = 0;
    for (Node item : list.getValue()) {
      entry++;
      String where = source + ": entry " + entry + " (line " + line(item) + ")";
      try {
        parseEntry(item, entry, where, byPrincipal, byGroup, anyone);
      } catch (IllegalArgumentException e) {
        errors.add(e.getMessage());
      }
    }
    if (!errors.isEmpty()) {
      throw new IllegalArgumentException(ParseErrors.join(errors));
    }
    return new Acl(freeze(byPrincipal), freeze(byGroup), List.copyOf(anyone), entry);
  }

  private static void parseEntry(Node item, int entry, String where, Map<String, List<Grant>> byPrincipal,
      Map<String, List<Grant>> byGroup, List<Grant> anyone) {
    if (!(item instanceof MappingNode map)) {
      throw new IllegalArgumentException(where + " must be a map with principal or group, topics and allow");
    }
    Map<String, Node> fields = new LinkedHashMap<>();
    for (NodeTuple t : map.getValue()) {
      String key = t.getKeyNode() instanceof ScalarNode s ? s.getValue() : null;
      if (key == null || !KEYS.contains(key)) {
        throw new IllegalArgumentException(where + ": unknown key " + (key == null ? "(not a name)" : "'" + key + "'")
            + " at line " + line(t.getKeyNode()) + "; known: " + String.join(", ", KEYS));
      }
      if (fields.put(key, t.getValueNode()) != null) {
        throw new IllegalArgumentException(where + ": '" + key + "' is given twice");
      }
    }
    String principal = name(fields.get("principal"), "principal", where);
    String group = name(fields.get("group"), "group", where);
    if ((principal == null) == (group == null)) {
      throw new IllegalArgumentException(where + (principal == null
          ? ": needs a principal (principal: client-a, or \"*\" for any authenticated principal) or a group (group: producers)"
          : ": has both principal and group; give one of them (write two entries for both)"));
    }
    if (ANY.equals(group)) {
      throw new IllegalArgumentException(where + ": group: \"*\" is not a group; write principal: \"*\" for any authenticated principal");
    }
    Grant grant = new Grant(entry, topics(fields.get("topics"), where), allow(fields.get("allow"), where));
    if (ANY.equals(principal)) {
      anyone.add(grant);
    } else if (principal != null) {
      byPrincipal.computeIfAbsent(principal, k -> new ArrayList<>()).add(grant);
    } else {
      byGroup.computeIfAbsent(group, k -> new ArrayList<>()).add(grant);
    }
  }

  private static String name(Node node, String field, String where) {
    if (node == null) {
      return null;
    }
    String value = string(node);
    if (value == null) {
      throw new IllegalArgumentException(where + ": " + field + " must be a name (a string), not " + kind(node));
    }
    if (value.isEmpty() || value.strip().isEmpty()) {
      throw new IllegalArgumentException(where + ": " + field + " is empty");
    }
    for (int i = 0; i < value.length(); i++) {
      if (Character.isWhitespace(value.charAt(i)) || Character.isISOControl(value.charAt(i))) {
        throw new IllegalArgumentException(where + ": " + field + " '" + value.strip() + "' has a space or control character at index " + i
            + "; names have none");
      }
    }
    return value;
  }

  private static List<Glob> topics(Node node, String where) {
    if (node == null) {
      throw new IllegalArgumentException(where + ": needs topics, a list of topic patterns, e.g. topics: [\"orders\", \"a.*\"]");
    }
    if (!(node instanceof SequenceNode seq)) {
      throw new IllegalArgumentException(where + ": topics must be a list, e.g. topics: [\"orders\"], not " + kind(node));
    }
    if (seq.getValue().isEmpty()) {
      throw new IllegalArgumentException(where + ": topics is empty; give at least one topic pattern (\"*\" for every topic)");
    }
    List<Glob> globs = new ArrayList<>();
    int i = 0;
    for (Node n : seq.getValue()) {
      String pattern = string(n);
      String at = where + ": topics[" + i + "]";
      if (pattern == null) {
        throw new IllegalArgumentException(at + " must be a string, not " + kind(n) + " (quote it)");
      }
      if (pattern.isEmpty()) {
        throw new IllegalArgumentException(at + " is empty; give a topic name or pattern");
      }
      for (int c = 0; c < pattern.length(); c++) {
        if (!topicChar(pattern.charAt(c))) {
          throw new IllegalArgumentException(String.format(Locale.ROOT, "%s '%s' has a character outside %s at index %d (U+%04X)",
              at, ParseErrors.abbreviate(pattern), TOPIC_CHARS, c, (int) pattern.charAt(c)));
        }
      }
      globs.add(Glob.compile(pattern));
      i++;
    }
    return List.copyOf(globs);
  }

  private static Set<Permission> allow(Node node, String where) {
    if (node == null) {
      throw new IllegalArgumentException(where + ": needs allow, a list of publish, subscribe, admin");
    }
    if (!(node instanceof SequenceNode seq)) {
      throw new IllegalArgumentException(where + ": allow must be a list, e.g. allow: [publish, subscribe], not " + kind(node));
    }
    if (seq.getValue().isEmpty()) {
      throw new IllegalArgumentException(where + ": allow is empty; give publish, subscribe and/or admin (or remove the entry)");
    }
    EnumSet<Permission> allow = EnumSet.noneOf(Permission.class);
    int i = 0;
    for (Node n : seq.getValue()) {
      String word = string(n);
      Permission p = null;
      for (Permission candidate : Permission.values()) {
        if (candidate.word().equals(word)) {
          p = candidate;
        }
      }
      if (p == null) {
        throw new IllegalArgumentException(where + ": allow[" + i + "] is " + (word == null ? kind(n) : "'" + ParseErrors.abbreviate(word) + "'")
            + "; give publish, subscribe or admin");
      }
      allow.add(p);
      i++;
    }
    return Set.copyOf(allow);
  }

  /** A scalar's text if the node is a plain string (not a number, boolean, null, list or map). */
  private static String string(Node node) {
    return node instanceof ScalarNode s && Tag.STR.equals(s.getTag()) ? s.getValue() : null;
  }

  private static String kind(Node node) {
    if (node instanceof SequenceNode) {
      return "a list";
    }
    if (node instanceof MappingNode) {
      return "a map";
    }
    if (node instanceof ScalarNode s) {
      if (Tag.NULL.equals(s.getTag())) {
        return "empty";
      }
      return "'" + ParseErrors.abbreviate(s.getValue()) + "' (" + s.getTag().getValue().replace(Tag.PREFIX, "") + ")";
    }
    return "a " + node.getNodeId();
  }

  private static int line(Node node) {
    return node.getStartMark() == null ? 0 : node.getStartMark().getLine() + 1;
  }

  private static boolean topicChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '.' || c == '_' || c == '-' || c == '*' || c == '?';
  }

  private static Map<String, List<Grant>> freeze(Map<String, List<Grant>> m) {
    Map<String, List<Grant>> out = new HashMap<>();
    m.forEach((k, v) -> out.put(k, List.copyOf(v)));
    return Map.copyOf(out);
  }

  /** True if a grant for the principal (by name, by one of its groups, or by {@code "*"}) allows {@code perm} on {@code topic}. */
  public boolean allows(Principal p, String topic, Permission perm) {
    return check(p, topic, perm);
  }

  /**
   * True if any grant for the principal matches {@code topic}, whatever it allows: what describe
   * needs, and which topics ListTopics shows.
   */
  public boolean anyGrant(Principal p, String topic) {
    return check(p, topic, null);
  }

  private boolean check(Principal p, String topic, Permission perm) {
    if (p == null || topic == null) {
      return false;
    }
    if (!p.anonymous() && any(anyone, topic, perm)) {
      return true;
    }
    if (any(byPrincipal.get(p.name()), topic, perm)) {
      return true;
    }
    for (String g : p.groups()) {
      if (any(byGroup.get(g), topic, perm)) {
        return true;
      }
    }
    return false;
  }

  private static boolean any(List<Grant> grants, String topic, Permission perm) {
    if (grants == null) {
      return false;
    }
    for (Grant g : grants) {
      if ((perm == null || g.allow().contains(perm)) && g.matches(topic)) {
        return true;
      }
    }
    return false;
  }

  /** The number of entries (grants) in the file. */
  public int size() {
    return size;
  }
}
