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

/** A due outbox row on the database (a credit of no payment: each attempt fails and counts), and its id. */
async function dueRow(set: ShardSet, shard: Shard): Promise<string> {
  const id = newId('payment', toLogicalShard(set.logicalOn(shard)[0]!));
  await rawWrite(
    shard,
    `INSERT INTO transfer_outbox (id, step, status, attempts, created_at, next_attempt_at)
     VALUES (?, 'PAYMENT_CREDIT', 'PENDING', 0, NOW(3), NOW(3) - INTERVAL 1 SECOND)`,
    [id],
  );
  return id;
}

/** How many times the relay attempted the outbox row. */
async function attempts(shard: Shard, id: string): Promise<number> {
  const [row] = await rawRows<{ attempts: number }>(shard, 'SELECT attempts FROM transfer_outbox WHERE id = ?', [id]);
  return Number(row!.attempts);
}

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
    const id = await dueRow(shards, here);
    const { whileHeld, answer } = await passWithTickHeld('transfer_outbox', () => startRelay(shards, longIntervalMs));
    expect(whileHeld).toBe('running');
    // The database away is logged, not thrown: the pass did its other work.
    expect(answer).toBeTypeOf('number');
    expect(await attempts(here, id)).toBe(1);
  });

  it("hold expiry's ends only after the other database's batches", async () => {
    const { whileHeld, answer } = await passWithTickHeld('holds', () => startHoldExpiry(shards, longIntervalMs));
    expect(whileHeld).toBe('running');
    expect(answer).toBe(0);
  });
});

/**
 * The relay runs a worker per database: one database's tick held (its outbox table write-locked: a slow database, one
 * that answers but slowly, so no breaker opens) leaves the other's rows running. Before, one pass went over every
 * database and ended only with the slowest tick, so the other's row made due after its first tick waited the held
 * tick out (here until its statement timed out, 4 s).
 */
describe('a worker per database, one of them slow', () => {
  let pairDbs: ScratchDatabases;
  let pair: ShardSet;
  beforeAll(async () => {
    pairDbs = await scratchDatabases('workerslow', 2);
    pair = openShards({ urls: pairDbs.urls.join(','), poolSize: 2 });
  });
  afterAll(async () => {
    await pair?.close();
    await pairDbs?.drop();
  });

  it("the relay runs one database's rows while the other's tick waits", async () => {
    const [fast, slow] = pair.all as [Shard, Shard];
    const first = await dueRow(pair, fast);
    const holder = await mysql.createConnection({ uri: pairDbs.urls[1]! });
    let relay: Worker | null = null;
    try {
      await holder.query('LOCK TABLES transfer_outbox WRITE');
      relay = startRelay(pair, 50);
      await expect.poll(() => attempts(fast, first), { timeout: 2_000, interval: 20 }).toBeGreaterThan(0);
      // Made due after the fast database's first tick, while the slow one's still waits for its table.
      const second = await dueRow(pair, fast);
      await expect.poll(() => attempts(fast, second), { timeout: 2_000, interval: 20 }).toBeGreaterThan(0);
      expect(slow.name).not.toBe(fast.name);
    } finally {
      await holder.query('UNLOCK TABLES');
      await holder.end();
      await relay?.stop();
    }
  });
});
