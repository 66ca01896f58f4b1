import { addDays, dayNumber, type BankLine, type Movement } from '../../src/domain/matching';
import type { Random } from './perturbed-statements';

/**
 * A channel's days of card deposits settled in batches as acquirers and banks do it, for
 * ONE_TO_MANY: each deposit carries the acquirer's reference, which no statement line carries;
 * the bank books the day's batch as one line under its own reference, on the day or the next
 * (within the window), sometimes less a fee within the tolerance. Around them: deposits and
 * withdrawals booked under their own reference (REFERENCE), payouts the bank booked in several
 * lines under its own references (many-to-one, beside a bank fee of the same day), deposits not
 * on any statement yet (in transit), bank-only lines, and traps the matching must not fall into:
 * a day whose batch line is off by one unit more than the tolerance, a day whose batch never came
 * while a line outside the window equals its sum, and a neighbour's deposits that make a sum
 * within the tolerance of a day's batch line (but further than the day's own deposits).
 *
 * So that the expected answer is the right one and not merely one of several, the scenario is
 * drawn again (from the same random source: the same seed gives the same scenario) until a brute
 * force over every one date's subsets in every window finds each intended match strictly best
 * (closest sum, then nearest date) and nothing else within the tolerance. Pure.
 */
export type BatchExpectation =
  | { kind: 'BATCH'; lineKey: string; movementIds: string[]; difference: bigint }
  | { kind: 'PARTS'; movementId: string; lineKeys: string[] }
  | { kind: 'REFERENCE'; movementId: string; lineKey: string }
  | { kind: 'NEAR_MISS'; lineKey: string; movementIds: string[] }
  | { kind: 'OUT_OF_WINDOW'; lineKey: string; movementIds: string[] }
  | { kind: 'BANK_ONLY'; lineKey: string }
  | { kind: 'IN_TRANSIT'; movementId: string };

export interface BatchScenario {
  movements: Movement[];
  lines: BankLine[];
  expectations: BatchExpectation[];
  /** Subsets of a neighbour day's deposits within the tolerance of a batch line, which it must pass over. */
  temptations: number;
  /** Scenarios drawn and refused before this one (an unintended subset fitted somewhere). */
  redrawn: number;
}

export interface BatchOptions {
  firstDate: string;
  days: number;
  currency: string;
  toleranceMinor: bigint;
  windowDays: number;
}

const drawsMax = 200;

export function generateBatchDays(random: Random, options: BatchOptions): BatchScenario {
  for (let redrawn = 0; redrawn < drawsMax; redrawn++) {
    const scenario = drawScenario(random, options);
    if (onlyIntendedFits(scenario, options)) return { ...scenario, redrawn };
  }
  throw new Error(`no scenario without an unintended fit in ${drawsMax} draws`);
}

type Role = 'batch' | 'nearMiss' | 'lost';

interface Draft {
  movements: Movement[];
  lines: BankLine[];
  expectations: BatchExpectation[];
  temptations: number;
}

function drawScenario(random: Random, options: BatchOptions): Omit<BatchScenario, 'redrawn'> {
  const draft: Draft = { movements: [], lines: [], expectations: [], temptations: 0 };
  const roles: Role[] = Array.from({ length: options.days }, () => 'batch');
  // The lost day's sum reappears just outside its window (so not on the last days); the near miss anywhere else.
  const lost = random.below(options.days - 2);
  roles[lost] = 'lost';
  roles[(lost + 1 + random.below(options.days - 1)) % options.days] = 'nearMiss';
  // One day always has a payout booked in parts (others by a coin's toss): about one scenario in a thousand had none.
  const partsDay = random.below(options.days);
  const batchLines = new Map<number, BankLine>();
  for (let day = 0; day < options.days; day++) {
    const date = addDays(options.firstDate, day);
    const cards = Array.from({ length: random.between(2, 7) }, () =>
      add(draft, movement(date, options.currency, amount(random), `ACQ-${hex(random)}`)),
    );
    const sum = cards.reduce((s, m) => s + m.signed, 0n);
    const ids = cards.map((m) => m.id);
    if (roles[day] === 'batch') {
      const bookedOn = addDays(date, random.below(options.windowDays + 1));
      const fee = BigInt(random.between(0, Number(options.toleranceMinor) - 1));
      const made = line(draft, bookedOn, options.currency, sum - fee, `BNK-BATCH-${hex(random)}`);
      draft.expectations.push({ kind: 'BATCH', lineKey: made.key, movementIds: ids, difference: -fee });
      batchLines.set(day, made);
    } else if (roles[day] === 'nearMiss') {
      const off = options.toleranceMinor + 1n;
      const made = line(
        draft,
        date,
        options.currency,
        random.below(2) === 0 ? sum + off : sum - off,
        `BNK-${hex(random)}`,
      );
      draft.expectations.push({ kind: 'NEAR_MISS', lineKey: made.key, movementIds: ids });
    } else {
      // The nearest date outside the window of the lost day's deposits.
      const outside = addDays(date, options.windowDays + 1);
      const made = line(draft, outside, options.currency, sum, `BNK-BATCH-${hex(random)}`);
      draft.expectations.push({ kind: 'OUT_OF_WINDOW', lineKey: made.key, movementIds: ids });
    }
    background(random, draft, date, options, day === partsDay);
  }
  for (const [day, batch] of batchLines) tempt(random, draft, day, batch, options);
  return draft;
}

/** Deposits and withdrawals under their own reference, a payout booked in parts, deposits in transit, bank-only lines. */
function background(random: Random, draft: Draft, date: string, options: BatchOptions, parts: boolean): void {
  const currency = options.currency;
  for (let i = random.between(1, 3); i > 0; i--) {
    const ref = `PAY-${hex(random)}`;
    const m = add(draft, movement(date, currency, random.below(3) === 0 ? -amount(random) : amount(random), ref));
    const made = line(draft, date, currency, m.signed, ref);
    draft.expectations.push({ kind: 'REFERENCE', movementId: m.id, lineKey: made.key });
  }
  for (let i = random.below(3); i > 0; i--) {
    const m = add(draft, movement(date, currency, amount(random), `PAY-${hex(random)}`));
    draft.expectations.push({ kind: 'IN_TRANSIT', movementId: m.id });
  }
  if (parts || random.below(2) === 0) {
    const payout = add(draft, movement(date, currency, -2n * amount(random), `PAY-${hex(random)}`));
    const bookedOn = addDays(date, random.below(options.windowDays + 1));
    let left = -payout.signed;
    const keys: string[] = [];
    for (let i = random.between(2, 4); i > 1; i--) {
      const part = BigInt(random.between(1, Number(left / BigInt(i)) - 1));
      left -= part;
      keys.push(line(draft, bookedOn, currency, -part, `BNK-${hex(random)}`).key);
    }
    keys.push(line(draft, bookedOn, currency, -left, `BNK-${hex(random)}`).key);
    draft.expectations.push({ kind: 'PARTS', movementId: payout.id, lineKeys: keys });
    // The bank's fee the same day: "every remaining line of the date" is no longer the payout's parts.
    const fee = line(draft, bookedOn, currency, -BigInt(random.between(1, 99_999)), `BNK-FEE-${hex(random)}`);
    draft.expectations.push({ kind: 'BANK_ONLY', lineKey: fee.key });
  }
  if (random.below(2) === 0) {
    const interest = line(draft, date, currency, BigInt(random.between(1, 99_999)), `BNK-INT-${hex(random)}`);
    draft.expectations.push({ kind: 'BANK_ONLY', lineKey: interest.key });
  }
}

/**
 * Two deposits in transit on a day beside a batch line's own (within its window) whose sum is within the tolerance of
 * the line, further from it than the line's own deposits.
 */
function tempt(random: Random, draft: Draft, day: number, batch: BankLine, options: BatchOptions): void {
  const own = draft.expectations.find((e) => e.kind === 'BATCH' && e.lineKey === batch.key);
  if (own?.kind !== 'BATCH' || -own.difference + 1n > options.toleranceMinor) return;
  const date = addDays(options.firstDate, day);
  const neighbours = [-1, 1]
    .map((d) => addDays(date, d))
    .filter((d) => Math.abs(dayNumber(d) - dayNumber(batch.valueDate)) <= options.windowDays);
  if (neighbours.length === 0) return;
  const on = neighbours[random.below(neighbours.length)]!;
  const off = BigInt(random.between(Number(-own.difference + 1n), Number(options.toleranceMinor)));
  const total = batch.signed + (random.below(2) === 0 ? off : -off);
  const first = BigInt(random.between(1, Number(total) - 1));
  for (const part of [first, total - first]) {
    const m = add(draft, movement(on, options.currency, part, `PAY-${hex(random)}`));
    draft.expectations.push({ kind: 'IN_TRANSIT', movementId: m.id });
  }
  draft.temptations++;
}

/** 1,000.00 to 99,999.99 in minor units: card deposits and payments. */
function amount(random: Random): bigint {
  return BigInt(random.between(100_000, 9_999_999));
}

function hex(random: Random): string {
  return random.below(0x1000000).toString(16).padStart(6, '0') + random.below(0x1000000).toString(16).padStart(6, '0');
}

let serial = 0;

function movement(businessDate: string, currency: string, signed: bigint, externalRef: string | null): Movement {
  serial++;
  return { id: `mv${serial.toString().padStart(6, '0')}`, businessDate, currency, signed, externalRef };
}

function add(draft: Draft, m: Movement): Movement {
  draft.movements.push(m);
  return m;
}

function line(draft: Draft, date: string, currency: string, signed: bigint, externalRef: string): BankLine {
  serial++;
  const made = {
    key: `ln${serial.toString().padStart(6, '0')}`,
    order: `ln${serial.toString().padStart(6, '0')}`,
    statementDate: date,
    valueDate: date,
    currency,
    signed,
    externalRef,
    lineNumber: serial,
  };
  draft.lines.push(made);
  return made;
}

interface Dated {
  currency: string;
  signed: bigint;
  date: string;
  key: string;
}

/**
 * The brute force behind the redraws: for every line the rules weigh, every subset of one date's movements the rules
 * weigh (same currency and direction, within the window) whose sum is within the tolerance; and the same for every
 * movement against the lines. Each intended match must be among them and strictly best (closest sum, then nearest
 * date); nothing else may fit.
 */
function onlyIntendedFits(scenario: Omit<BatchScenario, 'redrawn'>, options: BatchOptions): boolean {
  const carried = new Set(scenario.lines.map((l) => l.externalRef));
  const ours = new Set(scenario.movements.map((m) => m.externalRef));
  const ruleLines: Dated[] = scenario.lines
    .filter((l) => !ours.has(l.externalRef))
    .map((l) => ({ currency: l.currency, signed: l.signed, date: l.valueDate, key: l.key }));
  const ruleMovements: Dated[] = scenario.movements
    .filter((m) => !carried.has(m.externalRef ?? ''))
    .map((m) => ({ currency: m.currency, signed: m.signed, date: m.businessDate, key: m.id }));
  const intended = new Map<string, string[]>();
  for (const e of scenario.expectations) {
    if (e.kind === 'BATCH') intended.set(e.lineKey, e.movementIds);
    if (e.kind === 'PARTS') intended.set(e.movementId, e.lineKeys);
  }
  return (
    ruleLines.every((l) => fitsAsIntended(l, ruleMovements, intended.get(l.key), options)) &&
    ruleMovements.every((m) => fitsAsIntended(m, ruleLines, intended.get(m.key), options))
  );
}

function fitsAsIntended(item: Dated, others: readonly Dated[], intended: string[] | undefined, options: BatchOptions) {
  const fits: Array<{ keys: string[]; difference: bigint; days: number }> = [];
  const target = item.signed < 0n ? -item.signed : item.signed;
  for (let d = -options.windowDays; d <= options.windowDays; d++) {
    const date = addDays(item.date, d);
    const group = others
      .filter((o) => o.date === date && o.currency === item.currency && o.signed < 0n === item.signed < 0n)
      .map((o) => ({ key: o.key, amount: o.signed < 0n ? -o.signed : o.signed }));
    subsetsWithin(group, target, options.toleranceMinor, (keys, difference) =>
      fits.push({ keys, difference, days: Math.abs(d) }),
    );
  }
  // A single one within the tolerance would be taken one to one (AMOUNT_DATE) before any batch is weighed.
  if (fits.some((f) => f.keys.length === 1)) return false;
  if (!intended) return fits.length === 0;
  const wanted = [...intended].sort().join(',');
  const own = fits.find((f) => [...f.keys].sort().join(',') === wanted);
  return (
    own !== undefined &&
    fits.every(
      (f) => f === own || f.difference > own.difference || (f.difference === own.difference && f.days > own.days),
    )
  );
}

function subsetsWithin(
  group: ReadonlyArray<{ key: string; amount: bigint }>,
  target: bigint,
  tolerance: bigint,
  found: (keys: string[], difference: bigint) => void,
): void {
  const chosen: string[] = [];
  const visit = (from: number, sum: bigint) => {
    for (let i = from; i < group.length; i++) {
      const next = sum + group[i]!.amount;
      if (next > target + tolerance) continue;
      chosen.push(group[i]!.key);
      const difference = next < target ? target - next : next - target;
      if (difference <= tolerance) found([...chosen], difference);
      visit(i + 1, next);
      chosen.pop();
    }
  };
  visit(0, 0n);
}
