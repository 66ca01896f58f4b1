import { describe, expect, it } from 'vitest';
import { adjustmentOf, exceptionsOf, type ExceptionState } from '../../src/domain/channel-report';
import {
  addDays,
  assertPartition,
  matchChannel,
  type Match,
  type MatchingRules,
  type MatchResult,
} from '../../src/domain/matching';
import { useSeededRandom } from '../../../../test/support/seeded-random';
import { generateStatements, type Generated } from '../support/perturbed-statements';

/**
 * Every rule kind on seeded random data: a ledger of a channel's movements over a fortnight in
 * three currencies, the statements a bank would send for it, perturbed (fees taken, bookings a
 * day late, card deposits settled in one line, payments booked in two lines, lines dropped,
 * duplicated, added, lines without our reference off by a little). Each perturbation must come
 * out of the matching as what it is. A failure prints the seed (TEST_SEED replays it).
 */
const random = useSeededRandom();
console.log(`[matching-perturbed] seed ${random.seed}`);

const ruleSets: Array<[string, MatchingRules, bigint]> = [
  [
    'absolute tolerance',
    { amountToleranceMinor: 50n, amountToleranceBps: 0, dateWindowDays: 1, allowOneToMany: true },
    50n,
  ],
  [
    'tolerance in basis points',
    { amountToleranceMinor: 0n, amountToleranceBps: 5, dateWindowDays: 1, allowOneToMany: true },
    1_000n,
  ],
];

function check(generated: Generated, result: MatchResult): void {
  const matchOf = new Map<string, Match>();
  for (const m of result.matches) for (const x of m.movements) matchOf.set(x.id, m);
  const unmatchedLines = new Map(result.unmatchedLines.map((u) => [u.line.key, u]));
  const unmatchedMovements = new Set(result.unmatchedMovements.map((m) => m.id));
  const movement = new Map(generated.movements.map((m) => [m.id, m]));
  for (const e of generated.expectations) {
    const at = JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    switch (e.kind) {
      case 'EXACT':
        expect(matchOf.get(e.movementId), at).toMatchObject({ rule: 'REFERENCE', difference: 0n });
        break;
      case 'FEE':
        expect(matchOf.get(e.movementId), at).toMatchObject({ rule: 'REFERENCE', difference: -e.fee });
        break;
      case 'SHIFTED': {
        const m = matchOf.get(e.movementId)!;
        expect(m, at).toMatchObject({ rule: 'REFERENCE', difference: 0n });
        expect(
          m.lines.map((l) => l.statementDate),
          at,
        ).toEqual([addDays(movement.get(e.movementId)!.businessDate, 1)]);
        break;
      }
      case 'SPLIT':
        expect(matchOf.get(e.movementId), at).toMatchObject({ rule: 'REFERENCE', difference: 0n });
        expect(matchOf.get(e.movementId)!.lines, at).toHaveLength(2);
        break;
      case 'NO_REFERENCE': {
        const m = matchOf.get(e.movementId)!;
        expect(m, at).toMatchObject({ rule: 'AMOUNT_DATE', difference: e.difference });
        expect(
          m.lines.map((l) => l.key),
          at,
        ).toEqual([e.lineKey]);
        break;
      }
      case 'BATCH': {
        const m = matchOf.get(e.movementIds[0]!)!;
        expect(m, at).toMatchObject({ rule: 'ONE_TO_MANY', difference: 0n });
        expect(m.movements.map((x) => x.id).sort(), at).toEqual([...e.movementIds].sort());
        expect(
          m.lines.map((l) => l.key),
          at,
        ).toEqual([e.lineKey]);
        break;
      }
      case 'DROPPED':
        expect(unmatchedMovements.has(e.movementId), at).toBe(true);
        break;
      case 'DUPLICATED':
        expect(matchOf.get(e.movementId), at).toMatchObject({ rule: 'REFERENCE', difference: 0n });
        expect(unmatchedLines.get(e.lineKey)?.duplicateOf, at).not.toBeNull();
        break;
      case 'BANK_ONLY':
        expect(unmatchedLines.get(e.lineKey), at).toMatchObject({ duplicateOf: null });
        break;
    }
  }
  // Nothing else is left over: every unmatched item is one the perturbations made.
  const made = generated.expectations.filter((e) => e.kind === 'DUPLICATED' || e.kind === 'BANK_ONLY').length;
  expect(result.unmatchedLines).toHaveLength(made);
  expect(result.unmatchedMovements).toHaveLength(generated.expectations.filter((e) => e.kind === 'DROPPED').length);
}

describe('matching perturbed statements of a generated ledger', () => {
  for (const [name, rules, fuzzMax] of ruleSets) {
    it(`finds or matches every perturbation (${name})`, () => {
      const generated = generateStatements(random, {
        firstDate: '2026-03-01',
        days: 14,
        movementsPerDay: 25,
        currencies: ['USD', 'EUR', 'JPY'],
        fuzzMax,
      });
      const kinds = new Set(generated.expectations.map((e) => e.kind));
      expect([...kinds].sort()).toEqual([
        'BANK_ONLY',
        'BATCH',
        'DROPPED',
        'DUPLICATED',
        'EXACT',
        'FEE',
        'NO_REFERENCE',
        'SHIFTED',
        'SPLIT',
      ]);
      const result = matchChannel(generated.lines, generated.movements, rules);
      assertPartition(result, generated.lines.length, generated.movements.length);
      check(generated, result);
    });
  }

  it('gives each date exceptions for exactly what is unexplained, and an adjustment table that adds up', () => {
    const rules = ruleSets[0]![1];
    const generated = generateStatements(random, {
      firstDate: '2026-04-01',
      days: 5,
      movementsPerDay: 20,
      currencies: ['USD', 'KWD'],
      fuzzMax: 50n,
    });
    const result = matchChannel(generated.lines, generated.movements, rules);
    for (let day = 0; day < 5; day++) {
      const date = addDays('2026-04-01', day);
      const found = exceptionsOf(result, date, day < 4);
      const states = new Map<string, ExceptionState>(
        found.map((f) => [f.subject, { kind: f.kind, status: 'OPEN', resolution: null }]),
      );
      const open = adjustmentOf(result, date, (s) => states.get(s), new Map());
      const dropped = generated.expectations.filter(
        (e) => e.kind === 'DROPPED' && generated.movements.find((m) => m.id === e.movementId)!.businessDate === date,
      );
      expect(found.filter((f) => f.kind === (day < 4 ? 'MISSING_EXTERNAL' : 'IN_TRANSIT'))).toHaveLength(
        dropped.length,
      );
      // Resolving every exception leaves nothing unexplained; the identity holds either way (adjustmentOf asserts it).
      for (const [subject, state] of states)
        states.set(subject, {
          ...state,
          status: 'RESOLVED',
          resolution: state.kind === 'IN_TRANSIT' ? 'TIMING' : 'WRITE_OFF',
        });
      const resolved = adjustmentOf(result, date, (s) => states.get(s), new Map());
      expect(resolved.every((r) => r.balanced && r.unexplained === 0n)).toBe(true);
      expect(open.map((r) => r.bankMovements)).toEqual(resolved.map((r) => r.bankMovements));
    }
  });
});

describe('batches pair best first, not in the order the rows come', () => {
  // TEST_SEED=3313775336 of channel-reconciliation.test.ts (a clean-clone CI run, 2026-11-24): the
  // reconciliation of 2088-01-26 weighs that day's card deposits (3,664) against the lines within
  // its window, among them the next day's batch line (3,712: 48 off, within the tolerance). When
  // the rows' ids put that line first, it took the day's deposits, and the day's own line, exact,
  // was left over. Now the closest sums pair first, whatever the order.
  const rules: MatchingRules = {
    amountToleranceMinor: 50n,
    amountToleranceBps: 0,
    dateWindowDays: 1,
    allowOneToMany: true,
  };
  const card = (id: string, signed: bigint) => ({
    id,
    businessDate: '2088-01-26',
    currency: 'USD',
    signed,
    externalRef: null,
  });
  const batch = (key: string, date: string, signed: bigint, lineNumber: number) => ({
    key,
    order: key,
    statementDate: date,
    valueDate: date,
    currency: 'USD',
    signed,
    externalRef: `BATCH-${date}`,
    lineNumber,
  });
  const movements = [card('c10', 1_825n), card('c11', 1_839n)];
  const lines = [batch('l8', '2088-01-26', 3_664n, 8), batch('l16', '2088-01-27', 3_712n, 16)];
  for (const [order, ls] of [
    ['its own line first', lines],
    ["the next day's line first", [...lines].reverse()],
  ] as const) {
    it(`matches the day's deposits to the day's own line exactly (${order})`, () => {
      const result = matchChannel(ls, movements, rules);
      const of = (key: string) => result.matches.find((m) => m.lines.some((l) => l.key === key));
      expect(of('l8')).toMatchObject({ rule: 'ONE_TO_MANY', difference: 0n });
      expect(
        of('l8')!
          .movements.map((m) => m.id)
          .sort(),
      ).toEqual(['c10', 'c11']);
      expect(of('l16')).toBeUndefined();
      expect(result.unmatchedLines.map((u) => u.line.key)).toEqual(['l16']);
    });
  }
});

describe('the adjustment table as banks draw it (issue 45)', () => {
  const rules: MatchingRules = {
    amountToleranceMinor: 50n,
    amountToleranceBps: 0,
    dateWindowDays: 1,
    allowOneToMany: true,
  };
  const date = '2071-07-01';
  const line = (key: string, signed: bigint, externalRef: string) => ({
    key,
    order: key,
    statementDate: date,
    valueDate: date,
    currency: 'USD',
    signed,
    externalRef,
    lineNumber: 1,
  });
  const movement = (id: string, signed: bigint, externalRef: string) => ({
    id,
    businessDate: date,
    currency: 'USD',
    signed,
    externalRef,
  });
  const result = matchChannel(
    [line('exact', 10_000n, 'r1'), line('fee', -25n, 'FEE-1'), line('x1', 4_990n, 'x1'), line('short', 19_970n, 'r5')],
    [
      movement('m1', 10_000n, 'r1'),
      movement('m3', 5_000n, 'r3'),
      movement('m4', 800n, 'r4'),
      movement('m5', 20_000n, 'r5'),
    ],
    rules,
  );
  const table = (windowEnded: boolean, resolved: Partial<Record<string, ExceptionState['resolution']>>) => {
    const states = new Map<string, ExceptionState>();
    for (const f of exceptionsOf(result, date, windowEnded)) {
      const resolution = resolved[f.kind === 'MISSING_INTERNAL' ? f.externalRef! : (f.movementId ?? '')];
      states.set(f.subject, {
        kind: f.kind,
        status: resolution === undefined ? 'OPEN' : 'RESOLVED',
        resolution: resolution ?? null,
      });
    }
    const [row] = adjustmentOf(result, date, (s) => states.get(s), new Map());
    expect(row!.bankMovements).toBe(row!.ledgerMovements - row!.inTransit + row!.bankOnly + row!.unexplained);
    return {
      inTransit: row!.inTransit,
      bankOnly: row!.bankOnly,
      unexplained: row!.unexplained,
      balanced: row!.balanced,
    };
  };

  it('puts a line with no movement in bankOnly while it is open, and keeps it there once resolved, posted or not', () => {
    expect(result.unmatchedLines.map((u) => u.line.key)).toEqual(['fee']);
    // Open: the bank's fee is bank-only; the tolerance match (-10) and the mismatch (-30) are what is left.
    expect(table(false, {})).toEqual({ inTransit: 800n, bankOnly: -25n, unexplained: -40n, balanced: false });
    expect(table(false, { 'FEE-1': 'BANK_DUPLICATE' })).toEqual(table(false, {}));
    expect(table(false, { 'FEE-1': 'TIMING' })).toEqual(table(false, {}));
    expect(table(false, { 'FEE-1': 'BANK_FEE' })).toEqual(table(false, {}));
  });

  it('counts tolerance differences, mismatches and missing movements as unexplained until they are resolved', () => {
    expect(result.matches.find((m) => m.lines[0]!.key === 'x1')).toMatchObject({
      rule: 'AMOUNT_DATE',
      difference: -10n,
    });
    // The window ended: m4 is MISSING_EXTERNAL, no longer in transit, and unexplained.
    expect(table(true, {})).toEqual({ inTransit: 0n, bankOnly: -25n, unexplained: -840n, balanced: false });
    expect(table(true, { m3: 'BANK_FEE' })).toEqual({
      inTransit: 0n,
      bankOnly: -35n,
      unexplained: -830n,
      balanced: false,
    });
    expect(table(true, { m3: 'BANK_FEE', m5: 'BANK_FEE', m4: 'WRITE_OFF' })).toEqual({
      inTransit: 0n,
      bankOnly: -865n,
      unexplained: 0n,
      balanced: true,
    });
  });
});
