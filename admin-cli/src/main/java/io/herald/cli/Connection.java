package io.herald.cli;

import io.herald.client.HeraldClient;
import io.herald.client.internal.AdminClientImpl;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The global options: where the broker is, how long to wait, how to print. Declared once, on the
 * {@code herald} command, and inherited by every subcommand, so they may be given before the
 * subcommand ({@code herald --server h:7070 topic list}), between its words, or after it; given
 * twice, the last one wins. {@code --server} beats {@code HERALD_SERVER} beats {@code 127.0.0.1:7070}.
 */
public final class Connection {
  public enum Format { table, text, json }

  @Option(names = {"-s", "--server"}, paramLabel = "HOST:PORT", defaultValue = "${env:HERALD_SERVER:-127.0.0.1:7070}", scope = ScopeType.INHERIT,
      description = "Broker address (env HERALD_SERVER, default ${DEFAULT-VALUE}).")
  String server;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s", converter = Durations.class, scope = ScopeType.INHERIT,
      description = "How long to wait for the broker (default ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = {"-o", "--output"}, defaultValue = "table", scope = ScopeType.INHERIT,
      description = "table (or text) for people, json (the proto3 JSON of the API response) for scripts. Default ${DEFAULT-VALUE}.")
  Format output;

  /** The global options as parsed for the command line that {@code spec} belongs to. */
  static Connection of(CommandSpec spec) {
    return ((Main) spec.root().userObject()).connection;
  }

  HeraldClient client() {
    return HeraldClient.builder().endpoints(server).name("herald-cli").callTimeout(timeout).build();
  }

  static TopicAdminServiceGrpc.TopicAdminServiceBlockingStub admin(HeraldClient client) {
    return ((AdminClientImpl) client.admin()).rawStub();
  }

  boolean json() {
    return output == Format.json;
  }
}
