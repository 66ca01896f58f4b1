import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShardPool } from '../../src/shards/shard-pool';
import { ShardUnavailable } from '../../src/shards/unavailable';
import { shardAcquireWaitersMax } from '../../src/limits';
import { testConfig } from '../../../../test/support/env';

/**
 * A shard's pool bounds the requests waiting for a connection (shardAcquireWaitersMax, two here):
 * one more is answered SHARD_UNAVAILABLE (retryable) at once, without waiting out
 * shardAcquireTimeoutMs and without the breaker counting it against the shard, which answers.
 */
let pool: ShardPool;

beforeAll(() => {
  const url = testConfig().shards.urls.split(',')[0]!;
  pool = new ShardPool({
    name: new URL(url).pathname.slice(1),
    nodes: [url],
    pool: { connectionLimit: 1 },
    acquireWaitersMax: 2,
  });
});
afterAll(async () => pool.end());

describe("a shard pool's waiting requests", () => {
  it('are bounded: one past the bound is refused at once, the others are served in turn', async () => {
    const held = await pool.getConnection();
    // The one connection is held: the next two wait in mysql2's queue, the third finds it full.
    const waiting = [pool.getConnection(), pool.getConnection()];
    const started = Date.now();
    const refused = pool.getConnection();
    await expect(refused).rejects.toBeInstanceOf(ShardUnavailable);
    await expect(refused).rejects.toMatchObject({ detail: '2 requests already wait for a connection' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(pool.breaker.state).toBe('closed');
    held.release();
    for (const next of waiting) (await next).release();
    // Drained: a request is served again.
    const again = await pool.getConnection();
    again.release();
    expect(shardAcquireWaitersMax).toBeGreaterThanOrEqual(1_000);
  });
});
