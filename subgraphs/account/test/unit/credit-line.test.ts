import { describe, expect, it } from 'vitest';
import { decideCreditLimit, exposureOf, parseCreditLimit } from '../../src/domain/credit-line';
import { creditLimitMinorUnitsMax } from '../../src/limits';

describe('credit line rules', () => {
  it('accepts limits from 0 to the largest, and refuses below or above', () => {
    expect(parseCreditLimit('0')).toEqual({ ok: true, value: 0n });
    expect(parseCreditLimit(creditLimitMinorUnitsMax.toString())).toEqual({
      ok: true,
      value: creditLimitMinorUnitsMax,
    });
    for (const bad of ['-1', (creditLimitMinorUnitsMax + 1n).toString(), '1.5', '']) {
      expect(parseCreditLimit(bad)).toMatchObject({ ok: false, error: { kind: 'InvalidInput', field: 'limit' } });
    }
  });

  it('refuses a system account and a closed one, and takes a limit below the debt', () => {
    expect(decideCreditLimit({ id: 'a', type: 'SYSTEM', status: 'ACTIVE' }, 1n)).toMatchObject({
      ok: false,
      error: { kind: 'InvalidInput', field: 'accountId' },
    });
    expect(decideCreditLimit({ id: 'a', type: 'PERSONAL', status: 'CLOSED' }, 1n)).toEqual({
      ok: false,
      error: { kind: 'AccountNotActive', status: 'CLOSED' },
    });
    expect(decideCreditLimit({ id: 'a', type: 'MERCHANT', status: 'FROZEN' }, 0n)).toEqual({ ok: true, value: 0n });
  });

  it('adds the exposure up per currency and per home shard, counting only accounts below zero', () => {
    const { byCurrency, byShard } = exposureOf([
      { view: { currency: 'USD', available: -30n, creditLimit: 50n }, shard: 's0' },
      { view: { currency: 'USD', available: 10n, creditLimit: 50n }, shard: 's1' },
      { view: { currency: 'EUR', available: -5n, creditLimit: 0n }, shard: 's1' },
      { view: { currency: 'USD', available: -1n, creditLimit: null }, shard: 's1' },
    ]);
    expect(byCurrency).toEqual([
      { currency: 'EUR', used: 5n, limit: 0n, accounts: 1 },
      { currency: 'USD', used: 31n, limit: 100n, accounts: 2 },
    ]);
    expect(byShard.filter((l) => l.currency === 'USD').map((l) => [l.shard, l.used])).toEqual([
      ['s0', 30n],
      ['s1', 1n],
    ]);
  });
});
