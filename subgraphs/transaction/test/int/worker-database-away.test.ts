import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows, rawWrite } from '@paygraph/shared/db/raw';
import type { Worker } from '@paygraph/shared/worker';
import { freePort } from '../../../../test/support/processes';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { startRelay } from '../../src/services/relay';
import { startHoldExpiry } from '../../src/services/hold-expiry';

/**
 * A worker's pass over every database with one of them away (a shard set of a scratch database and one that refuses
 * connections) ends only once the other database's tick has ended. Before, the database away ended the pass at once
 * while the other's tick still ran, unawaited, and the next pass overlapped it (worker.ts: passes never overlap). The
 * tick that answers is held on a table lock for a while, so that it surely ends after the refusal.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
let here: Shard;
const heldMs = 500;
const longIntervalMs = 60_000;

beforeAll(async () => {
  dbs = await scratchDatabases('workeraway', 1);
  const away = `mysql://root@127.0.0.1:${await freePort()}/paygraph_away`;
  shards = openShards({ urls: `${dbs.urls[0]},${away}`, poolSize: 2 });
  here = shards.all[0]!;
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

/** Whether the promise has settled after `ms`. */
async function stateAfter(promise: Promise<unknown>, ms: number): Promise<'ended' | 'running'> {
  const ended = promise.then(
    () => 'ended' as const,
    () => 'ended' as const,
  );
  return Promise.race([ended, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), ms))]);
}

/**
 * Starts the worker while `table` is write-locked on the database that answers, drains a pass, and answers whether it
 * had ended after heldMs, then the drained pass's answer (its count, or what it threw) once the lock is gone.
 */
async function passWithTickHeld(table: string, start: () => Worker): Promise<{ whileHeld: string; answer: unknown }> {
  const other = await mysql.createConnection({ uri: dbs.urls[0]! });
  let worker: Worker | null = null;
  try {
    await other.query(`LOCK TABLES ${table} WRITE`);
    worker = start();
    const drained = worker.drain();
    const whileHeld = await stateAfter(drained, heldMs);
    await other.query('UNLOCK TABLES');
    return { whileHeld, answer: await drained.catch((error: unknown) => error) };
  } finally {
    await other.end();
    await worker?.stop();
  }
}

describe('a pass over every database with one of them away', () => {
  it("the relay's ends only after the other database's rows were run", async () => {
    const id = newId('payment', toLogicalShard(shards.logicalOn(here)[0]!));
    await rawWrite(
      here,
      `INSERT INTO transfer_outbox (id, step, status, attempts, created_at, next_attempt_at)
       VALUES (?, 'PAYMENT_CREDIT', 'PENDING', 0, NOW(3), NOW(3) - INTERVAL 1 SECOND)`,
      [id],
    );
    const { whileHeld, answer } = await passWithTickHeld('transfer_outbox', () => startRelay(shards, longIntervalMs));
    expect(whileHeld).toBe('running');
    // The database away is logged, not thrown: the pass did its other work.
    expect(answer).toBeTypeOf('number');
    const [row] = await rawRows<{ attempts: number }>(here, 'SELECT attempts FROM transfer_outbox WHERE id = ?', [id]);
    expect(Number(row!.attempts)).toBe(1);
  });

  it("hold expiry's ends only after the other database's batches", async () => {
    const { whileHeld, answer } = await passWithTickHeld('holds', () => startHoldExpiry(shards, longIntervalMs));
    expect(whileHeld).toBe('running');
    expect(answer).toBe(0);
  });
});
