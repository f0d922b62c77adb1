package io.herald.broker.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AclTest {
  private static final String FILE = "acl.yaml";

  private static final Acl ACL = Acl.parse("""
      # producers publish their own prefix; client-a also reads it
      - principal: client-a
        topics: ["a.*"]
        allow: [publish, subscribe]
      - group: producers
        topics: ["orders", "orders.??"]
        allow: [publish]
      - group: ops
        topics: ["*"]
        allow: [admin]
      - principal: "*"
        topics: [public.*]
        allow: [subscribe]
      """, FILE);

  private static Principal principal(String spec) {
    // "name" or "name:g1+g2"
    String[] parts = spec.split(":", 2);
    Set<String> groups = parts.length == 1 ? Set.of() : Set.of(parts[1].split("\\+"));
    return new Principal(parts[0], groups, "token");
  }

  @ParameterizedTest(name = "{0} {2} {1} -> {3}")
  @CsvSource({
      // by principal name
      "client-a,           a.x,        publish,   true",
      "client-a,           a.x,        subscribe, true",
      "client-a,           a.x,        admin,     false",
      "client-a,           a,          publish,   false",
      "client-a,           ab.x,       publish,   false",
      "client-a,           b.x,        publish,   false",
      // a name is not a group, nor a group a name
      "client-b,           a.x,        publish,   false",
      "producers,          orders,     publish,   false",
      // by group
      "client-b:producers, orders,     publish,   true",
      "client-b:producers, orders,     subscribe, false",
      "client-b:producers, orders.eu,  publish,   true",
      "client-b:producers, orders.e,   publish,   false",
      "client-b:producers, orders.eur, publish,   false",
      "client-b:ops,       anything,   admin,     true",
      "client-b:ops,       anything,   publish,   false",
      "client-b:producers+ops, orders, admin,     true",
      // a principal's own grants and its groups' add up
      "client-a:producers, orders,     publish,   true",
      "client-a:producers, a.x,        subscribe, true",
      // "*": any authenticated principal
      "nobody,             public.news, subscribe, true",
      "nobody,             public.news, publish,   false",
      "client-a,           public.news, subscribe, true",
      // deny by default
      "nobody,             orders,     publish,   false",
      "nobody,             orders,     subscribe, false",
      "nobody,             orders,     admin,     false",
  })
  void allowsExactlyWhatAGrantAllows(String who, String topic, String perm, boolean expected) {
    Permission p = Permission.valueOf(perm.toUpperCase(java.util.Locale.ROOT));
    assertThat(ACL.allows(principal(who), topic, p)).isEqualTo(expected);
  }

  @Test
  void anyGrantIsWhatDescribeAndListTopicsNeed() {
    assertThat(ACL.anyGrant(principal("client-a"), "a.x")).isTrue();
    assertThat(ACL.anyGrant(principal("client-a"), "orders")).isFalse();
    assertThat(ACL.anyGrant(principal("x:producers"), "orders")).isTrue();
    assertThat(ACL.anyGrant(principal("x:ops"), "whatever")).isTrue();
    assertThat(ACL.anyGrant(principal("nobody"), "public.x")).isTrue();
    assertThat(ACL.anyGrant(principal("nobody"), "private.x")).isFalse();
  }

  @Test
  void starDoesNotMatchTheAnonymousPrincipalOfABrokerWithoutAuthentication() {
    assertThat(ACL.allows(Principal.ANONYMOUS, "public.news", Permission.SUBSCRIBE)).isFalse();
    assertThat(ACL.anyGrant(Principal.ANONYMOUS, "public.news")).isFalse();
  }

  @Test
  void anEmptyListDeniesEverything() {
    Acl none = Acl.parse("[]", FILE);
    assertThat(none.size()).isZero();
    for (Permission p : Permission.values()) {
      assertThat(none.allows(principal("client-a:ops"), "a", p)).isFalse();
    }
    assertThat(none.anyGrant(principal("client-a"), "a")).isFalse();
  }

  @Test
  void nullsAreDenied() {
    assertThat(ACL.allows(null, "a.x", Permission.PUBLISH)).isFalse();
    assertThat(ACL.allows(principal("client-a"), null, Permission.PUBLISH)).isFalse();
  }

  @Test
  void countsEntries() {
    assertThat(ACL.size()).isEqualTo(4);
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', value = {
      "''                                                          | is empty",
      "'# only a comment'                                          | is empty",
      "'principal: a'                                              | must be a list of grants",
      "'- [a, b]'                                                  | entry 1 (line 1) must be a map",
      "'- principal: a\\n  topics: [x]\\n  allow: [publish]\\n  topic: y' | entry 1 (line 1): unknown key 'topic' at line 4; known: principal, group, topics, allow",
      "'- topics: [x]\\n  allow: [publish]'                         | entry 1 (line 1): needs a principal",
      "'- principal: a\\n  group: g\\n  topics: [x]\\n  allow: [publish]' | entry 1 (line 1): has both principal and group",
      "'- principal: \"\"\\n  topics: [x]\\n  allow: [publish]'      | entry 1 (line 1): principal is empty",
      "'- principal: \"a b\"\\n  topics: [x]\\n  allow: [publish]'   | principal 'a b' has a space or control character at index 1",
      "'- principal: 7\\n  topics: [x]\\n  allow: [publish]'         | principal must be a name (a string), not '7' (int)",
      "'- principal: [a]\\n  topics: [x]\\n  allow: [publish]'       | principal must be a name (a string), not a list",
      "'- group: \"*\"\\n  topics: [x]\\n  allow: [publish]'         | group: \"*\" is not a group",
      "'- principal: a\\n  allow: [publish]'                        | entry 1 (line 1): needs topics",
      "'- principal: a\\n  topics: x\\n  allow: [publish]'           | topics must be a list",
      "'- principal: a\\n  topics: []\\n  allow: [publish]'          | topics is empty",
      "'- principal: a\\n  topics: [1]\\n  allow: [publish]'         | topics[0] must be a string, not '1' (int) (quote it)",
      "'- principal: a\\n  topics: [x, \"\"]\\n  allow: [publish]'    | topics[1] is empty",
      "'- principal: a\\n  topics: [\"a/b\"]\\n  allow: [publish]'    | topics[0] 'a/b' has a character outside [A-Za-z0-9._-] and the wildcards * and ? at index 1",
      "'- principal: a\\n  topics: [x]'                             | needs allow",
      "'- principal: a\\n  topics: [x]\\n  allow: publish'           | allow must be a list",
      "'- principal: a\\n  topics: [x]\\n  allow: []'                | allow is empty",
      "'- principal: a\\n  topics: [x]\\n  allow: [read]'            | allow[0] is 'read'; give publish, subscribe or admin",
      "'- principal: a\\n  topics: [x]\\n  allow: [Publish]'         | allow[0] is 'Publish'",
      "'- principal: a\\n  principal: b\\n  topics: [x]\\n  allow: [publish]' | principal",
      "'- principal: a\\n  topics: [x\\n'                            | is not valid YAML",
  })
  void refusesWithTheEntryLineAndField(String yaml, String expected) {
    String text = yaml.replace("\\n", "\n");
    assertThatThrownBy(() -> Acl.parse(text, FILE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(FILE)
        .hasMessageContaining(expected);
  }

  @Test
  void reportsEveryBadEntryWithItsNumberAndLine() {
    String yaml = """
        - principal: ok
          topics: [x]
          allow: [publish]
        - principal: a
          topics: []
          allow: [publish]
        - group: g
          topics: [x]
          allow: [write]
        """;
    assertThatThrownBy(() -> Acl.parse(yaml, FILE))
        .hasMessageContaining("acl.yaml: entry 2 (line 4): topics is empty")
        .hasMessageContaining("acl.yaml: entry 3 (line 7): allow[0] is 'write'")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("entry 1"));
  }

  @Test
  void refusesManyAliases() {
    StringBuilder yaml = new StringBuilder("- principal: a\n  topics: &a0 [x, x]\n  allow: [publish]\n");
    yaml.append("- principal: b\n  topics: [");
    for (int i = 0; i < 30; i++) {
      yaml.append(i == 0 ? "" : ", ").append("*a0");
    }
    yaml.append("]\n  allow: [publish]\n");
    assertThatThrownBy(() -> Acl.parse(yaml.toString(), FILE)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("aliases");
  }

  @Test
  void refusesOverLongTexts() {
    String yaml = "#".repeat(Acl.MAX_CHARS + 1);
    assertThatThrownBy(() -> Acl.parse(yaml, FILE)).hasMessageContaining("the limit is " + Acl.MAX_CHARS);
  }

  @Test
  void acceptsTopicPatternsWithEveryTopicCharacter() {
    Acl acl = Acl.parse("- principal: a\n  topics: [\"Az09._-*?\"]\n  allow: [admin]\n", FILE);
    assertThat(acl.allows(principal("a"), "Az09._-xyz!", Permission.ADMIN)).isTrue();
  }
}
