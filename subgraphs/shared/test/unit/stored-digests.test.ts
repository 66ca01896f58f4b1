import { describe, expect, it } from 'vitest';
import { entryHash } from '../../src/ledger/rules/tamper';
import { requestHash } from '../../src/idempotency/request-hash';

/**
 * Digests the database already holds: every entry's hash (and the next entry's prev_hash), every
 * idempotency key's request hash. How they are computed may change (createHash, then crypto.hash);
 * what they are may not, or every stored chain would read as tampered and every replay as a
 * reused key. The values below are SHA-256 of the messages as written before the change.
 */
describe('digests stored in the ledger', () => {
  it("hashes an entry's fields, joined by |, as stored chains were hashed", () => {
    const entry = {
      prevHash: '0'.repeat(64),
      accountId: 'acc_01',
      sequence: 7n,
      id: 'ent_01',
      postingId: 'pst_01',
      bucket: 'AVAILABLE',
      amount: -1250n,
      balanceAfter: 98_750n,
      currency: 'EUR',
    };
    expect(entryHash(entry)).toBe('eb68a90b8cbfb03293999afc8fc30a5ca872b77833a36e7b004af0e3ba767a07');
    expect(entryHash({ ...entry, amount: -1251n })).not.toBe(entryHash(entry));
  });

  it("hashes a request's fields in key order, as stored keys were hashed", () => {
    const fields = { payee: 'acc_2', amount: 100n, currency: 'EUR', description: null };
    expect(requestHash('createPayment', fields)).toBe(
      'c48fa6dcdf95dfaa5929de70ccc4448a7a566dbcb669dd0a185b8ece26d4d7fb',
    );
  });
});
