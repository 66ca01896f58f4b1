import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { err, ok, type Result } from '@paygraph/shared/result';
import { businessDateOf } from '@paygraph/shared/business-date';
import { entriesPage, bucketsAt, statementDays, type EntryLine } from '@paygraph/shared/ledger/index';
import type { AccountView } from '../domain/account-view';
import { headEntriesOf, type HeadEntries } from '../db/account-views';
import { addBuckets, noBuckets, type Buckets } from '../domain/balance-snapshot';
import { buildStatement, statementDates, type StatementLine, type StatementRangeRefusal } from '../domain/statement';
import { mergeNewestFirst } from '../domain/entry-merge';
import type { StreamPosition } from '../domain/balance-cursor';

/**
 * An account's history: its entries, its statement and its balance at an instant. A PERSONAL
 * account is one row on one shard; a MERCHANT account is its home row and its stripes, and
 * each read asks only the shards that hold one of them (the view's stripes), once per shard.
 */

/** The account's rows (itself and its stripes) grouped by the shard holding them. */
function rowsByShard(shards: ShardSet, view: AccountView): Map<Shard, string[]> {
  const byShard = new Map<Shard, string[]>();
  for (const id of [view.id, ...view.stripeIds]) {
    const shard = shards.of('account', id);
    const list = byShard.get(shard);
    if (list) list.push(id);
    else byShard.set(shard, [id]);
  }
  return byShard;
}

export async function statementOf(
  shards: ShardSet,
  view: AccountView,
  from: string,
  to: string,
): Promise<Result<StatementLine[], StatementRangeRefusal>> {
  const dates = statementDates(from, to);
  if (!dates.ok) return dates;
  const parts = await Promise.all(
    [...rowsByShard(shards, view)].map(([shard, ids]) => statementDays(shard.db, ids, from, to)),
  );
  const opening = parts.reduce((sum, p) => sum + p.opening, 0n);
  return ok(
    buildStatement(
      dates.value,
      opening,
      parts.flatMap((p) => p.days),
    ),
  );
}

export type BalanceAtRefusal = { kind: 'InstantInFuture'; at: Date; now: Date };

/** The balance per bucket as of `at`: exact, and for a merchant the sum over its stripes. */
export async function balanceAt(
  shards: ShardSet,
  view: AccountView,
  at: Date,
  now: Date,
): Promise<Result<Buckets, BalanceAtRefusal>> {
  if (at > now) return err({ kind: 'InstantInFuture', at, now });
  const date = businessDateOf(at);
  const parts = await Promise.all(
    [...rowsByShard(shards, view)].map(([shard, ids]) => bucketsAt(shard.db, ids, date, at)),
  );
  return ok(parts.reduce((sum: Buckets, p) => addBuckets(sum, p), noBuckets));
}

/**
 * A page of the account's entries, newest first over every stripe (domain/entry-merge.ts): each
 * stripe is read below its position in the cursor, `first + 1` entries, one read per stripe. The
 * account's own row's first page is taken from the view when it came with the account
 * (headEntriesOf, db/account-views.ts).
 */
export async function entriesOf(
  shards: ShardSet,
  view: AccountView,
  position: StreamPosition,
  first: number,
  headPagesRead: ReadonlyMap<string, HeadEntries>,
): Promise<{ entries: EntryLine[]; position: StreamPosition; hasNextPage: boolean }> {
  const reads: Array<Promise<EntryLine[]>> = [];
  for (const [shard, ids] of rowsByShard(shards, view)) {
    for (const id of ids) {
      const below = position.sequences.get(id);
      const ahead = id === view.id && below === undefined ? headEntriesOf(headPagesRead, id, first + 1) : null;
      reads.push(
        below === 1n
          ? Promise.resolve([])
          : ahead
            ? Promise.resolve(ahead)
            : entriesPage(shard.db, id, below ?? null, first + 1),
      );
    }
  }
  const merged = mergeNewestFirst(await Promise.all(reads), position, first);
  return { entries: merged.entries, position: merged.position, hasNextPage: merged.hasMore };
}
