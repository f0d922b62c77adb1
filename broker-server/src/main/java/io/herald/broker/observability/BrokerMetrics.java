package io.herald.broker.observability;

import io.herald.broker.subscription.DropReason;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.topic.Topic;
import io.herald.broker.topic.TopicRegistry;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * The broker's metrics, in Prometheus form. They read the same counters the admin API reports
 * (each {@link Topic}'s), so the two never disagree.
 *
 * <h2>Label bounds</h2>
 * Broker-wide series have no topic label. Per-topic series ({@code herald_topic_*}) exist for at
 * most {@code topicLabels} topics (the first ones created); per-subscription series only for the
 * {@code topSubscriptions} deepest buffers, recomputed at every scrape. So 10k topics or
 * subscriptions do not explode a scrape.
 *
 * <h2>Totals across deletes</h2>
 * Totals are the sum over live topics plus what deleted topics had counted ({@code retired}), so
 * they never go backwards.
 *
 * <p>Thread-safe. {@link #scrape()} may run on any thread.
 */
public final class BrokerMetrics {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final TopicRegistry topics;
  private final int topicLabels;
  private final int topSubscriptions;
  private final Map<String, List<Meter>> perTopic = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> rejected = new ConcurrentHashMap<>();
  private final LongAdder retiredPublished = new LongAdder();
  private final LongAdder retiredDelivered = new LongAdder();
  private final LongAdder[] retiredDropped = newAdders(DropReason.values().length);
  private final LongAdder retiredRestarts = new LongAdder();
  private final LongAdder retiredEvictions = new LongAdder();
  private final LongAdder retiredDuplicates = new LongAdder();
  private final Timer bufferTime;
  private final MultiGauge subDepth;
  private final MultiGauge subLimit;
  private final MultiGauge subLag;
  private final MultiGauge subDropped;
  private final MultiGauge subCredit;

  public BrokerMetrics(TopicRegistry topics, int topicLabels, int topSubscriptions) {
    this.topics = topics;
    this.topicLabels = topicLabels;
    this.topSubscriptions = topSubscriptions;

    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    // Netty's own accounting of the direct memory it allocated (gRPC's buffers included); -1 if untracked
    Gauge.builder("herald_netty_direct_memory_used_bytes", io.netty.util.internal.PlatformDependent::usedDirectMemory)
        .description("Direct memory allocated by Netty (gRPC buffers)").baseUnit("bytes").register(registry);
    Gauge.builder("herald_netty_direct_memory_max_bytes", io.netty.util.internal.PlatformDependent::maxDirectMemory)
        .description("Netty's direct memory limit").baseUnit("bytes").register(registry);

    total("herald_events_published", "Events accepted and sequenced", Topic::published, retiredPublished);
    total("herald_events_delivered", "Event deliveries written to subscribers", Topic::delivered, retiredDelivered);
    for (DropReason r : DropReason.values()) {
      FunctionCounter.builder("herald_events_dropped", this, m -> m.sumTopics(t -> t.dropped(r)) + m.retiredDropped[r.ordinal()].sum())
          .tag("reason", r.label()).description("Event deliveries lost by subscription buffers").register(registry);
    }
    total("herald_slow_consumer_evictions", "Subscriptions evicted as slow consumers", Topic::evictions, retiredEvictions);
    total("herald_dispatch_loop_restarts", "Dispatch loops restarted by their supervisor after an unexpected failure (each starts a new epoch)",
        Topic::loopRestarts, retiredRestarts);
    total("herald_publish_duplicates", "Publishes acknowledged as duplicates of an id already seen", Topic::duplicates, retiredDuplicates);
    FunctionCounter.builder("herald_publish_rejected", this, m -> m.sumTopics(Topic::rejected))
        .tag("reason", "inbox_full").description("Publish batches refused").register(registry);
    for (String reason : new String[] {"invalid", "not_found", "unavailable"}) {
      LongAdder a = new LongAdder();
      rejected.put(reason, a);
      FunctionCounter.builder("herald_publish_rejected", a, LongAdder::sum).tag("reason", reason)
          .description("Publish batches refused").register(registry);
    }
    gauge("herald_topics", "Live topics", () -> topics.size());
    gauge("herald_subscriptions", "Live subscriptions", () -> sumTopics(t -> t.subscriptions().size()));
    gauge("herald_inbox_depth_events", "Events accepted, not yet sequenced, all topics", () -> sumTopics(Topic::inboxDepthEvents));
    gauge("herald_inbox_depth_bytes", "Bytes accepted, not yet sequenced, all topics", () -> sumTopics(Topic::inboxDepthBytes));
    gauge("herald_inbox_waiting_events", "Events of publishes waiting for inbox room (BLOCK topics), all topics", () -> sumTopics(Topic::waitingEvents));
    gauge("herald_inbox_waiting_bytes", "Bytes of publishes waiting for inbox room (BLOCK topics), all topics", () -> sumTopics(Topic::waitingBytes));
    Gauge.builder("herald_loops_active", topics, TopicRegistry::size).tag("role", "dispatch")
        .description("Running loops by role (one dispatch loop per topic)").register(registry);
    this.bufferTime = Timer.builder("herald_subscription_buffer_time")
        .description("How long the oldest event of each batch waited between sequencing and being written to its subscriber")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(5))
        .register(registry);
    this.subDepth = MultiGauge.builder("herald_subscription_buffer_depth_events")
        .description("Events in a subscription's broker buffer (the deepest " + topSubscriptions + " only)").register(registry);
    this.subLimit = MultiGauge.builder("herald_subscription_buffer_limit_events")
        .description("A subscription's buffer bound (the deepest " + topSubscriptions + " only)").register(registry);
    this.subLag = MultiGauge.builder("herald_subscription_lag_events")
        .description("Events published and not yet sent to a subscription (the deepest " + topSubscriptions + " only)").register(registry);
    this.subDropped = MultiGauge.builder("herald_subscription_dropped_events")
        .description("Events a subscription lost to its policy so far (the deepest " + topSubscriptions + " only)").register(registry);
    this.subCredit = MultiGauge.builder("herald_subscription_credit_events")
        .description("Credit a subscription granted and the broker has not used (the deepest " + topSubscriptions + " only)").register(registry);
  }

  private void total(String name, String help, ToLongFunction<Topic> f, LongAdder retired) {
    FunctionCounter.builder(name, this, m -> m.sumTopics(f) + retired.sum()).description(help).register(registry);
  }

  private void gauge(String name, String help, java.util.function.Supplier<Number> f) {
    Gauge.builder(name, f).description(help).register(registry);
  }

  private double sumTopics(ToLongFunction<Topic> f) {
    long n = 0;
    for (Topic t : topics.all()) {
      n += f.applyAsLong(t);
    }
    return n;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** A topic started: per-topic series if under the cap; buffer-time recording. */
  public void topicStarted(Topic t) {
    t.onBufferTime(ms -> bufferTime.record(ms, TimeUnit.MILLISECONDS));
    if (perTopic.size() >= topicLabels) {
      return;
    }
    Tags tags = Tags.of("topic", t.name());
    List<Meter> m = new ArrayList<>();
    m.add(FunctionCounter.builder("herald_topic_events_published", t, Topic::published).tags(tags).register(registry));
    m.add(FunctionCounter.builder("herald_topic_events_delivered", t, Topic::delivered).tags(tags).register(registry));
    m.add(FunctionCounter.builder("herald_topic_events_dropped", t, x -> x.dropped()).tags(tags).register(registry));
    m.add(Gauge.builder("herald_topic_inbox_depth_events", t, (ToDoubleFunction<Topic>) Topic::inboxDepthEvents).tags(tags).register(registry));
    m.add(Gauge.builder("herald_topic_inbox_waiting_events", t, (ToDoubleFunction<Topic>) Topic::waitingEvents).tags(tags).register(registry));
    m.add(Gauge.builder("herald_topic_subscriptions", t, x -> x.subscriptions().size()).tags(tags).register(registry));
    m.add(FunctionCounter.builder("herald_topic_slow_consumer_evictions", t, Topic::evictions).tags(tags).register(registry));
    perTopic.put(t.name(), m);
  }

  /** A topic was deleted: its counts move to the retired totals, its series go. */
  public void topicStopped(Topic t) {
    retiredPublished.add(t.published());
    retiredDelivered.add(t.delivered());
    for (DropReason r : DropReason.values()) {
      retiredDropped[r.ordinal()].add(t.dropped(r));
    }
    retiredEvictions.add(t.evictions());
    retiredDuplicates.add(t.duplicates());
    retiredRestarts.add(t.loopRestarts());
    List<Meter> m = perTopic.remove(t.name());
    if (m != null) {
      m.forEach(registry::remove);
    }
  }

  private static LongAdder[] newAdders(int n) {
    LongAdder[] a = new LongAdder[n];
    for (int i = 0; i < n; i++) {
      a[i] = new LongAdder();
    }
    return a;
  }

  /** A publish batch refused before it reached a topic: invalid, not_found, unavailable. */
  public void rejected(String reason) {
    LongAdder a = rejected.get(reason);
    if (a != null) {
      a.increment();
    }
  }

  /** Registers a gauge of the live streams of a role (subscription writers, publish streams). */
  /**
   * The cluster as this node sees it: Raft role (1 for the current one), term, commit and applied
   * index, nodes by state, topics this node owns.
   */
  public void cluster(io.herald.broker.metadata.MetadataStore metadata) {
    for (String role : new String[] {"leader", "follower", "candidate", "listener"}) {
      Gauge.builder("herald_raft_role", metadata, m -> m.cluster().role().equals(role) ? 1 : 0).tag("role", role)
          .description("This node's metadata Raft role: 1 for the current one").register(registry);
    }
    Gauge.builder("herald_raft_term", metadata, m -> m.cluster().term())
        .description("This node's metadata Raft term").register(registry);
    Gauge.builder("herald_raft_commit_index", metadata, m -> m.cluster().commitIndex())
        .description("The last metadata log index this node knows committed").register(registry);
    Gauge.builder("herald_raft_applied_index", metadata, m -> m.cluster().appliedIndex())
        .description("The last metadata log index this node applied").register(registry);
    FunctionCounter.builder("herald_metadata_leader_reads", metadata, m -> m.leaderReads())
        .description("Linearizable reads sent to the metadata leader before a lookup may answer NOT_FOUND (concurrent lookups share one)")
        .register(registry);
    for (String state : new String[] {"up", "down", "draining", "left"}) {
      Gauge.builder("herald_cluster_nodes", metadata, m -> m.cluster().nodes().stream().filter(n -> n.state().equals(state)).count())
          .tag("state", state).description("Nodes of the cluster by state, as this node sees them").register(registry);
    }
    Gauge.builder("herald_topics_owned", topics, TopicRegistry::size)
        .description("Topics this node owns (runs the dispatch loop of)").register(registry);
    Gauge.builder("herald_relay_subscriptions", topics, t -> relays(t, io.herald.broker.cluster.ClusterTopic::relayStreams))
        .description("Open relay subscriptions: one upstream subscription to the owner per topic with local subscribers here")
        .register(registry);
    Gauge.builder("herald_relay_credit_events", topics, t -> relays(t, io.herald.broker.cluster.ClusterTopic::relayCreditEvents))
        .description("Credit (events) the relays have outstanding with the owners").register(registry);
    Gauge.builder("herald_relay_buffered_events", topics, t -> relays(t, io.herald.broker.cluster.ClusterTopic::relayBufferedEvents))
        .description("Events the relays hold: received from owners and not yet sent to local subscribers").register(registry);
  }

  /** Forwarded publishes: streams by direction, batches and bytes in flight to owners, batches waiting for the window. */
  public void forwarding(io.herald.broker.cluster.PeerLinks links, io.herald.broker.cluster.PeerForwardService in) {
    Gauge.builder("herald_forward_streams", links, io.herald.broker.cluster.PeerLinks::openStreams).tag("direction", "out")
        .description("Broker-to-broker publish streams: out to owners (one per peer), in from other nodes").register(registry);
    Gauge.builder("herald_forward_streams", in, io.herald.broker.cluster.PeerForwardService::streamCount).tag("direction", "in")
        .description("Broker-to-broker publish streams: out to owners (one per peer), in from other nodes").register(registry);
    Gauge.builder("herald_forward_inflight_batches", links, io.herald.broker.cluster.PeerLinks::inFlightBatches)
        .description("Forwarded batches not yet answered by their owners (the window's depth)").register(registry);
    Gauge.builder("herald_forward_inflight_bytes", links, io.herald.broker.cluster.PeerLinks::inFlightBytes)
        .description("Bytes of the forwarded batches not yet answered").baseUnit("bytes").register(registry);
    Gauge.builder("herald_forward_waiting_batches", links, io.herald.broker.cluster.PeerLinks::waitingBatches)
        .description("Batches waiting for room in a forward window").register(registry);
  }

  private static double relays(TopicRegistry topics, java.util.function.ToDoubleFunction<io.herald.broker.cluster.ClusterTopic> f) {
    double sum = 0;
    for (TopicRegistry.RemoteTopic r : topics.remote()) {
      if (r instanceof io.herald.broker.cluster.ClusterTopic c) {
        sum += f.applyAsDouble(c);
      }
    }
    return sum;
  }

  public void writers(String role, java.util.function.Supplier<Number> count) {
    Gauge.builder("herald_writers_active", count).tag("role", role).description("Stream writers by role").register(registry);
  }

  /** The Prometheus text exposition, with the per-subscription top-N refreshed first. */
  public String scrape() {
    refreshTopSubscriptions();
    return registry.scrape();
  }

  private record Row(Topic topic, Subscription sub, Subscription.Stats stats) { }

  private void refreshTopSubscriptions() {
    List<Row> rows = new ArrayList<>();
    for (Topic t : topics.all()) {
      for (Subscription s : t.subscriptions()) {
        rows.add(new Row(t, s, s.stats()));
      }
    }
    rows.sort(Comparator.comparingLong((Row r) -> r.stats().bufferedEvents())
        .thenComparingLong(r -> r.topic().nextSequence() - r.stats().nextSequence()).reversed());
    List<Row> top = rows.subList(0, Math.min(topSubscriptions, rows.size()));
    subDepth.register(top.stream().map(r -> MultiGauge.Row.of(tags(r), r.stats().bufferedEvents())).toList(), true);
    subLimit.register(top.stream().map(r -> MultiGauge.Row.of(tags(r), r.sub().maxEvents())).toList(), true);
    subLag.register(top.stream().map(r -> MultiGauge.Row.of(tags(r), Math.max(0, r.topic().nextSequence() - r.stats().nextSequence()))).toList(), true);
    subDropped.register(top.stream().map(r -> MultiGauge.Row.of(tags(r), r.stats().dropped())).toList(), true);
    subCredit.register(top.stream().map(r -> MultiGauge.Row.of(tags(r), r.stats().creditEvents())).toList(), true);
  }

  private static Tags tags(Row r) {
    return Tags.of("topic", r.topic().name(), "subscription", r.sub().id(), "subscriber", r.sub().name().isEmpty() ? "-" : r.sub().name(),
        "policy", r.sub().policy().name());
  }
}
