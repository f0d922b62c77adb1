package io.herald.cli;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "token", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
    description = "Make tokens for a broker's --auth-tokens file.",
    subcommands = {TokenCommand.New.class, CommandLine.HelpCommand.class})
final class TokenCommand {
  /** Every token starts with this, so that a leaked one is easy to recognize (and to scan for). */
  static final String PREFIX = "hrld_";
  /** Random bytes in a token: {@value}, 256 bits. */
  static final int RANDOM_BYTES = 32;

  private static final SecureRandom RANDOM = new SecureRandom();

  @Command(name = "new", mixinStandardHelpOptions = true,
      description = {"Print a fresh token (first line) and the line to add to the broker's --auth-tokens file (second line).",
          "The file keeps only the token's SHA-256: the token is shown once, here; nothing is sent to a broker."},
      footer = {"", "Examples:",
          "  herald token new client-a --groups producers,audit",
          "  herald token new ci-bot 2>/dev/null | sed -n 2p >> tokens.txt"})
  static final class New implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "PRINCIPAL", description = "Who the token proves: the name the ACL grants to (no spaces).")
    String principal;

    @Option(names = "--groups", paramLabel = "GROUP[,GROUP...]", description = "Groups the principal belongs to, comma-separated, no spaces.")
    String groups;

    @Override
    public Integer call() {
      checkName(principal, "PRINCIPAL");
      String groupField = "";
      if (groups != null) {
        for (String g : groups.split(",", -1)) {
          if (g.isEmpty()) {
            throw usage("--groups '" + groups + "' has an empty group; separate groups with single commas, e.g. --groups producers,audit");
          }
          checkName(g, "group");
        }
        groupField = " " + groups;
      }
      String token = newToken();
      var out = spec.commandLine().getOut();
      out.println(token);
      out.println(principal + " sha256:" + sha256Hex(token) + groupField);
      out.flush();
      var err = spec.commandLine().getErr();
      err.println("herald: the first line is the token: give it to the client, and keep it secret; it is not shown again.");
      err.println("herald: add the second line to the broker's --auth-tokens file (the broker re-reads the file when it changes).");
      err.flush();
      return Main.OK;
    }

    private void checkName(String name, String what) {
      if (name == null || name.isEmpty()) {
        throw usage(what + " is empty");
      }
      if ("*".equals(name)) {
        throw usage(what + " cannot be '*' (in the ACL it means any principal)");
      }
      if (name.startsWith("#")) {
        throw usage(what + " '" + name + "' starts with '#', which starts a comment in the tokens file");
      }
      if (name.startsWith("sha256:")) {
        throw usage(what + " '" + name + "' starts with 'sha256:'; give a name");
      }
      for (int i = 0; i < name.length(); i++) {
        char c = name.charAt(i);
        if (Character.isWhitespace(c) || Character.isISOControl(c) || (c == ',' && !"PRINCIPAL".equals(what))) {
          throw usage(String.format(java.util.Locale.ROOT, "%s '%s' has a %s at index %d; names have no spaces%s",
              what, name.strip(), c == ',' ? "comma" : "space or control character", i, "group".equals(what) ? " or commas" : ""));
        }
      }
    }

    private CommandLine.ParameterException usage(String message) {
      return new CommandLine.ParameterException(spec.commandLine(), message);
    }
  }

  private TokenCommand() { }

  /** {@value #PREFIX} and {@value #RANDOM_BYTES} random bytes from a {@link SecureRandom}, base64url without padding. */
  static String newToken() {
    byte[] bytes = new byte[RANDOM_BYTES];
    RANDOM.nextBytes(bytes);
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /**
   * The lowercase hex SHA-256 of the token's UTF-8 bytes. The broker's {@code TokenFile.sha256Hex}
   * computes the same (the CLI does not depend on the broker); {@code TokenCommandTest} checks that
   * the broker accepts what this prints.
   */
  static String sha256Hex(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
