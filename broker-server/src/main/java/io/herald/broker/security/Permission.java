package io.herald.broker.security;

/** What an ACL grant allows on the topics it matches ({@code allow:} in the {@code --acl} file). */
public enum Permission {
  /** Publish events to the topic. */
  PUBLISH,
  /** Subscribe to the topic. */
  SUBSCRIBE,
  /** Create, update, delete the topic and list its subscriptions. */
  ADMIN;

  /** The name used in the ACL file and in messages ({@code publish}, {@code subscribe}, {@code admin}). */
  public String word() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
