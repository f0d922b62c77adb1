package io.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.SubscribeResponse;
import io.herald.proto.v1.Topic;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Every command against a real broker in-process: output, JSON, exit codes, confirmation rules. */
@Timeout(120)
class CliTest {
  private Broker broker;
  private String server;

  record Result(int code, String out, String err) { }

  @BeforeEach
  void start() throws Exception {
    broker = Broker.start(BrokerConfig.defaults("127.0.0.1:0"));
    server = "127.0.0.1:" + broker.port();
    TopicCommand.Delete.terminal = Terminal.SYSTEM;
    PublishCommand.stdin = System.in;
  }

  @AfterEach
  void stop() {
    broker.close();
  }

  Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>(List.of(args));
    // --server at the end (global options work anywhere)
    int code = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(withServer(all));
    return new Result(code, out.toString(), err.toString());
  }

  private String[] withServer(List<String> args) {
    boolean needs = !args.isEmpty() && !List.of("completion", "version", "--help", "--version").contains(args.get(0))
        && !args.contains("--help") && args.stream().noneMatch(a -> a.startsWith("--server"));
    if (needs) {
      args.add("--server=" + server);
    }
    return args.toArray(String[]::new);
  }

  @Test
  void topicLifecycleWithTablesJsonAndExitCodes() throws Exception {
    Result created = run("topic", "create", "orders", "--policy", "BLOCK", "--max-block", "5s", "--subscriber-buffer-bytes", "8MiB");
    assertThat(created.code()).isZero();
    assertThat(created.out()).contains("created topic orders");

    Result dup = run("topic", "create", "orders");
    assertThat(dup.code()).isEqualTo(Main.CONFLICT);
    assertThat(dup.err()).contains("already exists");
    assertThat(dup.out()).isEmpty();
    assertThat(run("topic", "create", "orders", "--if-not-exists").code()).isZero();

    Result json = run("topic", "describe", "orders", "-o", "json");
    assertThat(json.code()).isZero();
    Topic.Builder t = Topic.newBuilder();
    JsonFormat.parser().merge(json.out(), t);
    assertThat(t.getConfig().getSubscriberBufferMaxBytes()).isEqualTo(8L << 20);
    assertThat(t.getConfig().getMaxBlock().getSeconds()).isEqualTo(5);

    Result table = run("topic", "describe", "orders");
    assertThat(table.out()).contains("default policy").contains("BLOCK").contains("published")
        .contains("publish wait line").contains("100000 events / 67108864 bytes").contains("waiting for inbox room");

    Result wait = run("topic", "update", "orders", "--publish-wait-events", "500", "--publish-wait-bytes", "2MiB", "-o", "json");
    assertThat(wait.code()).isZero();
    assertThat(wait.out()).contains("\"publishWaitMaxEvents\": 500").contains("\"publishWaitMaxBytes\": \"2097152\"");

    assertThat(run("topic", "update", "orders").code()).isEqualTo(Main.USAGE);
    Result upd = run("topic", "update", "orders", "--max-event-bytes", "64KiB", "-o", "json");
    assertThat(upd.code()).isZero();
    assertThat(upd.out()).contains("\"maxEventBytes\": 65536");

    Result bad = run("topic", "update", "orders", "--inbox-events", "0");
    assertThat(bad.code()).isEqualTo(Main.USAGE);
    assertThat(bad.err()).contains("inbox_max_events");

    run("topic", "create", "other");
    Result list = run("topic", "list", "-o", "json");
    ListTopicsResponse.Builder l = ListTopicsResponse.newBuilder();
    JsonFormat.parser().merge(list.out(), l);
    assertThat(l.getTopicsList()).extracting(Topic::getName).containsExactly("orders", "other");
    assertThat(run("topic", "list").out()).contains("NAME").contains("orders").contains("other");

    Result missing = run("topic", "describe", "nope");
    assertThat(missing.code()).isEqualTo(Main.NOT_FOUND);
    assertThat(missing.err()).contains("'nope'");
  }

  @Test
  void deleteAsksOnATerminalAndRefusesToPromptWithoutOne() {
    run("topic", "create", "a");
    Result refused = run("topic", "delete", "a");
    assertThat(refused.code()).isEqualTo(Main.USAGE);
    assertThat(refused.err()).contains("not a terminal").contains("--force");

    TopicCommand.Delete.terminal = new Terminal() {
      @Override public boolean interactive() { return true; }
      @Override public String readLine(String prompt) { return "wrong"; }
    };
    assertThat(run("topic", "delete", "a").code()).isEqualTo(Main.ERROR);
    TopicCommand.Delete.terminal = new Terminal() {
      @Override public boolean interactive() { return true; }
      @Override public String readLine(String prompt) { return "a"; }
    };
    assertThat(run("topic", "delete", "a").code()).isZero();
    TopicCommand.Delete.terminal = Terminal.SYSTEM;
    assertThat(run("topic", "delete", "a", "--force").code()).isEqualTo(Main.NOT_FOUND);
    assertThat(run("topic", "delete", "a", "--force", "--if-exists").code()).isZero();
    run("topic", "create", "b");
    assertThat(run("topic", "delete", "b", "--force").code()).isZero();
  }

  @Test
  void publishFromArgumentFileAndStdinThenSubscribeAsJson(@TempDir Path dir) throws Exception {
    run("topic", "create", "t");
    Result one = run("publish", "t", "hello", "--type", "greeting", "--attr", "tenant=acme", "-o", "json");
    assertThat(one.code()).isZero();
    PublishAck.Builder ack = PublishAck.newBuilder();
    JsonFormat.parser().merge(one.out().trim(), ack);
    assertThat(ack.getSequence()).isEqualTo(1);

    Path f = dir.resolve("e.json");
    Files.writeString(f, "{\"from\":\"file\"}");
    assertThat(run("publish", "t", "@" + f).out()).contains("at sequence 2");

    PublishCommand.stdin = new ByteArrayInputStream("l1\nl2\n\nl3\n".getBytes(StandardCharsets.UTF_8));
    Result lines = run("publish", "t");
    assertThat(lines.out()).contains("published 3 events").contains("3..5");
    assertThat(run("publish", "t", "x", "--count", "5", "--rate", "1000/s").out()).contains("6..10");

    Result sub = run("subscribe", "t", "--from", "earliest", "--count", "10", "-o", "json");
    assertThat(sub.code()).isZero();
    List<SubscribeResponse> frames = new ArrayList<>();
    for (String line : sub.out().split("\n")) {
      SubscribeResponse.Builder b = SubscribeResponse.newBuilder();
      JsonFormat.parser().merge(line, b);
      frames.add(b.build());
    }
    assertThat(frames).hasSize(10);
    assertThat(frames.get(0).getBatch().getEvents(0).getEvent().getAttributesMap()).containsEntry("tenant", "acme");
    assertThat(frames.get(0).getBatch().getEvents(0).getEvent().getType()).isEqualTo("greeting");
    assertThat(frames.get(1).getBatch().getEvents(0).getEvent().getData().toStringUtf8()).isEqualTo("{\"from\":\"file\"}");
    assertThat(frames.get(9).getBatch().getEvents(0).getSequence()).isEqualTo(10);

    Result text = run("subscribe", "t", "--from", "3", "--count", "1");
    assertThat(text.out()).matches("(?s)\\d+:3 .*").contains("l1"); // EPOCH:SEQ first
  }

  @Test
  void subscribeShowsGapNoticesInBand() {
    run("topic", "create", "g", "--retention-events", "5");
    run("publish", "g", "x", "--count", "20");
    Result r = run("subscribe", "g", "--from", "1", "--count", "5");
    assertThat(r.code()).isZero();
    assertThat(r.out().lines().findFirst().orElseThrow()).matches("gap: lost 15 events \\(sequences 1\\.\\.15 of epoch \\d+, RETENTION\\)");
    assertThat(r.out().lines().skip(1)).hasSize(5);
  }

  @Test
  void publishAndSubscribeErrorsMapToExitCodes() {
    assertThat(run("publish", "missing", "x").code()).isEqualTo(Main.NOT_FOUND);
    assertThat(run("subscribe", "missing").code()).isEqualTo(Main.NOT_FOUND);
    assertThat(run("publish", "bad topic", "x").code()).isEqualTo(Main.USAGE);
    assertThat(run("subscribe", "t", "--from", "yesterday").code()).isEqualTo(Main.USAGE);
    assertThat(run("topic", "create").code()).isEqualTo(Main.USAGE);
    Result down = run("topic", "list", "--server=127.0.0.1:1", "--timeout", "2s");
    assertThat(down.code()).isEqualTo(Main.UNAVAILABLE);
    assertThat(down.err()).contains("retry may help");
  }

  @Test
  void subscriptionListAndBrokerInfoAndHealth() throws Exception {
    run("topic", "create", "s");
    Thread sub = Thread.ofPlatform().start(() -> run("subscribe", "s", "--count", "1"));
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> run("subscription", "list", "s").out().contains("herald-cli"));
    Result list = run("subscription", "list", "s", "-o", "json");
    assertThat(list.out()).contains("\"subscriberName\": \"herald-cli\"");
    run("publish", "s", "bye");
    sub.join(10_000);
    Result health = run("broker", "health");
    assertThat(health.code()).isZero();
    assertThat(health.out().trim()).isEqualTo("SERVING");
    Result info = run("broker", "info", "-o", "json");
    assertThat(info.out()).contains("\"topics\":1").contains("\"published\":1");
  }

  @Test
  void benchSummaryAgreesWithWhatTheBrokerCounted() throws Exception {
    Result r = run("bench", "fanout", "--subscribers", "2", "--duration", "1s", "--warmup", "0s", "--rate", "2000/s", "-o", "json");
    assertThat(r.code()).as(r.err()).isZero();
    String j = r.out().trim();
    long published = field(j, "published");
    long delivered = field(j, "delivered");
    assertThat(published).isPositive();
    assertThat(field(j, "broker_published")).isEqualTo(published);
    assertThat(field(j, "broker_delivered")).isEqualTo(delivered);
    assertThat(delivered).isEqualTo(2 * published);
    assertThat(field(j, "unaccounted")).isZero();
    assertThat(j).contains("\"latency_us\":{\"count\":");
    Result lat = run("bench", "latency", "--rate", "1000/s", "--duration", "1s", "--warmup", "0s");
    assertThat(lat.out()).contains("latency from intended send (us): p50");
    // the bench removed its topics
    assertThat(run("topic", "list", "-o", "json").out()).doesNotContain("bench-");
  }

  @Test
  void benchMetadataMeasuresVisibilityAgainstASingleNode() throws Exception {
    Result r = run("bench", "metadata", "--servers=" + server, "--rounds", "3", "--duration", "20s", "-o", "json");
    assertThat(r.code()).as(r.err()).isZero();
    String j = r.out().trim();
    assertThat(field(j, "rounds")).isEqualTo(3);
    for (String op : List.of("create", "update", "delete")) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + op + "\":\\{\"visible\":\\{\"count\":(\\d+).*?\"not_visible\":(\\d+)")
          .matcher(j);
      assertThat(m.find()).as(op + " in " + j).isTrue();
      assertThat(m.group(1)).as(op).isEqualTo("3");
      assertThat(m.group(2)).as(op).isEqualTo("0");
    }
    Result table = run("bench", "metadata", "--servers=" + server, "--rounds", "1", "--poll-interval", "0ms");
    assertThat(table.code()).as(table.err()).isZero();
    assertThat(table.out()).contains("1 round(s)").contains("VISIBLE EVERYWHERE P50 MS").containsPattern("(?m)^update +1 ");
    // it removed its topics
    assertThat(run("topic", "list", "-o", "json").out()).doesNotContain("bench-metadata");
  }

  @Test
  void clusterBenchesRefuseBadFlagsWithMessagesThatSayWhatToDo() {
    String three = "--servers=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3";
    assertUsage(run("bench", "metadata"), "--servers");
    assertUsage(run("bench", "metadata", "--servers=127.0.0.1"), "'127.0.0.1' is not HOST:PORT");
    assertUsage(run("bench", "metadata", "--servers=127.0.0.1:1,127.0.0.1:1"), "'127.0.0.1:1' is given twice");
    assertUsage(run("bench", "metadata", "--servers=" + server, "--rounds", "0"), "--rounds must be within 1..100000; got 0");
    assertUsage(run("bench", "metadata", "--servers=" + server, "--poll-interval", "1s"), "--poll-interval must be within 0s..100ms; got 1s");
    assertUsage(run("bench", "metadata", "--servers=" + server, "--duration", "1h"), "--duration must be within 1s..10m; got 1h");
    assertUsage(run("bench", "metadata", "--servers=" + server, "--load", "fast"), "--load 'fast' is not a rate");
    assertUsage(run("bench", "metadata", "--servers=" + server, "--duration", "soon"), "'soon' is not a duration");
    assertUsage(run("bench", "failover", "--servers=" + server, "--kill-command", "kill {node}"), "needs the 3 (or more) nodes of one cluster");
    assertUsage(run("bench", "failover", three), "--kill-command");
    assertUsage(run("bench", "failover", three, "--kill-command", "kill -9 1234"), "must name the owner with {node}");
    assertUsage(run("bench", "failover", three, "--kill-command", "kill {node}", "--rounds", "2"), "--rounds 2 needs --restart-command");
    assertUsage(run("bench", "failover", three, "--kill-command", "kill {node}", "--rounds", "51", "--restart-command", "x"),
        "--rounds must be within 1..50");
    assertUsage(run("bench", "failover", three, "--kill-command", "kill {node}", "--rate", "0/s"), "--rate '0/s' is not a rate");
    assertUsage(run("bench", "failover", three, "--kill-command", "kill {node}", "--before", "0s"), "--before must be within 500ms..1m");
  }

  private static void assertUsage(Result r, String message) {
    assertThat(r.code()).as(r.err()).isEqualTo(Main.USAGE);
    assertThat(r.err()).contains(message);
    assertThat(r.out()).isEmpty();
  }

  /**
   * Three brokers in this JVM (500 ms elections, 2 s liveness); the kill command leaves a file that
   * tells the test which node to halt (nothing handed over, as a kill -9).
   */
  @Test
  void benchFailoverMeasuresAnOwnerKillAndAccountsForEveryAcknowledgedEvent(@TempDir Path dir) throws Exception {
    Map<String, String> peers = new LinkedHashMap<>();
    for (int i = 1; i <= 3; i++) {
      try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
        peers.put("n" + i, "127.0.0.1:" + s.getLocalPort());
      }
    }
    Map<String, Broker> nodes = new java.util.concurrent.ConcurrentHashMap<>();
    List<Thread> starting = new ArrayList<>();
    for (String id : peers.keySet()) {
      starting.add(Thread.ofVirtual().start(() -> {
        try {
          nodes.put(id, Broker.start(BrokerConfig.defaults("127.0.0.1:0").withDataDir(dir.resolve(id))
              .withCluster(new BrokerConfig.Cluster(id, null, peers, java.time.Duration.ofMillis(500))
                  .withLivenessTimeout(java.time.Duration.ofSeconds(2)))));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }));
    }
    for (Thread t : starting) {
      t.join();
    }
    Path kills = Files.createDirectories(dir.resolve("kills"));
    Thread killer = Thread.ofPlatform().daemon().start(() -> {
      String[] victim = new String[1];
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).pollInterval(java.time.Duration.ofMillis(1)).until(() -> {
        try (var files = Files.list(kills)) {
          victim[0] = files.map(f -> f.getFileName().toString().replace(".kill", "")).findFirst().orElse(null);
        }
        return victim[0] != null;
      });
      nodes.remove(victim[0]).haltForTests();
    });
    try {
      assertThat(nodes).hasSize(3);
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() -> nodes.values().stream().allMatch(b -> b.metadata().joined()));
      String servers = "--servers=" + String.join(",", nodes.values().stream().map(b -> "127.0.0.1:" + b.port()).toList());
      Result r = run("bench", "failover", servers, "--kill-command", "touch " + kills + "/{node}.kill", "--rate", "100/s", "--before", "1s",
          "--after", "500ms", "--round-timeout", "30s", "--settle-timeout", "30s", "-o", "json");
      assertThat(r.code()).as(r.out() + r.err()).isZero();
      String j = r.out().trim();
      assertThat(field(j, "rounds")).isEqualTo(1);
      assertThat(field(j, "unaccounted")).isZero();
      assertThat(j).contains("\"kill_to_first_delivery\":{\"count\":1").contains("\"kill_to_first_ack\":{\"count\":1").contains("\"failure\":null");
      assertThat(field(j, "acked")).isPositive();
      assertThat(field(j, "delivered") + field(j, "acked_in_gaps")).isGreaterThanOrEqualTo(field(j, "acked"));
      assertThat(r.err()).contains("round 1: killed n");
      killer.join(5_000);
      assertThat(nodes).hasSize(2);
    } finally {
      killer.interrupt();
      nodes.values().parallelStream().forEach(Broker::close);
    }
  }

  private static long field(String json, String name) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + name + "\":(\\d+)").matcher(json);
    assertThat(m.find()).as(name + " in " + json).isTrue();
    return Long.parseLong(m.group(1));
  }

  @Test
  void completionVersionAndHelp() {
    Result bash = run("completion", "bash");
    assertThat(bash.code()).isZero();
    assertThat(bash.out()).contains("complete").contains("herald");
    assertThat(run("completion", "zsh").out()).contains("bashcompinit");
    assertThat(run("version").out()).startsWith("herald 0.1.0");
    Result help = run("topic", "create", "--help");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("Examples:").contains("--if-not-exists");
  }

  @Test
  void globalOptionsWorkBeforeTheSubcommandAsWellAsAfterIt() throws Exception {
    assertThat(run("topic", "create", "orders").code()).isZero();
    Result before = run("--server", server, "topic", "list");
    assertThat(before.code()).as(before.err()).isZero();
    assertThat(before.out()).contains("orders");

    Result json = run("-o", "json", "--server=" + server, "topic", "list");
    assertThat(json.code()).as(json.err()).isZero();
    ListTopicsResponse.Builder l = ListTopicsResponse.newBuilder();
    JsonFormat.parser().merge(json.out(), l);
    assertThat(l.getTopicsList()).extracting(Topic::getName).containsExactly("orders");

    Result between = run("topic", "--server", server, "describe", "orders", "-o", "json");
    assertThat(between.code()).as(between.err()).isZero();
    assertThat(between.out()).contains("\"name\": \"orders\"");

    Result down = run("--timeout", "2s", "--server=127.0.0.1:1", "topic", "list");
    assertThat(down.code()).isEqualTo(Main.UNAVAILABLE);
    assertThat(run("--server", server, "publish", "orders", "x").out()).contains("at sequence 1");
    assertThat(run("--server", server, "subscribe", "orders", "--from", "1", "--count", "1").out()).matches("(?s)\\d+:1 .*");
  }

  @Test
  void everyCommandAndGroupHasHelp() {
    List<String> paths = new ArrayList<>();
    collect(Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter())), new ArrayList<>(), paths);
    assertThat(paths).contains("bench", "bench fanout", "topic", "topic create", "broker", "subscription list", "version");
    for (String path : paths) {
      List<String> args = new ArrayList<>(path.isEmpty() ? List.of() : List.of(path.split(" ")));
      args.add("--help");
      Result help = run(args.toArray(String[]::new));
      assertThat(help.code()).as("herald %s --help: %s", path, help.err()).isZero();
      assertThat(help.out()).as("herald %s --help", path).contains("Usage: herald").contains("--help");
      assertThat(help.err()).as("herald %s --help", path).isEmpty();
    }
  }

  private static void collect(picocli.CommandLine cl, List<String> prefix, List<String> out) {
    out.add(String.join(" ", prefix));
    for (java.util.Map.Entry<String, picocli.CommandLine> sub : cl.getSubcommands().entrySet()) {
      if (sub.getValue().getCommandName().equals(sub.getKey()) && !sub.getKey().equals("help")) {
        List<String> p = new ArrayList<>(prefix);
        p.add(sub.getKey());
        collect(sub.getValue(), p, out);
      }
    }
  }
}
