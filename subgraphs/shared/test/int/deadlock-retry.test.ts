import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { eq, sql } from 'drizzle-orm';
import { insertAccount } from '../../src/ledger/index';
import { accounts } from '../../src/ledger/store/schema';
import { newId } from '../../src/ids';
import { inTransaction, LockTimeout } from '../../src/shards/transaction';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { testShards, unique } from '../../../../test/support/env';

/**
 * A deadlock (1213) runs the whole transaction again; a lock wait timeout (1205) is never
 * committed after: MariaDB rolls back only the statement, so the transaction must be rolled
 * back whole and the error surfaced.
 */
let shards: ShardSet;
let shard: Shard;

beforeAll(() => {
  shards = testShards(4);
  shard = shards.all[2]!;
});
afterAll(async () => shards.close());

async function open(): Promise<string> {
  const id = newId('account', shards.logicalOn(shard)[0]!);
  await insertAccount(shard.db, { id, ownerId: unique('dl'), type: 'PERSONAL', currency: 'USD' });
  return id;
}

describe('transactions', () => {
  it('run again from the start after being chosen as a deadlock victim', async () => {
    const [x, y] = [await open(), await open()];
    const attempts = { xy: 0, yx: 0 };
    // Two transactions lock the same two rows in opposite orders, pausing in between: a cycle.
    // InnoDB kills one; inTransaction must run that one again, so both end up committed.
    const crossing = (first: string, second: string, name: 'xy' | 'yx') =>
      inTransaction(shard, async (tx) => {
        attempts[name] += 1;
        await tx
          .update(accounts)
          .set({ updatedAt: sql`NOW(6)` })
          .where(eq(accounts.id, first));
        await tx.execute(sql`SELECT SLEEP(0.3)`);
        await tx
          .update(accounts)
          .set({ updatedAt: sql`NOW(6)` })
          .where(eq(accounts.id, second));
        return name;
      });
    expect(await Promise.all([crossing(x, y, 'xy'), crossing(y, x, 'yx')])).toEqual(['xy', 'yx']);
    expect(attempts.xy + attempts.yx).toBe(3);
  });

  it('surface a lock wait timeout without committing anything written before it', async () => {
    const [x, y] = [await open(), await open()];
    const other = await mysql.createConnection({ uri: shards.topology.urls[shard.index]! });
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [x]);
      const attempt = inTransaction(shard, async (tx) => {
        await tx.update(accounts).set({ ownerId: 'written-before-the-timeout' }).where(eq(accounts.id, y));
        await tx.update(accounts).set({ ownerId: 'never' }).where(eq(accounts.id, x));
      });
      await expect(attempt).rejects.toBeInstanceOf(LockTimeout);
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }
    const [row] = await shard.db.select({ ownerId: accounts.ownerId }).from(accounts).where(eq(accounts.id, y));
    expect(row!.ownerId).not.toBe('written-before-the-timeout');
  });
});
