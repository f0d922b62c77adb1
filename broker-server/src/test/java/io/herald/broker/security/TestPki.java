package io.herald.broker.security;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Test certificates: a CA, and certificates it signs for a server (SANs localhost and 127.0.0.1) or
 * a client (a CN that names the principal), written as PEM files (chain; PKCS#8 key) like an
 * operator's. EC P-256, valid for a day.
 */
public final class TestPki {
  private static final AtomicLong SERIAL = new AtomicLong(System.nanoTime());

  /** A certificate and its key, and where they were written. */
  public record Issued(X509Certificate cert, PrivateKey key, Path certFile, Path keyFile) { }

  private final String name;
  private final KeyPair caKeys;
  private final X509Certificate caCert;
  private final Path dir;

  /** A new CA named {@code name}, writing into {@code dir} ({@code name-ca.pem}). */
  public TestPki(Path dir, String name) throws Exception {
    this.dir = dir;
    this.name = name;
    this.caKeys = keys();
    X500Name subject = new X500Name("CN=" + name + " test CA");
    X509v3CertificateBuilder b = builder(subject, subject, caKeys);
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    this.caCert = sign(b, caKeys.getPrivate());
    write(caFile(), caCert);
  }

  /** The CA certificate's PEM file. */
  public Path caFile() {
    return dir.resolve(name + "-ca.pem");
  }

  public X509Certificate caCert() {
    return caCert;
  }

  /** A server certificate for localhost / 127.0.0.1, as {@code file}.pem and {@code file}-key.pem. */
  public Issued server(String file) throws Exception {
    KeyPair k = keys();
    X509v3CertificateBuilder b = builder(new X500Name("CN=" + name + " test CA"), new X500Name("CN=localhost"), k);
    b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
        new GeneralName(GeneralName.dNSName, "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
    return issue(file, b, k);
  }

  /** A client certificate with subject CN {@code cn}. */
  public Issued client(String file, String cn) throws Exception {
    KeyPair k = keys();
    X509v3CertificateBuilder b = builder(new X500Name("CN=" + name + " test CA"), new X500Name("O=herald-tests,CN=" + cn), k);
    return issue(file, b, k);
  }

  private Issued issue(String file, X509v3CertificateBuilder b, KeyPair k) throws Exception {
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    X509Certificate cert = sign(b, caKeys.getPrivate());
    Path certFile = dir.resolve(file + ".pem");
    Path keyFile = dir.resolve(file + "-key.pem");
    writeAtomically(certFile, pem(cert));
    writeAtomically(keyFile, pem(new JcaPKCS8Generator(k.getPrivate(), null)));
    return new Issued(cert, k.getPrivate(), certFile, keyFile);
  }

  /** Replaces {@code target} in one step (as a deployment tool would), so a reload never sees half a file. */
  public static void writeAtomically(Path target, String text) throws IOException {
    Path tmp = Files.createTempFile(target.getParent(), ".tmp-", ".pem");
    Files.writeString(tmp, text);
    Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  private static void write(Path file, Object o) throws IOException {
    writeAtomically(file, pem(o));
  }

  private static String pem(Object o) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      w.writeObject(o);
    }
    return s.toString();
  }

  private static KeyPair keys() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair k) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(now.minus(Duration.ofHours(1))),
        Date.from(now.plus(Duration.ofDays(1))), subject, k.getPublic());
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey issuerKey) throws Exception {
    return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
  }
}
