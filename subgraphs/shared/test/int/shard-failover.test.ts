import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openShards, type Shard, type ShardSet } from '../../src/shards/pool';
import { inPostingTransaction } from '../../src/shards/posting-transaction';
import { rawHold, rawRows } from '../../src/db/raw';
import { ShardUnavailable } from '../../src/shards/unavailable';
import type { FailoverEvent } from '../../src/shards/shard-pool';
import { startTcpProxy, targetOf, throughProxy, type TcpProxy } from '../../../../test/support/tcp-proxy';
import { unique } from '../../../../test/support/env';

/**
 * A shard of several nodes fails over by itself (issue 26), shown without a cluster: two TCP
 * proxies in front of the test server are the shard's two "nodes" (test/support/tcp-proxy.ts),
 * so a node can be reset or blackholed while the other answers. The Galera test
 * (test/galera-failover.isolated.test.ts) shows the same on a real cluster.
 */
const urls = (process.env.MYSQL_SHARDS ?? '').split(',');
/** Issue 26: the pool moves to the next healthy node within this. */
const failoverWithinMs = 3_000;
/** How long the old node answers again under load without taking the primary back. */
const noFlapWatchMs = 1_500;
const loadIntervalMs = 20;

let proxies: TcpProxy[];
let shards: ShardSet;
let shard: Shard;
const table = `failover_test_${process.pid}`;
const failovers: FailoverEvent[] = [];

beforeAll(async () => {
  const target = targetOf(urls[0]!);
  proxies = [await startTcpProxy(target), await startTcpProxy(target)];
  shards = openShards({ urls: proxies.map((p) => throughProxy(urls[0]!, p)).join('|'), poolSize: 4 });
  shard = shards.all[0]!;
  shard.pool.onFailover((event) => failovers.push(event));
  await shard.pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (k VARCHAR(64) PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`,
  );
});

afterAll(async () => {
  await shard.pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  await shards.close();
  await Promise.all(proxies.map((p) => p.close()));
});

async function selectOne(): Promise<void> {
  await shard.db.execute(sql`SELECT 1`);
}

/** Sends SELECT 1 every loadIntervalMs until one succeeds on `node`; answers how long that took. */
async function servedBy(node: number, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    try {
      await selectOne();
      if (shard.pool.primary === node) return performance.now() - started;
    } catch (error) {
      expect(unwrap(error)).toBeInstanceOf(ShardUnavailable);
    }
    await new Promise((resolve) => setTimeout(resolve, loadIntervalMs));
  }
  throw new Error(
    `node ${node} did not serve within ${limitMs} ms (primary ${shard.pool.primary}, breaker ${shard.pool.state})`,
  );
}

function unwrap(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && !(current instanceof ShardUnavailable) && current.cause !== undefined)
    current = current.cause;
  return current;
}

/** Load for a while; every statement must succeed on `node`. */
async function staysOn(node: number, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    await selectOne();
    expect(shard.pool.primary).toBe(node);
    await new Promise((resolve) => setTimeout(resolve, loadIntervalMs));
  }
}

describe('a shard of several nodes', () => {
  it('writes to its first node, fails over when it dies, does not flap back when it returns, and goes back when the other dies', async () => {
    await staysOn(0, 200);
    expect(proxies[1]!.accepted).toBe(0);

    proxies[0]!.setMode('reset');
    const first = await servedBy(1, failoverWithinMs);
    console.log(`failover after a reset: ${Math.round(first)} ms`);

    proxies[0]!.setMode('pass');
    await staysOn(1, noFlapWatchMs);

    proxies[1]!.setMode('blackhole');
    const second = await servedBy(0, failoverWithinMs);
    console.log(`failover after a blackhole: ${Math.round(second)} ms`);
    proxies[1]!.setMode('pass');
    expect(failovers.map((f) => [f.from, f.to])).toEqual([
      [0, 1],
      [1, 0],
    ]);
  }, 20_000);

  it('resolves a COMMIT whose answer was lost: committed, it answers the result once; not applied, it runs again', async () => {
    await servedBy(0, failoverWithinMs);
    for (const forward of [true, false]) {
      const key = unique(forward ? 'lost-answer' : 'lost-commit');
      let attempts = 0;
      const cut = proxies[0]!.cutAt(';\nCOMMIT', { forward });
      const answer = await inPostingTransaction(
        shard,
        async (tx) => {
          attempts += 1;
          await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, ?)`, [key, attempts]);
          return attempts;
        },
        { witness: () => ({ sql: `SELECT k FROM ${table} WHERE k = ? LOCK IN SHARE MODE`, values: [key] }) },
      );
      await cut;
      const rows = await rawRows<{ v: number }>(shard.db, `SELECT v FROM ${table} WHERE k = ?`, [key]);
      // Lost after the server got it: committed once, answered with the attempt that committed.
      // Lost before: nothing committed, so the transaction ran again and committed then.
      expect({ attempts, answer, rows: rows.map((r) => r.v) }).toEqual(
        forward ? { attempts: 1, answer: 1, rows: [1] } : { attempts: 2, answer: 2, rows: [2] },
      );
    }
  });

  it('answers SHARD_UNAVAILABLE for a lost COMMIT it has no witness for', async () => {
    const key = unique('no-witness');
    const cut = proxies[0]!.cutAt(';\nCOMMIT', { forward: true });
    const outcome = inPostingTransaction(shard, async (tx) => {
      await rawHold(tx, `INSERT INTO ${table} (k, v) VALUES (?, 1)`, [key]);
    });
    await expect(outcome).rejects.toBeInstanceOf(ShardUnavailable);
    await cut;
  });
});
