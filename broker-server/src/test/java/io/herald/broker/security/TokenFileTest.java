package io.herald.broker.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TokenFileTest {
  private static final String FILE = "tokens.txt";
  private static final String TOKEN_A = "hrld_token-of-client-a";
  private static final String TOKEN_B = "hrld_token-of-client-b";

  private static String line(String principal, String token, String groups) {
    return principal + " sha256:" + TokenFile.sha256Hex(token) + (groups.isEmpty() ? "" : " " + groups);
  }

  @Test
  void sha256HexIsTheLowercaseHexOfTheUtf8Bytes() {
    // the well-known SHA-256 of "test", and of a non-ASCII string (UTF-8, not the platform charset)
    assertThat(TokenFile.sha256Hex("test")).isEqualTo("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    assertThat(TokenFile.sha256Hex("é")).isEqualTo(sha256OfBytes(new byte[] {(byte) 0xc3, (byte) 0xa9}));
  }

  private static String sha256OfBytes(byte[] bytes) {
    try {
      return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void authenticatesByTheTokensHash() {
    TokenFile file = TokenFile.parse(String.join("\n",
        "# tokens for the staging broker",
        "",
        line("client-a", TOKEN_A, "producers,audit") + "   # added by ops",
        "  " + line("client-b", TOKEN_B, "").replace(" ", "\t") + "  ",
        "#" + line("client-c", "hrld_commented-out", "")), FILE);

    assertThat(file.size()).isEqualTo(2);
    assertThat(file.authenticate(TOKEN_A)).contains(new Principal("client-a", Set.of("producers", "audit"), "token"));
    assertThat(file.authenticate(TOKEN_B)).contains(new Principal("client-b", Set.of(), "token"));
    assertThat(file.authenticate("hrld_commented-out")).isEmpty();
    assertThat(file.authenticate(TOKEN_A + "x")).isEmpty();
    assertThat(file.authenticate(TokenFile.sha256Hex(TOKEN_A))).as("the hash is not a token").isEmpty();
    assertThat(file.authenticate("")).isEmpty();
    assertThat(file.authenticate(null)).isEmpty();
  }

  @Test
  void aPrincipalMayHaveSeveralTokens() {
    TokenFile file = TokenFile.parse(line("client-a", TOKEN_A, "") + "\r\n" + line("client-a", TOKEN_B, "g") + "\r\n", FILE);
    assertThat(file.authenticate(TOKEN_A)).map(Principal::name).contains("client-a");
    assertThat(file.authenticate(TOKEN_B)).map(Principal::groups).contains(Set.of("g"));
  }

  @Test
  void refusesOverLongTokensWithoutHashingThem() {
    String longToken = "x".repeat(TokenFile.MAX_TOKEN_CHARS + 1);
    TokenFile file = TokenFile.parse(line("big", longToken, ""), FILE);
    assertThat(file.authenticate(longToken)).isEmpty();
  }

  @Test
  void anEmptyFileAuthenticatesNoOne() {
    assertThat(TokenFile.parse("", FILE).authenticate(TOKEN_A)).isEmpty();
    assertThat(TokenFile.parse("# none yet\n", FILE).size()).isZero();
  }

  private static final String HASH = "sha256:" + TokenFile.sha256Hex("t");

  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', value = {
      "client-a                       | line 1: principal 'client-a' has no hash",
      "client-a hrld_secret           | line 1: the second field must be sha256:HEX",
      "client-a sha256:abc            | line 1: the hash has 3 hex digits; SHA-256 has 64",
      "client-a sha256:               | line 1: the hash has 0 hex digits",
      "client-a HASH0                 | line 1: the hash has 65 hex digits",
      "client-a UPPER                 | line 1: the hash has an uppercase character at index 0",
      "client-a NONHEX                | line 1: the hash has a non-hex character at index 63",
      "HASH                           | line 1: starts with the hash",
      "* HASH                         | line 1: '*' cannot be a principal name",
      "client-a HASH a,,b             | line 1: an empty group in 'a,,b'",
      "client-a HASH a,               | line 1: an empty group",
      "client-a HASH ,a               | line 1: an empty group",
      "client-a HASH a,*              | line 1: '*' cannot be a group name",
      "client-a HASH a b              | line 1: unexpected text after the groups (not shown",
      "hrld_abc123                    | line 1: this line holds a token itself, a secret: remove it",
      "CTRL HASH                      | line 1: the principal has a space or control character (U+0007) at index 1",
  })
  void refusesABadLineWithItsNumber(String line, String expected) {
    String text = line.replace("HASH", HASH)
        .replace("UPPER", "sha256:" + TokenFile.sha256Hex("t").toUpperCase(java.util.Locale.ROOT))
        .replace("NONHEX", "sha256:" + TokenFile.sha256Hex("t").substring(0, 63) + "g")
        .replace("CTRL", "a\u0007b");
    assertThatThrownBy(() -> TokenFile.parse(text, FILE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(FILE + ": " + expected);
  }

  /** The easy mistake: appending both lines of 'herald token new' to the file. The token never reaches the message. */
  @Test
  void aTokenPastedIntoTheFileIsNotEchoed() {
    String token = "hrld_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";
    for (String text : new String[] {token + "\nalice " + HASH + "\n", "alice " + HASH + " producers " + token + "\n"}) {
      assertThatThrownBy(() -> TokenFile.parse(text, FILE)).isInstanceOf(IllegalArgumentException.class)
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(token).doesNotContain(token.substring(0, 20)));
    }
  }

  @Test
  void refusesTheSameHashTwiceNamingBothLines() {
    String text = String.join("\n", "# header", line("a", TOKEN_A, ""), line("b", TOKEN_B, ""), line("c", TOKEN_A, ""));
    assertThatThrownBy(() -> TokenFile.parse(text, FILE))
        .hasMessageContaining("tokens.txt: line 4: the same hash as line 2");
  }

  @Test
  void listsEveryBadLineAndNoHashes() {
    String text = String.join("\n", "a sha256:1", line("ok", TOKEN_A, ""), "b", "c sha256:2");
    assertThatThrownBy(() -> TokenFile.parse(text, FILE))
        .hasMessageContaining("line 1:")
        .hasMessageContaining("line 3:")
        .hasMessageContaining("line 4:")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("line 2").doesNotContain(TokenFile.sha256Hex(TOKEN_A)));
  }

  @Test
  void capsTheListOfProblems() {
    String text = "x\n".repeat(25);
    assertThatThrownBy(() -> TokenFile.parse(text, FILE))
        .hasMessageContaining("line 10:")
        .hasMessageContaining("(and 15 more)")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("line 11:"));
  }
}
