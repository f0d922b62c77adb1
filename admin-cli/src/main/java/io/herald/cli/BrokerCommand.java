package io.herald.cli;

import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.herald.client.HeraldClient;
import io.herald.client.internal.Errors;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.Topic;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

@Command(name = "broker", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class, description = "Ask a broker how it is.",
    subcommands = {BrokerCommand.Info.class, BrokerCommand.Health.class, CommandLine.HelpCommand.class})
final class BrokerCommand {

  static HealthCheckResponse health(HeraldClient client, Connection connection) {
    // the health service is standard gRPC; the SDK's channel serves it too
    var channel = ((io.herald.client.internal.AdminClientImpl) client.admin()).rawStub().getChannel();
    return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(connection.timeout.toMillis(), TimeUnit.MILLISECONDS)
        .check(HealthCheckRequest.getDefaultInstance());
  }

  @Command(name = "health", mixinStandardHelpOptions = true,
      description = "gRPC health of the broker: exit 0 when SERVING, 5 otherwise (or unreachable).")
  static final class Health implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }

    @Override
    public Integer call() {
      HealthCheckResponse r;
      try (HeraldClient client = conn().client()) {
        r = health(client, conn());
      } catch (RuntimeException e) {
        throw Errors.from(e);
      }
      PrintWriter out = spec.commandLine().getOut();
      out.println(conn().json() ? Json.of(r) : r.getStatus().name());
      out.flush();
      return r.getStatus() == HealthCheckResponse.ServingStatus.SERVING ? Main.OK : Main.UNAVAILABLE;
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true, description = "Address, health, topics and totals of a broker.")
  static final class Info implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }

    @Override
    public Integer call() {
      HealthCheckResponse health;
      ListTopicsResponse all;
      try (HeraldClient client = conn().client()) {
        health = health(client, conn());
        all = Pages.allTopics(client, 1000);
      } catch (RuntimeException e) {
        throw Errors.from(e);
      }
      long published = 0;
      long delivered = 0;
      long dropped = 0;
      long subscribers = 0;
      for (Topic t : all.getTopicsList()) {
        published += t.getStats().getPublished();
        delivered += t.getStats().getDelivered();
        dropped += t.getStats().getDropped();
        subscribers += t.getStats().getSubscriberCount();
      }
      PrintWriter out = spec.commandLine().getOut();
      if (conn().json()) {
        out.printf("{\"server\":\"%s\",\"health\":\"%s\",\"topics\":%d,\"subscriptions\":%d,\"published\":%d,\"delivered\":%d,\"dropped\":%d}%n",
            conn().server, health.getStatus(), all.getTopicsCount(), subscribers, published, delivered, dropped);
        out.flush();
        return Main.OK;
      }
      new Table("FIELD", "VALUE")
          .row("server", conn().server)
          .row("health", health.getStatus())
          .row("topics", all.getTopicsCount())
          .row("subscriptions", subscribers)
          .row("published", published)
          .row("delivered", delivered)
          .row("dropped", dropped)
          .print(out);
      return Main.OK;
    }
  }
}
