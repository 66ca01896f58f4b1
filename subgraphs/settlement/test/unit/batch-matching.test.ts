import { describe, expect, it } from 'vitest';
import { subsetCandidatesMax, subsetSearchStepsTotalMax } from '../../src/limits';
import {
  addDays,
  assertPartition,
  matchChannel,
  type BankLine,
  type Match,
  type MatchingRules,
  type MatchResult,
  type Movement,
} from '../../src/domain/matching';
import { bestSubset, subsetSearchSteps } from '../../src/domain/subset-search';
import { useSeededRandom, type SeededRandom } from '../../../../test/support/seeded-random';
import { generateBatchDays, type BatchScenario } from '../support/batch-statements';

/**
 * ONE_TO_MANY with references (issue 45): the day's card deposits, each named by the acquirer's
 * reference, settled in one line under the bank's own; two days' batches side by side; a payout
 * booked in several lines; near misses and traps that must stay exceptions; the same matches
 * whatever the rows' order; and the search's bounds, which leave items unmatched rather than
 * guess. Seeded scenarios (test/support/batch-statements.ts) print their seed; TEST_SEED replays.
 */
const random = useSeededRandom();
console.log(`[batch-matching] seed ${random.seed}`);

const rules: MatchingRules = {
  amountToleranceMinor: 50n,
  amountToleranceBps: 0,
  dateWindowDays: 1,
  allowOneToMany: true,
};
const scenario = generateBatchDays(random, {
  firstDate: '2071-03-02',
  days: 10,
  currency: 'EUR',
  toleranceMinor: rules.amountToleranceMinor,
  windowDays: rules.dateWindowDays,
});
console.log(
  `[batch-matching] ${scenario.lines.length} lines, ${scenario.movements.length} movements, ${scenario.temptations} temptations, ${scenario.redrawn} redrawn`,
);
const result = matchChannel(scenario.lines, scenario.movements, rules);

function matchOfLine(r: MatchResult, key: string): Match | undefined {
  return r.matches.find((m) => m.lines.some((l) => l.key === key));
}
function matchOfMovement(r: MatchResult, id: string): Match | undefined {
  return r.matches.find((m) => m.movements.some((x) => x.id === id));
}
const ids = (ms: readonly Movement[]) => ms.map((m) => m.id).sort();
const keys = (ls: readonly BankLine[]) => ls.map((l) => l.key).sort();
const expectations = <K extends BatchScenario['expectations'][number]['kind']>(kind: K) =>
  scenario.expectations.filter(
    (e): e is Extract<BatchScenario['expectations'][number], { kind: K }> => e.kind === kind,
  );

describe('card deposits named by the acquirer, settled in one line under the bank’s reference', () => {
  it("matches each day's batch line to exactly that day's deposits, less the bank's fee within the tolerance", () => {
    assertPartition(result, scenario.lines.length, scenario.movements.length);
    const batches = expectations('BATCH');
    expect(batches.length).toBeGreaterThanOrEqual(5);
    for (const e of batches) {
      const m = matchOfLine(result, e.lineKey);
      expect(
        m,
        JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? `${v}` : v)),
      ).toMatchObject({
        rule: 'ONE_TO_MANY',
        difference: e.difference,
      });
      expect(ids(m!.movements)).toEqual([...e.movementIds].sort());
    }
    expect(result.subsets).toMatchObject({ outOfBudget: 0, overCandidates: 0 });
  });

  it("keeps two days' batches side by side apart: each takes its own day's deposits, not the neighbour's that also fit", () => {
    const dayOf = new Map(scenario.movements.map((m) => [m.id, m.businessDate]));
    const batches = expectations('BATCH');
    const sideBySide = batches.filter((e) =>
      batches.some((o) => dayOf.get(o.movementIds[0]!) === addDays(dayOf.get(e.movementIds[0]!)!, 1)),
    );
    expect(sideBySide.length).toBeGreaterThanOrEqual(1);
    for (const e of sideBySide) {
      const m = matchOfLine(result, e.lineKey)!;
      expect(new Set(m.movements.map((x) => x.businessDate))).toEqual(new Set([dayOf.get(e.movementIds[0]!)]));
    }
    // A neighbour's deposits in transit whose sum fits a batch line (further off than its own day's) are left alone.
    expect(scenario.temptations).toBeGreaterThanOrEqual(1);
    for (const e of expectations('IN_TRANSIT'))
      expect(matchOfMovement(result, e.movementId), e.movementId).toBeUndefined();
  });

  it('matches a payout the bank booked in several lines under its own references, beside its fee of the same day', () => {
    const parts = expectations('PARTS');
    expect(parts.length).toBeGreaterThanOrEqual(1);
    for (const e of parts) {
      const m = matchOfMovement(result, e.movementId);
      expect(m, e.movementId).toMatchObject({ rule: 'ONE_TO_MANY', difference: 0n });
      expect(keys(m!.lines)).toEqual([...e.lineKeys].sort());
    }
    for (const e of expectations('BANK_ONLY')) expect(matchOfLine(result, e.lineKey), e.lineKey).toBeUndefined();
    for (const e of expectations('REFERENCE')) expect(matchOfMovement(result, e.movementId)?.rule).toBe('REFERENCE');
  });

  it('leaves near misses as exceptions: a batch one unit past the tolerance, a sum of deposits outside the window', () => {
    const misses = [...expectations('NEAR_MISS'), ...expectations('OUT_OF_WINDOW')];
    expect(misses.map((e) => e.kind).sort()).toEqual(['NEAR_MISS', 'OUT_OF_WINDOW']);
    const unmatchedLines = new Set(result.unmatchedLines.map((u) => u.line.key));
    const unmatchedMovements = new Set(result.unmatchedMovements.map((m) => m.id));
    for (const e of misses) {
      expect(unmatchedLines.has(e.lineKey), e.kind).toBe(true);
      for (const id of e.movementIds) expect(unmatchedMovements.has(id), `${e.kind} ${id}`).toBe(true);
    }
    // Nothing else is left: the batches beside them matched (and every other line and movement the scenario made).
    const leftLines = misses.length + expectations('BANK_ONLY').length;
    expect(result.unmatchedLines).toHaveLength(leftLines);
    const leftMovements = misses.reduce((n, e) => n + e.movementIds.length, 0) + expectations('IN_TRANSIT').length;
    expect(result.unmatchedMovements).toHaveLength(leftMovements);
  });

  it('finds the same matches whatever the order of the rows', () => {
    const canonical = (r: MatchResult) =>
      r.matches.map((m) => `${m.rule}:${keys(m.lines).join(',')}/${ids(m.movements).join(',')}:${m.difference}`).sort();
    const expected = canonical(result);
    for (let round = 0; round < 3; round++) {
      const shuffled = matchChannel(shuffle(random, scenario.lines), shuffle(random, scenario.movements), rules);
      expect(canonical(shuffled)).toEqual(expected);
      expect(shuffled.subsets).toEqual(result.subsets);
    }
  });
});

function shuffle<T>(random: SeededRandom, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.below(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const deposit = (id: string, businessDate: string, signed: bigint, externalRef: string | null = `ACQ-${id}`) => ({
  id,
  businessDate,
  currency: 'EUR',
  signed,
  externalRef,
});
const bankLine = (key: string, date: string, signed: bigint): BankLine => ({
  key,
  order: key,
  statementDate: date,
  valueDate: date,
  currency: 'EUR',
  signed,
  externalRef: `BNK-${key}`,
  lineNumber: 1,
});

describe('ties are broken in a stated order', () => {
  it('prefers the closest sum, then the most members, then the largest amounts first and the lower ids', () => {
    // 5000 + 1000 and 3000 + 2000 + 1000 both make 6000: the batch settles as many of the day's deposits as fit.
    expect(bestSubset([5000n, 3000n, 2000n, 1000n, 800n], 6000n, 50n)).toEqual({ members: [1, 2, 3], difference: 0n });
    expect(bestSubset([5000n, 3000n, 2000n, 1000n, 800n], 6010n, 50n)).toEqual({ members: [1, 2, 3], difference: 10n });
    // 5000 + 800 and 3000 + 2000 + 800 are both 20 short: the most members again.
    expect(bestSubset([5000n, 3000n, 2000n, 1000n, 800n], 5820n, 50n)).toEqual({ members: [1, 2, 4], difference: 20n });
    // Equally many and equally close: the one holding the larger amount where they differ (5000 + 1000 before 3000 + 3000).
    expect(bestSubset([5000n, 3000n, 3000n, 1000n], 6000n, 0n)).toEqual({ members: [0, 3], difference: 0n });
    expect(bestSubset([5000n, 3000n], 6000n, 50n)).toBeNull();
    expect(bestSubset([6000n, 3000n], 6000n, 50n)).toBeNull(); // one member is not a batch
    // Four deposits of 1000 for a line of 3000: the three with the lowest ids, whatever the rows' order.
    const cards = ['c4', 'c2', 'c1', 'c3'].map((id) => deposit(id, '2071-05-04', 1000n));
    for (const order of [cards, [...cards].reverse()]) {
      const r = matchChannel([bankLine('l1', '2071-05-04', 3000n)], order, rules);
      expect(ids(r.matches[0]!.movements)).toEqual(['c1', 'c2', 'c3']);
    }
  });

  it('prefers the closest sum over the nearest date, and the nearest date between equally close sums', () => {
    const line = bankLine('l1', '2071-05-04', 3000n);
    const fee = [deposit('a1', '2071-05-04', 2000n), deposit('a2', '2071-05-04', 970n)];
    const exactNextDay = [deposit('b1', '2071-05-05', 1000n), deposit('b2', '2071-05-05', 2000n)];
    expect(ids(matchChannel([line], [...fee, ...exactNextDay], rules).matches[0]!.movements)).toEqual(['b1', 'b2']);
    const exactSameDay = [deposit('a1', '2071-05-04', 2000n), deposit('a2', '2071-05-04', 1000n)];
    expect(ids(matchChannel([line], [...exactNextDay, ...exactSameDay], rules).matches[0]!.movements)).toEqual([
      'a1',
      'a2',
    ]);
  });
});

describe('batches at the ends of the dates a DATE holds', () => {
  it('weighs a window of 31 days around 1000-01-01 and 9999-12-31 on dates only', () => {
    // A line or a movement near the ends looks for its batch on the days within the window that are dates; addDays
    // asserts there is no day before 1000-01-01 or after 9999-12-31.
    const wide = { ...rules, dateWindowDays: 31 };
    for (const [lineDay, memberDay] of [
      ['1000-01-01', '1000-01-02'],
      ['9999-12-31', '9999-12-30'],
      ['9999-11-30', '9999-12-31'],
    ] as const) {
      const members = [deposit('m1', memberDay, 2000n), deposit('m2', memberDay, 1000n)];
      const r = matchChannel([bankLine('l1', lineDay, 3000n)], members, wide);
      expect(r.matches, lineDay).toHaveLength(1);
      expect(ids(r.matches[0]!.movements)).toEqual(['m1', 'm2']);
    }
  });
});

describe('the search is bounded, and leaves what it cannot weigh as exceptions', () => {
  it('lists at most subsetSearchStepsTotalMax sums in a run: the searches past it are not made, nothing is guessed', () => {
    // 300 days, each with 24 deposits and a batch line 1 less than their sum (within the tolerance, so searched).
    const days = 300;
    const lines: BankLine[] = [];
    const movements: Movement[] = [];
    for (let day = 0; day < days; day++) {
      const date = addDays('2072-01-01', day);
      let sum = 0n;
      for (let i = 0; i < subsetCandidatesMax; i++) {
        const signed = BigInt(100_000 + random.below(9_900_000));
        sum += signed;
        movements.push(deposit(`d${day}-${i}`, date, signed));
      }
      lines.push(bankLine(`l${String(day).padStart(3, '0')}`, date, sum - 1n));
    }
    const r = matchChannel(lines, movements, { ...rules, dateWindowDays: 0 });
    const made = Math.floor(subsetSearchStepsTotalMax / subsetSearchSteps(subsetCandidatesMax));
    expect(made).toBeLessThan(days);
    expect(r.subsets).toEqual({
      searches: days,
      steps: made * subsetSearchSteps(subsetCandidatesMax),
      outOfBudget: days - made,
      overCandidates: 0,
    });
    // The first days in date order matched all their deposits; the rest matched nothing at all.
    expect(r.matches.map((m) => m.lines[0]!.key)).toEqual(lines.slice(0, made).map((l) => l.key));
    for (const m of r.matches) expect(m).toMatchObject({ rule: 'ONE_TO_MANY', difference: -1n });
    expect(r.unmatchedMovements).toHaveLength((days - made) * subsetCandidatesMax);
  });

  it('weighs more than subsetCandidatesMax members only all together: a whole day’s batch, not a part of it', () => {
    const many = subsetCandidatesMax + 6;
    const whole = Array.from({ length: many }, (_, i) => deposit(`w${i}`, '2071-06-01', BigInt(100_000 + i * 1_000)));
    const part = Array.from({ length: many }, (_, i) => deposit(`p${i}`, '2071-06-03', BigInt(100_000 + i * 1_000)));
    const sum = (ms: readonly Movement[]) => ms.reduce((s, m) => s + m.signed, 0n);
    const r = matchChannel(
      [bankLine('whole', '2071-06-01', sum(whole) + 10n), bankLine('part', '2071-06-03', sum(part.slice(0, 10)))],
      [...whole, ...part],
      rules,
    );
    expect(r.matches).toHaveLength(1);
    expect(r.matches[0]).toMatchObject({ rule: 'ONE_TO_MANY', difference: 10n });
    expect(r.matches[0]!.movements).toHaveLength(many);
    expect(r.unmatchedLines.map((u) => u.line.key)).toEqual(['part']);
    expect(r.subsets.overCandidates).toBe(1);
  });
});
