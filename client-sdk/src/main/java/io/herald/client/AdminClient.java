package io.herald.client;

import java.util.List;

/**
 * Topic management. Thread-safe; every call blocks for at most the client's call timeout and
 * throws a {@link HeraldException} on failure (e.g. {@link HeraldException.TopicNotFoundException},
 * {@link HeraldException.TopicExistsException}, {@link ErrorCode#INVALID_ARGUMENT} with the broker's
 * explanation). Calls are not made on the callback executor; they run on the caller's thread.
 */
public interface AdminClient {
  /** Page size of the list calls that take none: {@value}. */
  int DEFAULT_PAGE_SIZE = 100;
  /** Largest page size: {@value}. */
  int MAX_PAGE_SIZE = 1000;

  /**
   * Creates a topic; unset settings take the broker defaults (each stated on its
   * {@link TopicSettings.Builder} setter). Topic names are 1-249 characters of {@code [A-Za-z0-9._-]}.
   */
  TopicInfo createTopic(String name, TopicSettings settings);

  TopicInfo getTopic(String name);

  /**
   * One page of topics in name order: {@code pageSize} 1..{@value #MAX_PAGE_SIZE}; token "" for the
   * first page, then the previous page's {@link Page#nextPageToken()}.
   */
  Page<TopicInfo> listTopics(int pageSize, String pageToken);

  /** {@link #listTopics(int, String)} with {@value #DEFAULT_PAGE_SIZE} topics per page. */
  default Page<TopicInfo> listTopics(String pageToken) {
    return listTopics(DEFAULT_PAGE_SIZE, pageToken);
  }

  /** Every topic, page by page. */
  List<TopicInfo> listAllTopics();

  /** Changes only the settings that are set. */
  TopicInfo updateTopic(String name, TopicSettings changes);

  /** Deletes a topic; its subscriptions end with NOT_FOUND. */
  void deleteTopic(String name);

  /**
   * One page of the live subscriptions of a topic: {@code pageSize} 1..{@value #MAX_PAGE_SIZE}; token
   * "" for the first page.
   */
  Page<SubscriptionInfo> listSubscriptions(String topic, int pageSize, String pageToken);

  /** {@link #listSubscriptions(String, int, String)} with {@value #DEFAULT_PAGE_SIZE} per page. */
  default Page<SubscriptionInfo> listSubscriptions(String topic, String pageToken) {
    return listSubscriptions(topic, DEFAULT_PAGE_SIZE, pageToken);
  }
}
