import { assert } from '@paygraph/shared/result';

/**
 * The subset search behind ONE_TO_MANY (domain/batches.ts), pure: of n positive amounts, the
 * subset of two or more whose sum is closest to a target, within a tolerance; among equally close
 * ones the one with the most members (a batch settles as many of the day's items as fit); among
 * those, the first in the amounts' order (the caller sorts them: largest first, then by id), i.e.
 * the one holding the earliest amount where two differ.
 *
 * Meet in the middle (Horowitz and Sahni): the sums of every subset of each half are listed
 * (2^⌈n/2⌉ + 2^⌊n/2⌋ of them), the second half's sorted with one best subset kept per sum, and each
 * of the first half's subsets looks up the second half's sums nearest to what it lacks. Its work is
 * fixed by n, whatever the amounts (a branch and bound took 600,000 steps to prove that nothing of
 * 24 amounts fitted, and 430,000 to prove an exact batch of 12 the largest), so a bound on n bounds
 * it: `subsetSearchSteps(n)` answers it before the search is made.
 */
export interface SubsetFound {
  /** Indexes into the amounts, ascending. */
  members: number[];
  difference: bigint;
}

/** The sums a search of n amounts lists: its steps, the unit of the run's budget (domain/batches.ts). */
export function subsetSearchSteps(n: number): number {
  const first = Math.ceil(n / 2);
  return 2 ** first + 2 ** (n - first);
}

interface Sums {
  sum: bigint;
  count: number;
  /** The half's members, its first amount the highest bit: between equals, the larger mask is the earlier subset. */
  mask: number;
}

export function bestSubset(amounts: readonly bigint[], target: bigint, tolerance: bigint): SubsetFound | null {
  const n = amounts.length;
  assert(n <= 30, `bestSubset: ${n} amounts is past what a mask holds`);
  assert(
    amounts.every((a, i) => a > 0n && (i === 0 || a <= amounts[i - 1]!)),
    'bestSubset: amounts must be positive, largest first',
  );
  const split = Math.ceil(n / 2);
  const firstHalf = subsetSums(amounts, 0, split);
  const second = bestPerSum(subsetSums(amounts, split, n));
  const shift = 2 ** (n - split);
  let best: { difference: bigint; count: number; mask: number } | null = null;
  for (const a of firstHalf) {
    const lacking = target - a.sum;
    if (lacking < -tolerance) continue;
    const at = lowerBound(second, lacking);
    // The nearest sums on each side that make two members or more: further ones are further off.
    for (const step of [-1, 1]) {
      for (let i = step < 0 ? at - 1 : at; i >= 0 && i < second.length; i += step) {
        const b = second[i]!;
        const difference = b.sum < lacking ? lacking - b.sum : b.sum - lacking;
        if (difference > tolerance || (best !== null && difference > best.difference)) break;
        if (a.count + b.count < 2) continue;
        const found = { difference, count: a.count + b.count, mask: a.mask * shift + b.mask };
        if (
          best === null ||
          difference < best.difference ||
          (difference === best.difference &&
            (found.count > best.count || (found.count === best.count && found.mask > best.mask)))
        )
          best = found;
        break;
      }
    }
  }
  if (best === null) return null;
  const members: number[] = [];
  for (let i = 0; i < n; i++) if (Math.floor(best.mask / 2 ** (n - 1 - i)) % 2 === 1) members.push(i);
  return { members, difference: best.difference };
}

/** Every subset of amounts[from..to) with its sum and size, by mask (built from the mask less its lowest member). */
function subsetSums(amounts: readonly bigint[], from: number, to: number): Sums[] {
  const size = to - from;
  const sums: Sums[] = [{ sum: 0n, count: 0, mask: 0 }];
  for (let mask = 1; mask < 2 ** size; mask++) {
    const lowest = mask & -mask;
    const rest = sums[mask ^ lowest]!;
    const index = to - 1 - (31 - Math.clz32(lowest));
    sums.push({ sum: rest.sum + amounts[index]!, count: rest.count + 1, mask });
  }
  return sums;
}

/** The subsets sorted by sum, one per sum: the most members, then the earliest. */
function bestPerSum(sums: Sums[]): Sums[] {
  sums.sort((x, y) => (x.sum < y.sum ? -1 : x.sum > y.sum ? 1 : y.count - x.count || y.mask - x.mask));
  return sums.filter((s, i) => i === 0 || sums[i - 1]!.sum !== s.sum);
}

/** The first index whose sum is at least `value`. */
function lowerBound(sorted: readonly Sums[], value: bigint): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.sum < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
