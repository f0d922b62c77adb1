package io.herald.broker.security;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.BadJWSException;
import com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks JWTs ({@code --auth-jwks}, {@code --auth-jwt-issuer}, {@code --auth-jwt-audience}) against
 * a JSON Web Key Set: the principal is the {@code sub} claim, its groups the {@code groups} claim
 * (an array of strings; absent = none), its method {@value #METHOD}.
 *
 * <p>A token is refused ({@link AuthenticationException}, with a {@link AuthenticationException.Reason
 * reason}) unless: it is a signed JWS (never {@code alg: none}, never encrypted) with an algorithm
 * one of the set's keys allows, by a key of the set (by {@code kid} when the token names one), and a
 * signature that verifies; its type header, if any, is {@code JWT} or {@code at+jwt}; it has an
 * {@code exp} that is not past and an {@code nbf}, if any, that is not ahead, each with
 * {@link #CLOCK_SKEW_SECONDS} seconds of clock skew allowed; its {@code iss} equals the configured
 * issuer and its {@code aud} includes the configured audience (each checked only when configured);
 * and it has a non-blank {@code sub}. Tokens over {@link #MAX_TOKEN_CHARS} characters are refused
 * unread. Messages never contain the token.
 *
 * <p>The key set must hold only public RSA or EC (P-256, P-384, P-521) keys: symmetric
 * ({@code oct}) keys, private keys and other key types are refused when it is parsed, so the file
 * never holds a secret and no HMAC/public-key algorithm confusion is possible. A key's {@code alg},
 * when given, is the only algorithm it verifies; otherwise an RSA key verifies RS256/384/512 and
 * PS256/384/512, and an EC key the ES algorithm of its curve.
 *
 * <p>Immutable and thread-safe; parse a new one when the key set file changes ({@link ReloadingFile}).
 */
public final class JwtAuthenticator {
  /** The {@link Principal#method()} of a principal proved by a JWT: {@value}. */
  public static final String METHOD = "jwt";
  /** How far the broker's clock may be off the issuer's, in seconds, for {@code exp} and {@code nbf}: {@value}. */
  public static final int CLOCK_SKEW_SECONDS = 30;
  /** Longer tokens are refused without parsing: {@value} characters. */
  public static final int MAX_TOKEN_CHARS = 16 * 1024;
  /** The claim that holds the principal's groups: {@value}. */
  public static final String GROUPS_CLAIM = "groups";

  /** The accepted type headers: none, JWT, and at+jwt (RFC 9068 access tokens). */
  private static final Set<JOSEObjectType> TYPES = new java.util.HashSet<>(java.util.Arrays.asList(JOSEObjectType.JWT, new JOSEObjectType("at+jwt"), null));
  private static final Duration SKEW = Duration.ofSeconds(CLOCK_SKEW_SECONDS);
  private static final List<JWSAlgorithm> RSA_ALGORITHMS = List.of(
      JWSAlgorithm.RS256, JWSAlgorithm.RS384, JWSAlgorithm.RS512, JWSAlgorithm.PS256, JWSAlgorithm.PS384, JWSAlgorithm.PS512);

  private final String source;
  private final String issuer;
  private final String audience;
  private final Clock clock;
  private final JWKSet keys;
  private final Set<JWSAlgorithm> algorithms;
  private final DefaultJWTProcessor<SecurityContext> processor;

  private JwtAuthenticator(String source, JWKSet keys, Set<JWSAlgorithm> algorithms, String issuer, String audience, Clock clock) {
    this.source = source;
    this.keys = keys;
    this.algorithms = Set.copyOf(algorithms);
    this.issuer = issuer;
    this.audience = audience;
    this.clock = clock;
    this.processor = new DefaultJWTProcessor<>();
    processor.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(TYPES));
    processor.setJWSKeySelector(new JWSVerificationKeySelector<>(this.algorithms, new ImmutableJWKSet<>(keys)));
    processor.setJWTClaimsSetVerifier((claims, context) -> { }); // checked below, with our clock and our messages
  }

  /**
   * Builds an authenticator from a JWKS document's text.
   *
   * @param source names the key set in messages (its file)
   * @param issuer the required {@code iss}, or null to accept any
   * @param audience the {@code aud} a token must include, or null to accept any
   * @throws IllegalArgumentException if the text is not a key set of public RSA/EC signing keys
   */
  public static JwtAuthenticator parse(String jwksJson, String source, String issuer, String audience) {
    return parse(jwksJson, source, issuer, audience, Clock.systemUTC());
  }

  static JwtAuthenticator parse(String jwksJson, String source, String issuer, String audience, Clock clock) {
    if (issuer != null && issuer.isBlank()) {
      throw new IllegalArgumentException("the JWT issuer is empty: give the issuer's iss value, or leave it out to accept any");
    }
    if (audience != null && audience.isBlank()) {
      throw new IllegalArgumentException("the JWT audience is empty: give the aud value tokens must carry, or leave it out to accept any");
    }
    JWKSet set;
    try {
      set = JWKSet.parse(jwksJson);
    } catch (ParseException e) {
      throw new IllegalArgumentException(source + " is not a JSON Web Key Set ({\"keys\": [...]}): " + e.getMessage(), e);
    }
    if (set.getKeys().isEmpty()) {
      throw new IllegalArgumentException(source + " has no keys: add the issuer's public signing keys (its jwks_uri document)");
    }
    Set<JWSAlgorithm> algorithms = new LinkedHashSet<>();
    List<String> errors = new ArrayList<>();
    int index = 0;
    for (JWK key : set.getKeys()) {
      String which = source + ": key " + index + (key.getKeyID() == null ? "" : " (kid '" + ParseErrors.abbreviate(key.getKeyID()) + "')");
      index++;
      if (!(key instanceof RSAKey) && !(key instanceof ECKey)) {
        errors.add(which + " is of type " + key.getKeyType() + (key.getKeyType().getValue().equals("oct")
            ? ", a shared secret: the broker verifies with public keys only (RSA or EC), so the file holds no secret"
            : "; only RSA and EC keys are supported"));
        continue;
      }
      if (key.isPrivate()) {
        errors.add(which + " holds a private key: give the broker the public keys only (the issuer's jwks_uri document)");
        continue;
      }
      if (KeyUse.ENCRYPTION.equals(key.getKeyUse())) {
        continue; // not for signatures; the key selector skips it too
      }
      try {
        algorithms.addAll(algorithmsOf(key));
      } catch (IllegalArgumentException e) {
        errors.add(which + " " + e.getMessage());
      }
    }
    if (!errors.isEmpty()) {
      throw new IllegalArgumentException(ParseErrors.join(errors));
    }
    if (algorithms.isEmpty()) {
      throw new IllegalArgumentException(source + " has no signing keys (all are \"use\": \"enc\")");
    }
    return new JwtAuthenticator(source, set, algorithms, issuer, audience, Objects.requireNonNull(clock, "clock"));
  }

  private static List<JWSAlgorithm> algorithmsOf(JWK key) {
    List<JWSAlgorithm> family;
    if (key instanceof RSAKey) {
      family = RSA_ALGORITHMS;
    } else {
      Curve curve = ((ECKey) key).getCurve();
      if (Curve.P_256.equals(curve)) {
        family = List.of(JWSAlgorithm.ES256);
      } else if (Curve.P_384.equals(curve)) {
        family = List.of(JWSAlgorithm.ES384);
      } else if (Curve.P_521.equals(curve)) {
        family = List.of(JWSAlgorithm.ES512);
      } else {
        throw new IllegalArgumentException("is on curve " + curve + "; supported: P-256, P-384, P-521");
      }
    }
    if (key.getAlgorithm() == null) {
      return family;
    }
    JWSAlgorithm alg = JWSAlgorithm.parse(key.getAlgorithm().getName());
    if (!family.contains(alg)) {
      throw new IllegalArgumentException("says \"alg\": \"" + ParseErrors.abbreviate(key.getAlgorithm().getName())
          + "\", which a " + key.getKeyType() + " key cannot verify; expected one of " + family);
    }
    return List.of(alg);
  }

  /**
   * The principal the token proves.
   *
   * @throws AuthenticationException saying why the token is refused (without the token)
   */
  public Principal authenticate(String jwt) throws AuthenticationException {
    if (jwt == null || jwt.isBlank()) {
      throw refused(AuthenticationException.Reason.MALFORMED, "no token was given");
    }
    if (jwt.length() > MAX_TOKEN_CHARS) {
      throw refused(AuthenticationException.Reason.MALFORMED, "the token is " + jwt.length() + " characters long; the limit is " + MAX_TOKEN_CHARS);
    }
    JWT parsed;
    try {
      parsed = JWTParser.parse(jwt.strip());
    } catch (ParseException e) {
      throw refused(AuthenticationException.Reason.MALFORMED, "the token is not a JWT (three base64url parts separated by dots, with a JSON header)");
    }
    if (parsed instanceof PlainJWT) {
      throw refused(AuthenticationException.Reason.UNSIGNED, "the token is unsigned (alg none); only signed tokens are accepted");
    }
    if (parsed instanceof EncryptedJWT || !(parsed instanceof SignedJWT signed)) {
      throw refused(AuthenticationException.Reason.MALFORMED, "the token is encrypted (JWE); only signed tokens (JWS) are accepted");
    }
    JWSHeader header = signed.getHeader();
    if (!algorithms.contains(header.getAlgorithm())) {
      throw refused(AuthenticationException.Reason.ALGORITHM, "the token is signed with " + ParseErrors.abbreviate(header.getAlgorithm().getName())
          + "; the keys of " + source + " allow " + names(algorithms));
    }
    if (!TYPES.contains(header.getType())) {
      throw refused(AuthenticationException.Reason.MALFORMED, "the token's type (typ '" + ParseErrors.abbreviate(header.getType().getType())
          + "') is not JWT or at+jwt");
    }
    String kid = header.getKeyID();
    if (kid != null && keys.getKeyByKeyId(kid) == null) {
      throw refused(AuthenticationException.Reason.UNKNOWN_KEY, "the token's key id (kid '" + ParseErrors.abbreviate(kid) + "') is not in "
          + source + "; if the issuer rotated its keys, update that file");
    }
    JWTClaimsSet claims;
    try {
      claims = processor.process(signed, null);
    } catch (BadJWSException e) {
      throw refused(AuthenticationException.Reason.BAD_SIGNATURE, "the token's signature does not verify with the keys of " + source);
    } catch (BadJWTException e) {
      throw refused(AuthenticationException.Reason.MALFORMED, "the token's payload is not a valid JSON object of claims (e.g. exp must be a number)");
    } catch (BadJOSEException e) {
      throw refused(AuthenticationException.Reason.UNKNOWN_KEY, "no key of " + source + " fits the token's algorithm "
          + header.getAlgorithm().getName() + (kid == null ? "" : " and key id '" + ParseErrors.abbreviate(kid) + "'"));
    } catch (JOSEException e) {
      throw refused(AuthenticationException.Reason.BAD_SIGNATURE, "the token's signature cannot be checked with the keys of " + source);
    }
    return check(claims);
  }

  private Principal check(JWTClaimsSet claims) throws AuthenticationException {
    Instant now = clock.instant();
    Date exp = claims.getExpirationTime();
    if (exp == null) {
      throw refused(AuthenticationException.Reason.EXPIRED, "the token has no expiry (exp); tokens must expire");
    }
    if (now.isAfter(exp.toInstant().plus(SKEW))) {
      throw refused(AuthenticationException.Reason.EXPIRED, "the token expired at " + exp.toInstant() + " ("
          + Duration.between(exp.toInstant(), now).toSeconds() + " s ago; " + CLOCK_SKEW_SECONDS + " s of clock skew allowed); get a new one");
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && now.plus(SKEW).isBefore(nbf.toInstant())) {
      throw refused(AuthenticationException.Reason.NOT_YET_VALID, "the token is not valid before " + nbf.toInstant() + " (in "
          + Duration.between(now, nbf.toInstant()).toSeconds() + " s; " + CLOCK_SKEW_SECONDS + " s of clock skew allowed); check the clocks");
    }
    if (issuer != null && !issuer.equals(claims.getIssuer())) {
      throw refused(AuthenticationException.Reason.ISSUER, "the token was issued by "
          + (claims.getIssuer() == null ? "no one (no iss)" : "'" + ParseErrors.abbreviate(claims.getIssuer()) + "'")
          + "; this broker accepts tokens from '" + issuer + "'");
    }
    if (audience != null && (claims.getAudience() == null || !claims.getAudience().contains(audience))) {
      throw refused(AuthenticationException.Reason.AUDIENCE, "the token is for "
          + (claims.getAudience() == null || claims.getAudience().isEmpty() ? "no audience (no aud)" : abbreviated(claims.getAudience()))
          + "; this broker needs audience '" + audience + "'");
    }
    String sub = claims.getSubject();
    if (sub == null || sub.isBlank()) {
      throw refused(AuthenticationException.Reason.MISSING_SUBJECT, "the token has no subject (sub), so no principal");
    }
    return new Principal(sub, groups(claims.getClaim(GROUPS_CLAIM)), METHOD);
  }

  private static Set<String> groups(Object claim) throws AuthenticationException {
    if (claim == null) {
      return Set.of();
    }
    if (!(claim instanceof List<?> list)) {
      throw refused(AuthenticationException.Reason.BAD_CLAIM, "the token's groups claim must be an array of strings");
    }
    Set<String> groups = new LinkedHashSet<>();
    for (Object g : list) {
      if (!(g instanceof String s) || s.isEmpty()) {
        throw refused(AuthenticationException.Reason.BAD_CLAIM, "the token's groups claim must be an array of non-empty strings");
      }
      groups.add(s);
    }
    return groups;
  }

  private static AuthenticationException refused(AuthenticationException.Reason reason, String why) {
    return new AuthenticationException(reason, "JWT refused: " + why);
  }

  private static String abbreviated(List<String> values) {
    List<String> out = new ArrayList<>();
    for (String v : values.subList(0, Math.min(values.size(), 5))) {
      out.add("'" + ParseErrors.abbreviate(v) + "'");
    }
    return String.join(", ", out) + (values.size() > 5 ? ", ..." : "");
  }

  private static String names(Set<JWSAlgorithm> algorithms) {
    Set<String> names = new TreeSet<>();
    algorithms.forEach(a -> names.add(a.getName()));
    return String.join(", ", names);
  }

  /** The signature algorithms the key set allows (e.g. {@code ES256, RS256}), sorted, comma-separated. */
  public String algorithms() {
    return names(algorithms);
  }

  /** The number of keys in the key set. */
  public int size() {
    return keys.getKeys().size();
  }
}
