package io.herald.cli;

import io.herald.client.HeraldClient;
import io.herald.client.internal.Errors;
import io.herald.proto.v1.ListTopicsRequest;
import io.herald.proto.v1.ListTopicsResponse;

/** Every topic, page by page, as one response (what `-o json` prints). */
final class Pages {
  private Pages() { }

  static ListTopicsResponse allTopics(HeraldClient client, int pageSize) {
    ListTopicsResponse.Builder all = ListTopicsResponse.newBuilder();
    try {
      String token = "";
      do {
        ListTopicsResponse page = Connection.admin(client).listTopics(ListTopicsRequest.newBuilder().setPageSize(pageSize).setPageToken(token).build());
        all.addAllTopics(page.getTopicsList());
        token = page.getNextPageToken();
      } while (!token.isEmpty());
    } catch (RuntimeException e) {
      throw Errors.from(e);
    }
    return all.build();
  }
}
