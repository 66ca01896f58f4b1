import { describe, expect, it } from 'vitest';
import { applyPosting } from '../../src/ledger/rules/posting-rules';
import { type PostingSpec, type Account } from '../../src/ledger/index';
import { newId, toLogicalShard } from '../../src/ids';
import { InvariantViolation } from '../../src/result';
import { balanceMinorUnitsMax, balanceMinorUnitsMin } from '../../src/limits';

/** The whole Account, as the posting engine hands the rules what it locked. */
function account(overrides: Partial<Account> = {}): Account {
  return {
    id: newId('account', toLogicalShard(1)),
    ownerId: 'o',
    type: 'PERSONAL',
    systemKind: null,
    status: 'ACTIVE',
    currency: 'USD',
    entity: 'PLATFORM',
    counterpartyEntity: '',
    parentId: null,
    stripeShards: 0n,
    available: 0n,
    frozen: 0n,
    pending: 0n,
    lastSequence: 0n,
    lastEntryHash: '',
    version: 0n,
    creditLimit: null,
    createdAt: new Date(0),
    ...overrides,
  };
}

function transfer(from: Account, to: Account, amount: bigint, overrides: Partial<PostingSpec> = {}): PostingSpec {
  return {
    id: newId('posting', toLogicalShard(1)),
    kind: 'TEST',
    refId: null,
    dedupeKey: null,
    currency: 'USD',
    legs: [
      { accountId: from.id, bucket: 'AVAILABLE', amount: -amount },
      { accountId: to.id, bucket: 'AVAILABLE', amount },
    ],
    ...overrides,
  };
}

describe('posting rules', () => {
  it('moves money, numbers entries per account and records the balance after', () => {
    const a = account({ available: 100n, lastSequence: 4n });
    const b = account();
    const states = new Map([
      [a.id, a],
      [b.id, b],
    ]);
    const result = applyPosting(states, transfer(a, b, 30n));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.map((e) => [e.accountId, e.sequence, e.amount, e.direction, e.balanceAfter])).toEqual([
      [a.id, 5n, -30n, 'DEBIT', 70n],
      [b.id, 1n, 30n, 'CREDIT', 30n],
    ]);
    expect(states.get(a.id)!.available).toBe(70n);
    expect(states.get(b.id)!.available).toBe(30n);
  });

  it('refuses a posting its caller marked lapsed, whatever the balances, and leaves every state untouched', () => {
    const a = account({ available: 100n });
    const b = account();
    const states = new Map([
      [a.id, a],
      [b.id, b],
    ]);
    const lapsed = {
      code: 'TERMS_LAPSED',
      accountId: a.id,
      termsId: 'q',
      lapsedAt: new Date(0).toISOString(),
    } as const;
    expect(applyPosting(states, transfer(a, b, 30n, { lapsed }))).toEqual({ ok: false, error: lapsed });
    expect(states.get(a.id)).toEqual(a);
    expect(states.get(b.id)).toEqual(b);
  });

  it('refuses to overdraw a client account and leaves every state untouched', () => {
    const a = account({ available: 10n });
    const b = account();
    const states = new Map([
      [a.id, a],
      [b.id, b],
    ]);
    expect(applyPosting(states, transfer(a, b, 11n))).toEqual({
      ok: false,
      error: { code: 'INSUFFICIENT_FUNDS', accountId: a.id, available: 10n },
    });
    expect(states.get(a.id)).toEqual(a);
    expect(b.lastSequence).toBe(0n);
  });

  it('lets system accounts go below zero (the reserve is an asset)', () => {
    const reserve = account({ type: 'SYSTEM' });
    const b = account();
    const result = applyPosting(
      new Map([
        [reserve.id, reserve],
        [b.id, b],
      ]),
      transfer(reserve, b, 500n),
    );
    expect(result.ok).toBe(true);
    expect(reserve.available).toBe(-500n);
  });

  it('refuses frozen, closed, missing and other-currency accounts', () => {
    const a = account({ available: 100n });
    for (const status of ['FROZEN', 'CLOSED'] as const) {
      const b = account({ status });
      expect(
        applyPosting(
          new Map([
            [a.id, a],
            [b.id, b],
          ]),
          transfer(a, b, 1n),
        ),
      ).toMatchObject({ ok: false, error: { code: 'ACCOUNT_NOT_ACTIVE', status } });
    }
    const ghost = account();
    expect(applyPosting(new Map([[a.id, a]]), transfer(a, ghost, 1n))).toMatchObject({
      ok: false,
      error: { code: 'ACCOUNT_NOT_FOUND', accountId: ghost.id },
    });
    const euro = account({ currency: 'EUR' });
    expect(
      applyPosting(
        new Map([
          [a.id, a],
          [euro.id, euro],
        ]),
        transfer(a, euro, 1n),
      ),
    ).toMatchObject({ ok: false, error: { code: 'CURRENCY_MISMATCH' } });
    expect(a.available).toBe(100n);
  });

  it('takes a debit from the fallback bucket when the first holds too little', () => {
    const merchant = account({ type: 'MERCHANT', pending: 30n, available: 100n });
    const payer = account();
    const spec: PostingSpec = {
      ...transfer(merchant, payer, 50n),
      legs: [
        { accountId: merchant.id, bucket: 'PENDING', amount: -50n, fallbackBucket: 'AVAILABLE' },
        { accountId: payer.id, bucket: 'AVAILABLE', amount: 50n },
      ],
    };
    const result = applyPosting(
      new Map([
        [merchant.id, merchant],
        [payer.id, payer],
      ]),
      spec,
    );
    expect(result.ok && result.value.map((e) => [e.bucket, e.amount])).toEqual([
      ['PENDING', -30n],
      ['AVAILABLE', -20n],
      ['AVAILABLE', 50n],
    ]);
    expect([merchant.pending, merchant.available]).toEqual([0n, 80n]);
  });

  it('refuses BALANCE_LIMIT when a credit would take a client bucket past BIGINT, and changes nothing', () => {
    const reserve = account({ type: 'SYSTEM', available: -10n });
    const rich = account({ available: balanceMinorUnitsMax - 5n, lastSequence: 3n });
    const states = new Map([
      [reserve.id, reserve],
      [rich.id, rich],
    ]);
    const before = structuredClone([reserve, rich]);
    expect(applyPosting(states, transfer(reserve, rich, 6n))).toEqual({
      ok: false,
      error: { code: 'BALANCE_LIMIT', accountId: rich.id, bucket: 'AVAILABLE' },
    });
    expect([reserve, rich]).toEqual(before);
    // Exactly up to the bound is allowed.
    expect(applyPosting(states, transfer(reserve, rich, 5n)).ok).toBe(true);
    expect(rich.available).toBe(balanceMinorUnitsMax);
  });

  it('refuses BALANCE_LIMIT when a debit would take a system account (the reserve) below BIGINT', () => {
    const reserve = account({ type: 'SYSTEM', available: balanceMinorUnitsMin + 1n });
    const customer = account();
    const states = new Map([
      [reserve.id, reserve],
      [customer.id, customer],
    ]);
    expect(applyPosting(states, transfer(reserve, customer, 2n))).toEqual({
      ok: false,
      error: { code: 'BALANCE_LIMIT', accountId: reserve.id, bucket: 'AVAILABLE' },
    });
    expect([reserve.available, reserve.lastSequence, customer.available, customer.lastSequence]).toEqual([
      balanceMinorUnitsMin + 1n,
      0n,
      0n,
      0n,
    ]);
  });

  it('refuses BALANCE_LIMIT for a system account credited past BIGINT (fee income, clearing)', () => {
    const clearing = account({ type: 'SYSTEM', available: balanceMinorUnitsMax });
    const payer = account({ available: 1n });
    expect(
      applyPosting(
        new Map([
          [clearing.id, clearing],
          [payer.id, payer],
        ]),
        transfer(payer, clearing, 1n),
      ),
    ).toEqual({
      ok: false,
      error: { code: 'BALANCE_LIMIT', accountId: clearing.id, bucket: 'AVAILABLE' },
    });
    expect(payer.available).toBe(1n);
  });

  it('refuses BALANCE_LIMIT in every bucket, and when the buckets fit but their total (balance_after) does not', () => {
    for (const bucket of ['AVAILABLE', 'FROZEN', 'PENDING'] as const) {
      const key = bucket.toLowerCase() as 'available' | 'frozen' | 'pending';
      const source = account({ type: 'SYSTEM' });
      const full = account({ [key]: balanceMinorUnitsMax });
      const spec: PostingSpec = {
        ...transfer(source, full, 1n),
        legs: [
          { accountId: source.id, bucket: 'AVAILABLE', amount: -1n },
          { accountId: full.id, bucket, amount: 1n },
        ],
      };
      expect(
        applyPosting(
          new Map([
            [source.id, source],
            [full.id, full],
          ]),
          spec,
        ),
      ).toEqual({
        ok: false,
        error: { code: 'BALANCE_LIMIT', accountId: full.id, bucket },
      });
      expect(full[key]).toBe(balanceMinorUnitsMax);
    }
    const source = account({ type: 'SYSTEM' });
    const merchant = account({ type: 'MERCHANT', available: balanceMinorUnitsMax - 10n, pending: 5n });
    const toPending: PostingSpec = {
      ...transfer(source, merchant, 6n),
      legs: [
        { accountId: source.id, bucket: 'AVAILABLE', amount: -6n },
        { accountId: merchant.id, bucket: 'PENDING', amount: 6n },
      ],
    };
    expect(
      applyPosting(
        new Map([
          [source.id, source],
          [merchant.id, merchant],
        ]),
        toPending,
      ),
    ).toEqual({
      ok: false,
      error: { code: 'BALANCE_LIMIT', accountId: merchant.id, bucket: 'PENDING' },
    });
    expect(merchant.pending).toBe(5n);
  });

  it('crashes on a posting that does not sum to zero: that is a bug, not a user error', () => {
    const a = account({ available: 100n });
    const b = account();
    const spec = transfer(a, b, 10n);
    const broken = { ...spec, legs: [spec.legs[0]!, { ...spec.legs[1]!, amount: 11n }] };
    expect(() =>
      applyPosting(
        new Map([
          [a.id, a],
          [b.id, b],
        ]),
        broken,
      ),
    ).toThrow(InvariantViolation);
  });

  it("balances an FX posting per currency: each leg in its own currency, entries in the leg's currency", () => {
    const payer = account({ available: 1000n });
    const usdPosition = account({ type: 'SYSTEM', systemKind: 'FX_POSITION' });
    const jpyPosition = account({ type: 'SYSTEM', systemKind: 'FX_POSITION', currency: 'JPY' });
    const payee = account({ currency: 'JPY' });
    const states = new Map([payer, usdPosition, jpyPosition, payee].map((a) => [a.id, a]));
    const spec: PostingSpec = {
      id: newId('posting', toLogicalShard(1)),
      kind: 'TEST_FX',
      refId: null,
      dedupeKey: null,
      currency: 'USD',
      legs: [
        { accountId: payer.id, bucket: 'AVAILABLE', amount: -333n },
        { accountId: usdPosition.id, bucket: 'AVAILABLE', amount: 333n },
        { accountId: jpyPosition.id, bucket: 'AVAILABLE', amount: -500n, currency: 'JPY' },
        { accountId: payee.id, bucket: 'AVAILABLE', amount: 500n, currency: 'JPY' },
      ],
    };
    const result = applyPosting(states, spec);
    expect(result.ok && result.value.map((e) => [e.amount, e.currency])).toEqual([
      [-333n, 'USD'],
      [333n, 'USD'],
      [-500n, 'JPY'],
      [500n, 'JPY'],
    ]);
    // A leg in the wrong currency for its account is refused as ever…
    const wrong = {
      ...spec,
      id: newId('posting', toLogicalShard(1)),
      legs: spec.legs.map((l, i) =>
        i === 3 ? { ...l, currency: 'USD' } : i === 2 ? { ...l, currency: 'USD', accountId: usdPosition.id } : l,
      ),
    };
    expect(applyPosting(states, wrong)).toMatchObject({
      ok: false,
      error: { code: 'CURRENCY_MISMATCH', accountId: payee.id },
    });
    // …and legs that net to zero overall but not per currency are a bug.
    const unbalanced = { ...spec, legs: [spec.legs[0]!, { ...spec.legs[3]!, amount: 333n }] };
    expect(() => applyPosting(states, unbalanced)).toThrow(InvariantViolation);
  });

  describe('credit lines', () => {
    it('lets available go down to minus the limit, and refuses one unit beyond it', () => {
      const a = account({ available: 10n, creditLimit: 100n });
      const b = account();
      const states = new Map([
        [a.id, a],
        [b.id, b],
      ]);
      expect(applyPosting(states, transfer(a, b, 110n)).ok).toBe(true);
      expect(states.get(a.id)!.available).toBe(-100n);
      const beyond = applyPosting(states, transfer(a, b, 1n));
      expect(beyond).toEqual({ ok: false, error: { code: 'INSUFFICIENT_FUNDS', accountId: a.id, available: -100n } });
      expect(states.get(a.id)!.available).toBe(-100n);
      expect(states.get(b.id)!.available).toBe(110n);
    });

    it('takes money arriving at an account whose limit was lowered below its debt, and lets it spend nothing', () => {
      const a = account({ available: -100n, creditLimit: 0n });
      const b = account({ available: 50n });
      const states = new Map([
        [a.id, a],
        [b.id, b],
      ]);
      expect(applyPosting(states, transfer(b, a, 30n)).ok).toBe(true);
      expect(states.get(a.id)!.available).toBe(-70n);
      expect(applyPosting(states, transfer(a, b, 1n)).ok).toBe(false);
    });

    it('never takes frozen or pending below zero, whatever the limit', () => {
      const a = account({ available: 0n, frozen: 5n, creditLimit: 1_000n });
      const b = account();
      const states = new Map([
        [a.id, a],
        [b.id, b],
      ]);
      const spec: PostingSpec = {
        id: newId('posting', toLogicalShard(1)),
        kind: 'TEST',
        refId: null,
        dedupeKey: null,
        currency: 'USD',
        legs: [
          { accountId: a.id, bucket: 'FROZEN', amount: -6n },
          { accountId: b.id, bucket: 'AVAILABLE', amount: 6n },
        ],
      };
      expect(applyPosting(states, spec).ok).toBe(false);
      expect(applyPosting(states, { ...spec, legs: [{ ...spec.legs[0]!, bucket: 'PENDING' }, spec.legs[1]!] }).ok).toBe(
        false,
      );
    });

    it('gives a refund back from pending first, then available, then the credit line', () => {
      const m = account({ type: 'MERCHANT', pending: 30n, available: 20n, creditLimit: 50n });
      const payer = account();
      const states = new Map([
        [m.id, m],
        [payer.id, payer],
      ]);
      const refund = (amount: bigint): PostingSpec => ({
        id: newId('posting', toLogicalShard(1)),
        kind: 'REFUND',
        refId: null,
        dedupeKey: null,
        currency: 'USD',
        legs: [
          { accountId: m.id, bucket: 'PENDING', amount: -amount, fallbackBucket: 'AVAILABLE' },
          { accountId: payer.id, bucket: 'AVAILABLE', amount },
        ],
      });
      expect(applyPosting(states, refund(101n)).ok).toBe(false);
      const applied = applyPosting(states, refund(100n));
      expect(applied.ok && applied.value.map((e) => [e.bucket, e.amount])).toEqual([
        ['PENDING', -30n],
        ['AVAILABLE', -70n],
        ['AVAILABLE', 100n],
      ]);
      expect([states.get(m.id)!.pending, states.get(m.id)!.available]).toEqual([0n, -50n]);
    });

    it('gives a stripe (no credit line of its own) no floor below zero', () => {
      const stripe = account({ type: 'MERCHANT', parentId: newId('account', toLogicalShard(2)), available: 5n });
      const b = account();
      expect(
        applyPosting(
          new Map([
            [stripe.id, stripe],
            [b.id, b],
          ]),
          transfer(stripe, b, 6n),
        ).ok,
      ).toBe(false);
    });
  });
});
