import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import type { Shard, ShardSet } from '../shards/pool';
import { backfillStripeDirectories } from '../ledger/stripes';

/**
 * Each part of the system keeps its own drizzle-kit migration folder and bookkeeping table,
 * and every folder applies to every shard: the tables of one shard are one database, so a
 * payment and its ledger entries commit in one local transaction.
 */
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

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
  folder: string;
  /** Loaded only when migrating, so the shared library does not load a subgraph's services. */
  dataSteps?: () => Promise<readonly DataStep[]>;
}

export const migrationSets: readonly MigrationSet[] = [
  {
    name: 'ledger',
    folder: `${repoRoot}subgraphs/shared/drizzle`,
    // The stripe directory backfill also picks up stripes opened during a rollout by processes
    // that did not write the directory yet, which is why data steps run on every migrate.
    dataSteps: async () => [{ name: 'stripe-directory', run: async (shards) => void (await backfillStripeDirectories(shards)) }],
  },
  {
    name: 'transaction',
    folder: `${repoRoot}subgraphs/transaction/drizzle`,
    dataSteps: async () => [(await import('@paygraph/transaction/services/legacy-keys')).legacyKeysStep],
  },
  { name: 'settlement', folder: `${repoRoot}subgraphs/settlement/drizzle` },
  // audit_events, the gateway's. After transaction: databases migrated before the gateway
  // owned it got the table from the transaction set (0002, 0005), whose CREATE TABLE has no
  // IF NOT EXISTS; the gateway's own first migration does, so it is a no-op there.
  { name: 'gateway', folder: `${repoRoot}gateway/drizzle` },
];

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
    parsed.pathname = '/';
    const conn = await mysql.createConnection({ uri: parsed.toString() });
    try {
      await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    } finally {
      await conn.end();
    }
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
    if (!/^paygraph_(test|bench)_[A-Za-z0-9_]+$/.test(database)) throw new Error(`refusing to drop "${database}": not a test or bench database`);
    parsed.pathname = '/';
    const conn = await mysql.createConnection({ uri: parsed.toString() });
    try {
      await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
    } finally {
      await conn.end();
    }
  }
}

/** Applies every pending migration of every set to every shard, then each set's data steps. */
export async function migrateShards(shards: ShardSet): Promise<void> {
  await createDatabases(shards.topology.urls);
  for (const shard of shards.all) {
    for (const set of migrationSets) await applyMigrationSet(shard.db, set);
  }
  for (const set of migrationSets) {
    for (const step of (await set.dataSteps?.()) ?? []) await step.run(shards);
  }
}
