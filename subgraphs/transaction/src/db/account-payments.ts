import type { ShardSet } from '@paygraph/shared/shards/pool';
import { paymentsOfAccount } from './payments';
import type { HoldRow, PaymentRow } from './schema/transactions';
import { holdsOfAccount, type HoldFilter } from './holds';

/**
 * An account's payments live on its payers' shards, so a page asks every shard once and
 * merges: ids sort by creation time, newest first. Each database's of the logical shards the map
 * places there (Placement.placedLogicals): a shard move's copies are not listed.
 */
export async function loadAccountPayments(
  shards: ShardSet,
  accountId: string,
  beforeId: string | null,
  first: number,
): Promise<{ payments: PaymentRow[]; hasNextPage: boolean }> {
  const rows = await Promise.all(
    shards.all.map((s) => paymentsOfAccount(s.db, accountId, beforeId, first + 1, shards.placement.placedLogicals(s))),
  );
  const merged = rows.flat().sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { payments: merged.slice(0, first), hasNextPage: merged.length > first };
}

/**
 * An account's holds: those it placed live on its own shard, those it is the payee of on their
 * payers' shards, so a page asks every shard once and merges, newest first.
 */
export async function loadAccountHolds(
  shards: ShardSet,
  accountId: string,
  status: HoldFilter,
  now: Date,
  beforeId: string | null,
  first: number,
): Promise<{ holds: HoldRow[]; hasNextPage: boolean }> {
  const rows = await Promise.all(
    shards.all.map((s) =>
      holdsOfAccount(s.db, accountId, status, now, beforeId, first + 1, shards.placement.placedLogicals(s)),
    ),
  );
  const merged = rows.flat().sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { holds: merged.slice(0, first), hasNextPage: merged.length > first };
}
