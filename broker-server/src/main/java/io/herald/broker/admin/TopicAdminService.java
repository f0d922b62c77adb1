package io.herald.broker.admin;

import com.google.protobuf.Timestamp;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.herald.broker.metadata.ClusterView;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.subscription.Subscription;
import io.herald.broker.topic.TopicHandle;
import io.herald.broker.topic.TopicNames;
import io.herald.broker.topic.TopicRegistry;
import io.herald.broker.topic.TopicSettings;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.ClusterNode;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.CreateTopicResponse;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.DeleteTopicResponse;
import io.herald.proto.v1.GetClusterStatusRequest;
import io.herald.proto.v1.GetClusterStatusResponse;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.GetTopicResponse;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.ListSubscriptionsResponse;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.SubscriptionInfo;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import io.herald.proto.v1.TopicStats;
import io.herald.proto.v1.UpdateTopicRequest;
import io.herald.proto.v1.UpdateTopicResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * {@code herald.v1.TopicAdminService}. Metadata changes go through the {@link MetadataStore};
 * stats come from the live {@link TopicHandle} (the same counters the data plane updates). Runs on the
 * admin executor, not on transport threads, since a metadata store may block (disk, consensus).
 */
public final class TopicAdminService extends TopicAdminServiceGrpc.TopicAdminServiceImplBase {
  static final int DEFAULT_PAGE_SIZE = 100;
  static final int MAX_PAGE_SIZE = 1000;

  private final MetadataStore metadata;
  private final TopicRegistry topics;

  public TopicAdminService(MetadataStore metadata, TopicRegistry topics) {
    this.metadata = metadata;
    this.topics = topics;
  }

  @Override
  public void createTopic(CreateTopicRequest req, StreamObserver<CreateTopicResponse> out) {
    run(out, () -> {
      String name = TopicNames.validate("name", req.getName());
      TopicSettings s = TopicSettings.DEFAULTS.merge(req.getConfig());
      return metadata.create(name, s).thenApply(r -> CreateTopicResponse.newBuilder().setTopic(view(r)).build());
    });
  }

  @Override
  public void getTopic(GetTopicRequest req, StreamObserver<GetTopicResponse> out) {
    run(out, () -> {
      String name = TopicNames.validate("name", req.getName());
      Optional<TopicRecord> known = metadata.get(name);
      if (known.isPresent()) {
        return CompletableFuture.completedFuture(GetTopicResponse.newBuilder().setTopic(view(known.get())).build());
      }
      // not here (yet?): this node may lag the leader, or be cut off; NOT_FOUND only once caught up
      return metadata.catchUp().thenApply(v -> GetTopicResponse.newBuilder()
          .setTopic(view(metadata.get(name).orElseThrow(() -> notFound(name)))).build());
    });
  }

  @Override
  public void listTopics(ListTopicsRequest req, StreamObserver<ListTopicsResponse> out) {
    run(out, () -> {
      int size = pageSize(req.getPageSize());
      String after = decodeToken(req.getPageToken());
      List<TopicRecord> page = metadata.list(after, size + 1);
      ListTopicsResponse.Builder b = ListTopicsResponse.newBuilder();
      for (int i = 0; i < Math.min(size, page.size()); i++) {
        b.addTopics(view(page.get(i)));
      }
      if (page.size() > size) {
        b.setNextPageToken(encodeToken(page.get(size - 1).name()));
      }
      return CompletableFuture.completedFuture(b.build());
    });
  }

  @Override
  public void updateTopic(UpdateTopicRequest req, StreamObserver<UpdateTopicResponse> out) {
    run(out, () -> {
      String name = TopicNames.validate("name", req.getName());
      return metadata.update(name, s -> s.merge(req.getConfig()))
          .thenApply(r -> UpdateTopicResponse.newBuilder().setTopic(view(r)).build());
    });
  }

  @Override
  public void deleteTopic(DeleteTopicRequest req, StreamObserver<DeleteTopicResponse> out) {
    run(out, () -> {
      String name = TopicNames.validate("name", req.getName());
      return metadata.delete(name).thenApply(v -> DeleteTopicResponse.getDefaultInstance());
    });
  }

  @Override
  public void listSubscriptions(ListSubscriptionsRequest req, StreamObserver<ListSubscriptionsResponse> out) {
    run(out, () -> {
      String name = TopicNames.validate("topic", req.getTopic());
      int size = pageSize(req.getPageSize());
      String afterToken = decodeToken(req.getPageToken());
      long after = 0;
      if (afterToken != null) {
        try {
          after = Long.parseLong(afterToken);
        } catch (NumberFormatException e) {
          throw badToken();
        }
      }
      TopicHandle topic = topics.get(name).orElseThrow(() -> notFound(name));
      long next = topic.nextSequence();
      final long from = after;
      List<Subscription> subs = topic.subscriptions().stream()
          .filter(s -> idNumber(s) > from)
          .sorted(Comparator.comparingLong(TopicAdminService::idNumber))
          .limit(size + 1L)
          .toList();
      ListSubscriptionsResponse.Builder b = ListSubscriptionsResponse.newBuilder();
      for (int i = 0; i < Math.min(size, subs.size()); i++) {
        Subscription s = subs.get(i);
        Subscription.Stats st = s.stats();
        b.addSubscriptions(SubscriptionInfo.newBuilder()
            .setSubscriptionId(s.id())
            .setSubscriberName(s.name())
            .setPeer(s.peer())
            .setOverflowPolicy(TopicSettings.toProto(s.policy()))
            .setBufferDepthEvents(st.bufferedEvents())
            .setBufferDepthBytes(st.bufferedBytes())
            .setBufferMaxEvents(s.maxEvents())
            .setBufferMaxBytes(s.maxBytes())
            .setDelivered(st.delivered())
            .setDropped(st.dropped())
            .setCreditEvents(st.creditEvents())
            .setCreditBytes(st.creditBytes())
            .setCreditBytesDebt(st.creditBytesDebt())
            .setNextSequence(st.nextSequence())
            .setLagEvents(Math.max(0, next - st.nextSequence()))
            .setCreateTime(ts(s.createTime())));
      }
      if (subs.size() > size) {
        b.setNextPageToken(encodeToken(Long.toString(idNumber(subs.get(size - 1)))));
      }
      return CompletableFuture.completedFuture(b.build());
    });
  }

  @Override
  public void getClusterStatus(GetClusterStatusRequest req, StreamObserver<GetClusterStatusResponse> out) {
    run(out, () -> {
      ClusterView v = metadata.cluster();
      GetClusterStatusResponse.Builder b = GetClusterStatusResponse.newBuilder()
          .setLeaderId(v.leaderId())
          .setTerm(v.term())
          .setAnsweredBy(v.self())
          .setCommitIndex(v.commitIndex());
      for (ClusterView.Node n : v.nodes()) {
        String role;
        if (!n.voter()) {
          role = "listener";
        } else if (n.id().equals(v.self())) {
          role = v.role();
        } else {
          role = n.id().equals(v.leaderId()) ? "leader" : "follower";
        }
        b.addNodes(ClusterNode.newBuilder()
            .setNodeId(n.id())
            .setAddress(n.address())
            .setRole(role)
            .setAlive(n.alive())
            .setDraining(n.state().equals("draining"))
            .setTopicsOwned(n.topicsOwned()));
      }
      return CompletableFuture.completedFuture(b.build());
    });
  }

  private io.herald.proto.v1.Topic view(TopicRecord r) {
    var live = topics.local(r.name());
    // stats where this node serves the topic: its own loop, or a relay of the owner's
    TopicStats stats = topics.get(r.name()).map(TopicHandle::stats).orElse(TopicStats.getDefaultInstance());
    // the live topic knows its epoch first (a restarted loop), the record once it is written
    return io.herald.proto.v1.Topic.newBuilder()
        .setName(r.name())
        .setConfig(r.settings().toProto())
        .setStats(stats)
        .setCreateTime(ts(r.createTime()))
        .setEpoch(live.map(t -> t.epoch()).orElse(r.epoch()))
        .setEpochStartSequence(live.map(t -> t.epochStartSequence()).orElse(r.epochStartSequence()))
        .setEpochCause(live.map(t -> t.epochCause()).orElse(r.epochCause()))
        .setCreateEpoch(r.createEpoch())
        .setOwner(r.owner())
        .setCrashLostBelow(r.crashLostBelow())
        .setLostCause(r.lostCause())
        .build();
  }

  private static long idNumber(Subscription s) {
    return Long.parseLong(s.id().substring(s.id().indexOf('-') + 1));
  }

  private static Timestamp ts(Instant i) {
    return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
  }

  private static int pageSize(int requested) {
    if (requested == 0) {
      return DEFAULT_PAGE_SIZE;
    }
    if (requested < 0 || requested > MAX_PAGE_SIZE) {
      throw Errors.invalidField("page_size", "page_size = " + requested + " is out of range [1, " + MAX_PAGE_SIZE + "] (0 means " + DEFAULT_PAGE_SIZE + ")");
    }
    return requested;
  }

  private static String encodeToken(String s) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String decodeToken(String token) {
    if (token.isEmpty()) {
      return null;
    }
    try {
      return new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw badToken();
    }
  }

  private static StatusRuntimeException badToken() {
    return Errors.invalidField("page_token", "page_token is not one this broker issued; pass next_page_token from the previous response, or empty for the first page");
  }

  private static StatusRuntimeException notFound(String name) {
    return Errors.topicNotFound(name, "topic '" + name + "' does not exist");
  }

  /** Completes the call from the future, mapping failures to their gRPC status. */
  private static <T> void run(StreamObserver<T> out, java.util.function.Supplier<CompletableFuture<T>> body) {
    CompletableFuture<T> f;
    try {
      f = body.get();
    } catch (RuntimeException e) {
      out.onError(toStatus(e));
      return;
    }
    f.whenComplete((v, e) -> {
      if (e != null) {
        out.onError(toStatus(e));
      } else {
        out.onNext(v);
        out.onCompleted();
      }
    });
  }

  private static StatusRuntimeException toStatus(Throwable e) {
    return Errors.status(e, null);
  }
}
