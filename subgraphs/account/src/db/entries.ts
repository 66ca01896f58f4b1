import type { ShardSet } from '@paygraph/shared/shards/pool';
import { parseId } from '@paygraph/shared/ids';
import { entriesPage } from '@paygraph/shared/db/ledger-store';
import type { EntryRow } from '@paygraph/shared/db/schema/ledger';
import { assert } from '@paygraph/shared/result';

/** A page of an account's own entries, newest first; one query on its home shard. */
export async function loadEntriesPage(
  shards: ShardSet,
  accountId: string,
  beforeSequence: bigint | null,
  first: number,
): Promise<{ entries: EntryRow[]; hasNextPage: boolean }> {
  const parsed = parseId('account', accountId);
  assert(parsed, `account id ${accountId} is malformed`);
  const rows = await entriesPage(shards.byLogical(parsed.shard).db, accountId, beforeSequence, first + 1);
  return { entries: rows.slice(0, first), hasNextPage: rows.length > first };
}
