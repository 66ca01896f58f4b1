import { describe, expect, it } from 'vitest';
import { expandIntercompany, intercompanyDrafts, intercompanyKey } from '../../src/ledger/rules/intercompany';
import { classDayIncrements } from '../../src/ledger/rules/class-days';
import { isCountryCode, isEntityCode, isGlCode, ledgerClassOf } from '../../src/ledger/rules/entities';
import type { EntryDraft, Leg, PostingSpec } from '../../src/ledger/rules/posting-rules';

/** The pure rules of issue 49: the intercompany expansion, the books' daily sums, the shapes. */
const spec = (legs: Leg[], currency = 'USD'): PostingSpec => ({
  id: 'p1',
  kind: 'TEST',
  refId: null,
  dedupeKey: null,
  currency,
  legs,
});
const leg = (accountId: string, amount: bigint, currency?: string): Leg => ({
  accountId,
  bucket: 'AVAILABLE',
  amount,
  ...(currency ? { currency } : {}),
});
const entities: Record<string, string> = { a1: 'A', a2: 'A', b1: 'B', c1: 'C', p1: 'PLATFORM' };
const entityOf = (id: string) => entities[id];

/** Σ of the legs per entity and currency, intercompany accounts counted in their entity. */
function perEntity(expanded: PostingSpec): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const l of expanded.legs) {
    const entity = entityOf(l.accountId) ?? l.accountId.split('|')[0]!;
    const key = `${entity}|${l.currency ?? expanded.currency}`;
    sums.set(key, (sums.get(key) ?? 0n) + l.amount);
  }
  return sums;
}

describe('intercompany legs (rules/intercompany.ts)', () => {
  it('adds nothing, and returns the same spec, when every account is in one entity', () => {
    const s = spec([leg('a1', -5n), leg('a2', 5n)]);
    expect(intercompanyDrafts(s, entityOf)).toEqual([]);
    expect(expandIntercompany(s, entityOf, () => 'never')).toBe(s);
  });

  it('makes a due-to in the payer entity and a due-from in the payee entity', () => {
    const drafts = intercompanyDrafts(spec([leg('a1', -7n), leg('b1', 7n)]), entityOf);
    expect(drafts).toEqual([
      { entity: 'A', counterpartyEntity: 'B', kind: 'INTERCOMPANY_DUE_TO', currency: 'USD', amount: 7n },
      { entity: 'B', counterpartyEntity: 'A', kind: 'INTERCOMPANY_DUE_FROM', currency: 'USD', amount: -7n },
    ]);
  });

  it('posts the pair the other way for a refund', () => {
    const drafts = intercompanyDrafts(spec([leg('b1', -3n), leg('a1', 3n)]), entityOf);
    expect(drafts.map((d) => [d.entity, d.kind, d.amount])).toEqual([
      ['B', 'INTERCOMPANY_DUE_TO', 3n],
      ['A', 'INTERCOMPANY_DUE_FROM', -3n],
    ]);
  });

  it('balances every entity per currency for splits across three entities and for FX', () => {
    const shapes = [
      spec([leg('a1', -100n), leg('b1', 60n), leg('c1', 30n), leg('p1', 10n)]),
      spec([leg('a1', -50n), leg('a2', -50n), leg('b1', 99n), leg('p1', 1n)]),
      // FX: the payer's EUR to PLATFORM's FX position, PLATFORM's USD to the payee.
      spec([leg('a1', -90n, 'EUR'), leg('p1', 90n, 'EUR'), leg('p1', -100n, 'USD'), leg('b1', 100n, 'USD')], 'EUR'),
    ];
    for (const s of shapes) {
      const expanded = expandIntercompany(s, entityOf, (key) => key);
      for (const [key, sum] of perEntity(expanded)) expect(sum, key).toBe(0n);
      // Each draft's key names its entity first (what perEntity reads back).
      for (const d of intercompanyDrafts(s, entityOf)) expect(intercompanyKey(d).startsWith(d.entity)).toBe(true);
    }
  });

  it('adds no measurable CPU for a posting in one entity', () => {
    const s = spec([leg('a1', -5n), leg('a2', 5n)]);
    const rounds = 200_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) intercompanyDrafts(s, entityOf);
    const nsPerPosting = Number(process.hrtime.bigint() - started) / rounds;
    console.log(`[intercompany] one-entity check: ${nsPerPosting.toFixed(0)} ns per two-leg posting`);
    // A posting's own cost is tens of microseconds of CPU (docs/PERFORMANCE.md); this must stay far below.
    expect(nsPerPosting).toBeLessThan(2_000);
  });
});

describe("the books' daily sums and shapes (rules/class-days.ts, rules/entities.ts)", () => {
  it('sums per entity, class, counterparty and currency, counting each posting once per direction', () => {
    const accounts = {
      c: { type: 'PERSONAL' as const, systemKind: null, entity: 'A', counterpartyEntity: '' },
      m: { type: 'MERCHANT' as const, systemKind: null, entity: 'A', counterpartyEntity: '' },
      i: { type: 'SYSTEM' as const, systemKind: 'INTERCOMPANY_DUE_TO' as const, entity: 'A', counterpartyEntity: 'B' },
    };
    const entry = (accountId: keyof typeof accounts, amount: bigint, postingId: string, bucket = 'AVAILABLE') =>
      ({ accountId, amount, postingId, bucket, currency: 'USD' }) as unknown as EntryDraft;
    const days = classDayIncrements(
      [
        entry('c', -10n, 'p'),
        entry('m', 4n, 'p', 'PENDING'),
        entry('m', 6n, 'p'),
        entry('c', -1n, 'q'),
        entry('i', 11n, 'q'),
      ],
      (id) => accounts[id as keyof typeof accounts],
      () => '2026-11-25',
      3,
    );
    const by = new Map(days.map((d) => [`${d.ledgerClass}|${d.counterpartyEntity}`, d]));
    expect(by.get('CUSTOMER_FUNDS|')).toMatchObject({ debits: 11n, credits: 0n, debitPostings: 2n, slot: 3 });
    expect(by.get('MERCHANT_PENDING|')).toMatchObject({ credits: 4n, creditPostings: 1n });
    expect(by.get('MERCHANT_FUNDS|')).toMatchObject({ credits: 6n, creditPostings: 1n });
    expect(by.get('INTERCOMPANY_DUE_TO|B')).toMatchObject({ credits: 11n });
  });

  it('knows the shapes of codes, countries and GL codes', () => {
    expect(['PLATFORM', 'DE-01', 'AB'].map(isEntityCode)).toEqual([true, true, true]);
    expect(['a', 'de', 'X', 'TOO-LONG-CODE-1234', 'A B'].map(isEntityCode)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(['DE', 'US', 'JP'].map(isCountryCode)).toEqual([true, true, true]);
    expect(['XX', 'UK', 'EU', 'de'].map(isCountryCode)).toEqual([false, false, false, false]);
    expect([isGlCode('1'), isGlCode('x'.repeat(32)), isGlCode(''), isGlCode('x'.repeat(33)), isGlCode('a\nb')]).toEqual(
      [true, true, false, false, false],
    );
    expect(ledgerClassOf({ type: 'SYSTEM', systemKind: 'LOSS' }, 'AVAILABLE')).toBe('LOSSES');
  });
});
