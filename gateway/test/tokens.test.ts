import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { remoteKeySet, verifyAuthorization, type TokenSettings } from '@paygraph/shared/identity';
import { tokenClockToleranceSeconds } from '@paygraph/shared/limits';
import { startStack, type Stack } from '../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../test/support/graphql';
import { testSecret, testTokens, token, unique } from '../../test/support/env';
import { openAccount, deposit, balanceChanged, untilLive } from '../../test/support/balance-events';
import { connect } from '../../test/support/ws';
import { startPathGateway, stopPathGateway, type PairedGateway } from './support/both-paths';
import { sleep } from '../../test/support/bank';

/**
 * Client tokens at the gateway, over real HTTP with a real JWKS endpoint on 127.0.0.1: HS256
 * with JWT_SECRET and RS256/ES256 by kid from the JWKS, each algorithm tied to its own keys;
 * exp, nbf, iss and aud checked with tokenClockToleranceSeconds of slack; keys rotated.
 */

/**
 * How long the gateway keeps fetched keys, and waits after a fetch before an unknown kid may fetch
 * again. The key rotation test waits these out on the wall clock: jose's remote key set times both
 * with Date.now() and takes no clock of ours, so real time must pass (the shortest the library's
 * settings make it: about 4.5 s in all).
 */
const jwksCacheMaxAgeMs = 2_000;
const jwksCooldownMs = 1_000;

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** The JWKS endpoint: serves whatever keys the test puts in it, and counts its fetches. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  private readonly server = http.createServer((_req, res) => {
    this.fetches += 1;
    const body = JSON.stringify({ keys: this.keys });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });

  async start(): Promise<URL> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return new URL(`http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Claims {
  sub: string;
  role?: string;
  iss?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
}

const now = () => Math.floor(Date.now() / 1000);

/** Signs claims as the test likes: any algorithm, key, kid, issuer, audience and times. */
function sign(claims: Claims, alg: string, key: CryptoKey | Uint8Array, kid?: string): Promise<string> {
  const jwt = new SignJWT({ role: claims.role ?? 'customer' })
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
    .setSubject(claims.sub)
    .setIssuer(claims.iss ?? 'paygraph')
    .setAudience(claims.aud ?? 'paygraph-api')
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? now() + 300);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(key);
}

/** alg "none": a header, claims and an empty signature. */
function unsigned(claims: Claims): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: claims.sub, role: 'operator', iss: 'paygraph', aud: 'paygraph-api', exp: now() + 300 })}.`;
}

const secretKey = new TextEncoder().encode(testSecret);
const accountsByOwner = contractOperation('AccountsByOwner');

let jwks: JwksServer;
let jwksUrl: URL;
let stack: Stack;
/** A gateway in front of the stack's subgraphs that plans every operation (no pass-through). */
let planned: PairedGateway;
let rsa1: SigningKey;
let rsa2: SigningKey;
let ec1: SigningKey;
let stranger: SigningKey;

beforeAll(async () => {
  [rsa1, rsa2, ec1, stranger] = await Promise.all([
    signingKey('rsa-1', 'RS256'),
    signingKey('rsa-2', 'RS256'),
    signingKey('ec-1', 'ES256'),
    signingKey('rsa-1', 'RS256'),
  ]);
  jwks = new JwksServer();
  jwksUrl = await jwks.start();
  jwks.keys = [rsa1.jwk, ec1.jwk];
  const tokens: TokenSettings = {
    ...testTokens(),
    jwks: remoteKeySet(jwksUrl, { cacheMaxAgeMs: jwksCacheMaxAgeMs, cooldownMs: jwksCooldownMs }),
  };
  stack = await startStack({ tokens });
  planned = await startPathGateway(stack.subgraphUrls, 'planned', {}, tokens);
});

afterAll(async () => {
  if (planned) await stopPathGateway(planned);
  await stack.stop();
  await jwks.stop();
});

/**
 * Lists the caller's own accounts through the gateway: accepted answers 200 with data. Asked of
 * the stack's gateway (which forwards AccountsByOwner to the account subgraph) and of one that
 * plans every operation: both must answer alike.
 */
async function listOwn(sub: string, jwt: string) {
  const forwarded = await gql(stack.gatewayUrl, accountsByOwner, { ownerId: sub }, jwt);
  const viaPlan = await gql(planned.url, accountsByOwner, { ownerId: sub }, jwt);
  const outcome = (a: typeof forwarded) => ({
    status: a.status,
    data: a.data ?? null,
    errors: (a.errors ?? []).map((e) => [e.message, e.extensions?.code]),
  });
  expect(outcome(viaPlan)).toEqual(outcome(forwarded));
  return forwarded;
}

async function expectAccepted(sub: string, jwt: string): Promise<void> {
  const answer = await listOwn(sub, jwt);
  expect(answer.status).toBe(200);
  expect(answer.errors).toBeUndefined();
  expect(answer.data?.accounts.edges).toEqual([]);
}

async function expectRefused(sub: string, jwt: string): Promise<void> {
  const answer = await listOwn(sub, jwt);
  expect(answer.status).toBe(401);
  expect(errorCodes(answer)).toEqual(['UNAUTHENTICATED']);
  expect(answer.data ?? null).toBeNull();
}

describe('accepted tokens', () => {
  it('accepts HS256 with JWT_SECRET, and RS256 and ES256 from the JWKS by kid', async () => {
    const sub = unique('ok');
    await expectAccepted(sub, await sign({ sub }, 'HS256', secretKey));
    await expectAccepted(sub, await sign({ sub }, 'RS256', rsa1.privateKey, rsa1.kid));
    await expectAccepted(sub, await sign({ sub }, 'ES256', ec1.privateKey, ec1.kid));
  });

  it(`tolerates ${tokenClockToleranceSeconds} s of clock skew on exp and nbf, and no more`, async () => {
    const sub = unique('skew');
    const inside = tokenClockToleranceSeconds - 10;
    const outside = tokenClockToleranceSeconds + 30;
    await expectAccepted(sub, await sign({ sub, exp: now() - inside }, 'RS256', rsa1.privateKey, rsa1.kid));
    await expectAccepted(sub, await sign({ sub, nbf: now() + inside }, 'HS256', secretKey));
    await expectRefused(sub, await sign({ sub, exp: now() - outside }, 'RS256', rsa1.privateKey, rsa1.kid));
    await expectRefused(sub, await sign({ sub, nbf: now() + outside }, 'HS256', secretKey));
  });
});

describe('refused tokens', () => {
  const cases: Array<{ name: string; jwt: (sub: string) => Promise<string> }> = [
    { name: 'alg none', jwt: async (sub) => unsigned({ sub }) },
    // Algorithm confusion: the RSA public key is public, so a verifier that let the token pick
    // HS256 and used "the key" as an HMAC secret would accept anyone's token.
    {
      name: "HS256 signed with the RSA public key's PEM",
      jwt: async (sub) => sign({ sub }, 'HS256', new TextEncoder().encode(await exportSPKI(rsa1.publicKey)), rsa1.kid),
    },
    {
      name: 'HS256 signed with the PEM, without kid',
      jwt: async (sub) => sign({ sub }, 'HS256', new TextEncoder().encode(await exportSPKI(rsa1.publicKey))),
    },
    {
      name: 'HS512 with the right secret (algorithm not pinned)',
      jwt: async (sub) => sign({ sub }, 'HS512', secretKey),
    },
    {
      name: 'HS256 with another secret',
      jwt: async (sub) => sign({ sub }, 'HS256', new TextEncoder().encode('another-secret-entirely')),
    },
    { name: 'the wrong audience (HS256)', jwt: async (sub) => sign({ sub, aud: 'someone-else' }, 'HS256', secretKey) },
    {
      name: 'the wrong audience (RS256)',
      jwt: async (sub) => sign({ sub, aud: 'someone-else' }, 'RS256', rsa1.privateKey, rsa1.kid),
    },
    { name: 'the wrong issuer (HS256)', jwt: async (sub) => sign({ sub, iss: 'evil' }, 'HS256', secretKey) },
    {
      name: 'the wrong issuer (ES256)',
      jwt: async (sub) => sign({ sub, iss: 'evil' }, 'ES256', ec1.privateKey, ec1.kid),
    },
    {
      name: 'an expired token',
      jwt: async (sub) => sign({ sub, exp: now() - 3_600 }, 'RS256', rsa1.privateKey, rsa1.kid),
    },
    {
      name: 'a token not yet valid',
      jwt: async (sub) => sign({ sub, nbf: now() + 3_600 }, 'RS256', rsa1.privateKey, rsa1.kid),
    },
    { name: 'an unknown kid', jwt: async (sub) => sign({ sub }, 'RS256', stranger.privateKey, 'rsa-unknown') },
    { name: 'a known kid with another key', jwt: async (sub) => sign({ sub }, 'RS256', stranger.privateKey, rsa1.kid) },
    { name: 'RS256 without kid', jwt: async (sub) => sign({ sub }, 'RS256', rsa1.privateKey) },
    { name: 'an ES256 kid used for RS256', jwt: async (sub) => sign({ sub }, 'RS256', rsa1.privateKey, ec1.kid) },
    { name: 'an unknown role', jwt: async (sub) => sign({ sub, role: 'root' }, 'RS256', rsa1.privateKey, rsa1.kid) },
    // The databases compare PAD SPACE: 'alice ' is alice to SQL (identity.ts subjectRefusal, owner-padding.test.ts).
    { name: 'a subject with a trailing space', jwt: async (sub) => sign({ sub: `${sub} ` }, 'HS256', secretKey) },
    { name: 'a subject with a tab', jwt: async (sub) => sign({ sub: `${sub}\t` }, 'RS256', rsa1.privateKey, rsa1.kid) },
    {
      name: 'a subject with a control character',
      jwt: async (sub) => sign({ sub: `${sub}\u0000` }, 'HS256', secretKey),
    },
  ];

  it.each(cases)('refuses $name with HTTP 401 and UNAUTHENTICATED', async ({ jwt }) => {
    const sub = unique('bad');
    await expectRefused(sub, await jwt(sub));
  });

  it('refuses HS256 altogether when only a JWKS is configured', async () => {
    const jwksOnly: TokenSettings = {
      secret: null,
      jwks: remoteKeySet(jwksUrl, { cacheMaxAgeMs: jwksCacheMaxAgeMs, cooldownMs: jwksCooldownMs }),
      issuer: 'paygraph',
      audience: 'paygraph-api',
    };
    const sub = unique('jwks-only');
    const hs = await verifyAuthorization(`Bearer ${await sign({ sub }, 'HS256', secretKey)}`, jwksOnly);
    expect(hs).toEqual({ ok: false, failure: { kind: 'TokenInvalid', reason: 'algorithm HS256 is not accepted' } });
    const rs = await verifyAuthorization(`Bearer ${await sign({ sub }, 'RS256', rsa1.privateKey, rsa1.kid)}`, jwksOnly);
    expect(rs).toMatchObject({ ok: true, identity: { sub, role: 'customer' } });
  });
});

describe('a key server the gateway cannot read', () => {
  it("fails a token as unjudged (keyLookupFailed), not as the token's fault; a kid the keys lack stays the token's", async () => {
    // A port nothing listens on: the fetch of the keys fails, as in an identity provider's outage.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const timing = { cacheMaxAgeMs: jwksCacheMaxAgeMs, cooldownMs: jwksCooldownMs };
    const settings = (url: URL): TokenSettings => ({
      secret: null,
      jwks: remoteKeySet(url, timing),
      issuer: 'paygraph',
      audience: 'paygraph-api',
    });
    const sub = unique('jwks-down');
    const jwt = await sign({ sub }, 'RS256', rsa1.privateKey, rsa1.kid);
    const down = await verifyAuthorization(`Bearer ${jwt}`, settings(new URL(`http://127.0.0.1:${port}/jwks.json`)));
    expect(down).toMatchObject({ ok: false, failure: { kind: 'TokenInvalid', keyLookupFailed: true } });
    const unknownKid = await sign({ sub }, 'RS256', rsa1.privateKey, 'rsa-nobody-has');
    const unknown = await verifyAuthorization(`Bearer ${unknownKid}`, settings(jwksUrl));
    expect(unknown).toEqual({ ok: false, failure: { kind: 'TokenInvalid', reason: 'ERR_JWKS_NO_MATCHING_KEY' } });
  });
});

describe('key rotation', () => {
  it('accepts a new kid once the JWKS has it, refuses a removed kid once the cache refreshes, and fetches at most once per cooldown for unknown kids', async () => {
    const sub = unique('rotation');
    await expectAccepted(sub, await sign({ sub }, 'RS256', rsa1.privateKey, rsa1.kid));
    // Real time, here and below: jose's remote key set (createRemoteJWKSet) times its cooldown and
    // its cache's age with Date.now() and takes no clock, so the test waits them out, shortened
    // to a second or two (jwksCooldownMs, jwksCacheMaxAgeMs).
    // Not published yet: refused even after a fresh fetch.
    await sleep(jwksCooldownMs + 100);
    await expectRefused(sub, await sign({ sub }, 'RS256', rsa2.privateKey, rsa2.kid));

    // Published next to the old key: the unknown kid makes the gateway fetch again.
    jwks.keys = [rsa1.jwk, rsa2.jwk, ec1.jwk];
    await sleep(jwksCooldownMs + 100);
    await expectAccepted(sub, await sign({ sub }, 'RS256', rsa2.privateKey, rsa2.kid));
    await expectAccepted(sub, await sign({ sub }, 'RS256', rsa1.privateKey, rsa1.kid));

    // Unknown kids one after another cannot turn the gateway against the JWKS endpoint.
    const before = jwks.fetches;
    for (let i = 0; i < 5; i++)
      await expectRefused(sub, await sign({ sub }, 'RS256', stranger.privateKey, `bogus-${i}`));
    expect(jwks.fetches - before).toBeLessThanOrEqual(1);

    // Retired: once the cached set is older than its maximum age it is read again, without rsa-1.
    jwks.keys = [rsa2.jwk, ec1.jwk];
    await sleep(jwksCacheMaxAgeMs + 200);
    await expectRefused(sub, await sign({ sub }, 'RS256', rsa1.privateKey, rsa1.kid));
    await expectAccepted(sub, await sign({ sub }, 'RS256', rsa2.privateKey, rsa2.kid));
  });
});

describe('a token that expires while its WebSocket is open', () => {
  it('ends the subscription with 4401 once the token is past its tolerance', async () => {
    const operator = await token(unique('operator'), 'operator');
    const ownerId = unique('expiring');
    const account = await openAccount(stack.gatewayUrl, operator, ownerId);
    // Expired already, but inside the tolerance for a few more seconds.
    const expiresAt = now() - tokenClockToleranceSeconds + 5;
    const jwt = await sign({ sub: ownerId, exp: expiresAt }, 'HS256', secretKey);
    const connection = connect(stack.gatewayWsUrl, `Bearer ${jwt}`);
    const subscription = connection.subscribe(balanceChanged, { accountId: account });
    await untilLive(subscription, () => deposit(stack.gatewayUrl, operator, account, 5n));
    const delivered = subscription.events.length;

    // Real time: the gateway checks a live socket's token against the wall clock (Date.now() in
    // gateway/src/subscriptions/server.ts), so the test waits until past exp plus the tolerance, no longer.
    await sleep(Math.max(0, (expiresAt + tokenClockToleranceSeconds + 1) * 1000 - Date.now()));
    await deposit(stack.gatewayUrl, operator, account, 7n);
    await subscription.waitFor(() => subscription.closeCode !== null, 'the socket to close after the token ran out');
    expect(subscription.closeCode).toBe(4401);
    expect(subscription.events.length).toBe(delivered);
    await connection.close();
  });
});
