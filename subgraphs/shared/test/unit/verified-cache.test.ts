import { describe, expect, it } from 'vitest';
import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { VerifiedTokenCache } from '../../src/verified-cache';
import { ownerIdLengthMax, verifiedTokenCacheEntriesMax, verifiedTokenCacheMs } from '../../src/limits';
import { verifyAuthorization, type TokenSettings } from '../../src/identity';
import { internalTokenIssuer, subgraphTrust, verifyIdentityToken } from '../../src/gateway-trust';

/**
 * A verified token is believed again only by its exact text, never past its exp or
 * verifiedTokenCacheMs, and only for the key configuration that verified it.
 */
const t0 = 1_800_000_000_000;

describe('the verified-token cache', () => {
  /** A clock the test moves. */
  function clockAt(ms: number) {
    const clock = { ms, now: () => clock.ms };
    return clock;
  }

  it('keeps an entry until the earlier of exp and verifiedTokenCacheMs', () => {
    const clock = clockAt(t0);
    const cache = new VerifiedTokenCache<string>(clock);
    cache.set('long', 'a', t0 / 1000 + 3600);
    cache.set('short', 'b', t0 / 1000 + 5);
    cache.set('expired', 'c', t0 / 1000 - 1);
    expect(cache.get('expired')).toBeUndefined();
    clock.ms = t0 + 4_999;
    expect(cache.get('short')).toBe('b');
    clock.ms = t0 + 5_000;
    expect(cache.get('short')).toBeUndefined();
    clock.ms = t0 + verifiedTokenCacheMs - 1;
    expect(cache.get('long')).toBe('a');
    clock.ms = t0 + verifiedTokenCacheMs;
    expect(cache.get('long')).toBeUndefined();
  });

  it("keeps a record of a token's verification until its exp, past verifiedTokenCacheMs, within its own bound", () => {
    const clock = clockAt(t0);
    const records = new VerifiedTokenCache<true>(clock, 2);
    records.set('day', true, t0 / 1000 + 86_400, { untilExp: true });
    clock.ms = t0 + verifiedTokenCacheMs + 1;
    expect(records.get('day')).toBe(true);
    clock.ms = t0 + 86_400_000 - 1;
    expect(records.get('day')).toBe(true);
    clock.ms = t0 + 86_400_000;
    expect(records.get('day')).toBeUndefined();
    for (const token of ['a', 'b', 'c']) records.set(token, true, t0 / 1000 + 90_000, { untilExp: true });
    expect([records.get('a'), records.get('b'), records.get('c')]).toEqual([undefined, true, true]);
  });

  it('drops the least recently used entry when full', () => {
    const cache = new VerifiedTokenCache<number>(clockAt(t0));
    for (let i = 0; i < verifiedTokenCacheEntriesMax; i++) cache.set(`t${i}`, i, t0 / 1000 + 60);
    expect(cache.get('t0')).toBe(0);
    cache.set('one-more', -1, t0 / 1000 + 60);
    expect(cache.size).toBe(verifiedTokenCacheEntriesMax);
    expect(cache.get('t0')).toBe(0);
    expect(cache.get('t1')).toBeUndefined();
    expect(cache.get('one-more')).toBe(-1);
  });
});

function settingsFor(secret: string): TokenSettings {
  return { secret: createSecretKey(Buffer.from(secret)), issuer: 'paygraph', audience: 'paygraph-api' };
}

async function clientToken(secret: string, sub: string): Promise<string> {
  return new SignJWT({ role: 'customer' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer('paygraph')
    .setAudience('paygraph-api')
    .setExpirationTime('1h')
    .sign(createSecretKey(Buffer.from(secret)));
}

describe('verifying through the cache', () => {
  it('believes a token again only under the settings that verified it, and never a tampered copy', async () => {
    const a = settingsFor('secret-a-secret-a-secret-a-secret-a');
    const b = settingsFor('secret-b-secret-b-secret-b-secret-b');
    const token = await clientToken('secret-a-secret-a-secret-a-secret-a', 'alice');
    expect(await verifyAuthorization(`Bearer ${token}`, a)).toMatchObject({ ok: true, identity: { sub: 'alice' } });
    expect(await verifyAuthorization(`Bearer ${token}`, a)).toMatchObject({ ok: true, identity: { sub: 'alice' } });
    expect(await verifyAuthorization(`Bearer ${token}`, b)).toMatchObject({
      ok: false,
      failure: { kind: 'TokenInvalid' },
    });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'mallory', role: 'operator', iss: 'paygraph', aud: 'paygraph-api', exp: 4_000_000_000 })).toString('base64url')}.${signature}`;
    expect(await verifyAuthorization(`Bearer ${forged}`, a)).toMatchObject({
      ok: false,
      failure: { kind: 'TokenInvalid' },
    });
  });

  it('refuses a subject longer than an owner id, which could own nothing and would share keys cut short', async () => {
    const settings = settingsFor('secret-c-secret-c-secret-c-secret-c');
    const longest = 'x'.repeat(ownerIdLengthMax);
    expect(
      await verifyAuthorization(
        `Bearer ${await clientToken('secret-c-secret-c-secret-c-secret-c', longest)}`,
        settings,
      ),
    ).toMatchObject({ ok: true, identity: { sub: longest } });
    expect(
      await verifyAuthorization(
        `Bearer ${await clientToken('secret-c-secret-c-secret-c-secret-c', `${longest}y`)}`,
        settings,
      ),
    ).toMatchObject({ ok: false, failure: { kind: 'TokenInvalid', reason: expect.stringContaining('sub is longer') } });
    const trust = subgraphTrust('account', 'account-secret-account-secret-account');
    const internal = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`${longest}y`)
      .setIssuer(internalTokenIssuer)
      .setAudience('account')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(trust.signingKey);
    expect(await verifyIdentityToken(internal, trust)).toBeNull();
  });

  it('refuses a subject with white space or a control character: SQL compares PAD SPACE, alice is "alice "', async () => {
    const secret = 'secret-d-secret-d-secret-d-secret-d';
    const settings = settingsFor(secret);
    expect(await verifyAuthorization(`Bearer ${await clientToken(secret, 'alice')}`, settings)).toMatchObject({
      ok: true,
    });
    for (const sub of ['alice ', ' alice', 'al ice', 'alice\t', 'alice\n', 'alice\u0000', 'alice\u00a0']) {
      expect(await verifyAuthorization(`Bearer ${await clientToken(secret, sub)}`, settings), sub).toMatchObject({
        ok: false,
        failure: { kind: 'TokenInvalid', reason: 'sub holds white space or control characters' },
      });
    }
    const trust = subgraphTrust('account', 'account-secret-account-secret-account');
    const internal = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice ')
      .setIssuer(internalTokenIssuer)
      .setAudience('account')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(trust.signingKey);
    expect(await verifyIdentityToken(internal, trust)).toBeNull();
  });

  it('does the same for the identity tokens subgraphs check', async () => {
    const trust = subgraphTrust('account', 'account-secret-account-secret-account');
    const other = subgraphTrust('account', 'another-secret-another-secret-another');
    const token = await new SignJWT({ role: 'merchant' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .setIssuer(internalTokenIssuer)
      .setAudience('account')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(trust.signingKey);
    expect(await verifyIdentityToken(token, trust)).toEqual({ sub: 'bob', role: 'merchant' });
    expect(await verifyIdentityToken(token, trust)).toEqual({ sub: 'bob', role: 'merchant' });
    expect(await verifyIdentityToken(token, other)).toBeNull();
    expect(await verifyIdentityToken(`${token}x`, trust)).toBeNull();
  });
});
