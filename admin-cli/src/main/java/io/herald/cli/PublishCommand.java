package io.herald.cli;

import com.google.protobuf.Timestamp;
import io.herald.client.Batching;
import io.herald.client.Event;
import io.herald.client.HeraldClient;
import io.herald.client.PublishReceipt;
import io.herald.client.Publisher;
import io.herald.client.internal.Errors;
import io.herald.proto.v1.PublishAck;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "publish", mixinStandardHelpOptions = true,
    description = "Publish events: DATA as an argument, @FILE (the whole file is one event), or stdin (one event per line).",
    footer = {"", "Examples:",
        "  herald publish orders '{\"id\":42}' --type order.created --attr tenant=acme",
        "  herald publish orders @order.json",
        "  cat events.ndjson | herald publish orders",
        "  herald publish orders ping --count 1000 --rate 100/s"})
final class PublishCommand implements Callable<Integer> {
  /** Where stdin comes from (tests replace it). */
  static InputStream stdin = System.in;

  @Spec CommandLine.Model.CommandSpec spec;
  Connection conn() {
    return Connection.of(spec);
  }
  @Parameters(index = "0", paramLabel = "TOPIC") String topic;
  @Parameters(index = "1", arity = "0..1", paramLabel = "DATA", description = "The payload; @FILE reads a file; absent or '-' reads stdin lines.") String data;
  @Option(names = "--type", defaultValue = "herald.cli", description = "CloudEvents type, e.g. order.created; every event has one (default ${DEFAULT-VALUE}).") String type;
  @Option(names = "--source", defaultValue = "", description = "CloudEvents source (URI-reference).") String source;
  @Option(names = "--subject", defaultValue = "") String subject;
  @Option(names = "--content-type", defaultValue = "", description = "Media type of the data, e.g. application/json.") String contentType;
  @Option(names = "--id", description = "Event id (dedup key, with --source); default: a new UUID per event. Only with a single event.") String id;
  @Option(names = "--attr", paramLabel = "KEY=VALUE", description = "Extension attribute; repeatable.") Map<String, String> attrs = new LinkedHashMap<>();
  @Option(names = "--count", defaultValue = "1", description = "Publish the DATA (or each stdin line) this many times (default ${DEFAULT-VALUE}).") long count;
  @Option(names = "--rate", paramLabel = "N/s", description = "At most this many events per second, e.g. 100/s.") String rate;

  @Override
  public Integer call() throws Exception {
    if (count < 1) {
      throw new IllegalArgumentException("--count must be at least 1");
    }
    double perSecond = parseRate();
    boolean fromStdin = data == null || data.equals("-");
    if (id != null && (fromStdin || count > 1)) {
      throw new IllegalArgumentException("--id fits a single event; drop it to let each event get its own");
    }
    PrintWriter out = spec.commandLine().getOut();
    List<CompletableFuture<PublishReceipt>> receipts = new ArrayList<>();
    try (HeraldClient client = conn().client()) {
      Publisher pub = client.publisher(topic).batching(perSecond > 0 ? Batching.none() : Batching.defaults()).create();
      long start = System.nanoTime();
      long n = 0;
      // stdin is read as it comes, so `tail -f log | herald publish t` publishes line by line
      BufferedReader lines = fromStdin ? new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8)) : null;
      byte[] single = fromStdin ? null : payload();
      while (true) {
        byte[] p;
        if (lines != null) {
          String line = lines.readLine();
          if (line == null) {
            break;
          }
          if (line.isEmpty()) {
            continue;
          }
          p = line.getBytes(StandardCharsets.UTF_8);
        } else {
          if (n >= count) {
            break;
          }
          p = single;
        }
        for (long c = 0; c < (lines != null ? count : 1); c++) {
          if (perSecond > 0) {
            long due = start + (long) (n * 1e9 / perSecond);
            long wait = due - System.nanoTime();
            if (wait > 0) {
              LockSupport.parkNanos(wait);
            }
          }
          Event.Builder e = Event.builder().type(type).source(source).subject(subject).dataContentType(contentType).data(p).attributes(attrs);
          if (id != null) {
            e.id(id);
          }
          receipts.add(pub.publish(e.build()));
          n++;
        }
      }
      if (receipts.isEmpty()) {
        throw new IllegalArgumentException("no DATA given and stdin was empty");
      }
      pub.flush().get(conn().timeout.toMillis() + 60_000, TimeUnit.MILLISECONDS);
      long first = Long.MAX_VALUE;
      long last = 0;
      for (CompletableFuture<PublishReceipt> f : receipts) {
        PublishReceipt r;
        try {
          r = f.get();
        } catch (ExecutionException e) {
          throw Errors.from(e.getCause());
        }
        first = Math.min(first, r.sequence());
        last = Math.max(last, r.sequence());
        if (conn().json()) {
          out.println(Json.line(PublishAck.newBuilder().setId(r.id()).setSequence(r.sequence()).setEpoch(r.epoch())
              .setPublishTime(Timestamp.newBuilder().setSeconds(r.publishTime().getEpochSecond()).setNanos(r.publishTime().getNano()))
              .setDuplicate(r.duplicate()).build()));
        }
      }
      if (!conn().json()) {
        out.println(receipts.size() == 1 ? "published to " + topic + " at sequence " + first
            : "published " + receipts.size() + " events to " + topic + " (sequences " + first + ".." + last + ")");
      }
      out.flush();
    }
    return Main.OK;
  }

  private double parseRate() {
    return rate == null ? 0 : Rates.parse("--rate", rate);
  }

  private byte[] payload() throws IOException {
    if (data.startsWith("@")) {
      Path f = Path.of(data.substring(1));
      if (!Files.isReadable(f)) {
        throw new IllegalArgumentException("cannot read file " + f);
      }
      return Files.readAllBytes(f);
    }
    return data.getBytes(StandardCharsets.UTF_8);
  }
}
