import { assert } from '@paygraph/shared/result';
import { pushTo } from '@paygraph/shared/collections';
import { candidateScanMax } from '../limits';

/**
 * A channel's matching: its statement lines against its deposits and withdrawals, pure. Amounts
 * are signed, credits (money in: a deposit, a CREDIT line) positive. The stages, each on what
 * the ones before left:
 * 1. REFERENCE: the lines and movements sharing a reference, currency and sign are one match,
 *    whatever their number (a deposit paid in two lines; a line booked twice by the bank, whose
 *    extra copy is peeled off as a duplicate when it alone makes the difference). No date window:
 *    a shared reference is the bank saying so.
 * Lines whose reference names one of the channel's movements take part in stage 1 only.
 * 2. AMOUNT_DATE: one line to one movement of its currency and sign, amounts within the
 *    tolerance, dates within the window; the closest amount wins, then the closest date.
 *    Movements are sorted by amount per currency and sign and found by binary search, skipping
 *    used ones through a "next unused" chain, so n lines cost O(n log n), not O(n²).
 * 3. ONE_TO_MANY (allowOneToMany): one line to all of one date's remaining unreferenced
 *    movements of its currency and sign when their sum is within the tolerance (a batch
 *    settlement of the day's card deposits); then one movement to all of one date's remaining
 *    lines likewise (a payment the bank booked in parts). The closest sums pair first, then the
 *    closest dates (pairWithGroups), so the pairing does not depend on the order of the rows.
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
}

const dayMs = 86_400_000;

export function dayNumber(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / dayMs;
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * dayMs).toISOString().slice(0, 10);
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
  // difference of direction or currency): it is never another movement's by amount.
  const ours = new Set(movements.flatMap((m) => (m.externalRef ? [m.externalRef] : [])));
  const open = () => lines.filter((l) => !usedLines.has(l.key) && !ours.has(l.externalRef));
  const waiting = () => movements.filter((m) => !usedMovements.has(m.id));
  byAmountAndDate(open(), waiting(), rules, add);
  if (rules.allowOneToMany) {
    oneLineToMany(open(), waiting(), rules, add);
    manyLinesToOne(open(), waiting(), rules, add);
  }
  const matchedContent = new Map<string, BankLine>();
  for (const m of matches) for (const l of m.lines) matchedContent.set(contentOf(l), l);
  return {
    matches,
    unmatchedLines: lines
      .filter((l) => !usedLines.has(l.key))
      .map((line) => ({ line, duplicateOf: duplicates.get(line.key) ?? matchedContent.get(contentOf(line)) ?? null })),
    unmatchedMovements: movements.filter((m) => !usedMovements.has(m.id)),
  };
}

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
      a.valueDate.localeCompare(b.valueDate) || compare(abs(a.signed), abs(b.signed)) || a.key.localeCompare(b.key),
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

/** Dates within the window of `date`, nearest first (the date itself, then -1, +1, -2, +2 …). */
function nearDates(date: string, windowDays: number): string[] {
  const dates = [date];
  for (let d = 1; d <= windowDays; d++) dates.push(addDays(date, -d), addDays(date, d));
  return dates;
}

/** Items grouped by currency, sign and date, each group with its sum (computed once: a batch is weighed per line). */
function byDate<T extends { currency: string; signed: bigint }>(
  items: readonly T[],
  dateOf: (item: T) => string,
): Map<string, { items: T[]; total: bigint }> {
  const groups = new Map<string, { items: T[]; total: bigint }>();
  for (const item of items) {
    const key = `${side(item.currency, item.signed)}|${dateOf(item)}`;
    const group = groups.get(key);
    if (group) {
      group.items.push(item);
      group.total += item.signed;
    } else groups.set(key, { items: [item], total: item.signed });
  }
  return groups;
}

/**
 * A batch settles the day's movements that carry no reference of their own (card deposits): those are what it groups.
 */
function oneLineToMany(
  lines: readonly BankLine[],
  movements: readonly Movement[],
  rules: MatchingRules,
  add: Add,
): void {
  const groups = byDate(
    movements.filter((m) => !m.externalRef),
    (m) => m.businessDate,
  );
  for (const [line, group] of pairWithGroups(lines, (l) => l.valueDate, groups, rules))
    add('ONE_TO_MANY', [line], group);
}

function manyLinesToOne(
  lines: readonly BankLine[],
  movements: readonly Movement[],
  rules: MatchingRules,
  add: Add,
): void {
  const groups = byDate(lines, (l) => l.valueDate);
  for (const [movement, group] of pairWithGroups(movements, (m) => m.businessDate, groups, rules))
    add('ONE_TO_MANY', group, [movement]);
}

/**
 * Pairs items with at most one group each (same currency and sign, a date within the window, two
 * or more members, the sum within the tolerance): the closest sum first, then the closest date,
 * then the earlier item. Best first rather than first come: a day's batch line that matches its
 * own day's group exactly keeps it even when the next day's line, within the tolerance of it and
 * the window, is weighed earlier (which came first once depended on the rows' ids).
 */
function pairWithGroups<T extends { currency: string; signed: bigint }, G>(
  items: readonly T[],
  dateOf: (item: T) => string,
  groups: ReadonlyMap<string, { items: G[]; total: bigint }>,
  rules: MatchingRules,
): Array<[T, G[]]> {
  const candidates: Array<{ at: number; key: string; difference: bigint; days: number }> = [];
  items.forEach((item, at) => {
    const day = dayNumber(dateOf(item));
    for (const date of nearDates(dateOf(item), rules.dateWindowDays)) {
      const key = `${side(item.currency, item.signed)}|${date}`;
      const group = groups.get(key);
      if (!group || group.items.length < 2) continue;
      const difference = abs(group.total - item.signed);
      if (difference <= toleranceFor(rules, item.signed))
        candidates.push({ at, key, difference, days: Math.abs(dayNumber(date) - day) });
    }
  });
  candidates.sort((a, b) => compare(a.difference, b.difference) || a.days - b.days || a.at - b.at);
  const pairs: Array<[T, G[]]> = [];
  const itemsUsed = new Set<number>();
  const groupsUsed = new Set<string>();
  for (const c of candidates) {
    if (itemsUsed.has(c.at) || groupsUsed.has(c.key)) continue;
    itemsUsed.add(c.at);
    groupsUsed.add(c.key);
    pairs.push([items[c.at]!, groups.get(c.key)!.items]);
  }
  return pairs;
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
