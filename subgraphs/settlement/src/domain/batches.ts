import { pushTo } from '@paygraph/shared/collections';
import { addDays, dayNumber, firstDay, lastDay } from './days';
import { bestSubset, subsetSearchSteps } from './subset-search';
import { subsetCandidatesMax, subsetSearchStepsTotalMax } from '../limits';

/**
 * ONE_TO_MANY, pure: each item (a statement line, or a movement) paired with two or more members
 * of the other kind (the day's card deposits a batch line settles, or the lines a payment was
 * booked in) of its currency and direction, dated on one date within the window, whose sum is
 * within the item's tolerance. A batch is one date's: an acquirer settles a day's deposits, and a
 * batch drawn across dates would let a day's line take its neighbour's deposits.
 *
 * Which pairs win, whatever the order of the rows: every item's best subset on every date of its
 * window is weighed first, then they are taken best first (the closest sum, then the nearest date,
 * then the item's id); a pair whose members another took meanwhile is searched again among what is
 * left and weighed again (it can only have become worse, so best first still holds). Within one
 * item and date the best subset is the closest sum, then the most members, then the first in the
 * order largest amount first, then id (domain/subset-search.ts).
 *
 * Bounds, so a day of many small unmatched items cannot make a reconciliation exponential: the
 * date window; at most `subsetCandidatesMax` members weighed per item and date (beyond that only
 * all of them together are: the whole day's batch), which fixes a search's work
 * (subsetSearchSteps); and at most `subsetSearchStepsTotalMax` steps per matching run, counted in
 * sums listed rather than milliseconds so that the same rows give the same matches on any machine
 * under any load. A search not made for want of steps matches nothing: its item and members stay
 * exceptions for an operator, never a guess, and `SubsetStats` says how many (the service logs
 * and counts them).
 */

export interface SubsetStats {
  /** Items and dates weighed (two or more members that fit in amount). */
  searches: number;
  /** Sums their searches listed, of subsetSearchStepsTotalMax. */
  steps: number;
  /** Searches not made because the run's steps ran out: their items were left unmatched. */
  outOfBudget: number;
  /** Searches over subsetCandidatesMax members whose sum as a whole did not fit: left unmatched. */
  overCandidates: number;
}

export const noSubsetStats = (): SubsetStats => ({ searches: 0, steps: 0, outOfBudget: 0, overCandidates: 0 });

export interface BatchItem {
  currency: string;
  signed: bigint;
}

/** How one kind of item is named and dated. */
export interface BatchSide<T> {
  keyOf(item: T): string;
  /** What ties between items alike are broken by (matching.ts BankLine.order; a movement's id). */
  orderOf(item: T): string;
  dateOf(item: T): string;
}

export interface BatchLimits {
  windowDays: number;
  toleranceOf(signed: bigint): bigint;
}

interface Candidate<I, M> {
  item: I;
  itemKey: string;
  itemOrder: string;
  date: string;
  days: number;
  difference: bigint;
  members: M[];
}

const abs = (v: bigint) => (v < 0n ? -v : v);
const side = (item: BatchItem) => `${item.currency}|${item.signed < 0n ? 'D' : 'C'}`;
const compare = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const rank = <I, M>(a: Candidate<I, M>, b: Candidate<I, M>) =>
  compare(a.difference, b.difference) ||
  a.days - b.days ||
  a.itemOrder.localeCompare(b.itemOrder) ||
  a.date.localeCompare(b.date);

/**
 * Dates within the window of `date`, nearest first (the date itself, then -1, +1, -2, +2 …); only days a date may be
 * (years 1000-9999): a line of 1000-01-01 has no day before it to look on, and addDays asserts there is none.
 */
function nearDates(date: string, windowDays: number): string[] {
  const dates = [date];
  const day = dayNumber(date);
  for (let d = 1; d <= windowDays; d++) {
    if (day - d >= firstDay) dates.push(addDays(date, -d));
    if (day + d <= lastDay) dates.push(addDays(date, d));
  }
  return dates;
}

export function pairBatches<I extends BatchItem, M extends BatchItem>(
  items: readonly I[],
  itemSide: BatchSide<I>,
  members: readonly M[],
  memberSide: BatchSide<M>,
  limits: BatchLimits,
  stats: SubsetStats,
): Array<[I, M[]]> {
  const groups = new Map<string, M[]>();
  for (const m of members) if (m.signed !== 0n) pushTo(groups, `${side(m)}|${memberSide.dateOf(m)}`, m);
  for (const group of groups.values())
    group.sort(
      (a, b) => compare(abs(b.signed), abs(a.signed)) || memberSide.orderOf(a).localeCompare(memberSide.orderOf(b)),
    );
  const taken = new Set<string>();
  const search = (item: I, date: string) =>
    searchGroup(item, itemSide, date, groups.get(`${side(item)}|${date}`), memberSide, taken, limits, stats);
  // Searched in a fixed order (date, then id), so the run's step budget runs out at the same place whatever the rows.
  const ordered = items
    .filter((i) => i.signed !== 0n)
    .sort(
      (a, b) =>
        itemSide.dateOf(a).localeCompare(itemSide.dateOf(b)) || itemSide.orderOf(a).localeCompare(itemSide.orderOf(b)),
    );
  const queue: Array<Candidate<I, M>> = [];
  for (const item of ordered)
    for (const date of nearDates(itemSide.dateOf(item), limits.windowDays)) {
      const found = search(item, date);
      if (found) queue.push(found);
    }
  queue.sort(rank);
  const pairs: Array<[I, M[]]> = [];
  const itemsTaken = new Set<string>();
  for (let head = 0; head < queue.length; head++) {
    const next = queue[head]!;
    if (itemsTaken.has(next.itemKey)) continue;
    if (next.members.some((m) => taken.has(memberSide.keyOf(m)))) {
      const again = search(next.item, next.date);
      if (again) insertSorted(queue, again, head + 1);
      continue;
    }
    itemsTaken.add(next.itemKey);
    for (const m of next.members) taken.add(memberSide.keyOf(m));
    pairs.push([next.item, next.members]);
  }
  return pairs;
}

/** Into the queue's part not yet taken (from `from` on): a search again ranks no better than the pair it replaces. */
function insertSorted<I, M>(queue: Array<Candidate<I, M>>, candidate: Candidate<I, M>, from: number): void {
  let lo = from;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rank(queue[mid]!, candidate) <= 0) lo = mid + 1;
    else hi = mid;
  }
  queue.splice(lo, 0, candidate);
}

/** The item's best subset of one date's members not yet taken, within the bounds; null when none (or none proven). */
function searchGroup<I extends BatchItem, M extends BatchItem>(
  item: I,
  itemSide: BatchSide<I>,
  date: string,
  group: readonly M[] | undefined,
  memberSide: BatchSide<M>,
  taken: ReadonlySet<string>,
  limits: BatchLimits,
  stats: SubsetStats,
): Candidate<I, M> | null {
  if (!group) return null;
  const target = abs(item.signed);
  const tolerance = limits.toleranceOf(item.signed);
  const free = group.filter((m) => !taken.has(memberSide.keyOf(m)) && abs(m.signed) <= target + tolerance);
  if (free.length < 2) return null;
  stats.searches++;
  const candidate = (members: M[], difference: bigint): Candidate<I, M> => ({
    item,
    itemKey: itemSide.keyOf(item),
    itemOrder: itemSide.orderOf(item),
    date,
    days: Math.abs(dayNumber(date) - dayNumber(itemSide.dateOf(item))),
    difference,
    members,
  });
  if (free.length > subsetCandidatesMax) {
    const difference = abs(free.reduce((s, m) => s + abs(m.signed), 0n) - target);
    if (difference <= tolerance) return candidate(free, difference);
    stats.overCandidates++;
    return null;
  }
  const amounts = free.map((m) => abs(m.signed));
  // All of them, exactly: nothing is closer or has more members (the usual batch, found without a search).
  if (amounts.reduce((a, b) => a + b, 0n) === target) return candidate(free, 0n);
  const steps = subsetSearchSteps(free.length);
  if (stats.steps + steps > subsetSearchStepsTotalMax) {
    stats.outOfBudget++;
    return null;
  }
  stats.steps += steps;
  const found = bestSubset(amounts, target, tolerance);
  if (!found) return null;
  return candidate(
    found.members.map((i) => free[i]!),
    found.difference,
  );
}
