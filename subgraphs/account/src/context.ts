import DataLoader from 'dataloader';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { loaderBatchSizeMax } from '@paygraph/shared/limits';
import { loadAccountViews, type HeadEntries } from './db/account-views';
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
  /**
   * Accounts whose first page of entries the request will read, and how many rows (the page
   * size plus one): set by a resolver that sees `entries` in its selection before it loads the
   * account, so that the page comes in the account's round trip (db/account-views.ts).
   */
  entriesAhead: Map<string, number>;
  /** The first pages of entries read in their accounts' round trips (db/account-views.ts headEntriesOf). */
  entriesRead: Map<string, HeadEntries>;
  balances: BalanceServices;
  now: () => Date;
}

/** DataLoaders live for one request: nothing is cached across callers. */
export function extendContext(
  base: BaseSubgraphContext,
  balances: BalanceServices,
  now: () => Date = () => new Date(),
): AccountContext {
  const entriesAhead = new Map<string, number>();
  const entriesRead = new Map<string, HeadEntries>();
  return {
    ...base,
    balances,
    now,
    entriesAhead,
    entriesRead,
    accounts: new DataLoader<string, AccountView | null>(
      async (ids) => {
        // An account whose shard is down fails alone (SHARD_UNAVAILABLE), not the whole batch.
        const { views, failed } = await loadAccountViews(base.shards, ids, entriesAhead, entriesRead);
        return ids.map((id): AccountView | null | Error => views.get(id) ?? failed.get(id) ?? null);
      },
      { maxBatchSize: loaderBatchSizeMax },
    ),
  };
}
