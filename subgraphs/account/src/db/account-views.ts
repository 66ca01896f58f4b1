import type { ShardSet, Shard } from '@paygraph/shared/shards/pool';
import { parseId } from '@paygraph/shared/ids';
import { accountsAndStripes, accountsByOwner } from '@paygraph/shared/db/ledger-store';
import { buildViews, type AccountView } from '../domain/account-view';

/**
 * Account reads, batched per shard: one statement per shard returns the requested accounts
 * living there and the stripes (on that shard) of any of them.
 */
export async function loadAccountViews(shards: ShardSet, ids: readonly string[]): Promise<Map<string, AccountView>> {
  const valid = ids.filter((id) => parseId('account', id) !== null);
  if (valid.length === 0) return new Map();
  const local = new Map<Shard, string[]>(shards.all.map((s) => [s, []]));
  for (const id of valid) local.get(shards.byLogical(parseId('account', id)!.shard))!.push(id);
  const rows = await Promise.all(shards.all.map((shard) => accountsAndStripes(shard.db, local.get(shard)!, valid)));
  return buildViews(rows.flat());
}

/** An owner's accounts after `afterId`, in id (= creation) order, merged across shards. */
export async function loadOwnerPage(
  shards: ShardSet,
  ownerId: string,
  afterId: string | null,
  first: number,
): Promise<{ views: AccountView[]; hasNextPage: boolean }> {
  const rows = await Promise.all(shards.all.map((shard) => accountsByOwner(shard.db, ownerId, afterId, first + 1)));
  const views = [...buildViews(rows.flat()).values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { views: views.slice(0, first), hasNextPage: views.length > first };
}
