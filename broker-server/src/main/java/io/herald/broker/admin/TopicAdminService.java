package io.herald.broker.admin;

import com.google.protobuf.Timestamp;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.herald.broker.metadata.ClusterView;
import io.herald.broker.metadata.MetadataStore;
import io.herald.broker.metadata.TopicRecord;
import io.herald.broker.security.Access;
import io.herald.broker.security.Permission;
import io.herald.broker.security.Principal;
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
  private final Access access;

  public TopicAdminService(MetadataStore metadata, TopicRegistry topics) {
    this(metadata, topics, Access.open(io.herald.broker.security.AuditLog.toBrokerLog()));
  }

  /**
   * @param access who may do what: {@code admin} for create, update, delete and list-subscriptions of
   *     a topic; any grant on it to describe it; ListTopics shows only topics with some grant
   */
  public TopicAdminService(MetadataStore metadata, TopicRegistry topics, Access access) {
    this.metadata = metadata;
    this.topics = topics;
    this.access = access;
  }

  @Override
  public void createTopic(CreateTopicRequest req, StreamObserver<CreateTopicResponse> out) {
    Principal who = Access.caller();
    audited(who, "CreateTopic", req.getName(), out, () -> {
      String name = TopicNames.validate("name", req.getName());
      access.check(who, name, Permission.ADMIN, "CreateTopic");
      TopicSettings s = TopicSettings.DEFAULTS.merge(req.getConfig());
      return metadata.create(name, s).thenApply(r -> CreateTopicResponse.newBuilder().setTopic(view(r)).build());
    });
  }

  @Override
  public void getTopic(GetTopicRequest req, StreamObserver<GetTopicResponse> out) {
    Principal who = Access.caller();
    run(out, () -> {
      String name = TopicNames.validate("name", req.getName());
      access.checkAny(who, name, "GetTopic");
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
    Principal who = Access.caller();
    run(out, () -> {
      int size = pageSize(req.getPageSize());
      String after = decodeToken(req.getPageToken());
      List<TopicRecord> page = access.restricted() ? visiblePage(who, after, size + 1) : metadata.list(after, size + 1);
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
    Principal who = Access.caller();
    audited(who, "UpdateTopic", req.getName(), out, () -> {
      String name = TopicNames.validate("name", req.getName());
      access.check(who, name, Permission.ADMIN, "UpdateTopic");
      return metadata.update(name, s -> s.merge(req.getConfig()))
          .thenApply(r -> UpdateTopicResponse.newBuilder().setTopic(view(r)).build());
    });
  }

  @Override
  public void deleteTopic(DeleteTopicRequest req, StreamObserver<DeleteTopicResponse> out) {
    Principal who = Access.caller();
    audited(who, "DeleteTopic", req.getName(), out, () -> {
      String name = TopicNames.validate("name", req.getName());
      access.check(who, name, Permission.ADMIN, "DeleteTopic");
      return metadata.delete(name).thenApply(v -> DeleteTopicResponse.getDefaultInstance());
    });
  }

  @Override
  public void listSubscriptions(ListSubscriptionsRequest req, StreamObserver<ListSubscriptionsResponse> out) {
    Principal who = Access.caller();
    audited(who, "ListSubscriptions", req.getTopic(), out, () -> {
      String name = TopicNames.validate("topic", req.getTopic());
      access.check(who, name, Permission.ADMIN, "ListSubscriptions");
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
  /**
   * Up to {@code limit} topics after {@code after} that {@code who} has a grant on, in name order:
   * reads the store a page at a time until it has them or the store ends.
   */
  private List<TopicRecord> visiblePage(Principal who, String after, int limit) {
    List<TopicRecord> out = new java.util.ArrayList<>(limit);
    String from = after;
    while (out.size() < limit) {
      List<TopicRecord> chunk = metadata.list(from, MAX_PAGE_SIZE);
      for (TopicRecord r : chunk) {
        if (access.visible(who, r.name())) {
          out.add(r);
          if (out.size() == limit) {
            break;
          }
        }
      }
      if (chunk.size() < MAX_PAGE_SIZE) {
        break;
      }
      from = chunk.get(chunk.size() - 1).name();
    }
    return out;
  }

  /** {@link #run} with an audit line of the outcome (ok, or the status code); a refusal of the ACL writes its own. */
  private <T> void audited(Principal who, String operation, String topic, StreamObserver<T> out,
      java.util.function.Supplier<CompletableFuture<T>> body) {
    // the answer may come on the metadata thread, outside the call's context: take the peer now
    String peer = io.herald.broker.transport.PeerInterceptor.current();
    run(new StreamObserver<T>() {
      @Override
      public void onNext(T v) {
        out.onNext(v);
      }

      @Override
      public void onError(Throwable t) {
        io.grpc.Status.Code code = io.grpc.Status.fromThrowable(t).getCode();
        if (code != io.grpc.Status.Code.PERMISSION_DENIED) {
          access.audited(who, peer, operation, topic, code.name());
        }
        out.onError(t);
      }

      @Override
      public void onCompleted() {
        access.audited(who, peer, operation, topic, "ok");
        out.onCompleted();
      }
    }, body);
  }

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
