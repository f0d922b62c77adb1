package io.herald.client;

import java.util.List;

/**
 * Topic management. Thread-safe; every call blocks for at most the client's call timeout and
 * throws a {@link HeraldException} on failure (e.g. {@link HeraldException.TopicNotFoundException},
 * {@link HeraldException.TopicExistsException}, {@link ErrorCode#INVALID_ARGUMENT} with the broker's
 * explanation). Calls are not made on the callback executor; they run on the caller's thread.
 */
public interface AdminClient {
  /** Creates a topic; unset settings take the broker defaults. */
  TopicInfo createTopic(String name, TopicSettings settings);

  TopicInfo getTopic(String name);

  /** One page of topics in name order; {@code pageSize} 1..1000, 0 for 100; token "" for the first page. */
  Page<TopicInfo> listTopics(int pageSize, String pageToken);

  /** Every topic, page by page. */
  List<TopicInfo> listAllTopics();

  /** Changes only the settings that are set. */
  TopicInfo updateTopic(String name, TopicSettings changes);

  /** Deletes a topic; its subscriptions end with NOT_FOUND. */
  void deleteTopic(String name);

  /** The live subscriptions of a topic. */
  Page<SubscriptionInfo> listSubscriptions(String topic, int pageSize, String pageToken);
}
