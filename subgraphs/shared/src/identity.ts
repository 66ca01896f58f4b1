import { createSecretKey, type KeyObject } from 'node:crypto';
import { cacheFor, VerifiedTokenCache } from './verified-cache';
import {
  SignJWT,
  createRemoteJWKSet,
  decodeProtectedHeader,
  jwtVerify,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import {
  jwksFetchTimeoutMs,
  ownerIdLengthMax,
  tokenAdmissionsMax,
  tokenClockToleranceSeconds,
  tokenLifetimeSeconds,
} from './limits';
import { tokenAudienceDefault, tokenIssuerDefault, type TokenConfig } from './config/shared';

/**
 * Who is calling. The gateway verifies the client's bearer token here; subgraphs never see
 * it and take the caller's identity only from the gateway's signed internal token
 * (gateway-trust.ts).
 */
/**
 * operator: the platform's back office; customer, merchant: account holders; partner: reads its
 * own accounts; channel: a bank or card integration that confirms money arriving from outside
 * and records it as deposits. What each may do is authorization.ts's.
 */
export const roles = ['customer', 'merchant', 'partner', 'operator', 'channel'] as const;
export type Role = (typeof roles)[number];

export interface Identity {
  sub: string;
  role: Role;
}

export type IdentityFailure =
  | { kind: 'TokenMissing' }
  | { kind: 'TokenMalformed' }
  | { kind: 'TokenExpired' }
  /**
   * keyLookupFailed: the gateway could not read the JWKS (its server down, slow or answering nonsense), so the token
   * was not judged: the gateway's failure, not the caller's (the refusal budget per address does not count it).
   */
  | { kind: 'TokenInvalid'; reason: string; keyLookupFailed?: true };

/**
 * How client tokens are checked: HS256 with a shared secret, RS256/ES256 with the keys of a
 * JWKS endpoint, or both. Each algorithm is tied to its own key source, so a token cannot
 * choose how it is verified (no "none", no HS256 signed with a public key).
 */
export interface TokenSettings {
  /** The HS256 key (JWT_SECRET); null when only JWKS tokens are accepted. */
  secret: KeyObject | null;
  /** The RS256/ES256 keys by kid (JWKS_URL); absent when only HS256 tokens are accepted. */
  jwks?: JWTVerifyGetKey;
  issuer: string;
  audience: string;
}

/** Algorithms accepted from the JWKS: the asymmetric ones its keys can hold. */
export const jwksAlgorithms = ['RS256', 'ES256'] as const;

export interface JwksTiming {
  cacheMaxAgeMs: number;
  cooldownMs: number;
}

/** The JWKS could not be read (remoteKeySet): verification failed for want of keys, not because of the token. */
class KeyLookupFailed extends Error {
  override name = 'KeyLookupFailed';
}

/**
 * A key set read from url, cached for cacheMaxAgeMs and read again early (at most once per cooldownMs) for an unknown
 * kid.
 */
export function remoteKeySet(url: URL, timing: JwksTiming): JWTVerifyGetKey {
  const keys = createRemoteJWKSet(url, {
    timeoutDuration: jwksFetchTimeoutMs,
    cacheMaxAge: timing.cacheMaxAgeMs,
    cooldownDuration: timing.cooldownMs,
  });
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (error) {
      // A kid the set does not hold, or holds twice, is the token's failure; anything else (a fetch that failed or
      // timed out, an answer not 200 or not a key set) is the key server's, and tells nothing of the token.
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys)
        throw error;
      throw new KeyLookupFailed(describeJoseError(error), { cause: error });
    }
  };
}

/** The gateway's token settings from its configuration (JWT_*, JWKS_*; checked by config.ts at start-up). */
export function tokenSettings(config: TokenConfig): TokenSettings {
  const settings: TokenSettings = {
    // A KeyObject made once, not bytes jose would import again for every token it checks.
    secret: config.secret === null ? null : createSecretKey(Buffer.from(config.secret, 'utf8')),
    issuer: config.issuer,
    audience: config.audience,
  };
  if (config.jwksUrl === null) return settings;
  return {
    ...settings,
    jwks: remoteKeySet(new URL(config.jwksUrl), {
      cacheMaxAgeMs: config.jwksCacheMaxAgeMs,
      cooldownMs: config.jwksCooldownMs,
    }),
  };
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}

/** White space and control characters, none of which a subject may hold (subjectRefusal). */
const unfitSubjectPattern = /[\s\p{Cc}]/u;

/**
 * Why a token's subject cannot be an identity here, or null when it can. The subject is the owner id accounts carry and
 * the caller id idempotency keys are kept under: a longer one could own nothing, and stored cut short it would share
 * another's keys. The databases compare text PAD SPACE (utf8mb4_bin): `owner_id = 'alice '` finds alice's rows, so
 * a subject with a trailing space would read another owner's accounts wherever SQL is handed the caller as the owner
 * (owner-padding.test.ts); no owner id holds white space or control characters, so none is accepted at all.
 */
export function subjectRefusal(sub: string): string | null {
  if (sub === '') return 'sub is empty';
  if (sub.length > ownerIdLengthMax) return `sub is longer than ${ownerIdLengthMax} characters`;
  if (unfitSubjectPattern.test(sub)) return 'sub holds white space or control characters';
  return null;
}

/** "Bearer <jwt>": the token's characters are base64url's and the dots between its parts. */
const bearerPattern = /^Bearer ([A-Za-z0-9_\-.]+)$/;

/**
 * Reads "Bearer <jwt>" and verifies it. The key comes from the algorithm the header names,
 * and only from the source configured for it: HS256 from JWT_SECRET, RS256/ES256 from the
 * JWKS by kid. Anything else ("none", HS512, HS256 without a secret) is refused before any
 * signature is checked. exp is required; exp, nbf, iss and aud are checked with
 * tokenClockToleranceSeconds of slack. expiresAt (seconds since the epoch) lets a
 * long-lived connection notice when its token runs out.
 */
export async function verifyAuthorization(
  header: string | undefined,
  settings: TokenSettings,
): Promise<Verified | { ok: false; failure: IdentityFailure }> {
  if (!header) return { ok: false, failure: { kind: 'TokenMissing' } };
  const match = bearerPattern.exec(header.trim());
  if (!match) return { ok: false, failure: { kind: 'TokenMalformed' } };
  const token = match[1]!;
  const cache = cacheFor(verifiedBySettings, settings);
  const known = cache.get(token);
  if (known) return known;
  const verified = await verifyToken(token, settings);
  if (verified.ok) {
    cache.set(token, verified, verified.expiresAt);
    cacheFor(verifiedOnceBySettings, settings, tokenAdmissionsMax).set(token, true, verified.expiresAt, {
      untilExp: true,
    });
  }
  return verified;
}

type Verified = { ok: true; identity: Identity; expiresAt: number };

/**
 * Whether an Authorization header's token verified once, and its exp has not passed: a map lookup, no verification,
 * for a decision that must cost next to nothing (the gateway's refusal budget lets such a caller in from an address it
 * throttles, server.ts). Kept apart from the verified cache, whose entries last verifiedTokenCacheMs at most (a key
 * withdrawn from the JWKS must stop working soon): a caller sharing an address with a flood was let in for that minute
 * alone, then refused before its token could be verified again. The request is still verified as any other.
 */
export function verifiedOnce(header: string | undefined, settings: TokenSettings): boolean {
  if (!header) return false;
  const match = bearerPattern.exec(header.trim());
  return match !== null && cacheFor(verifiedOnceBySettings, settings, tokenAdmissionsMax).get(match[1]!) === true;
}

const verifiedOnceBySettings = new WeakMap<TokenSettings, VerifiedTokenCache<true>>();

const verifiedBySettings = new WeakMap<TokenSettings, VerifiedTokenCache<Verified>>();

async function verifyToken(
  token: string,
  settings: TokenSettings,
): Promise<Verified | { ok: false; failure: IdentityFailure }> {
  try {
    const { alg, kid } = decodeProtectedHeader(token);
    const options = {
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: tokenClockToleranceSeconds,
      requiredClaims: ['sub', 'exp'],
    };
    let payload: JWTPayload;
    if (alg === 'HS256' && settings.secret !== null) {
      ({ payload } = await jwtVerify(token, settings.secret, { ...options, algorithms: ['HS256'] }));
    } else if (alg !== undefined && (jwksAlgorithms as readonly string[]).includes(alg) && settings.jwks) {
      // Without a kid, rotation cannot tell the old key from the new one.
      if (typeof kid !== 'string' || kid === '')
        return { ok: false, failure: { kind: 'TokenInvalid', reason: 'kid is required' } };
      ({ payload } = await jwtVerify(token, settings.jwks, { ...options, algorithms: [...jwksAlgorithms] }));
    } else {
      return { ok: false, failure: { kind: 'TokenInvalid', reason: `algorithm ${String(alg)} is not accepted` } };
    }
    const role = payload.role;
    if (typeof payload.sub !== 'string' || payload.sub === '' || !isRole(role)) {
      return { ok: false, failure: { kind: 'TokenInvalid', reason: 'claims sub and role are required' } };
    }
    const refusal = subjectRefusal(payload.sub);
    if (refusal !== null) return { ok: false, failure: { kind: 'TokenInvalid', reason: refusal } };
    return { ok: true, identity: { sub: payload.sub, role }, expiresAt: payload.exp! };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, failure: { kind: 'TokenExpired' } };
    if (error instanceof KeyLookupFailed)
      return {
        ok: false,
        failure: { kind: 'TokenInvalid', reason: 'the keys could not be read', keyLookupFailed: true },
      };
    return { ok: false, failure: { kind: 'TokenInvalid', reason: describeJoseError(error) } };
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JOSEError) return error.code;
  return 'unreadable token';
}

export async function mintToken(
  claims: Identity,
  secret: string,
  lifetimeSeconds: number = tokenLifetimeSeconds,
  extra: { issuer?: string; audience?: string } = {},
): Promise<string> {
  return new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(extra.issuer ?? tokenIssuerDefault)
    .setAudience(extra.audience ?? tokenAudienceDefault)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSeconds)
    .sign(new TextEncoder().encode(secret));
}

export function describeIdentityFailure(failure: IdentityFailure): string {
  switch (failure.kind) {
    case 'TokenMissing':
      return 'send Authorization: Bearer <token>; npm run token mints one';
    case 'TokenMalformed':
      return 'the Authorization header must be "Bearer <jwt>"';
    case 'TokenExpired':
      return 'the token has expired';
    case 'TokenInvalid':
      return `the token was not accepted (${failure.reason})`;
  }
}
