import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { inPostingTransaction } from '../../src/shards/posting-transaction';
import { rawHold, rawRows, rawRowSets } from '../../src/db/raw';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { testShards, unique } from '../../../../test/support/env';

/**
 * The posting engine's transaction holds back BEGIN, writes and COMMIT and sends them with the
 * next statement that needs an answer: fewer round trips, the same all-or-nothing.
 */
let shards: ShardSet;
let shard: Shard;
const table = `fold_test_${process.pid}`;

beforeAll(async () => {
  shards = testShards(2);
  shard = shards.all[0]!;
  await shard.pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (k VARCHAR(64) PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`,
  );
});

afterAll(async () => {
  await shard.pool.query(`DROP TABLE IF EXISTS ${table}`);
  await shards.close();
});

/** Counts the round trips of the connections the shard hands out from now on. */
function countRoundTrips(): { count: () => number; restore: () => void } {
  let trips = 0;
  const original = shard.pool.getConnection.bind(shard.pool);
  shard.pool.getConnection = (async () => {
    const connection = await original();
    const query = connection.query.bind(connection);
    connection.query = ((...args: Parameters<typeof query>) => {
      trips += 1;
      return query(...args);
    }) as typeof connection.query;
    return connection;
  }) as typeof shard.pool.getConnection;
  return { count: () => trips, restore: () => void (shard.pool.getConnection = original) };
}

async function valuesOf(keys: readonly string[]): Promise<Array<number | null>> {
  const [rows] = await shard.pool.query(`SELECT k, v FROM ${table} WHERE k IN (?)`, [keys]);
  const found = new Map((rows as Array<{ k: string; v: number }>).map((r) => [r.k, r.v]));
  return keys.map((k) => found.get(k) ?? null);
}

describe('the posting transaction', () => {
  it('sends held writes with the next read, which sees them, and the rest with COMMIT', async () => {
    const [a, b, c] = [unique('a'), unique('b'), unique('c')];
    const trips = countRoundTrips();
    try {
      const seen = await inPostingTransaction(shard, async (tx) => {
        await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 1)`, [a]);
        await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 2)`, [b]);
        const rows = await rawRows<{ v: number }>(tx, `SELECT v FROM ${table} WHERE k IN (?) ORDER BY v`, [[a, b]]);
        await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 3)`, [c]);
        return rows.map((r) => r.v);
      });
      expect(seen).toEqual([1, 2]);
      // BEGIN and two inserts with the read; the third insert with COMMIT.
      expect(trips.count()).toBe(2);
    } finally {
      trips.restore();
    }
    expect(await valuesOf([a, b, c])).toEqual([1, 2, 3]);
  });

  it('answers several reads of one round trip, each its own rows, after what was held', async () => {
    const a = unique('a');
    const trips = countRoundTrips();
    try {
      const sets = await inPostingTransaction(shard, async (tx) => {
        await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 5)`, [a]);
        return rawRowSets(tx, [
          { sql: `SELECT v FROM ${table} WHERE k = ? FOR UPDATE`, values: [a] },
          { sql: 'SELECT ? AS w', values: [9] },
        ]);
      });
      expect(sets).toEqual([[{ v: 5 }], [{ w: 9 }]]);
      expect(trips.count()).toBe(2);
    } finally {
      trips.restore();
    }
  });

  it('commits nothing when a held write fails, including what went out before it', async () => {
    const [a, b] = [unique('a'), unique('b')];
    await shard.pool.query(`INSERT INTO ${table} (k, v) VALUES (?, 0)`, [b]);
    await expect(
      inPostingTransaction(shard, async (tx) => {
        await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 1)`, [a]);
        await rawRows(tx, 'SELECT 1');
        // A duplicate key: it fails when it is sent, with COMMIT.
        await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 2)`, [b]);
      }),
    ).rejects.toThrow(/Duplicate entry/);
    expect(await valuesOf([a, b])).toEqual([null, 0]);
  });

  it('commits nothing when the work fails after holding writes', async () => {
    const a = unique('a');
    await expect(
      inPostingTransaction(shard, async (tx) => {
        await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 1)`, [a]);
        await rawRows(tx, `SELECT v FROM ${table} WHERE k = ?`, [a]);
        throw new Error('a bug after the insert went out');
      }),
    ).rejects.toThrow(/a bug/);
    expect(await valuesOf([a])).toEqual([null]);
  });

  it('sends what is held before a statement drizzle builds, which then sees it', async () => {
    const a = unique('a');
    const seen = await inPostingTransaction(shard, async (tx) => {
      await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 7)`, [a]);
      const [rows] = (await tx.execute(sql`SELECT v FROM ${sql.raw(table)} WHERE k = ${a}`)) as unknown as [
        Array<{ v: number }>,
      ];
      return rows[0]?.v;
    });
    expect(seen).toBe(7);
    expect(await valuesOf([a])).toEqual([7]);
  });
});
