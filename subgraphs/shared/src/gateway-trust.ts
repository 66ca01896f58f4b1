import { createHash, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type http from 'node:http';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { cacheFor, VerifiedTokenCache } from './verified-cache';
import { isRole, subjectRefusal, type Identity } from './identity';
import { subgraphSecretVariable } from './part-variables';
import { internalTokenClockToleranceSeconds, internalTokenLifetimeSeconds, subgraphSecretCharsMin } from './limits';

/**
 * Subgraphs trust only the gateway. Each subgraph has a secret of its own
 * (SUBGRAPH_SECRET_<NAME>, part.ts) that only it and the gateway hold, and
 * it serves nothing but /health to a request that does not present it. The caller's identity
 * comes from the gateway as a short-lived token signed (HS256) with that same secret, with the
 * subgraph's name as audience: a client's own token, an identity header of the client's making
 * or a token signed for another subgraph is worthless, even next to the right secret.
 *
 * Whoever holds a subgraph's secret can act as the gateway towards that one subgraph, and no
 * other; that is why the secrets are separate, never logged and never sent to clients.
 */
export { subgraphSecretVariable };

/** The header that carries the subgraph's secret, over HTTP and on the WebSocket upgrade. */
export const gatewaySecretHeader = 'x-paygraph-gateway-secret';
/** The header that carries the gateway-signed identity over HTTP. */
export const gatewayIdentityHeader = 'x-paygraph-identity';
/** The graphql-ws connectionParams key that carries the gateway-signed identity. */
export const gatewayIdentityParam = 'identity';
/** The iss of every internal token, so that no client token (iss paygraph or an IdP's) is ever mistaken for one. */
export const internalTokenIssuer = 'paygraph-gateway';

export interface SubgraphTrust {
  readonly subgraph: string;
  /** Sent by the gateway in gatewaySecretHeader. */
  readonly secret: string;
  /** SHA-256 of the secret: what a presented secret is compared with, in constant time. */
  readonly secretDigest: Buffer;
  /** The HS256 key of the subgraph's internal tokens. */
  readonly signingKey: KeyObject;
}

export type SubgraphTrusts<N extends string = string> = Readonly<Record<N, SubgraphTrust>>;

/** A misconfigured secret stops the process at start-up rather than weakening every request. */
export function subgraphTrust(subgraph: string, secret: string): SubgraphTrust {
  if (secret.length < subgraphSecretCharsMin) {
    throw new Error(
      `${subgraphSecretVariable(subgraph)} must be at least ${subgraphSecretCharsMin} characters (npm start makes one per run)`,
    );
  }
  return {
    subgraph,
    secret,
    secretDigest: digest(secret),
    // A KeyObject made once: handing jose raw bytes makes it import the key on every sign and check.
    signingKey: createSecretKey(Buffer.from(secret, 'utf8')),
  };
}

/**
 * A subgraph's trust from its configured secret (config/shared.ts: SUBGRAPH_SECRET_*). Its schema
 * refuses to start a process without the secrets it needs, so a missing one here is a bug.
 */
export function configuredTrust(subgraph: string, secret: string | null): SubgraphTrust {
  if (secret === null)
    throw new Error(
      `${subgraphSecretVariable(subgraph)} is not set: npm start makes one for the run, or set it yourself (the gateway needs the same value)`,
    );
  return subgraphTrust(subgraph, secret);
}

/** The gateway holds every subgraph's secret, by the subgraph's name. */
export function configuredTrusts<N extends string>(secrets: Readonly<Record<N, string | null>>): SubgraphTrusts<N> {
  return Object.fromEntries(
    Object.entries<string | null>(secrets).map(([name, secret]) => [name, configuredTrust(name, secret)]),
  ) as Record<N, SubgraphTrust>;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Compares digests rather than the strings, so that both sides of timingSafeEqual have the
 * same length whatever was sent and the time taken says nothing about the secret.
 */
export function presentsGatewaySecret(headers: http.IncomingHttpHeaders, trust: SubgraphTrust): boolean {
  const presented = headers[gatewaySecretHeader];
  if (typeof presented !== 'string') return false;
  return timingSafeEqual(digest(presented), trust.secretDigest);
}

/**
 * Signs identity for one subgraph, issued at `issuedAt` and valid until expiresAt (seconds since the epoch; by default
 * now, and internalTokenLifetimeSeconds from then). A caller that computed expiresAt from its own "now" passes that now:
 * read again here, a second's boundary between the two reads made a token a second short (a flaky test, 59 for 60).
 */
export function mintIdentityToken(
  identity: Identity,
  trust: SubgraphTrust,
  expiresAt?: number,
  issuedAt: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({ role: identity.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(identity.sub)
    .setIssuer(internalTokenIssuer)
    .setAudience(trust.subgraph)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt ?? issuedAt + internalTokenLifetimeSeconds)
    .sign(trust.signingKey);
}

/** Who the gateway says is calling, or null: a refusal, never a reason a caller could learn from. */
export async function verifyIdentityToken(token: unknown, trust: SubgraphTrust): Promise<Identity | null> {
  if (typeof token !== 'string' || token === '') return null;
  const cache = cacheFor(verifiedByTrust, trust);
  const known = cache.get(token);
  if (known) return known;
  const verified = await checkIdentityToken(token, trust);
  if (verified) cache.set(token, verified.identity, verified.expiresAt);
  return verified?.identity ?? null;
}

const verifiedByTrust = new WeakMap<SubgraphTrust, VerifiedTokenCache<Identity>>();

async function checkIdentityToken(
  token: string,
  trust: SubgraphTrust,
): Promise<{ identity: Identity; expiresAt: number } | null> {
  try {
    const { payload } = await jwtVerify(token, trust.signingKey, {
      algorithms: ['HS256'],
      issuer: internalTokenIssuer,
      audience: trust.subgraph,
      clockTolerance: internalTokenClockToleranceSeconds,
      requiredClaims: ['sub', 'exp', 'iat'],
    });
    if (typeof payload.sub !== 'string' || subjectRefusal(payload.sub) !== null || !isRole(payload.role)) return null;
    return { identity: { sub: payload.sub, role: payload.role }, expiresAt: payload.exp! };
  } catch (error) {
    // A bad signature, the wrong audience or an expired token all mean the same: not from the gateway.
    if (error instanceof joseErrors.JOSEError) return null;
    throw error;
  }
}

/** The secret and then the identity of an HTTP request; null answers it with a bare 401. */
export async function authenticateGatewayRequest(
  req: http.IncomingMessage,
  trust: SubgraphTrust,
): Promise<Identity | null> {
  if (!presentsGatewaySecret(req.headers, trust)) return null;
  return verifyIdentityToken(req.headers[gatewayIdentityHeader], trust);
}
