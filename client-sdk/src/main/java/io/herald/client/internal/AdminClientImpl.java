package io.herald.client.internal;

import io.herald.client.AdminClient;
import io.herald.client.Page;
import io.herald.client.SubscriptionInfo;
import io.herald.client.TopicInfo;
import io.herald.client.TopicSettings;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.DeleteTopicRequest;
import io.herald.proto.v1.GetTopicRequest;
import io.herald.proto.v1.ListSubscriptionsRequest;
import io.herald.proto.v1.ListSubscriptionsResponse;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.ListTopicsResponse;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import io.herald.proto.v1.UpdateTopicRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** {@link AdminClient} over the admin stub, each call with the client's timeout. */
public final class AdminClientImpl implements AdminClient {
  private final ClientCore core;

  public AdminClientImpl(ClientCore core) {
    this.core = core;
  }

  private TopicAdminServiceGrpc.TopicAdminServiceBlockingStub stub() {
    core.checkOpen();
    return TopicAdminServiceGrpc.newBlockingStub(core.channel()).withDeadlineAfter(core.callTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  private static <T> T call(Supplier<T> c) {
    try {
      return c.get();
    } catch (RuntimeException e) {
      throw Errors.from(e);
    }
  }

  /** The raw stub with the client's deadline, for callers that want the wire types (the CLI's JSON output). */
  public TopicAdminServiceGrpc.TopicAdminServiceBlockingStub rawStub() {
    return stub();
  }

  @Override
  public TopicInfo createTopic(String name, TopicSettings settings) {
    return call(() -> Convert.topic(stub().createTopic(CreateTopicRequest.newBuilder().setName(name)
        .setConfig(Convert.config(settings)).build()).getTopic()));
  }

  @Override
  public TopicInfo getTopic(String name) {
    return call(() -> Convert.topic(stub().getTopic(GetTopicRequest.newBuilder().setName(name).build()).getTopic()));
  }

  private static int checkPageSize(int pageSize) {
    if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new IllegalArgumentException("pageSize must be 1.." + MAX_PAGE_SIZE + "; got " + pageSize);
    }
    return pageSize;
  }

  @Override
  public Page<TopicInfo> listTopics(int pageSize, String pageToken) {
    checkPageSize(pageSize);
    return call(() -> {
      ListTopicsResponse r = stub().listTopics(ListTopicsRequest.newBuilder().setPageSize(pageSize)
          .setPageToken(pageToken == null ? "" : pageToken).build());
      return new Page<>(r.getTopicsList().stream().map(Convert::topic).toList(), r.getNextPageToken());
    });
  }

  @Override
  public List<TopicInfo> listAllTopics() {
    List<TopicInfo> all = new ArrayList<>();
    String token = "";
    do {
      Page<TopicInfo> p = listTopics(MAX_PAGE_SIZE, token);
      all.addAll(p.items());
      token = p.nextPageToken();
    } while (!token.isEmpty());
    return all;
  }

  @Override
  public TopicInfo updateTopic(String name, TopicSettings changes) {
    return call(() -> Convert.topic(stub().updateTopic(UpdateTopicRequest.newBuilder().setName(name)
        .setConfig(Convert.config(changes)).build()).getTopic()));
  }

  @Override
  public void deleteTopic(String name) {
    call(() -> stub().deleteTopic(DeleteTopicRequest.newBuilder().setName(name).build()));
  }

  @Override
  public Page<SubscriptionInfo> listSubscriptions(String topic, int pageSize, String pageToken) {
    checkPageSize(pageSize);
    return call(() -> {
      ListSubscriptionsResponse r = stub().listSubscriptions(ListSubscriptionsRequest.newBuilder().setTopic(topic)
          .setPageSize(pageSize).setPageToken(pageToken == null ? "" : pageToken).build());
      return new Page<>(r.getSubscriptionsList().stream().map(Convert::subscription).toList(), r.getNextPageToken());
    });
  }
}
