import DataLoader from 'dataloader';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { byShardLoader, shardedLoader } from '@paygraph/shared/graphql/loaders';
import { accountsAndStripes, type Account } from '@paygraph/shared/ledger/index';
import { settlementIdsOfPayments } from '@paygraph/transaction/read-model/settlement';
import { settlementsByIds } from './db/settlement-store';
import type { SettlementRow } from './db/schema/settlement';
import type { SettlementSettings } from './config';

/**
 * Per request: the clock, the subgraph's configuration and one DataLoader per shard-batched
 * read, so that a list of payments asking for their settlements costs one query per shard,
 * not one per payment.
 */
export interface SettlementContext extends BaseSubgraphContext {
  now: () => Date;
  config: SettlementSettings;
  accounts: DataLoader<string, Account | null>;
  settlements: DataLoader<string, SettlementRow | null>;
  settlementIdOfPayment: DataLoader<string, string | null>;
}

export function extendContext(
  base: BaseSubgraphContext,
  config: SettlementSettings,
  now: () => Date = () => new Date(),
): SettlementContext {
  return {
    ...base,
    now,
    config,
    accounts: shardedLoader(base, 'account', (db, ids) => accountsAndStripes(db, ids, [])),
    settlements: shardedLoader(base, 'settlement', settlementsByIds),
    settlementIdOfPayment: byShardLoader(base, 'payment', settlementIdsOfPayments, (rows, ids) => {
      const found = new Map(rows.map((r) => [r.id, r.settlementId]));
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}
