package io.herald.broker.security;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.grpc.util.CertificateUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client port's TLS: the server certificate and key ({@code --tls-cert}, {@code --tls-key}) and
 * the CA client certificates must chain to ({@code --tls-client-ca}). Read at start (a file that
 * does not load stops the broker), then read again every {@code reloadInterval} on the caller's
 * timer: changed bytes are loaded and used for the next handshakes, without a restart; live
 * connections keep theirs. A changed file that does not load, or a key that does not match its
 * certificate (one of the pair replaced, not yet the other), is logged once and the last good pair
 * kept until both are right. (gRPC's own file reloading polls at most once a minute.)
 *
 * <p>Thread-safe: the check runs on the timer only; the managers swap their contents atomically.
 */
public final class TlsFiles implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TlsFiles.class);

  private final SecurityConfig config;
  private final AdvancedTlsX509KeyManager keys = new AdvancedTlsX509KeyManager();
  private final AdvancedTlsX509TrustManager trust;
  /** Trust for the other brokers' certificates (host names checked), or null outside a TLS cluster. */
  private final AdvancedTlsX509TrustManager peerTrust;
  private final ServerCredentials credentials;
  private final ScheduledFuture<?> check;
  // the timer's only
  private byte[] certBytes;
  private byte[] keyBytes;
  private byte[] caBytes;
  private byte[] peerCaBytes;
  private String lastFault;

  private TlsFiles(SecurityConfig config, ScheduledExecutorService timer) throws GeneralSecurityException {
    this.config = config;
    String fault = loadIdentity();
    if (fault != null) {
      throw new IllegalArgumentException(fault);
    }
    TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder().keyManager(keys);
    if (config.tlsClientCa() != null) {
      trust = AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION)
          .build();
      fault = loadTrust();
      if (fault != null) {
        throw new IllegalArgumentException(fault);
      }
      b.trustManager(trust);
      b.clientAuth(config.clientAuth() == SecurityConfig.ClientAuth.REQUIRE ? TlsServerCredentials.ClientAuth.REQUIRE
          : TlsServerCredentials.ClientAuth.OPTIONAL);
    } else {
      trust = null;
    }
    this.credentials = b.build();
    if (config.peerTlsCa() != null) {
      peerTrust = AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION)
          .build();
      fault = loadPeerTrust();
      if (fault != null) {
        throw new IllegalArgumentException(fault);
      }
    } else {
      peerTrust = null;
    }
    long period = config.reloadInterval().toMillis();
    this.check = timer.scheduleWithFixedDelay(this::reload, period, period, TimeUnit.MILLISECONDS);
  }

  /**
   * Loads the files of {@code c} (which must have {@link SecurityConfig#tls()}) and checks them
   * every {@code c.reloadInterval()} on {@code timer}.
   *
   * @throws IllegalArgumentException naming the file that does not load, and why
   */
  public static TlsFiles open(SecurityConfig c, ScheduledExecutorService timer) {
    try {
      return new TlsFiles(c, timer);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("TLS cannot be set up: " + e.getMessage(), e);
    }
  }

  /** The credentials to build the gRPC server with. */
  public ServerCredentials credentials() {
    return credentials;
  }

  private void reload() {
    try {
      // each file on its own: a broken certificate must not hold back the removal of a CA
      String fault = null;
      for (String f : new String[] {loadIdentity(), trust == null ? null : loadTrust(), peerTrust == null ? null : loadPeerTrust()}) {
        if (f != null) {
          fault = fault == null ? f : fault + "; " + f;
        }
      }
      if (fault != null && !fault.equals(lastFault)) {
        log.warn("{}; the broker keeps serving the last good ones", fault);
      }
      lastFault = fault;
    } catch (RuntimeException e) {
      log.warn("checking the TLS files failed: {}", e.toString());
    }
  }

  /** Loads certificate and key if their bytes changed; null, or what is wrong. */
  private String loadIdentity() {
    byte[] cert;
    byte[] key;
    try {
      cert = Files.readAllBytes(config.tlsCert());
      key = Files.readAllBytes(config.tlsKey());
    } catch (IOException e) {
      return "--tls-cert " + config.tlsCert() + " / --tls-key " + config.tlsKey() + " cannot be read: " + e;
    }
    if (Arrays.equals(cert, certBytes) && Arrays.equals(key, keyBytes)) {
      return null;
    }
    X509Certificate[] chain;
    PrivateKey pk;
    try {
      chain = CertificateUtils.getX509Certificates(new ByteArrayInputStream(cert));
      if (chain.length == 0) {
        return "--tls-cert " + config.tlsCert() + " holds no PEM certificate";
      }
    } catch (GeneralSecurityException | RuntimeException e) {
      return "--tls-cert " + config.tlsCert() + " does not load (" + e.getMessage() + "): it must be a PEM certificate chain";
    }
    try {
      pk = CertificateUtils.getPrivateKey(new ByteArrayInputStream(key));
    } catch (GeneralSecurityException | IOException | RuntimeException e) {
      return "--tls-key " + config.tlsKey() + " does not load (" + e.getMessage() + "): it must be a PKCS#8 PEM key ('BEGIN PRIVATE KEY';"
          + " openssl pkcs8 -topk8 -nocrypt converts one)";
    }
    if (!matches(pk, chain[0])) {
      return "--tls-key " + config.tlsKey() + " is not the key of the certificate in --tls-cert " + config.tlsCert()
          + " (replace both; until then the last good pair is used)";
    }
    keys.updateIdentityCredentials(chain, pk);
    if (certBytes != null) {
      log.info("TLS certificate reloaded from {}: subject {}, serial {}, valid until {}", config.tlsCert(),
          chain[0].getSubjectX500Principal().getName(), chain[0].getSerialNumber().toString(16), chain[0].getNotAfter().toInstant());
    }
    certBytes = cert;
    keyBytes = key;
    return null;
  }

  /**
   * Loads the client CA if its bytes changed; null, or what is wrong. With {@code --peer-tls-ca} its
   * certificates are trusted as well: the other brokers present their own certificates as clients.
   */
  private String loadTrust() {
    byte[] ca;
    try {
      ca = Files.readAllBytes(config.tlsClientCa());
      if (config.peerTlsCa() != null) {
        byte[] peers = Files.readAllBytes(config.peerTlsCa());
        byte[] both = Arrays.copyOf(ca, ca.length + 1 + peers.length);
        both[ca.length] = '\n';
        System.arraycopy(peers, 0, both, ca.length + 1, peers.length);
        ca = both;
      }
    } catch (IOException e) {
      return "--tls-client-ca " + config.tlsClientCa() + (config.peerTlsCa() == null ? "" : " / --peer-tls-ca " + config.peerTlsCa())
          + " cannot be read: " + e;
    }
    if (Arrays.equals(ca, caBytes)) {
      return null;
    }
    try {
      X509Certificate[] certs = CertificateUtils.getX509Certificates(new ByteArrayInputStream(ca));
      if (certs.length == 0) {
        return "--tls-client-ca " + config.tlsClientCa() + " holds no PEM certificate";
      }
      trust.updateTrustCredentials(certs);
    } catch (GeneralSecurityException | IOException | RuntimeException e) {
      return "--tls-client-ca " + config.tlsClientCa() + " does not load (" + e.getMessage() + "): it must hold PEM CA certificates";
    }
    if (caBytes != null) {
      log.info("TLS client CA reloaded from {}", config.tlsClientCa());
    }
    caBytes = ca;
    return null;
  }

  /** Loads the peer CA if its bytes changed; null, or what is wrong. */
  private String loadPeerTrust() {
    byte[] ca;
    try {
      ca = Files.readAllBytes(config.peerTlsCa());
    } catch (IOException e) {
      return "--peer-tls-ca " + config.peerTlsCa() + " cannot be read: " + e;
    }
    if (Arrays.equals(ca, peerCaBytes)) {
      return null;
    }
    try {
      X509Certificate[] certs = CertificateUtils.getX509Certificates(new ByteArrayInputStream(ca));
      if (certs.length == 0) {
        return "--peer-tls-ca " + config.peerTlsCa() + " holds no PEM certificate";
      }
      peerTrust.updateTrustCredentials(certs);
    } catch (GeneralSecurityException | IOException | RuntimeException e) {
      return "--peer-tls-ca " + config.peerTlsCa() + " does not load (" + e.getMessage() + "): it must hold PEM CA certificates";
    }
    if (peerCaBytes != null) {
      log.info("TLS peer CA reloaded from {}", config.peerTlsCa());
    }
    peerCaBytes = ca;
    return null;
  }

  /** This broker's certificate and key (reloaded), also presented to the other brokers as a client certificate. */
  public javax.net.ssl.KeyManager keyManager() {
    return keys;
  }

  /** Trust for the other brokers' certificates, with host name checks (reloaded); null without {@code --peer-tls-ca}. */
  public javax.net.ssl.TrustManager peerTrustManager() {
    return peerTrust;
  }

  /** Whether {@code key} signs what {@code cert}'s public key verifies. */
  private static boolean matches(PrivateKey key, X509Certificate cert) {
    String alg = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> null;
    };
    if (alg == null) {
      return true; // an algorithm this check does not know: the handshake will tell
    }
    try {
      byte[] probe = "herald-tls-key-check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(alg);
      v.initVerify(cert.getPublicKey());
      v.update(probe);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  @Override
  public void close() {
    check.cancel(false);
  }
}
