package io.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.herald.broker.security.Principal;
import io.herald.broker.security.TokenFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code herald token new}: what it prints is what the broker's token file accepts. */
class TokenCommandTest {
  record Result(int code, String out, String err) {
    String[] lines() {
      return out.split("\\R");
    }
  }

  private static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  @Test
  void printsATokenAndALineTheBrokersTokenFileAccepts() {
    Result r = run("token", "new", "client-a", "--groups", "producers,audit");

    assertThat(r.code()).isZero();
    assertThat(r.lines()).hasSize(2);
    String token = r.lines()[0];
    String line = r.lines()[1];
    assertThat(token).matches("hrld_[A-Za-z0-9_-]{43}"); // 32 bytes, base64url without padding
    assertThat(line).isEqualTo("client-a sha256:" + TokenFile.sha256Hex(token) + " producers,audit");
    assertThat(r.err()).contains("--auth-tokens").contains("not shown again");

    TokenFile file = TokenFile.parse("# made by herald token new\n" + line + "\n", "tokens.txt");
    assertThat(file.authenticate(token)).contains(new Principal("client-a", Set.of("producers", "audit"), "token"));
    assertThat(file.authenticate(token + "x")).isEmpty();
  }

  @Test
  void withoutGroupsTheLineHasTwoFields() {
    Result r = run("token", "new", "ci-bot");
    assertThat(r.code()).isZero();
    String line = r.lines()[1];
    assertThat(line.split(" ")).hasSize(2);
    assertThat(TokenFile.parse(line, "tokens.txt").authenticate(r.lines()[0])).map(Principal::groups).contains(Set.of());
  }

  @Test
  void everyTokenIsNew() {
    String a = run("token", "new", "x").lines()[0];
    String b = run("token", "new", "x").lines()[0];
    assertThat(a).isNotEqualTo(b);
    assertThat(TokenFile.parse(run("token", "new", "x").lines()[1] + "\n" + run("token", "new", "x").lines()[1], "t").size()).isEqualTo(2);
  }

  @Test
  void hashesLikeTheBroker() {
    for (String token : new String[] {"", "test", "hrld_abc", "é∂ünïcødé", "a\u0000b"}) {
      assertThat(TokenCommand.sha256Hex(token)).isEqualTo(TokenFile.sha256Hex(token));
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "''        |                 | PRINCIPAL is empty",
      "'a b'     |                 | PRINCIPAL 'a b' has a space or control character at index 1",
      "'a\tb'    |                 | PRINCIPAL 'a\tb' has a space or control character at index 1",
      "'*'       |                 | PRINCIPAL cannot be '*'",
      "'#a'      |                 | starts with '#'",
      "'sha256:x'|                 | starts with 'sha256:'",
      "a         | 'p,,q'          | --groups 'p,,q' has an empty group",
      "a         | 'p,'            | has an empty group",
      "a         | ''              | has an empty group",
      "a         | 'p q'           | group 'p q' has a space or control character at index 1; names have no spaces or commas",
      "a         | '*'             | group cannot be '*'",
  })
  void refusesBadNamesWithAUsageError(String principal, String groups, String expected) {
    Result r = groups == null ? run("token", "new", principal) : run("token", "new", principal, "--groups", groups);
    assertThat(r.code()).isEqualTo(Main.USAGE);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).contains(expected);
  }

  @Test
  void isListedInTheHelp() {
    assertThat(run("--help").out()).contains("token").contains("herald token new client-a");
    assertThat(run("token", "new", "--help").out()).contains("PRINCIPAL").contains("--groups");
  }
}
