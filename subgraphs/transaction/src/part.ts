import { definePart } from '@paygraph/shared/part';
import { transactionConfig, transactionPortDefault } from './config';
import { transactionMigrations } from './migrations';

/**
 * The transaction subgraph: deposits, payments, holds, refunds, withdrawals, FX; it publishes read and write models of
 * its tables to settlement and webhooks.
 */
export const transactionPart = definePart({
  name: 'transaction',
  kind: 'subgraph',
  config: transactionConfig,
  portDefault: transactionPortDefault,
  /**
   * It posts money: merged posting keeps at most 2 batches in flight per shard, and its reads,
   * idempotency lookups and the outbox relay take the rest.
   */
  poolSizeDefault: 4,
  migrations: transactionMigrations,
  workers: ['relay', 'hold expiry', 'idempotency key purge', 'fx quote purge', 'link event feed poll'],
  reads: ['ledger/read-model/tables', 'settlement/write-model/advances', 'settlement/read-model/channels'],
});
