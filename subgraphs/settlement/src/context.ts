import DataLoader from 'dataloader';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { byShard, shardedLoader } from '@paygraph/shared/graphql/loaders';
import { accountsAndStripes, type Account } from '@paygraph/shared/ledger/index';
import { loaderBatchSizeMax } from '@paygraph/shared/limits';
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
    settlementIdOfPayment: new DataLoader(
      async (paymentIds) => {
        const rows = await Promise.all(
          [...byShard(base, 'payment', paymentIds)].map(([shard, local]) => settlementIdsOfPayments(shard.db, local)),
        );
        const found = new Map(rows.flat().map((r) => [r.id, r.settlementId]));
        return paymentIds.map((id) => found.get(id) ?? null);
      },
      { maxBatchSize: loaderBatchSizeMax },
    ),
  };
}
