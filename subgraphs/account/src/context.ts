import DataLoader from 'dataloader';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { loaderBatchSizeMax } from '@paygraph/shared/limits';
import { loadAccountViews } from './db/account-views';
import type { AccountView } from './domain/account-view';
import type { BalanceFeed } from './services/balance-feed';
import type { BalanceReader } from './services/balance-events';

/** The process's balance-stream machinery, shared by every request and subscription. */
export interface BalanceServices {
  feed: BalanceFeed;
  reader: BalanceReader;
}

export interface AccountContext extends BaseSubgraphContext {
  accounts: DataLoader<string, AccountView | null>;
  balances: BalanceServices;
  now: () => Date;
}

/** DataLoaders live for one request: nothing is cached across callers. */
export function extendContext(base: BaseSubgraphContext, balances: BalanceServices, now: () => Date = () => new Date()): AccountContext {
  return {
    ...base,
    balances,
    now,
    accounts: new DataLoader<string, AccountView | null>(
      async (ids) => {
        // An account whose shard is down fails alone (SHARD_UNAVAILABLE), not the whole batch.
        const { views, failed } = await loadAccountViews(base.shards, ids);
        return ids.map((id): AccountView | null | Error => views.get(id) ?? failed.get(id) ?? null);
      },
      { maxBatchSize: loaderBatchSizeMax },
    ),
  };
}
