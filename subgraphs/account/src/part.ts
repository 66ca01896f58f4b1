import { definePart } from '@paygraph/shared/part';
import { accountConfig, accountPortDefault } from './config';
import { accountMigrations } from './migrations';

/** The account subgraph: accounts, balances and their history over the ledger's tables, and balance streams. */
export const accountPart = definePart({
  name: 'account',
  kind: 'subgraph',
  config: accountConfig,
  portDefault: accountPortDefault,
  /** It mostly reads, through DataLoaders and a coalescer with one query in flight per shard. */
  poolSizeDefault: 3,
  migrations: accountMigrations,
  workers: ['balance feed poll', 'balance feed stripe discovery', 'books check'],
  /** What may still come back to an account from movements in flight, which a close waits for. */
  reads: ['transaction/read-model/account'],
});
