import { migrateShards, type MigrationSet } from '../../subgraphs/shared/src/db/migrate';
import { ledgerMigrations } from '../../subgraphs/shared/src/ledger/index';
import { controlMigrations } from '../../subgraphs/shared/src/control/index';
import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { parts } from './parts';

/**
 * Every part's migration set, in the order they apply: the ledger's and the control module's (the shared library's), then
 * each part's in the parts list's order (parts.ts says why the gateway's comes after
 * transaction's). What `npm run migrate`, `npm start`, `npm test` and the benchmark migrate.
 */
export const migrationSets: readonly MigrationSet[] = [
  ledgerMigrations,
  controlMigrations,
  ...parts.map((part) => part.migrations),
];

/** Applies every part's pending migrations to every shard, then their data steps. */
export function migrateAll(shards: ShardSet): Promise<void> {
  return migrateShards(shards, migrationSets);
}
