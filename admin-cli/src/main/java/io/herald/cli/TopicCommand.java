package io.herald.cli;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.herald.client.HeraldClient;
import io.herald.client.HeraldException;
import io.herald.client.internal.Errors;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.Topic;
import io.herald.proto.v1.TopicConfig;
import io.herald.proto.v1.TopicStats;
import io.herald.proto.v1.UpdateTopicRequest;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "topic", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class, description = "Create, list, describe, update and delete topics.",
    subcommands = {TopicCommand.Create.class, TopicCommand.ListTopics.class, TopicCommand.Describe.class,
        TopicCommand.Update.class, TopicCommand.Delete.class, CommandLine.HelpCommand.class})
final class TopicCommand {

  static Topic withClient(Connection connection, java.util.function.Function<HeraldClient, Topic> f) {
    try (HeraldClient client = connection.client()) {
      return f.apply(client);
    } catch (RuntimeException e) {
      throw Errors.from(e);
    }
  }

  static void printTopic(PrintWriter out, Topic t) {
    TopicConfig c = t.getConfig();
    TopicStats s = t.getStats();
    new Table("FIELD", "VALUE")
        .row("name", t.getName())
        .row("created", ts(t.getCreateTime()))
        .row("default policy", c.getDefaultOverflowPolicy().name().replace("OVERFLOW_POLICY_", ""))
        .row("subscriber buffer", c.getSubscriberBufferMaxEvents() + " events / " + c.getSubscriberBufferMaxBytes() + " bytes")
        .row("inbox", c.getInboxMaxEvents() + " events / " + c.getInboxMaxBytes() + " bytes")
        .row("publish overflow", c.getPublishOverflow().name().replace("PUBLISH_OVERFLOW_", ""))
        .row("publish wait line", c.getPublishWaitMaxEvents() + " events / " + c.getPublishWaitMaxBytes() + " bytes")
        .row("max event bytes", c.getMaxEventBytes())
        .row("max block", dur(c.getMaxBlock()))
        .row("retention", c.getRetention().getMaxEvents() + " events / " + c.getRetention().getMaxBytes() + " bytes / " + dur(c.getRetention().getMaxAge()))
        .row("dedup", dur(c.getDedupWindow()) + ", " + c.getDedupMaxIds() + " ids")
        .row("block policy allowed", c.getBlockPolicyAllowed())
        .row("epoch", t.getEpoch() + " (" + t.getEpochCause().name().replace("EPOCH_CAUSE_", "").toLowerCase(java.util.Locale.ROOT)
            + " at sequence " + t.getEpochStartSequence() + ")")
        .row("owner", t.getOwner())
        .row("published", s.getPublished())
        .row("delivered", s.getDelivered())
        .row("dropped", s.getDropped())
        .row("inbox depth", s.getInboxDepthEvents() + " events / " + s.getInboxDepthBytes() + " bytes")
        .row("waiting for inbox room", s.getWaitingEvents() + " events / " + s.getWaitingBytes() + " bytes")
        .row("subscribers", s.getSubscriberCount())
        .row("next sequence", s.getNextSequence())
        .row("retained", s.getRetainedEvents() + " events / " + s.getRetainedBytes() + " bytes (from " + s.getFirstRetainedSequence() + ")")
        .row("duplicates", s.getDuplicates())
        .row("rejected batches", s.getRejected())
        .row("slow consumer evictions", s.getSlowConsumerEvictions())
        .row("dedup ids held", s.getDedupIds())
        .row("dispatch loop restarts", s.getLoopRestarts())
        .print(out);
  }

  static String dur(Duration d) {
    return java.time.Duration.ofSeconds(d.getSeconds(), d.getNanos()).toString().substring(2).toLowerCase(java.util.Locale.ROOT);
  }

  static String ts(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).toString();
  }

  @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a topic; unset settings take the broker defaults.",
      footer = {"", "Examples:", "  herald topic create orders", "  herald topic create audit --policy BLOCK --max-block 1m --retention-events 100000",
          "  herald topic create orders --if-not-exists -o json"})
  static final class Create implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }
    @Mixin TopicFlags flags;
    @Parameters(paramLabel = "TOPIC", description = "1-249 characters of [A-Za-z0-9._-].") String name;
    @Option(names = "--if-not-exists", description = "Succeed (exit 0) if the topic exists already.") boolean ifNotExists;

    @Override
    public Integer call() {
      Topic t;
      try {
        t = withClient(conn(), c -> Connection.admin(c).createTopic(CreateTopicRequest.newBuilder().setName(name).setConfig(flags.toConfig()).build()).getTopic());
      } catch (HeraldException.TopicExistsException e) {
        if (!ifNotExists) {
          throw e;
        }
        t = withClient(conn(), c -> Connection.admin(c).getTopic(GetTopicRequest.newBuilder().setName(name).build()).getTopic());
        spec.commandLine().getErr().println("herald: topic '" + name + "' exists already");
      }
      PrintWriter out = spec.commandLine().getOut();
      if (conn().json()) {
        out.println(Json.of(t));
      } else {
        out.println("created topic " + t.getName());
      }
      out.flush();
      return Main.OK;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List topics with their live counters.")
  static final class ListTopics implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }
    @Option(names = "--page-size", defaultValue = "1000", description = "Topics per request (default ${DEFAULT-VALUE}); all pages are listed.") int pageSize;

    @Override
    public Integer call() {
      ListTopicsResponse all;
      try (HeraldClient client = conn().client()) {
        all = Pages.allTopics(client, pageSize);
      }
      PrintWriter out = spec.commandLine().getOut();
      if (conn().json()) {
        out.println(Json.of(all));
        out.flush();
        return Main.OK;
      }
      Table table = new Table("NAME", "POLICY", "SUBSCRIBERS", "PUBLISHED", "DELIVERED", "DROPPED", "INBOX");
      for (Topic t : all.getTopicsList()) {
        TopicStats s = t.getStats();
        table.row(t.getName(), t.getConfig().getDefaultOverflowPolicy().name().replace("OVERFLOW_POLICY_", ""), s.getSubscriberCount(),
            s.getPublished(), s.getDelivered(), s.getDropped(), s.getInboxDepthEvents());
      }
      table.print(out);
      return Main.OK;
    }
  }

  @Command(name = "describe", mixinStandardHelpOptions = true, description = "Show a topic's settings and live stats.")
  static final class Describe implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }
    @Parameters(paramLabel = "TOPIC") String name;

    @Override
    public Integer call() {
      Topic t = withClient(conn(), c -> Connection.admin(c).getTopic(GetTopicRequest.newBuilder().setName(name).build()).getTopic());
      PrintWriter out = spec.commandLine().getOut();
      if (conn().json()) {
        out.println(Json.of(t));
        out.flush();
      } else {
        printTopic(out, t);
      }
      return Main.OK;
    }
  }

  @Command(name = "update", mixinStandardHelpOptions = true, description = "Change the given settings of a topic; the others stay.",
      footer = {"", "Example:", "  herald topic update orders --max-event-bytes 64KiB --retention-age 2h"})
  static final class Update implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }
    @Mixin TopicFlags flags;
    @Parameters(paramLabel = "TOPIC") String name;

    @Override
    public Integer call() {
      if (!flags.any()) {
        throw new IllegalArgumentException("nothing to update: give at least one setting flag (see --help)");
      }
      Topic t = withClient(conn(), c -> Connection.admin(c).updateTopic(UpdateTopicRequest.newBuilder().setName(name).setConfig(flags.toConfig()).build()).getTopic());
      PrintWriter out = spec.commandLine().getOut();
      if (conn().json()) {
        out.println(Json.of(t));
      } else {
        out.println("updated topic " + t.getName());
      }
      out.flush();
      return Main.OK;
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true,
      description = "Delete a topic; its subscriptions end. Asks for confirmation on a terminal unless --force; never prompts without one.")
  static final class Delete implements Callable<Integer> {
    static Terminal terminal = Terminal.SYSTEM;

    @Spec CommandLine.Model.CommandSpec spec;
    Connection conn() {
      return Connection.of(spec);
    }
    @Parameters(paramLabel = "TOPIC") String name;
    @Option(names = {"-f", "--force"}, description = "Do not ask.") boolean force;
    @Option(names = "--if-exists", description = "Succeed (exit 0) if the topic does not exist.") boolean ifExists;

    @Override
    public Integer call() {
      PrintWriter err = spec.commandLine().getErr();
      if (!force) {
        if (!terminal.interactive()) {
          throw new IllegalArgumentException(
              "refusing to delete topic '" + name + "' without confirmation: not a terminal; pass --force");
        }
        String answer = terminal.readLine("Delete topic '" + name + "' and end its subscriptions? Type the topic name to confirm: ");
        if (answer == null || !answer.trim().equals(name)) {
          err.println("herald: not deleted");
          err.flush();
          return Main.ERROR;
        }
      }
      try (HeraldClient client = conn().client()) {
        Connection.admin(client).deleteTopic(DeleteTopicRequest.newBuilder().setName(name).build());
      } catch (RuntimeException e) {
        HeraldException h = Errors.from(e);
        if (!(ifExists && h instanceof HeraldException.TopicNotFoundException)) {
          throw h;
        }
        err.println("herald: topic '" + name + "' does not exist");
        err.flush();
      }
      PrintWriter out = spec.commandLine().getOut();
      if (conn().json()) {
        out.println("{}");
      } else {
        out.println("deleted topic " + name);
      }
      out.flush();
      return Main.OK;
    }
  }
}
