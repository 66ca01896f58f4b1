import { describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { subgraphTrust } from '@paygraph/shared/gateway-trust';
import { internalTokenLifetimeSeconds } from '@paygraph/shared/limits';
import { identityTokenFor } from '../src/identity-tokens';
import type { GatewayContext } from '../src/context';

/** Signed identity tokens are shared by a caller's requests, and by no one else. */
const account = subgraphTrust('account', 'account-secret-account-secret-account');
const transaction = subgraphTrust('transaction', 'transaction-secret-transaction-secret');

function contextOf(sub: string, role: 'customer' | 'operator', expiresAt: number): GatewayContext {
  return {
    authorization: undefined,
    auth: { ok: true, identity: { sub, role }, expiresAt },
    client: { ip: null, userAgent: null, deviceId: null },
  };
}

describe('identity tokens', () => {
  const later = Math.floor(Date.now() / 1000) + 3600;

  it('reuses one signed token across requests of the same caller, per subgraph', async () => {
    // The same signing, not merely an equal text (two signings within one second read alike).
    const signing = identityTokenFor(contextOf('alice', 'customer', later), account);
    expect(identityTokenFor(contextOf('alice', 'customer', later), account)).toBe(signing);
    const claims = decodeJwt((await signing)!);
    expect(claims).toMatchObject({ sub: 'alice', role: 'customer', aud: 'account' });
    expect(claims.exp! - claims.iat!).toBe(internalTokenLifetimeSeconds);
    const elsewhere = await identityTokenFor(contextOf('alice', 'customer', later), transaction);
    expect(decodeJwt(elsewhere!).aud).toBe('transaction');
  });

  it('signs anew for another subject, another role or a client token with another end', async () => {
    const base = await identityTokenFor(contextOf('carol', 'customer', later), account);
    const others = await Promise.all([
      identityTokenFor(contextOf('dave', 'customer', later), account),
      identityTokenFor(contextOf('carol', 'operator', later), account),
      // A client token ending within the identity token's lifetime: its end becomes the exp.
      identityTokenFor(contextOf('carol', 'customer', Math.floor(Date.now() / 1000) + 5), account),
    ]);
    for (const other of others) expect(other).not.toBe(base);
    expect(decodeJwt(others[0]!).sub).toBe('dave');
    expect(decodeJwt(others[1]!).role).toBe('operator');
  });

  it('never outlives the client token it stands for, and vouches for nothing once that has ended', async () => {
    const soon = Math.floor(Date.now() / 1000) + 10;
    const token = await identityTokenFor(contextOf('erin', 'customer', soon), account);
    expect(decodeJwt(token!).exp).toBeLessThanOrEqual(soon + 30);
    expect(identityTokenFor(contextOf('erin', 'customer', Math.floor(Date.now() / 1000) - 60), account)).toBeNull();
  });
});
