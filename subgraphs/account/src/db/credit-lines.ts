import type { ShardSet } from '@paygraph/shared/shards/pool';
import { creditLineRows, onShard, placedHere, readStripes } from '@paygraph/shared/ledger/index';
import { buildViews } from '../domain/account-view';
import { mayUseCredit, type CreditAccount } from '../domain/credit-line';

/**
 * Every account that has or had a credit line, with its balance over all its stripes: one
 * statement per shard (accounts_credit_idx), then the stripes of the home rows below zero only
 * (ledger/stripes.ts readStripes: the shards their directories name). A shard that cannot be
 * read throws ShardUnavailable: an exposure short of a shard is not shown.
 */
export async function creditAccounts(shards: ShardSet): Promise<CreditAccount[]> {
  const perShard = await Promise.all(
    shards.all.map(async (shard) => {
      const rows = await onShard(shard, () => creditLineRows(shard.db));
      // Each account from the database the map places it on: a shard move's copy is not its balance now.
      return rows
        .filter((row) => row.parentId === null && row.type !== 'SYSTEM' && placedHere(shards, shard, row.id))
        .map((row) => ({ row, shard: shard.name }));
    }),
  );
  const homes = perShard.flat();
  const stripes = await readStripes(shards, homes.map((h) => h.row).filter(mayUseCredit));
  const views = buildViews([...homes.map((h) => h.row), ...stripes.map((s) => s.account)]);
  return homes.map(({ row, shard }) => ({ view: views.get(row.id)!, shard }));
}
