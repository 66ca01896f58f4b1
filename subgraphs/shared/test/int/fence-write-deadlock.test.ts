import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShards, type Shard, type ShardSet } from '../../src/shards/pool';
import { fenceOn, unfenceOn } from '../../src/control/index';
import { rawRows } from '../../src/db/raw';
import { errnoOf } from '../../src/shards/transaction';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';

/**
 * The mover's fence write (control/store/fences.ts fenceOn) waits for every transaction holding the range's fence rows
 * in share mode, and a share request made meanwhile queues behind it. Writers do not all take a fence row and their
 * business rows in one order (a refund's reservation: fence row, then the payment's row; a stripe's settlement part:
 * the payment's rows, then the fence row), so the two can close a cycle through the waiting write, which MariaDB then
 * breaks. Here the business row is another fence row, held FOR UPDATE. On a database of this file's own.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
let shard: Shard;
let database: string;
const range = 20;
const businessRow = 21;
const waitForStatementMs = 10_000;

beforeAll(async () => {
  dbs = await scratchDatabases('fencedeadlock', 1);
  // Two held connections and the fence write's own.
  shards = openShards({ urls: dbs.urls[0]!, poolSize: 4 });
  shard = shards.all[0]!;
  database = new URL(dbs.urls[0]!).pathname.slice(1);
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

/** Until a statement whose text contains `marker` runs (waits) on this file's database. */
async function untilRunning(marker: string): Promise<void> {
  const until = Date.now() + waitForStatementMs;
  while (Date.now() < until) {
    const [row] = await rawRows<{ n: number }>(
      shard,
      'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE ? AND ID <> CONNECTION_ID()',
      [database, `%${marker}%`],
    );
    if (Number(row!.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no statement with ${marker} ran within ${waitForStatementMs} ms`);
}

async function deadlocks(): Promise<number> {
  const [row] = await rawRows<{ Value: string }>(shard, "SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'");
  return Number(row!.Value);
}

/** A statement's outcome without throwing: 'done', or the MySQL error number. */
const settled = (running: Promise<unknown>): Promise<'done' | number | undefined> =>
  running.then(
    () => 'done' as const,
    (error: unknown) => errnoOf(error),
  );

describe("the mover's fence write", () => {
  it('fences the range when a deadlock through its waiting write makes it the victim', async () => {
    const holder = await shard.pool.getConnection();
    const other = await shard.pool.getConnection();
    const before = await deadlocks();
    try {
      await holder.query('BEGIN');
      await other.query('BEGIN');
      // The holder: the range's fence row in share mode (as a refund's reservation reads it first).
      await holder.query('SELECT reason FROM shard_fences WHERE logical_shard = ? LOCK IN SHARE MODE', [range]);
      // The other: its business row first (as a settlement part locks the payment's rows).
      await other.query('SELECT reason FROM shard_fences WHERE logical_shard = ? FOR UPDATE', [businessRow]);
      const fencing = settled(fenceOn(shard, range, range, 'fenced'));
      await untilRunning('UPDATE shard_fences SET reason');
      // The other's share request queues behind the waiting fence write …
      const otherShare = settled(
        other.query('SELECT reason AS other_share FROM shard_fences WHERE logical_shard = ? LOCK IN SHARE MODE', [
          range,
        ]),
      );
      await untilRunning('other_share');
      // … and the holder now waits for the other's row: a cycle through the fence write.
      const holderRow = settled(
        holder.query('SELECT reason AS holder_row FROM shard_fences WHERE logical_shard = ? FOR UPDATE', [businessRow]),
      );
      const outcomes = {
        otherShare: await otherShare,
        holderRow: 'pending' as 'done' | number | undefined | 'pending',
      };
      await other.query('COMMIT');
      outcomes.holderRow = await holderRow;
      await holder.query('COMMIT');
      // Which statement MariaDB chose as the victim (1213), for the log: the fence write when it changed nothing yet.
      console.log(JSON.stringify({ ...outcomes, fenceWrite: 'retried if it was the victim' }));
      expect(await fencing).toBe('done');
    } finally {
      holder.release();
      other.release();
    }
    expect(await deadlocks()).toBeGreaterThan(before);
    const [row] = await rawRows<{ reason: string }>(shard, 'SELECT reason FROM shard_fences WHERE logical_shard = ?', [
      range,
    ]);
    expect(row!.reason).toBe('fenced');
    await unfenceOn(shard, range, range);
  });
});
