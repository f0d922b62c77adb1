package io.herald.broker.security;

import java.util.Set;

/**
 * Who made a call: the identity a credential proved ({@code --auth}), and the groups it carries.
 *
 * @param name the principal: a token file's first column, a JWT's {@code sub}, a client
 *     certificate's subject CN; {@link #ANONYMOUS}'s name when authentication is off
 * @param groups the groups it belongs to (a token line's groups, a JWT's {@code groups} claim); empty for mTLS
 * @param method how it was proved: {@code token}, {@code jwt}, {@code mtls}, or {@code none}
 */
public record Principal(String name, Set<String> groups, String method) {
  /** Every call when {@code --auth none}: may do everything. */
  public static final Principal ANONYMOUS = new Principal("anonymous", Set.of(), "none");

  public Principal {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("a principal needs a name");
    }
    groups = Set.copyOf(groups);
  }

  /** True for the principal of a broker without authentication. */
  public boolean anonymous() {
    return "none".equals(method);
  }
}
