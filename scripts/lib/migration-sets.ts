import { migrateShards, type MigrationSet } from '../../subgraphs/shared/src/db/migrate';
import { ledgerMigrations } from '../../subgraphs/shared/src/migrations';
import { accountMigrations } from '../../subgraphs/account/src/migrations';
import { transactionMigrations } from '../../subgraphs/transaction/src/migrations';
import { settlementMigrations } from '../../subgraphs/settlement/src/migrations';
import { gatewayMigrations } from '../../gateway/src/migrations';
import { webhooksMigrations } from '../../subgraphs/webhooks/src/migrations';
import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';

/**
 * Every part's migration set, in the order they apply: what `npm run migrate`, `npm start`,
 * `npm test` and the benchmark migrate. A new part adds its set here.
 */
export const migrationSets: readonly MigrationSet[] = [
  ledgerMigrations,
  accountMigrations,
  transactionMigrations,
  settlementMigrations,
  // audit_events, the gateway's. After transaction: databases migrated before the gateway
  // owned it got the table from the transaction set (0002, 0005), whose CREATE TABLE has no
  // IF NOT EXISTS; the gateway's own first migration does, so it is a no-op there.
  gatewayMigrations,
  webhooksMigrations,
];

/** Applies every part's pending migrations to every shard, then their data steps. */
export function migrateAll(shards: ShardSet): Promise<void> {
  return migrateShards(shards, migrationSets);
}
