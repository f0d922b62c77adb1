package io.herald.client;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Transport security for the client's connection. Immutable. Plaintext is the default for
 * loopback development; use {@link #systemTrust()} or {@link #trustCertificates(Path)} otherwise.
 */
public final class Tls {
  private static final Tls PLAINTEXT = new Tls(false, null);
  private static final Tls SYSTEM = new Tls(true, null);

  private final boolean enabled;
  private final Path trustCertificates;

  private Tls(boolean enabled, Path trustCertificates) {
    this.enabled = enabled;
    this.trustCertificates = trustCertificates;
  }

  /** No TLS (the default). */
  public static Tls plaintext() {
    return PLAINTEXT;
  }

  /** TLS, trusting the JVM's default certificate authorities. */
  public static Tls systemTrust() {
    return SYSTEM;
  }

  /** TLS, trusting the certificates in this PEM file (e.g. a private CA). */
  public static Tls trustCertificates(Path pem) {
    return new Tls(true, Objects.requireNonNull(pem, "pem"));
  }

  public boolean enabled() {
    return enabled;
  }

  /** The PEM trust file, or null for the JVM's defaults. */
  public Path trustCertificatesFile() {
    return trustCertificates;
  }
}
