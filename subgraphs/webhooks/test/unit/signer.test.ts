import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { newSecret } from '../../src/services/secrets';
import { SignerCache, signingSeals } from '../../src/services/signer';

/**
 * The dispatcher's signer cache (endpoint-directory.ts asks it at every refresh): bounded, and a
 * secret rotated out leaves it at the first refresh after the rotation's overlap ended. Seals
 * here are the secrets themselves (`open` is the identity): what is cached is what is tested.
 */
describe('the signer cache', () => {
  it('forgets a rotated-out secret once its overlap has ended, signing with the new one only', () => {
    const cache = new SignerCache();
    const [old, next] = [newSecret(), newSecret()];
    const refresh = (row: Parameters<typeof signingSeals>[0], at: Date) => {
      const signer = cache.signerOf('we_1', signingSeals(row, at), (s) => s);
      cache.forgetUnused();
      return signer;
    };
    const t0 = new Date('2026-01-01T00:00:00Z');
    refresh({ secretSealed: old, previousSecretSealed: null, previousSecretUntil: null }, t0);
    expect(cache.heldSeals()).toEqual([old]);
    // Rotated: both sign during the overlap.
    const until = new Date(t0.getTime() + 24 * 3_600_000);
    const rotated = { secretSealed: next, previousSecretSealed: old, previousSecretUntil: until };
    const during = refresh(rotated, new Date(t0.getTime() + 1000)).headers('msg_1', new Date(), '{}');
    expect(cache.heldSeals().sort()).toEqual([next, old].sort());
    for (const secret of [old, next]) expect(() => new Webhook(secret).verify('{}', during)).not.toThrow();
    // The overlap over (the row still holds the old seal until the table forgets it): the old secret leaves memory.
    const after = refresh(rotated, new Date(until.getTime() + 1)).headers('msg_2', new Date(), '{}');
    expect(cache.heldSeals()).toEqual([next]);
    expect(cache.size).toBe(1);
    expect(() => new Webhook(next).verify('{}', after)).not.toThrow();
    expect(() => new Webhook(old).verify('{}', after)).toThrow();
  });

  it('holds at most its bound, and only what the last refresh used', () => {
    const cache = new SignerCache(8);
    for (let i = 0; i < 100; i++) cache.signerOf(`we_${i}`, [newSecret()], (s) => s);
    expect(cache.size).toBe(8);
    cache.forgetUnused();
    cache.signerOf('we_x', ['whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='], (s) => s);
    cache.forgetUnused();
    expect(cache.size).toBe(1);
  });
});
