import { assert } from '@paygraph/shared/result';
import { pushTo } from '@paygraph/shared/collections';
import { candidateScanMax } from '../limits';
import { noSubsetStats, pairBatches, type BatchSide, type SubsetStats } from './batches';
import { dayNumber } from './days';

export { addDays, dayNumber } from './days';
export type { SubsetStats } from './batches';

/**
 * A channel's matching: its statement lines against its deposits and withdrawals, pure. Amounts
 * are signed, credits (money in: a deposit, a CREDIT line) positive. The stages, each on what
 * the ones before left:
 * 1. REFERENCE: the lines and movements sharing a reference, currency and sign are one match,
 *    whatever their number (a deposit paid in two lines; a line booked twice by the bank, whose
 *    extra copy is peeled off as a duplicate when it alone makes the difference). No date window:
 *    a shared reference is the bank saying so.
 * Lines whose reference names one of the channel's movements take part in stage 1 only, and so
 * do movements whose reference a line carries; the rules weigh every other line and movement.
 * 2. AMOUNT_DATE: one line to one movement of its currency and sign, amounts within the
 *    tolerance, dates within the window; the closest amount wins, then the closest date.
 *    Movements are sorted by amount per currency and sign and found by binary search, skipping
 *    used ones through a "next unused" chain, so n lines cost O(n log n), not O(n²).
 * 3. ONE_TO_MANY (allowOneToMany): one line to a subset of one date's remaining movements of its
 *    currency and sign whose sum is within the tolerance (a batch settlement of the day's card
 *    deposits); then one movement to a subset of one date's remaining lines likewise (a payment
 *    the bank booked in parts). Bounded and independent of the rows' order: domain/batches.ts.
 * Each match keeps its rule and its difference (statement minus movements).
 */
export interface MatchingRules {
  amountToleranceMinor: bigint;
  amountToleranceBps: number;
  dateWindowDays: number;
  allowOneToMany: boolean;
}

export interface BankLine {
  /** Stable across runs and re-imports of the same content (services/channel-reconcile.ts). */
  key: string;
  /**
   * What ties between lines alike are broken by: the line's key before keys named their account (line-keys.ts
   * keyedLines), by which matching broke them then. Keys now sort otherwise, and two lines of a day and amount would
   * swap the movements they pair with: a line's recorded decision would sit on a line matched now and the other line
   * open a new exception (a WRITE_OFF or BANK_FEE posted twice), an AMOUNT_MISMATCH open again under another match.
   */
  order: string;
  statementDate: string;
  /** Booking date: what the date window compares. */
  valueDate: string;
  currency: string;
  signed: bigint;
  /** '' for none. */
  externalRef: string;
  lineNumber: number;
}

export interface Movement {
  id: string;
  businessDate: string;
  currency: string;
  signed: bigint;
  externalRef: string | null;
}

export type MatchRule = 'REFERENCE' | 'AMOUNT_DATE' | 'ONE_TO_MANY';

export interface Match {
  rule: MatchRule;
  currency: string;
  lines: BankLine[];
  movements: Movement[];
  difference: bigint;
}

export interface MatchResult {
  matches: Match[];
  /** With the line it repeats, when it is an exact copy of a matched line. */
  unmatchedLines: Array<{ line: BankLine; duplicateOf: BankLine | null }>;
  unmatchedMovements: Movement[];
  /** What the ONE_TO_MANY searches took, and how many ran out of their bounds (domain/batches.ts). */
  subsets: SubsetStats;
}

const abs = (v: bigint) => (v < 0n ? -v : v);
const sum = (values: readonly bigint[]) => values.reduce((a, v) => a + v, 0n);
const side = (currency: string, signed: bigint) => `${currency}|${signed < 0n ? 'D' : 'C'}`;

/** The tolerance for a line of this amount: the larger of the absolute one and the share, rounded down. */
export function toleranceFor(rules: MatchingRules, amount: bigint): bigint {
  const share = (abs(amount) * BigInt(rules.amountToleranceBps)) / 10_000n;
  return share > rules.amountToleranceMinor ? share : rules.amountToleranceMinor;
}

export function matchChannel(
  lines: readonly BankLine[],
  movements: readonly Movement[],
  rules: MatchingRules,
): MatchResult {
  const usedLines = new Set<string>();
  const usedMovements = new Set<string>();
  const matches: Match[] = [];
  const duplicates = new Map<string, BankLine>();
  const add = (rule: MatchRule, ls: BankLine[], ms: Movement[]) => {
    for (const l of ls) usedLines.add(l.key);
    for (const m of ms) usedMovements.add(m.id);
    matches.push({
      rule,
      currency: (ls[0] ?? ms[0])!.currency,
      lines: ls,
      movements: ms,
      difference: sum(ls.map((l) => l.signed)) - sum(ms.map((m) => m.signed)),
    });
  };
  byReference(lines, movements, add, duplicates);
  // A line whose reference names one of our movements is that movement's (a duplicate, or a
  // difference of direction or currency): it is never another movement's by amount. Likewise a
  // movement whose reference a line carries; one whose reference no line carries (a card deposit
  // named by the acquirer's id, settled under the bank's own reference) is weighed by the rules as
  // one without a reference is.
  const ours = new Set(movements.flatMap((m) => (m.externalRef ? [m.externalRef] : [])));
  const carried = new Set(lines.flatMap((l) => (l.externalRef ? [l.externalRef] : [])));
  const open = () => lines.filter((l) => !usedLines.has(l.key) && !ours.has(l.externalRef));
  const waiting = () =>
    movements.filter((m) => !usedMovements.has(m.id) && !(m.externalRef && carried.has(m.externalRef)));
  byAmountAndDate(open(), waiting(), rules, add);
  const subsets = noSubsetStats();
  if (rules.allowOneToMany) {
    const limits = { windowDays: rules.dateWindowDays, toleranceOf: (signed: bigint) => toleranceFor(rules, signed) };
    for (const [line, ms] of pairBatches(open(), lineSide, waiting(), movementSide, limits, subsets))
      add('ONE_TO_MANY', [line], ms);
    for (const [movement, ls] of pairBatches(waiting(), movementSide, open(), lineSide, limits, subsets))
      add('ONE_TO_MANY', ls, [movement]);
  }
  const matchedContent = new Map<string, BankLine>();
  for (const m of matches) for (const l of m.lines) matchedContent.set(contentOf(l), l);
  return {
    matches,
    unmatchedLines: lines
      .filter((l) => !usedLines.has(l.key))
      .map((line) => ({ line, duplicateOf: duplicates.get(line.key) ?? matchedContent.get(contentOf(line)) ?? null })),
    unmatchedMovements: movements.filter((m) => !usedMovements.has(m.id)),
    subsets,
  };
}

const lineSide: BatchSide<BankLine> = { keyOf: (l) => l.key, orderOf: (l) => l.order, dateOf: (l) => l.valueDate };
const movementSide: BatchSide<Movement> = { keyOf: (m) => m.id, orderOf: (m) => m.id, dateOf: (m) => m.businessDate };

function contentOf(l: BankLine): string {
  return `${l.currency}|${l.signed}|${l.valueDate}|${l.externalRef}`;
}

type Add = (rule: MatchRule, lines: BankLine[], movements: Movement[]) => void;

function byReference(
  lines: readonly BankLine[],
  movements: readonly Movement[],
  add: Add,
  duplicates: Map<string, BankLine>,
): void {
  const movementsOf = new Map<string, Movement[]>();
  for (const m of movements) {
    if (!m.externalRef) continue;
    pushTo(movementsOf, `${side(m.currency, m.signed)}|${m.externalRef}`, m);
  }
  const linesOf = new Map<string, BankLine[]>();
  for (const l of lines) {
    if (l.externalRef === '') continue;
    const key = `${side(l.currency, l.signed)}|${l.externalRef}`;
    if (movementsOf.has(key)) pushTo(linesOf, key, l);
  }
  for (const [key, group] of linesOf) {
    const ms = movementsOf.get(key)!;
    add('REFERENCE', peelDuplicates(group, sum(ms.map((m) => m.signed)), duplicates), ms);
  }
}

/**
 * While the lines exceed the movements by exactly one line that has an identical twin, that copy is the bank's
 * duplicate.
 */
function peelDuplicates(group: BankLine[], expected: bigint, duplicates: Map<string, BankLine>): BankLine[] {
  const kept = [...group];
  for (;;) {
    const excess = sum(kept.map((l) => l.signed)) - expected;
    if (excess === 0n) return kept;
    const copy = kept.findLastIndex(
      (l, i) =>
        l.signed === excess && kept.some((o, j) => j < i && o.signed === l.signed && o.valueDate === l.valueDate),
    );
    if (copy < 0) return kept;
    const [line] = kept.splice(copy, 1);
    duplicates.set(
      line!.key,
      kept.find((o) => o.signed === line!.signed && o.valueDate === line!.valueDate)!,
    );
  }
}

function byAmountAndDate(
  lines: readonly BankLine[],
  movements: readonly Movement[],
  rules: MatchingRules,
  add: Add,
): void {
  const buckets = new Map<string, Movement[]>();
  for (const m of movements) {
    const key = side(m.currency, m.signed);
    const bucket = buckets.get(key);
    if (bucket) bucket.push(m);
    else buckets.set(key, [m]);
  }
  const sorted = new Map([...buckets].map(([key, ms]) => [key, new SortedMovements(ms)]));
  const ordered = [...lines].sort(
    (a, b) =>
      a.valueDate.localeCompare(b.valueDate) || compare(abs(a.signed), abs(b.signed)) || a.order.localeCompare(b.order),
  );
  for (const line of ordered) {
    const bucket = sorted.get(side(line.currency, line.signed));
    if (!bucket) continue;
    const found = bucket.take(
      abs(line.signed),
      toleranceFor(rules, line.signed),
      dayNumber(line.valueDate),
      rules.dateWindowDays,
    );
    if (found) add('AMOUNT_DATE', [line], [found]);
  }
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Movements of one currency and sign by absolute amount, with a "next unused" chain (path-compressed) over taken ones.
 */
class SortedMovements {
  private readonly items: Array<{ movement: Movement; amount: bigint; day: number }>;
  private readonly next: Int32Array;

  constructor(movements: readonly Movement[]) {
    this.items = movements
      .map((m) => ({ movement: m, amount: abs(m.signed), day: dayNumber(m.businessDate) }))
      .sort((a, b) => compare(a.amount, b.amount) || a.day - b.day || a.movement.id.localeCompare(b.movement.id));
    this.next = Int32Array.from({ length: this.items.length + 1 }, (_, i) => i);
  }

  private unused(i: number): number {
    let root = i;
    while (this.next[root] !== root) root = this.next[root]!;
    for (let j = i; this.next[j] !== root;) {
      const after = this.next[j]!;
      this.next[j] = root;
      j = after;
    }
    return root;
  }

  private lowerBound(amount: bigint): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid]!.amount < amount) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The unused movement closest in amount (then date) within the tolerance and the window; taken when found. */
  take(amount: bigint, tolerance: bigint, day: number, windowDays: number): Movement | null {
    let best = -1;
    let bestKey: [bigint, number] | null = null;
    let scanned = 0;
    for (
      let i = this.unused(this.lowerBound(amount - tolerance));
      i < this.items.length && scanned < candidateScanMax;
      i = this.unused(i + 1)
    ) {
      const item = this.items[i]!;
      if (item.amount > amount + tolerance) break;
      scanned++;
      const days = Math.abs(item.day - day);
      if (days > windowDays) continue;
      const key: [bigint, number] = [abs(item.amount - amount), days];
      if (bestKey === null || key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
        best = i;
        bestKey = key;
      }
    }
    if (best < 0) return null;
    this.next[best] = best + 1;
    return this.items[best]!.movement;
  }
}

/** The sum a set of matches and leftovers must keep: every line and movement in exactly one place (a bug otherwise). */
export function assertPartition(result: MatchResult, lineCount: number, movementCount: number): void {
  const lines = result.matches.reduce((n, m) => n + m.lines.length, 0) + result.unmatchedLines.length;
  const movements = result.matches.reduce((n, m) => n + m.movements.length, 0) + result.unmatchedMovements.length;
  assert(
    lines === lineCount && movements === movementCount,
    `matching lost or doubled items: ${lines}/${lineCount} lines, ${movements}/${movementCount} movements`,
  );
}
