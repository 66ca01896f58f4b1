import DataLoader from 'dataloader';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { loaderBatchSizeMax } from '@paygraph/shared/limits';
import { loadAccountViews } from './db/account-views';
import type { AccountView } from './domain/account-view';

export interface AccountContext extends BaseSubgraphContext {
  accounts: DataLoader<string, AccountView | null>;
  now: () => Date;
}

/** DataLoaders live for one request: nothing is cached across callers. */
export function extendContext(base: BaseSubgraphContext, now: () => Date = () => new Date()): AccountContext {
  return {
    ...base,
    now,
    accounts: new DataLoader(
      async (ids) => {
        const views = await loadAccountViews(base.shards, ids);
        return ids.map((id) => views.get(id) ?? null);
      },
      { maxBatchSize: loaderBatchSizeMax },
    ),
  };
}
