package io.herald.client;

import java.util.List;

/**
 * One page of a listing.
 *
 * @param items this page
 * @param nextPageToken pass it to get the next page; empty on the last one
 */
public record Page<T>(List<T> items, String nextPageToken) {
  public boolean hasNext() {
    return !nextPageToken.isEmpty();
  }
}
