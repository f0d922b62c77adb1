package io.herald.broker.security;

import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.herald.broker.transport.Errors;
import io.herald.broker.transport.PeerInterceptor;
import io.herald.proto.v1.ErrorReason;

/**
 * Who may do what: the caller's {@link Principal} (put in the call's {@link Context} by {@link
 * Authentication}) checked against the ACL ({@code --acl}). Without an ACL every principal may do
 * everything; with one, nothing is allowed that no grant allows (deny by default), except to the
 * other brokers (principals of the group {@code herald-peers}), which relay and forward for their
 * own clients after checking those clients' grants.
 *
 * <p>A refusal is PERMISSION_DENIED with an ErrorInfo (reason PERMISSION_DENIED; principal, topic,
 * permission) and an audit line. It is decided before the topic is looked up, so a principal
 * without a grant learns nothing of whether the topic exists.
 *
 * <p>Thread-safe; a check reads the current policy (reloaded by its file) and does no I/O.
 */
public final class Access {
  /** The authenticated caller of the current call; absent when authentication is off. */
  public static final Context.Key<Principal> PRINCIPAL = Context.key("herald-principal");

  /** What an ACL answers; {@link #version()} changes when it is reloaded. */
  public interface Policy {
    boolean allows(Principal p, String topic, Permission permission);

    boolean anyGrant(Principal p, String topic);

    long version();
  }

  /** No ACL: everything allowed, nothing audited but admin operations. */
  public static Access open(AuditLog audit) {
    return new Access(null, audit);
  }

  /** With an ACL. */
  public static Access withPolicy(Policy policy, AuditLog audit) {
    return new Access(policy, audit);
  }

  private final Policy policy;
  private final AuditLog audit;

  private Access(Policy policy, AuditLog audit) {
    this.policy = policy;
    this.audit = audit;
  }

  /** The current call's principal ({@link Principal#ANONYMOUS} when authentication is off). */
  public static Principal caller() {
    Principal p = PRINCIPAL.get();
    return p == null ? Principal.ANONYMOUS : p;
  }

  /** True when an ACL restricts principals. */
  public boolean restricted() {
    return policy != null;
  }

  /** The ACL's version (0 without one): a cached decision is good while it is unchanged. */
  public long version() {
    return policy == null ? 0 : policy.version();
  }

  /**
   * Checks that {@code p} may {@code permission} on {@code topic}.
   *
   * @param operation what is attempted, for the audit line (e.g. {@code publish}, {@code CreateTopic})
   * @throws StatusRuntimeException PERMISSION_DENIED, after writing an audit line
   */
  public void check(Principal p, String topic, Permission permission, String operation) {
    if (policy == null || peer(p) || policy.allows(p, topic, permission)) {
      return;
    }
    throw denied(p, topic, permission.word(), operation);
  }

  /**
   * Checks that {@code p} has some grant on {@code topic} (to describe it).
   *
   * @throws StatusRuntimeException PERMISSION_DENIED, after writing an audit line
   */
  public void checkAny(Principal p, String topic, String operation) {
    if (policy == null || peer(p) || policy.anyGrant(p, topic)) {
      return;
    }
    throw denied(p, topic, "any", operation);
  }

  /** Whether {@code p} may see {@code topic} in a listing (some grant on it). */
  public boolean visible(Principal p, String topic) {
    return policy == null || peer(p) || policy.anyGrant(p, topic);
  }

  /** Another broker (a principal of the group herald-peers): it relays and forwards for its own clients, whose grants it checked. */
  private static boolean peer(Principal p) {
    return Authentication.isPeer(p);
  }

  private StatusRuntimeException denied(Principal p, String topic, String permission, String operation) {
    audit.record(p, PeerInterceptor.current(), operation, topic, "denied", "no " + permission + " grant");
    return Errors.error(ErrorReason.ERROR_REASON_PERMISSION_DENIED, "principal '" + p.name() + "' may not " + operation + " topic '"
        + topic + "': the ACL grants it no " + permission + " permission on that name (ask an operator for a grant)",
        "principal", p.name(), "topic", topic, "permission", permission);
  }

  /** Records an admin operation's outcome. */
  public void audited(Principal p, String peer, String operation, String topic, String outcome) {
    audit.record(p, peer, operation, topic, outcome, null);
  }
}
