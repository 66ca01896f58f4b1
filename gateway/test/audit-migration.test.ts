import { afterAll, describe, expect, it } from 'vitest';
import {
  applyMigrationSet,
  createDatabases,
  dropScratchDatabases,
  type MigrationSet,
} from '@paygraph/shared/db/migrate';
import { migrationSets } from '../../scripts/lib/migration-sets';
import { openShards, type Shard } from '@paygraph/shared/shards/pool';
import { rawRows, rawWrite } from '@paygraph/shared/db/raw';
import { testShards } from '../../test/support/env';

/**
 * audit_events is the gateway's (gateway/drizzle), but databases migrated before that got it
 * from the transaction set (0002, 0005). The gateway's first migration must leave such a table
 * and its rows alone, and make the same table on a database that never had one.
 */
const firstShardUrl = new URL(process.env.MYSQL_SHARDS!.split(',')[0]!.trim());

/** A scratch database beside the test shards, named after the first (paygraph_test_…). */
function scratchUrl(suffix: string): string {
  const url = new URL(firstShardUrl);
  url.pathname = `${url.pathname}_${suffix}`;
  return url.toString();
}

function setNamed(name: string): MigrationSet {
  const set = migrationSets.find((s) => s.name === name);
  if (!set) throw new Error(`no migration set ${name}`);
  return set;
}

/** SHOW CREATE TABLE without the AUTO_INCREMENT counter, which only says how many rows came. */
async function shapeOf(shard: Shard): Promise<string> {
  const [row] = await rawRows<{ 'Create Table': string }>(shard.db, 'SHOW CREATE TABLE audit_events');
  return row!['Create Table'].replace(/ AUTO_INCREMENT=\d+/, '');
}

/** Runs `body` on a fresh scratch database, dropped afterwards. */
async function onScratch<T>(suffix: string, body: (shard: Shard) => Promise<T>): Promise<T> {
  const url = scratchUrl(suffix);
  await dropScratchDatabases([url]);
  await createDatabases([url]);
  const shards = openShards({ urls: url, poolSize: 1 });
  try {
    return await body(shards.all[0]!);
  } finally {
    await shards.close();
    await dropScratchDatabases([url]);
  }
}

describe("the gateway's audit_events migration", () => {
  const shards = testShards(1);
  afterAll(async () => {
    await shards.close();
  });

  it('is listed after the transaction set, whose old CREATE TABLE has no IF NOT EXISTS', () => {
    const names = migrationSets.map((s) => s.name);
    expect(names).toContain('gateway');
    expect(names.indexOf('gateway')).toBeGreaterThan(names.indexOf('transaction'));
  });

  it('makes on an empty database the table every migrated shard has', async () => {
    const migrated = await shapeOf(shards.all[0]!);
    const fresh = await onScratch('audit_fresh', async (shard) => {
      await applyMigrationSet(shard.db, setNamed('gateway'));
      return shapeOf(shard);
    });
    expect(fresh).toBe(migrated);
    expect(fresh).toMatch(/KEY `audit_events_account_idx` \(`account_id`,`occurred_at`\)/);
  });

  it('leaves the table the transaction set made, and its rows, as they were', async () => {
    await onScratch('audit_legacy', async (shard) => {
      await applyMigrationSet(shard.db, setNamed('transaction'));
      const before = await shapeOf(shard);
      await rawWrite(
        shard.db,
        "INSERT INTO audit_events (occurred_at, request_id, action, item_index, outcome) VALUES (NOW(6), 'req-legacy', 'deposit', 0, 'Deposit')",
      );
      await applyMigrationSet(shard.db, setNamed('gateway'));
      expect(await shapeOf(shard)).toBe(before);
      expect(await rawRows(shard.db, 'SELECT request_id FROM audit_events')).toEqual([{ request_id: 'req-legacy' }]);
      expect(await rawRows(shard.db, 'SELECT hash FROM __migrations_gateway')).toHaveLength(1);
    });
  });
});
