package io.herald.cli;

import io.herald.client.ErrorCode;
import io.herald.client.ErrorReason;
import io.herald.client.HeraldException;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code herald}: the command line for a Herald broker. The global options ({@link Connection})
 * are declared here and inherited by every subcommand. Data goes to stdout, diagnostics to
 * stderr. Exit codes: 0 ok, 1 error, 2 usage (including a value the broker refused as invalid),
 * 3 not found, 4 already exists / failed precondition, 5 unavailable or deadline exceeded (a retry
 * may help), 130 interrupted.
 */
@Command(name = "herald", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
    description = "Manage and use a Herald event bus: topics, publish, subscribe, load tests.",
    subcommands = {TopicCommand.class, PublishCommand.class, SubscribeCommand.class, SubscriptionCommand.class, ClusterCommand.class,
        BrokerCommand.class, BenchCommand.class, TokenCommand.class, CompletionCommand.class, VersionCommand.class, CommandLine.HelpCommand.class},
    footer = {"", "Examples:",
        "  herald topic create orders --policy DROP_OLDEST",
        "  herald subscribe orders --from earliest",
        "  echo '{\"id\":1}' | herald publish orders --type order.created",
        "  herald bench fanout --subscribers 8 --size 128 --duration 10s",
        "  herald --server broker-2:7070 -o json topic list",
        "  herald token new client-a --groups producers",
        "",
        "The options above (--server, --tls..., --token-file, --timeout, -o) go before or after the command; every command has --help.",
        "A secured broker: herald --tls-ca ca.pem --token-file token.txt topic list (or the token in env HERALD_TOKEN).",
        "",
        "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 already exists / precondition, 5 unavailable (retry may help)."})
public final class Main {
  /** The global options, inherited by every subcommand (see {@link Connection}). */
  @Mixin Connection connection;

  public static final int OK = 0;
  public static final int ERROR = 1;
  public static final int USAGE = 2;
  public static final int NOT_FOUND = 3;
  public static final int CONFLICT = 4;
  public static final int UNAVAILABLE = 5;
  public static final int INTERRUPTED = 130;

  /** Builds the command line with the process environment (tests drive it with their own writers). */
  public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
    return commandLine(out, err, System.getenv());
  }

  /** Builds the command line with {@code env} as the environment ({@code HERALD_TOKEN}). */
  public static CommandLine commandLine(PrintWriter out, PrintWriter err, Map<String, String> env) {
    Main main = new Main();
    CommandLine cl = new CommandLine(main);
    main.connection.env = Map.copyOf(env);
    main.connection.err = err;
    cl.setExpandAtFiles(false); // @FILE is publish's payload syntax, not picocli's argument files
    cl.setOut(out);
    cl.setErr(err);
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println("herald: " + message(ex, main.connection));
      cmd.getErr().flush();
      return exitCode(ex);
    });
    cl.setExitCodeExceptionMapper(Main::exitCode);
    return cl;
  }

  static String message(Throwable ex) {
    return message(ex, null);
  }

  /** One line for stderr; with {@code connection}, an authentication failure says which option to check. */
  static String message(Throwable ex, Connection connection) {
    if (ex instanceof HeraldException h) {
      String m = h.getMessage();
      if (h.reason() == ErrorReason.UNAUTHENTICATED) {
        return m + (connection == null || connection.hasCredential()
            ? " (check the token from --token, --token-file or " + Connection.TOKEN_ENV + ", or the client certificate)"
            : " (give a token with --token-file FILE or " + Connection.TOKEN_ENV + ", or a client certificate with --tls-cert/--tls-key)");
      }
      if (h.reason() == ErrorReason.PERMISSION_DENIED) {
        return m + " (the credential was accepted, but the broker's ACL grants its principal no such permission: ask the broker's operator)";
      }
      return h.isRetryable() ? m + " (retry may help)" : m;
    }
    return ex.getMessage() == null ? ex.toString() : ex.getMessage();
  }

  static int exitCode(Throwable ex) {
    if (ex instanceof CommandLine.ParameterException || ex instanceof IllegalArgumentException) {
      return USAGE;
    }
    if (ex instanceof InterruptedException) {
      return INTERRUPTED;
    }
    if (ex instanceof HeraldException h) {
      return exitCode(h.code());
    }
    return ERROR;
  }

  static int exitCode(ErrorCode code) {
    return switch (code) {
      case OK -> OK;
      case INVALID_ARGUMENT, OUT_OF_RANGE -> USAGE;
      case NOT_FOUND -> NOT_FOUND;
      case ALREADY_EXISTS, FAILED_PRECONDITION -> CONFLICT;
      case UNAVAILABLE, DEADLINE_EXCEEDED -> UNAVAILABLE;
      default -> ERROR;
    };
  }

  public static void main(String[] args) {
    PrintWriter out = new PrintWriter(System.out, true);
    PrintWriter err = new PrintWriter(System.err, true);
    System.exit(commandLine(out, err).execute(args));
  }
}
