package io.herald.cli;

import io.herald.client.HeraldClient;
import io.herald.client.internal.Errors;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.ListSubscriptionsResponse;
import io.herald.proto.v1.SubscriptionInfo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "subscription", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class, description = "Inspect subscriptions.",
    subcommands = {SubscriptionCommand.ListSubscriptions.class, CommandLine.HelpCommand.class})
final class SubscriptionCommand {

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "The live subscriptions of a topic: policy, broker buffer, credit, delivered, dropped, lag.")
  static final class ListSubscriptions implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }
    @Parameters(paramLabel = "TOPIC") String topic;

    @Override
    public Integer call() {
      ListSubscriptionsResponse.Builder all = ListSubscriptionsResponse.newBuilder();
      try (HeraldClient client = conn().client()) {
        String token = "";
        do {
          ListSubscriptionsResponse page = Connection.admin(client).listSubscriptions(ListSubscriptionsRequest.newBuilder()
              .setTopic(topic).setPageSize(1000).setPageToken(token).build());
          all.addAllSubscriptions(page.getSubscriptionsList());
          token = page.getNextPageToken();
        } while (!token.isEmpty());
      } catch (RuntimeException e) {
        throw Errors.from(e);
      }
      PrintWriter out = spec.commandLine().getOut();
      if (conn().json()) {
        out.println(Json.of(all));
        out.flush();
        return Main.OK;
      }
      Table t = new Table("ID", "NAME", "PEER", "POLICY", "BUFFER", "CREDIT", "DELIVERED", "DROPPED", "LAG");
      for (SubscriptionInfo s : all.getSubscriptionsList()) {
        t.row(s.getSubscriptionId(), s.getSubscriberName().isEmpty() ? "-" : s.getSubscriberName(), s.getPeer(),
            s.getOverflowPolicy().name().replace("OVERFLOW_POLICY_", ""), s.getBufferDepthEvents() + "/" + s.getBufferMaxEvents(),
            s.getCreditEvents(), s.getDelivered(), s.getDropped(), s.getLagEvents());
      }
      t.print(out);
      return Main.OK;
    }
  }
}
