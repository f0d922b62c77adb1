package io.herald.broker.security;

/**
 * A credential was refused. The message says why in words a person can act on ("expired at …,
 * get a new token"), and never contains the credential itself; {@link #reason()} is for programs
 * and metrics.
 */
public final class AuthenticationException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why a credential was refused. */
  public enum Reason {
    /** Not a JWT at all, an encrypted JWT, a bad type header, or an unreadable payload. */
    MALFORMED,
    /** {@code alg: none}: an unsigned token. */
    UNSIGNED,
    /** Signed with an algorithm the key set does not allow. */
    ALGORITHM,
    /** Its key id ({@code kid}) is not in the key set, or no key fits its algorithm. */
    UNKNOWN_KEY,
    /** The signature does not verify with the key set. */
    BAD_SIGNATURE,
    /** Past its {@code exp} (plus the allowed clock skew), or without one. */
    EXPIRED,
    /** Before its {@code nbf} (minus the allowed clock skew). */
    NOT_YET_VALID,
    /** Its {@code iss} is not the configured issuer. */
    ISSUER,
    /** Its {@code aud} does not include the configured audience. */
    AUDIENCE,
    /** No {@code sub}, or an empty one. */
    MISSING_SUBJECT,
    /** A claim of the wrong type (e.g. {@code groups} not an array of strings). */
    BAD_CLAIM
  }

  private final Reason reason;

  public AuthenticationException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  /** Why the credential was refused. */
  public Reason reason() {
    return reason;
  }
}
