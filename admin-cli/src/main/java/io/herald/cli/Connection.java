package io.herald.cli;

import io.herald.client.HeraldClient;
import io.herald.client.internal.AdminClientImpl;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * Options every command that talks to a broker has: where, how long to wait, how to print.
 * {@code --server} beats {@code HERALD_SERVER} beats {@code 127.0.0.1:7070}.
 */
public final class Connection {
  public enum Format { table, text, json }

  @Option(names = {"-s", "--server"}, paramLabel = "HOST:PORT", defaultValue = "${env:HERALD_SERVER:-127.0.0.1:7070}",
      description = "Broker address (env HERALD_SERVER, default ${DEFAULT-VALUE}).")
  String server;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s", converter = Durations.class,
      description = "How long to wait for the broker (default ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = {"-o", "--output"}, defaultValue = "table",
      description = "table (or text) for people, json (the proto3 JSON of the API response) for scripts. Default ${DEFAULT-VALUE}.")
  Format output;

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
