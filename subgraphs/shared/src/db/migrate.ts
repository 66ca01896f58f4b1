import { existsSync } from 'node:fs';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import type { Shard, ShardSet } from '../shards/pool';
import { withServer } from './server-connection';

/**
 * Each part of the system (the ledger here, account, transaction, settlement, the gateway)
 * keeps its own drizzle-kit migration folder and bookkeeping table and exports its migration
 * set (its `migrations.ts`); whatever migrates (scripts/lib/migration-sets.ts) lists the parts,
 * and every set applies to every shard: the tables of one shard are one database, so a payment
 * and its ledger entries commit in one local transaction. This library knows no part.
 */
/**
 * Work a migration set does across shards, which one shard's SQL cannot: it runs after every
 * set is applied to every shard, on every migrate, so it must be idempotent (and cheap when
 * there is nothing left to do).
 */
export interface DataStep {
  name: string;
  run(shards: ShardSet): Promise<void>;
}

export interface MigrationSet {
  name: string;
  /** The drizzle-kit folder; a part without tables yet has none there, and the set applies nothing. */
  folder: string;
  dataSteps?: readonly DataStep[];
}

/** Applies a set's pending migrations to one shard, recorded in the set's own bookkeeping table. */
export async function applyMigrationSet(db: Shard['db'], set: MigrationSet): Promise<void> {
  if (!existsSync(`${set.folder}/meta/_journal.json`)) return;
  await migrate(db, { migrationsFolder: set.folder, migrationsTable: `__migrations_${set.name}` });
}

/** Creates each shard's database when missing; the server must already be running. */
export async function createDatabases(urls: readonly string[]): Promise<void> {
  for (const url of urls) {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.slice(1));
    if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`shard database name "${database}" must be [A-Za-z0-9_]+`);
    await withServer(url, (conn) =>
      conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`),
    );
  }
}

/**
 * Drops the shards' databases. Refuses any database whose name does not start with
 * "paygraph_test_" or "paygraph_bench_": it exists so that every test run starts clean.
 */
export async function dropScratchDatabases(urls: readonly string[]): Promise<void> {
  for (const url of urls) {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.slice(1));
    if (!/^paygraph_(test|bench)_[A-Za-z0-9_]+$/.test(database))
      throw new Error(`refusing to drop "${database}": not a test or bench database`);
    await withServer(url, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${database}\``));
  }
}

/** Applies every pending migration of every set, in their order, to every shard, then each set's data steps. */
export async function migrateShards(shards: ShardSet, sets: readonly MigrationSet[]): Promise<void> {
  await createDatabases(shards.topology.urls);
  for (const shard of shards.all) {
    for (const set of sets) await applyMigrationSet(shard.db, set);
  }
  for (const set of sets) {
    for (const step of set.dataSteps ?? []) await step.run(shards);
  }
}
