package io.herald.broker.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GlobTest {
  @ParameterizedTest(name = "''{0}'' vs ''{1}'' -> {2}")
  @CsvSource(delimiter = '|', emptyValue = "", value = {
      // literal: dots are dots
      "orders      | orders      | true",
      "orders      | orders2     | false",
      "orders      | order       | false",
      "a.b         | a.b         | true",
      "a.b         | axb         | false",
      "a.b         | a.bc        | false",
      // * : any run, dots and empty included
      "*           | ''          | true",
      "*           | anything.at.all | true",
      "a.*         | a.          | true",
      "a.*         | a.b.c       | true",
      "a.*         | a           | false",
      "a.*         | ab          | false",
      "a.*         | b.a.x       | false",
      "*.log       | x.log       | true",
      "*.log       | .log        | true",
      "*.log       | x.log.bak   | false",
      "*.log       | xlog        | false",
      "a*b         | ab          | true",
      "a*b         | axxxb       | true",
      "a*b         | abxb        | true",
      "a*b         | abx         | false",
      "a**b        | ab          | true",
      "*a*         | banana      | true",
      "*a*         | bnn         | false",
      "*x*y*       | axbyc       | true",
      "*x*y*       | aybxc       | false",
      // ? : exactly one character
      "?           | ''          | false",
      "?           | a           | true",
      "?           | .           | true",
      "?           | ab          | false",
      "a?c         | abc         | true",
      "a?c         | ac          | false",
      "a?c         | abbc        | false",
      "??*         | a           | false",
      "??*         | ab          | true",
      "*?          | ''          | false",
      "*?          | z           | true",
      // empty pattern
      "''          | ''          | true",
      "''          | a           | false",
  })
  void matchesLikeTheTable(String pattern, String name, boolean expected) {
    assertThat(Glob.compile(pattern).matches(name)).isEqualTo(expected);
    assertThat(reference(pattern).matcher(name).matches()).as("the reference agrees with the table").isEqualTo(expected);
  }

  @Test
  void patternCharactersThatRegexesMeanAreLiteral() {
    assertThat(Glob.compile("a+b").matches("aab")).isFalse();
    assertThat(Glob.compile("a+b").matches("a+b")).isTrue();
    assertThat(Glob.compile("(a|b)").matches("a")).isFalse();
    assertThat(Glob.compile("[ab]").matches("a")).isFalse();
    assertThat(Glob.compile("a\\Eb").matches("a\\Eb")).isTrue();
  }

  @Test
  void manyStarsOnALongNameRunsInPolynomialTime() {
    // a*a*a*...b against aaaa...: exponential for a backtracking matcher, quadratic here
    String pattern = "a*".repeat(30) + "b";
    String name = "a".repeat(5_000);
    long start = System.nanoTime();
    assertThat(Glob.compile(pattern).matches(name)).isFalse();
    assertThat(System.nanoTime() - start).isLessThan(2_000_000_000L);
  }

  @Test
  void agreesWithARegexReferenceOnRandomInputs() {
    Random random = new Random(20240611L);
    String alphabet = "ab.";
    int checked = 0;
    for (int i = 0; i < 200_000; i++) {
      String pattern = randomString(random, "ab.*?", 7);
      String name = randomString(random, alphabet, 9);
      boolean expected = reference(pattern).matcher(name).matches();
      assertThat(Glob.compile(pattern).matches(name)).as("'%s' vs '%s'", pattern, name).isEqualTo(expected);
      checked += expected ? 1 : 0;
    }
    assertThat(checked).as("the random inputs include matches").isGreaterThan(1_000);
  }

  private static String randomString(Random random, String alphabet, int maxLength) {
    int n = random.nextInt(maxLength + 1);
    StringBuilder b = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      b.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return b.toString();
  }

  /** The glob as a regex: literal pieces quoted, * as .*, ? as . (DOTALL). */
  static Pattern reference(String glob) {
    StringBuilder regex = new StringBuilder();
    StringBuilder literal = new StringBuilder();
    for (char c : glob.toCharArray()) {
      if (c == '*' || c == '?') {
        if (!literal.isEmpty()) {
          regex.append(Pattern.quote(literal.toString()));
          literal.setLength(0);
        }
        regex.append(c == '*' ? ".*" : ".");
      } else {
        literal.append(c);
      }
    }
    if (!literal.isEmpty()) {
      regex.append(Pattern.quote(literal.toString()));
    }
    return Pattern.compile(regex.toString(), Pattern.DOTALL);
  }
}
