import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/shards/coalescer';
import { rawRows } from '../../src/db/raw';
import { coalescerWaitingPerShardMax, loaderBatchSizeMax } from '../../src/limits';
import { ShardUnavailable } from '../../src/shards/unavailable';
import type { ShardSet } from '../../src/shards/pool';
import { testShards } from '../../../../test/support/env';

/** Calls made for a shard in one turn of the event loop share one statement, each with its own answer. */
let shards: ShardSet;

beforeAll(() => {
  shards = testShards(4);
});
afterAll(async () => shards.close());

const echo = () =>
  new Coalescer<number, number>('test', async (shard, keys) => {
    const rows = await rawRows<{ n: string }>(
      shard.db,
      `SELECT n FROM (${keys.map(() => 'SELECT ? AS n').join(' UNION ALL ')}) t`,
      keys,
    );
    return rows.map((r) => Number(r.n) * 10);
  });

describe('the coalescer', () => {
  it('answers concurrent calls for a shard from one statement, each its own value', async () => {
    const coalescer = echo();
    const [a, b] = [shards.all[0]!, shards.all[1]!];
    const before = [a.queryCount, b.queryCount];
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => coalescer.load(n % 2 === 0 ? b : a, n)));
    expect(answers).toEqual([10, 20, 30, 40, 50]);
    expect([a.queryCount - before[0]!, b.queryCount - before[1]!]).toEqual([1, 1]);
    // A later turn is a new statement.
    expect(await coalescer.load(a, 7)).toBe(70);
    expect(a.queryCount - before[0]!).toBe(2);
  });

  it("splits a turn's calls into statements of at most loaderBatchSizeMax keys", async () => {
    const coalescer = echo();
    const shard = shards.all[0]!;
    const before = shard.queryCount;
    const keys = Array.from({ length: loaderBatchSizeMax + 1 }, (_, i) => i);
    expect(await Promise.all(keys.map((k) => coalescer.load(shard, k)))).toEqual(keys.map((k) => k * 10));
    expect(shard.queryCount - before).toBe(2);
  });

  it('holds calls made while a statement is out and sends them together when it returns', async () => {
    const sizes: number[] = [];
    // The first statement stays out until the test lets it return.
    let sent!: () => void;
    const firstSent = new Promise<void>((resolve) => (sent = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const coalescer = new Coalescer<number, number>('test', async (shard, keys) => {
      sizes.push(keys.length);
      if (sizes.length === 1) {
        sent();
        await released;
      }
      await rawRows(shard.db, 'SELECT 1');
      return keys;
    });
    const shard = shards.all[0]!;
    const first = coalescer.load(shard, 1);
    await firstSent;
    const later = [2, 3, 4].map((k) => coalescer.load(shard, k));
    // A later turn of the event loop, the first statement still out.
    await new Promise((resolve) => setImmediate(resolve));
    const evenLater = coalescer.load(shard, 5);
    release();
    expect(await Promise.all([first, ...later, evenLater])).toEqual([1, 2, 3, 4, 5]);
    expect(sizes).toEqual([1, 4]);
  });

  it('fails every call of a statement that failed, and only those', async () => {
    const coalescer = new Coalescer<number, number>('test', async (shard, keys) => {
      if (keys.includes(13)) await rawRows(shard.db, 'SELECT * FROM no_such_table');
      return keys;
    });
    const [a, b] = [shards.all[0]!, shards.all[1]!];
    const results = await Promise.allSettled([coalescer.load(a, 1), coalescer.load(a, 13), coalescer.load(b, 2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });

  it('refuses a call past its bound of waiting calls at once, SHARD_UNAVAILABLE, and answers those waiting', async () => {
    const waitingMax = 3;
    const sent: number[][] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const coalescer = new Coalescer<number, number>(
      'bounded',
      async (shard, keys) => {
        sent.push(keys);
        await released;
        await rawRows(shard.db, 'SELECT 1');
        return keys;
      },
      waitingMax,
    );
    const shard = shards.all[0]!;
    // The first call's statement goes out and stays out; the next three wait for it, the fourth finds the queue full.
    const first = coalescer.load(shard, 0);
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = [1, 2, 3].map((k) => coalescer.load(shard, k));
    const refused = coalescer.load(shard, 4);
    await expect(refused).rejects.toBeInstanceOf(ShardUnavailable);
    await expect(refused).rejects.toMatchObject({ shard: shard.name, detail: 'bounded: 3 calls already wait' });
    // Another shard's queue is its own.
    const elsewhere = coalescer.load(shards.all[1]!, 5);
    release();
    expect(await Promise.all([first, ...waiting, elsewhere])).toEqual([0, 1, 2, 3, 5]);
    // Nothing was sent for the refused call; once the queue drained, the next call is taken.
    expect(sent.flat().sort()).toEqual([0, 1, 2, 3, 5]);
    expect(await coalescer.load(shard, 6)).toBe(6);
    expect(coalescerWaitingPerShardMax).toBeGreaterThanOrEqual(loaderBatchSizeMax);
  });
});
