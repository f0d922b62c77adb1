package io.herald.client;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Transport security for the client's connection. Immutable. Plaintext is the default for
 * loopback development; use {@link #systemTrust()} or {@link #trustCertificates(Path)} otherwise,
 * and {@link #withClientCertificate(Path, Path)} for mutual TLS.
 *
 * <pre>{@code
 * Tls tls = Tls.trustCertificates(Path.of("ca.pem"))
 *     .withClientCertificate(Path.of("device-7.pem"), Path.of("device-7-key.pem"));
 * }</pre>
 *
 * <p>The files are read when the client is built ({@link HeraldClient.Builder#build()}); a
 * certificate replaced on disk later is not picked up by a running client.
 */
public final class Tls {
  private static final Tls PLAINTEXT = new Tls(false, null, null, null);
  private static final Tls SYSTEM = new Tls(true, null, null, null);

  private final boolean enabled;
  private final Path trustCertificates;
  private final Path clientCertificateChain;
  private final Path clientKey;

  private Tls(boolean enabled, Path trustCertificates, Path clientCertificateChain, Path clientKey) {
    this.enabled = enabled;
    this.trustCertificates = trustCertificates;
    this.clientCertificateChain = clientCertificateChain;
    this.clientKey = clientKey;
  }

  /** No TLS (the default). */
  public static Tls plaintext() {
    return PLAINTEXT;
  }

  /** TLS, trusting the JVM's default certificate authorities. */
  public static Tls systemTrust() {
    return SYSTEM;
  }

  /**
   * TLS, trusting the certificates in this PEM file (e.g. a private CA).
   *
   * @throws IllegalArgumentException if the file does not exist or cannot be read
   */
  public static Tls trustCertificates(Path pem) {
    return new Tls(true, readable(Objects.requireNonNull(pem, "pem"), "trust certificates"), null, null);
  }

  /**
   * The same TLS settings, plus a client certificate presented in the handshake (mutual TLS; a
   * broker with {@code --auth mtls} takes its subject CN as the principal).
   *
   * @param certificateChainPem the client certificate and any intermediates, PEM
   * @param pkcs8KeyPem its private key, unencrypted PKCS#8 PEM ({@code -----BEGIN PRIVATE KEY-----})
   * @return a new {@code Tls}; this one is unchanged
   * @throws IllegalStateException on {@link #plaintext()}: a client certificate needs TLS
   * @throws IllegalArgumentException if a file does not exist or cannot be read
   */
  public Tls withClientCertificate(Path certificateChainPem, Path pkcs8KeyPem) {
    if (!enabled) {
      throw new IllegalStateException("a client certificate needs TLS: start from Tls.systemTrust() or Tls.trustCertificates(caPem)");
    }
    return new Tls(true, trustCertificates, readable(Objects.requireNonNull(certificateChainPem, "certificateChainPem"), "client certificate"),
        readable(Objects.requireNonNull(pkcs8KeyPem, "pkcs8KeyPem"), "client key"));
  }

  private static Path readable(Path file, String what) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(what + " file " + file + " does not exist or is not a regular file");
    }
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException(what + " file " + file + " is not readable");
    }
    return file;
  }

  public boolean enabled() {
    return enabled;
  }

  /** The PEM trust file, or null for the JVM's defaults. */
  public Path trustCertificatesFile() {
    return trustCertificates;
  }

  /** The client certificate chain (PEM), or null when none is presented. */
  public Path clientCertificateFile() {
    return clientCertificateChain;
  }

  /** The client certificate's PKCS#8 key (PEM), or null when none is presented. */
  public Path clientKeyFile() {
    return clientKey;
  }

  /** The settings and file names; never file contents. */
  @Override
  public String toString() {
    if (!enabled) {
      return "Tls[plaintext]";
    }
    return "Tls[trust=" + (trustCertificates == null ? "system" : trustCertificates)
        + (clientCertificateChain == null ? "" : ", clientCertificate=" + clientCertificateChain + ", clientKey=" + clientKey) + "]";
  }
}
