package io.herald.cli;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.herald.client.Delivery;
import io.herald.client.Event;
import io.herald.client.Gap;
import io.herald.client.HeraldClient;
import io.herald.client.HeraldException;
import io.herald.client.OverflowPolicy;
import io.herald.client.StartPosition;
import io.herald.client.Subscription;
import io.herald.proto.v1.DeliveredEvent;
import io.herald.proto.v1.GapNotice;
import io.herald.proto.v1.GapReason;
import io.herald.proto.v1.SubscribeResponse;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "subscribe", mixinStandardHelpOptions = true,
    description = "Tail a topic: print events (and gap notices) as they arrive; Ctrl-C ends it cleanly.",
    footer = {"", "Examples:",
        "  herald subscribe orders",
        "  herald subscribe orders --from earliest --count 10 -o json",
        "  herald subscribe orders --from 1200 --policy BLOCK"})
final class SubscribeCommand implements Callable<Integer> {
  @Spec CommandLine.Model.CommandSpec spec;
  Connection conn() {
    return Connection.of(spec);
  }
  @Parameters(paramLabel = "TOPIC") String topic;
  @Option(names = "--from", defaultValue = "latest", paramLabel = "latest|earliest|SEQ|EPOCH:SEQ",
      description = "Where to start (default ${DEFAULT-VALUE}): a sequence in the current epoch, or EPOCH:SEQ to resume right after that event.") String from;
  @Option(names = "--count", description = "Exit after this many events.") Long count;
  @Option(names = "--policy", defaultValue = "TOPIC_DEFAULT", description = "Broker-side buffer policy: ${COMPLETION-CANDIDATES}.") OverflowPolicy policy;
  @Option(names = "--max-outstanding", defaultValue = "1000", description = "Events in flight to this client (credit), default ${DEFAULT-VALUE}.") long maxOutstanding;

  /** Set by tests to end a subscription without a signal. */
  static volatile CompletableFuture<Void> stop;

  @Override
  public Integer call() throws Exception {
    StartPosition start = switch (from.toLowerCase(java.util.Locale.ROOT)) {
      case "latest" -> StartPosition.latest();
      case "earliest" -> StartPosition.earliest();
      default -> {
        try {
          int colon = from.indexOf(':');
          // EPOCH:SEQ starts right after that event (a position printed by an earlier run)
          yield colon < 0 ? StartPosition.sequence(Long.parseLong(from))
              : StartPosition.after(Long.parseLong(from.substring(0, colon)), Long.parseLong(from.substring(colon + 1)));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("--from must be latest, earliest, a sequence >= 1, or EPOCH:SEQ (start after that event); got '"
              + from + "'");
        }
      }
    };
    if (count != null && count < 1) {
      throw new IllegalArgumentException("--count must be at least 1");
    }
    PrintWriter out = spec.commandLine().getOut();
    CompletableFuture<Integer> done = new CompletableFuture<>();
    CompletableFuture<Void> externalStop = new CompletableFuture<>();
    stop = externalStop;
    AtomicLong seen = new AtomicLong();
    HeraldClient client = conn().client();
    Thread hook = new Thread(() -> {
      done.complete(Main.OK);
      client.close();
    }, "herald-cli-interrupt");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      Subscription sub = client.subscriber(topic).overflow(policy).startAt(start).maxOutstanding(maxOutstanding).name("herald-cli")
          .handler(d -> {
            if (done.isDone()) {
              return;
            }
            synchronized (out) {
              out.println(conn().json() ? Json.line(SubscribeResponse.newBuilder().setBatch(
                  io.herald.proto.v1.EventBatch.newBuilder().addEvents(toProto(d))).build()) : text(d));
              out.flush();
            }
            if (count != null && seen.incrementAndGet() >= count) {
              done.complete(Main.OK);
            }
          })
          .onGap(g -> {
            synchronized (out) {
              out.println(conn().json() ? Json.line(SubscribeResponse.newBuilder().setGap(toProto(g)).build())
                  : gapText(g));
              out.flush();
            }
          })
          .onError(e -> done.completeExceptionally(e))
          .subscribe();
      externalStop.thenRun(() -> done.complete(Main.OK));
      try {
        return done.join();
      } catch (java.util.concurrent.CompletionException e) {
        throw e.getCause() instanceof HeraldException h ? h : e;
      } finally {
        sub.close();
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it closes the client
      }
      client.close();
    }
  }

  static DeliveredEvent toProto(Delivery d) {
    Event e = d.event();
    io.herald.proto.v1.Event.Builder b = io.herald.proto.v1.Event.newBuilder().setId(e.id()).setSource(e.source()).setType(e.type())
        .setSubject(e.subject()).setDataContentType(e.dataContentType()).setData(ByteString.copyFrom(e.data()))
        .putAllAttributes(e.attributes());
    if (e.time() != null) {
      b.setTime(ts(e.time()));
    }
    return DeliveredEvent.newBuilder().setSequence(d.sequence()).setEpoch(d.epoch()).setPublishTime(ts(d.publishTime())).setEvent(b).build();
  }

  static GapNotice toProto(Gap g) {
    return GapNotice.newBuilder().setFirstSequence(g.firstSequence()).setLastSequence(g.lastSequence()).setCount(g.count())
        .setEpoch(g.epoch()).setCountUnknown(g.countUnknown())
        .setReason(switch (g.reason()) {
          case DROPPED -> GapReason.GAP_REASON_DROPPED;
          case EVICTED -> GapReason.GAP_REASON_EVICTED;
          case RETENTION -> GapReason.GAP_REASON_RETENTION;
          case CRASH_RECOVERY -> GapReason.GAP_REASON_CRASH_RECOVERY;
          case TOPIC_RECREATED -> GapReason.GAP_REASON_TOPIC_RECREATED;
          case LOOP_RESTARTED -> GapReason.GAP_REASON_LOOP_RESTARTED;
          case OWNER_CHANGE -> GapReason.GAP_REASON_OWNER_CHANGE;
          default -> GapReason.GAP_REASON_UNSPECIFIED;
        }).build();
  }

  private static Timestamp ts(Instant i) {
    return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
  }

  static String gapText(Gap g) {
    if (g.lastSequence() == 0) {
      return String.format("gap: lost everything after sequence %d of epoch %d (%s; how many is not known)", g.firstSequence() - 1, g.epoch(), g.reason());
    }
    return String.format("gap: lost %s%d events (sequences %d..%d of epoch %d, %s)", g.countUnknown() ? "at most " : "", g.count(),
        g.firstSequence(), g.lastSequence(), g.epoch(), g.reason());
  }

  static String text(Delivery d) {
    Event e = d.event();
    StringBuilder sb = new StringBuilder();
    sb.append(d.epoch()).append(':').append(d.sequence()).append(' ').append(d.publishTime());
    if (!e.type().isEmpty()) {
      sb.append(" type=").append(e.type());
    }
    sb.append(" id=").append(e.id());
    e.attributes().forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
    sb.append(' ').append(printable(e.data()));
    return sb.toString();
  }

  /** UTF-8 text as is; anything else as base64:... */
  static String printable(byte[] data) {
    try {
      String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(data)).toString();
      if (s.chars().noneMatch(c -> c < 0x20 && c != '\t')) {
        return s;
      }
    } catch (CharacterCodingException e) {
      // binary
    }
    return "base64:" + Base64.getEncoder().encodeToString(data);
  }
}
