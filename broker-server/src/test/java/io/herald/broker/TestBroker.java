package io.herald.broker;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.herald.broker.config.BrokerConfig;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.Event;
import io.herald.proto.v1.PublishAck;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.PublishServiceGrpc;
import io.herald.proto.v1.SubscribeServiceGrpc;
import io.herald.proto.v1.Topic;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import io.herald.proto.v1.TopicConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/** A broker on a loopback port with a client channel to it, for tests. */
final class TestBroker implements AutoCloseable {
  final Broker broker;
  final ManagedChannel channel;

  TestBroker() throws Exception {
    this(c -> c);
  }

  TestBroker(UnaryOperator<BrokerConfig> tweak) throws Exception {
    broker = Broker.start(tweak.apply(BrokerConfig.defaults("127.0.0.1:0")));
    channel = NettyChannelBuilder.forAddress("127.0.0.1", broker.port()).usePlaintext().build();
  }

  TopicAdminServiceGrpc.TopicAdminServiceBlockingStub admin() {
    return TopicAdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  PublishServiceGrpc.PublishServiceBlockingStub publisher() {
    return PublishServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  PublishServiceGrpc.PublishServiceStub publisherAsync() {
    return PublishServiceGrpc.newStub(channel);
  }

  SubscribeServiceGrpc.SubscribeServiceStub subscriber() {
    return SubscribeServiceGrpc.newStub(channel);
  }

  Topic createTopic(String name, TopicConfig config) {
    return admin().createTopic(CreateTopicRequest.newBuilder().setName(name).setConfig(config).build()).getTopic();
  }

  Topic createTopic(String name) {
    return createTopic(name, TopicConfig.getDefaultInstance());
  }

  static Event event(String payload) {
    return Event.newBuilder().setType("test").setData(ByteString.copyFromUtf8(payload)).build();
  }

  /** Publishes {@code count} events "prefix-i" in batches of {@code batch}; returns the acks. */
  List<PublishAck> publish(String topic, String prefix, int count, int batch) {
    List<PublishAck> acks = new ArrayList<>(count);
    for (int i = 0; i < count; i += batch) {
      PublishRequest.Builder b = PublishRequest.newBuilder().setTopic(topic);
      for (int j = i; j < Math.min(count, i + batch); j++) {
        b.addEvents(event(prefix + "-" + j));
      }
      acks.addAll(publisher().publish(b.build()).getAcksList());
    }
    return acks;
  }

  @Override
  public void close() throws Exception {
    channel.shutdownNow();
    channel.awaitTermination(5, TimeUnit.SECONDS);
    broker.close();
  }
}
