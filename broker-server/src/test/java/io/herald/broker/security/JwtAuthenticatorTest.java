package io.herald.broker.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.EncryptionMethod;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWEAlgorithm;
import com.nimbusds.jose.JWEHeader;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSAEncrypter;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.OctetSequenceKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import io.herald.broker.security.AuthenticationException.Reason;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class JwtAuthenticatorTest {
  private static final String FILE = "jwks.json";
  private static final String ISSUER = "https://idp.example";
  private static final String AUDIENCE = "herald";
  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  private static final RSAKey RSA = generateRsa("rsa-1");
  private static final RSAKey OTHER_RSA = generateRsa("rsa-1"); // same kid, different key
  private static final ECKey EC = generateEc("ec-1");
  private static final String JWKS = new JWKSet(List.<JWK>of(RSA.toPublicJWK(), EC.toPublicJWK())).toString();

  private final JwtAuthenticator auth = JwtAuthenticator.parse(JWKS, FILE, ISSUER, AUDIENCE, CLOCK);

  private static RSAKey generateRsa(String kid) {
    try {
      return new RSAKeyGenerator(2048).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new AssertionError(e);
    }
  }

  private static ECKey generateEc(String kid) {
    try {
      return new ECKeyGenerator(Curve.P_256).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new AssertionError(e);
    }
  }

  private static JWTClaimsSet.Builder claims() {
    return new JWTClaimsSet.Builder()
        .subject("client-a")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .issueTime(Date.from(NOW.minusSeconds(60)))
        .expirationTime(Date.from(NOW.plusSeconds(300)))
        .claim("groups", List.of("producers", "ops"));
  }

  private static String sign(JWSHeader header, JWTClaimsSet claims, JWSSigner signer) throws JOSEException {
    SignedJWT jwt = new SignedJWT(header, claims);
    jwt.sign(signer);
    return jwt.serialize();
  }

  private static String rs256(Consumer<JWTClaimsSet.Builder> change) throws JOSEException {
    JWTClaimsSet.Builder b = claims();
    change.accept(b);
    return sign(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(RSA.getKeyID()).build(), b.build(), new RSASSASigner(RSA));
  }

  private void assertRefused(String token, Reason reason, String message) {
    assertThatThrownBy(() -> auth.authenticate(token))
        .isInstanceOfSatisfying(AuthenticationException.class, e -> {
          assertThat(e.reason()).isEqualTo(reason);
          assertThat(e.getMessage()).startsWith("JWT refused: ").contains(message);
          if (token.length() > 8) {
            assertThat(e.getMessage()).doesNotContain(token);
            for (String part : token.split("\\.")) {
              if (part.length() > 8) {
                assertThat(e.getMessage()).as("no part of the token in the message").doesNotContain(part);
              }
            }
          }
        });
  }

  @Test
  void acceptsRs256AndEs256WithSubjectAndGroups() throws Exception {
    assertThat(auth.authenticate(rs256(b -> { })))
        .isEqualTo(new Principal("client-a", Set.of("producers", "ops"), "jwt"));
    String es = sign(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(EC.getKeyID()).build(), claims().subject("client-b").build(), new ECDSASigner(EC));
    assertThat(auth.authenticate(es).name()).isEqualTo("client-b");
    assertThat(auth.algorithms()).isEqualTo("ES256, PS256, PS384, PS512, RS256, RS384, RS512");
    assertThat(auth.size()).isEqualTo(2);
  }

  @Test
  void acceptsATokenWithoutKidOrGroupsAndWithAnAccessTokenType() throws Exception {
    String token = sign(new JWSHeader.Builder(JWSAlgorithm.RS256).type(new JOSEObjectType("at+jwt")).build(),
        claims().claim("groups", null).build(), new RSASSASigner(RSA));
    assertThat(auth.authenticate(token)).isEqualTo(new Principal("client-a", Set.of(), "jwt"));
  }

  @Test
  void refusesAnExpiredTokenAfterTheClockSkew() throws Exception {
    assertThat(auth.authenticate(rs256(b -> b.expirationTime(Date.from(NOW.minusSeconds(29)))))).isNotNull();
    assertRefused(rs256(b -> b.expirationTime(Date.from(NOW.minusSeconds(31)))), Reason.EXPIRED,
        "expired at 2025-06-01T11:59:29Z (31 s ago; 30 s of clock skew allowed)");
  }

  @Test
  void refusesATokenWithoutExpiry() throws Exception {
    assertRefused(rs256(b -> b.expirationTime(null)), Reason.EXPIRED, "no expiry (exp)");
  }

  @Test
  void refusesATokenNotYetValidBeyondTheClockSkew() throws Exception {
    assertThat(auth.authenticate(rs256(b -> b.notBeforeTime(Date.from(NOW.plusSeconds(29)))))).isNotNull();
    assertRefused(rs256(b -> b.notBeforeTime(Date.from(NOW.plusSeconds(31)))), Reason.NOT_YET_VALID,
        "not valid before 2025-06-01T12:00:31Z");
  }

  @Test
  void refusesTheWrongOrAMissingIssuer() throws Exception {
    assertRefused(rs256(b -> b.issuer("https://evil.example")), Reason.ISSUER,
        "issued by 'https://evil.example'; this broker accepts tokens from 'https://idp.example'");
    assertRefused(rs256(b -> b.issuer(null)), Reason.ISSUER, "issued by no one (no iss)");
  }

  @Test
  void refusesTheWrongOrAMissingAudience() throws Exception {
    assertRefused(rs256(b -> b.audience("other")), Reason.AUDIENCE, "the token is for 'other'; this broker needs audience 'herald'");
    assertRefused(rs256(b -> b.audience((String) null)), Reason.AUDIENCE, "no audience (no aud)");
    assertThat(auth.authenticate(rs256(b -> b.audience(List.of("other", AUDIENCE))))).isNotNull();
  }

  @Test
  void checksIssuerAndAudienceOnlyWhenConfigured() throws Exception {
    JwtAuthenticator open = JwtAuthenticator.parse(JWKS, FILE, null, null, CLOCK);
    assertThat(open.authenticate(rs256(b -> b.issuer("anyone").audience((String) null))).name()).isEqualTo("client-a");
  }

  @Test
  void refusesASignatureByAnotherKey() throws Exception {
    String token = sign(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(RSA.getKeyID()).build(), claims().build(), new RSASSASigner(OTHER_RSA));
    assertRefused(token, Reason.BAD_SIGNATURE, "signature does not verify with the keys of jwks.json");
    String noKid = sign(new JWSHeader.Builder(JWSAlgorithm.RS256).build(), claims().build(), new RSASSASigner(OTHER_RSA));
    assertRefused(noKid, Reason.BAD_SIGNATURE, "signature does not verify");
  }

  @Test
  void refusesATamperedPayload() throws Exception {
    String[] parts = rs256(b -> { }).split("\\.");
    String forged = com.nimbusds.jose.util.Base64URL.encode(claims().subject("admin").build().toString()).toString();
    assertRefused(parts[0] + "." + forged + "." + parts[2], Reason.BAD_SIGNATURE, "signature does not verify");
  }

  @Test
  void refusesAnUnknownKeyId() throws Exception {
    String token = sign(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rotated-away").build(), claims().build(), new RSASSASigner(RSA));
    assertRefused(token, Reason.UNKNOWN_KEY, "key id (kid 'rotated-away') is not in jwks.json; if the issuer rotated its keys, update that file");
  }

  @Test
  void refusesAKeyIdWhoseKeyDoesNotFitTheAlgorithm() throws Exception {
    // ES256 header naming the RSA key's kid
    String token = sign(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(RSA.getKeyID()).build(), claims().build(), new ECDSASigner(EC));
    assertRefused(token, Reason.UNKNOWN_KEY, "no key of jwks.json fits the token's algorithm ES256 and key id 'rsa-1'");
  }

  @Test
  void refusesAlgNone() {
    assertRefused(new PlainJWT(claims().build()).serialize(), Reason.UNSIGNED, "unsigned (alg none)");
  }

  @Test
  void refusesHmacSignedWithThePublicKey() throws Exception {
    // the classic algorithm confusion: HS256 with the RSA public key as the shared secret
    byte[] secret = RSA.toRSAPublicKey().getEncoded();
    String token = sign(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(RSA.getKeyID()).build(), claims().build(), new MACSigner(secret));
    assertRefused(token, Reason.ALGORITHM, "signed with HS256; the keys of jwks.json allow ES256, PS256");
  }

  @Test
  void refusesAnEncryptedToken() throws Exception {
    EncryptedJWT jwe = new EncryptedJWT(new JWEHeader(JWEAlgorithm.RSA_OAEP_256, EncryptionMethod.A128GCM), claims().build());
    jwe.encrypt(new RSAEncrypter(RSA.toRSAPublicKey()));
    assertRefused(jwe.serialize(), Reason.MALFORMED, "encrypted (JWE)");
  }

  @Test
  void refusesAMissingOrBlankSubject() throws Exception {
    assertRefused(rs256(b -> b.subject(null)), Reason.MISSING_SUBJECT, "no subject (sub)");
    assertRefused(rs256(b -> b.subject("  ")), Reason.MISSING_SUBJECT, "no subject (sub)");
  }

  @Test
  void refusesGroupsThatAreNotAnArrayOfStrings() throws Exception {
    assertRefused(rs256(b -> b.claim("groups", "producers")), Reason.BAD_CLAIM, "groups claim must be an array of strings");
    assertRefused(rs256(b -> b.claim("groups", List.of("a", 7))), Reason.BAD_CLAIM, "groups claim must be an array of non-empty strings");
  }

  @Test
  void refusesAnUnknownType() throws Exception {
    String token = sign(new JWSHeader.Builder(JWSAlgorithm.RS256).type(new JOSEObjectType("secevent+jwt")).build(), claims().build(), new RSASSASigner(RSA));
    assertRefused(token, Reason.MALFORMED, "type (typ 'secevent+jwt') is not JWT or at+jwt");
  }

  @Test
  void refusesWhatIsNotAJwt() {
    assertRefused("not-a-jwt", Reason.MALFORMED, "not a JWT");
    assertRefused("aaaaaaaaaaaa.bbbbbbbbbbbb.cccccccccccc", Reason.MALFORMED, "not a JWT");
    assertRefused("", Reason.MALFORMED, "no token was given");
    assertRefused("x".repeat(JwtAuthenticator.MAX_TOKEN_CHARS + 1), Reason.MALFORMED, "the limit is " + JwtAuthenticator.MAX_TOKEN_CHARS);
    assertThatThrownBy(() -> auth.authenticate(null)).isInstanceOf(AuthenticationException.class);
  }

  @Test
  void aKeysAlgRestrictsItToThatAlgorithm() throws Exception {
    String jwks = new JWKSet(new RSAKey.Builder(RSA.toRSAPublicKey()).keyID("rsa-1").algorithm(JWSAlgorithm.RS256).build()).toString();
    JwtAuthenticator rs256Only = JwtAuthenticator.parse(jwks, FILE, null, null, CLOCK);
    assertThat(rs256Only.algorithms()).isEqualTo("RS256");
    assertThat(rs256Only.authenticate(rs256(b -> { })).name()).isEqualTo("client-a");
    String ps256 = sign(new JWSHeader.Builder(JWSAlgorithm.PS256).keyID("rsa-1").build(), claims().build(), new RSASSASigner(RSA));
    assertThatThrownBy(() -> rs256Only.authenticate(ps256))
        .isInstanceOfSatisfying(AuthenticationException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ALGORITHM));
  }

  @Test
  void refusesKeySetsThatAreNotPublicRsaOrEcSigningKeys() throws Exception {
    assertThatThrownBy(() -> JwtAuthenticator.parse("{not json", FILE, null, null))
        .hasMessageStartingWith("jwks.json is not a JSON Web Key Set");
    assertThatThrownBy(() -> JwtAuthenticator.parse("{\"keys\": []}", FILE, null, null))
        .hasMessageStartingWith("jwks.json has no keys");
    OctetSequenceKey oct = new OctetSequenceKeyGenerator(256).keyID("hmac").generate();
    assertThatThrownBy(() -> JwtAuthenticator.parse(new JWKSet(oct).toString(false), FILE, null, null))
        .hasMessageContaining("jwks.json: key 0 (kid 'hmac') is of type oct, a shared secret")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(oct.getKeyValue().toString()));
    assertThatThrownBy(() -> JwtAuthenticator.parse(new JWKSet(List.<JWK>of(EC.toPublicJWK(), RSA)).toString(false), FILE, null, null))
        .hasMessageContaining("jwks.json: key 1 (kid 'rsa-1') holds a private key: give the broker the public keys only")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(RSA.getPrivateExponent().toString()));
    JWK wrongAlg = new RSAKey.Builder(RSA.toRSAPublicKey()).algorithm(JWSAlgorithm.ES256).build();
    assertThatThrownBy(() -> JwtAuthenticator.parse(new JWKSet(wrongAlg).toString(), FILE, null, null))
        .hasMessageContaining("jwks.json: key 0 says \"alg\": \"ES256\", which a RSA key cannot verify");
    JWK encOnly = new RSAKey.Builder(RSA.toRSAPublicKey()).keyUse(com.nimbusds.jose.jwk.KeyUse.ENCRYPTION).build();
    assertThatThrownBy(() -> JwtAuthenticator.parse(new JWKSet(encOnly).toString(), FILE, null, null))
        .hasMessageContaining("jwks.json has no signing keys");
    assertThatThrownBy(() -> JwtAuthenticator.parse(JWKS, FILE, " ", null)).hasMessageContaining("issuer is empty");
    assertThatThrownBy(() -> JwtAuthenticator.parse(JWKS, FILE, null, "")).hasMessageContaining("audience is empty");
  }

  @Test
  void usesTheSystemClockByDefault() throws Exception {
    JwtAuthenticator real = JwtAuthenticator.parse(JWKS, FILE, ISSUER, AUDIENCE);
    // NOW is in the past: its tokens expired long ago on the real clock
    assertThatThrownBy(() -> real.authenticate(rs256(b -> { })))
        .isInstanceOfSatisfying(AuthenticationException.class, e -> assertThat(e.reason()).isEqualTo(Reason.EXPIRED));
    String fresh = rs256(b -> b.issueTime(new Date()).expirationTime(Date.from(Instant.now().plusSeconds(60))));
    assertThat(real.authenticate(fresh).name()).isEqualTo("client-a");
  }
}
