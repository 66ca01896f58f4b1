import type { StreamPosition } from './balance-cursor';

/**
 * A merchant's entries live on its stripes, each numbered on its own. A page of its entries is
 * one order over all of them: each stripe is read newest first (descending sequence), and the
 * lists are merged by taking, each time, the head with the latest creation instant (ties by
 * stripe id). Within a stripe the order is always its sequence order, so the page's position
 * is the lowest sequence taken from each stripe: the next page reads below it, and a page
 * neither repeats nor skips an entry, whatever the clocks said. A stripe absent from the
 * position has given nothing yet and is read from its newest entry.
 */
export interface StripeEntry {
  accountId: string;
  sequence: bigint;
  createdAt: Date;
}

/** True when `a` comes before `b` newest first. */
function newer(a: StripeEntry, b: StripeEntry): boolean {
  if (a.createdAt.getTime() !== b.createdAt.getTime()) return a.createdAt > b.createdAt;
  return a.accountId > b.accountId;
}

/**
 * Takes up to `limit` entries from lists that are each one stripe's entries newest first, and
 * answers them, the position after them, and whether any entry was left over.
 */
export function mergeNewestFirst<T extends StripeEntry>(
  lists: ReadonlyArray<readonly T[]>,
  position: StreamPosition,
  limit: number,
): { entries: T[]; position: StreamPosition; hasMore: boolean } {
  const heads = lists.map(() => 0);
  const entries: T[] = [];
  const sequences = new Map(position.sequences);
  while (entries.length < limit) {
    let pick = -1;
    lists.forEach((list, i) => {
      const head = list[heads[i]!];
      if (head && (pick < 0 || newer(head, lists[pick]![heads[pick]!]!))) pick = i;
    });
    if (pick < 0) break;
    const entry = lists[pick]![heads[pick]!]!;
    heads[pick]! += 1;
    entries.push(entry);
    sequences.set(entry.accountId, entry.sequence);
  }
  const hasMore = lists.some((list, i) => heads[i]! < list.length);
  return { entries, position: { accountId: position.accountId, sequences }, hasMore };
}
