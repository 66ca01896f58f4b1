import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { tokenClockToleranceSeconds, tokenLifetimeSeconds } from './limits';
import { envString } from './config';

/**
 * Who is calling. The gateway verifies the bearer token and forwards it; each subgraph
 * verifies it again, so a subgraph never trusts an identity it cannot check itself.
 */
export const roles = ['customer', 'merchant', 'partner', 'operator'] as const;
export type Role = (typeof roles)[number];

export interface Identity {
  sub: string;
  role: Role;
}

export type IdentityFailure =
  | { kind: 'TokenMissing' }
  | { kind: 'TokenMalformed' }
  | { kind: 'TokenExpired' }
  | { kind: 'TokenInvalid'; reason: string };

export interface TokenSettings {
  secret: Uint8Array;
  issuer: string;
  audience: string;
}

export function tokenSettingsFromEnv(): TokenSettings {
  const secret = process.env.JWT_SECRET;
  if (!secret) throw new Error('JWT_SECRET is not set: npm start makes one for the run, or set it yourself');
  return {
    secret: new TextEncoder().encode(secret),
    issuer: envString('JWT_ISSUER', 'paygraph'),
    audience: envString('JWT_AUDIENCE', 'paygraph-api'),
  };
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}

/** Reads "Bearer <jwt>" and verifies it; the algorithm is pinned so "none" never passes. */
export async function verifyAuthorization(
  header: string | undefined,
  settings: TokenSettings,
): Promise<{ ok: true; identity: Identity } | { ok: false; failure: IdentityFailure }> {
  if (!header) return { ok: false, failure: { kind: 'TokenMissing' } };
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header.trim());
  if (!match) return { ok: false, failure: { kind: 'TokenMalformed' } };
  try {
    const { payload } = await jwtVerify(match[1]!, settings.secret, {
      algorithms: ['HS256'],
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: tokenClockToleranceSeconds,
      requiredClaims: ['sub', 'exp'],
    });
    const role = payload.role;
    if (typeof payload.sub !== 'string' || payload.sub === '' || !isRole(role)) {
      return { ok: false, failure: { kind: 'TokenInvalid', reason: 'claims sub and role are required' } };
    }
    return { ok: true, identity: { sub: payload.sub, role } };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, failure: { kind: 'TokenExpired' } };
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
    .setIssuer(extra.issuer ?? envString('JWT_ISSUER', 'paygraph'))
    .setAudience(extra.audience ?? envString('JWT_AUDIENCE', 'paygraph-api'))
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

/**
 * The access rule every subgraph applies to an account:
 * operators may do anything; customers and merchants act on their own accounts;
 * partners may read (and subscribe to) their own accounts but never move money.
 */
export function mayRead(identity: Identity, ownerId: string): boolean {
  return identity.role === 'operator' || identity.sub === ownerId;
}

export function mayWrite(identity: Identity, ownerId: string): boolean {
  if (identity.role === 'operator') return true;
  if (identity.role === 'partner') return false;
  return identity.sub === ownerId;
}
