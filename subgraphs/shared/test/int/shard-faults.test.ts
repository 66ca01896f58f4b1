import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openShards, type Shard, type ShardSet } from '../../src/shards/pool';
import { ShardUnavailable } from '../../src/shards/unavailable';
import { inTransaction } from '../../src/shards/transaction';
import { inPostingTransaction } from '../../src/shards/posting-transaction';
import { rawRows } from '../../src/db/raw';
import {
  shardAcquireTimeoutMs,
  shardConnectTimeoutMs,
  shardProbeTimeoutMs,
  shardServerStatementTimeoutMs,
  shardStatementTimeoutMs,
} from '../../src/limits';
import { startTcpProxy, targetOf, throughProxy, type TcpProxy } from '../../../../test/support/tcp-proxy';

/**
 * One shard of the test set behind a TCP proxy (test/support/tcp-proxy.ts), the others direct:
 * a blackholed or resetting shard fails fast as ShardUnavailable, its breaker opens and closes
 * by itself, and the other shards go on.
 */
const urls = (process.env.MYSQL_SHARDS ?? '').split(',');
/** The contract: an operation that needs an unreachable shard answers within this. */
const answerWithinMs = 3_000;
/** An open breaker answers without any network wait. */
const fastFailMs = 100;
/** Service returns within this of the shard's recovery. */
const recoveryWithinMs = 5_000;

let proxy: TcpProxy;
let shards: ShardSet;
let faulted: Shard;
let healthy: Shard;

beforeAll(async () => {
  proxy = await startTcpProxy(targetOf(urls[1]!));
  shards = openShards({ urls: urls.map((u, i) => (i === 1 ? throughProxy(u, proxy) : u)).join(','), poolSize: 2 });
  faulted = shards.all[1]!;
  healthy = shards.all[0]!;
});

afterAll(async () => {
  await shards.close();
  await proxy.close();
});

afterEach(async () => {
  proxy.setMode('pass');
  await untilClosed(faulted);
});

async function selectOne(shard: Shard): Promise<void> {
  await shard.db.execute(sql`SELECT 1`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const result = await work();
    return { ms: performance.now() - started, result };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** Waits until the breaker closed and a statement succeeds; answers how long that took. */
async function untilClosed(shard: Shard, limitMs = 10_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (shard.pool.state === 'closed') {
      try {
        await selectOne(shard);
        return performance.now() - started;
      } catch {
        // still failing: the breaker will open and probe
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`shard ${shard.name} did not come back within ${limitMs} ms`);
}

function unavailableOf(error: unknown): ShardUnavailable {
  let current: unknown = error;
  while (current instanceof Error && !(current instanceof ShardUnavailable)) current = current.cause;
  expect(current).toBeInstanceOf(ShardUnavailable);
  return current as ShardUnavailable;
}

function expectNoAddress(error: ShardUnavailable): void {
  expect(error.shard).toBe(faulted.name);
  expect(error.message).not.toContain(String(proxy.port));
  expect(error.message).not.toContain('127.0.0.1');
  expect(error.message).not.toMatch(/select/i);
}

describe('a blackholed shard', () => {
  it('fails a statement on a pooled connection within 3 s, opens its breaker, and fails fast after', async () => {
    await selectOne(faulted); // a pooled connection exists before the fault
    proxy.setMode('blackhole');
    const first = await timed(() => rawRows(faulted.db, 'SELECT ? AS n', [1]));
    console.log(`blackholed statement answered ShardUnavailable after ${Math.round(first.ms)} ms`);
    expect(first.ms).toBeLessThan(answerWithinMs);
    expectNoAddress(unavailableOf(first.error));
    expect(faulted.pool.state).not.toBe('closed');

    const next = await timed(() => selectOne(faulted));
    console.log(`with the breaker open: ${next.ms.toFixed(1)} ms`);
    expect(next.ms).toBeLessThan(fastFailMs);
    unavailableOf(next.error);

    // Another shard goes on meanwhile.
    await expect(rawRows(healthy.db, 'SELECT ? AS n', [2])).resolves.toEqual([{ n: 2 }]);
  });

  it("fails a transaction (drizzle's and the posting engine's) within 3 s", async () => {
    await selectOne(faulted);
    proxy.setMode('blackhole');
    const drizzleTx = await timed(() => inTransaction(faulted, (tx) => tx.execute(sql`SELECT 1`)));
    expect(drizzleTx.ms).toBeLessThan(answerWithinMs);
    unavailableOf(drizzleTx.error);
    const postingTx = await timed(() => inPostingTransaction(faulted, (tx) => rawRows(tx, 'SELECT 1 AS n')));
    expect(postingTx.ms).toBeLessThan(fastFailMs);
    unavailableOf(postingTx.error);
  });

  it('closes its breaker by itself within 5 s of the shard answering again', async () => {
    await selectOne(faulted);
    proxy.setMode('blackhole');
    await timed(() => selectOne(faulted));
    expect(faulted.pool.state).not.toBe('closed');
    proxy.setMode('pass');
    const recoveredMs = await untilClosed(faulted, recoveryWithinMs);
    console.log(`breaker closed ${Math.round(recoveredMs)} ms after the shard answered again`);
    expect(recoveredMs).toBeLessThan(recoveryWithinMs);
  });

  it('fails a new connection within 3 s (connect timeout)', async () => {
    const fresh = openShards({
      urls: urls.map((u, i) => (i === 1 ? throughProxy(u, proxy) : u)).join(','),
      poolSize: 1,
    });
    try {
      proxy.setMode('blackhole');
      const result = await timed(() => selectOne(fresh.all[1]!));
      console.log(`a new connection to the blackholed shard failed after ${Math.round(result.ms)} ms`);
      expect(result.ms).toBeLessThan(answerWithinMs);
      unavailableOf(result.error);
      // The connect timeout opened the breaker at once: the next request has no connection to
      // reuse either, and must not wait for a connect timeout of its own.
      expect(fresh.all[1]!.pool.state).not.toBe('closed');
      const next = await timed(() => selectOne(fresh.all[1]!));
      expect(next.ms).toBeLessThan(fastFailMs);
      expectNoAddress(unavailableOf(next.error));
    } finally {
      await fresh.close();
    }
  });
});

describe('a shard that resets connections', () => {
  it("fails a transaction whose link is reset between statements as ShardUnavailable, not as its ROLLBACK's error", async () => {
    await selectOne(faulted);
    // Drizzle sends ROLLBACK on the same connection after the failed statement; mysql2 answers
    // that one "Can't add new command when connection is in closed state", with no code.
    const result = await timed(() =>
      inTransaction(faulted, async (tx) => {
        await tx.execute(sql`SELECT 1`);
        proxy.setMode('reset');
        await tx.execute(sql`SELECT 2`);
      }),
    );
    expect(result.ms).toBeLessThan(answerWithinMs);
    expectNoAddress(unavailableOf(result.error));
  });

  it('fails fast with ShardUnavailable, opens after repeated failures, and comes back', async () => {
    await selectOne(faulted);
    proxy.setMode('reset');
    for (let i = 0; i < 4; i++) {
      const result = await timed(() => selectOne(faulted));
      expect(result.ms).toBeLessThan(answerWithinMs);
      expectNoAddress(unavailableOf(result.error));
    }
    expect(faulted.pool.state).not.toBe('closed');
    proxy.setMode('pass');
    expect(await untilClosed(faulted, recoveryWithinMs)).toBeLessThan(recoveryWithinMs);
  });
});

describe('a server that takes no more connections of ours', () => {
  // Named after this run's database: user names are server-wide, and runs share the server.
  const database = new URL(urls[0]!).pathname.slice(1);
  const user = `${database}_limited`;

  afterAll(async () => {
    await rawRows(healthy.db, `DROP USER IF EXISTS '${user}'@'%'`);
  });

  it('answers ShardUnavailable for the user\'s connection limit (1226), as for "Too many connections" (1040)', async () => {
    // A user allowed one connection stands in for a server at max_connections: provoking 1040
    // itself would take every connection of the server the other tests share.
    const target = new URL(urls[0]!);
    await rawRows(healthy.db, `DROP USER IF EXISTS '${user}'@'%'`);
    await rawRows(healthy.db, `CREATE USER '${user}'@'%' WITH MAX_USER_CONNECTIONS 1`);
    await rawRows(healthy.db, `GRANT SELECT ON \`${database}\`.* TO '${user}'@'%'`);
    target.username = user;
    target.password = '';
    const limited = openShards({ urls: target.toString(), poolSize: 2 });
    const shard = limited.all[0]!;
    try {
      const held = await shard.pool.getConnection();
      try {
        const refused = await timed(() => selectOne(shard));
        expect(refused.ms).toBeLessThan(answerWithinMs);
        const error = unavailableOf(refused.error);
        expect(error.detail).toMatch(/max_user_connections/);
        expect(error.message).not.toContain(user);
      } finally {
        held.release();
      }
      // The connection we held is free again: the shard answers.
      await expect(selectOne(shard)).resolves.toBeUndefined();
    } finally {
      await limited.close();
    }
  });
});

describe('the pool', () => {
  it('gives up waiting for a free connection after shardAcquireTimeoutMs, as ShardUnavailable', async () => {
    const single = openShards({ urls: urls[0]!, poolSize: 1 });
    const shard = single.all[0]!;
    try {
      const held = await shard.pool.getConnection();
      const waited = await timed(() => selectOne(shard));
      held.release();
      expect(waited.ms).toBeGreaterThanOrEqual(shardAcquireTimeoutMs - 50);
      expect(waited.ms).toBeLessThan(shardAcquireTimeoutMs + 1_000);
      expect(unavailableOf(waited.error).detail).toMatch(/no free connection/);
      // A pool-acquire timeout is load, not a dead shard: the breaker stays closed.
      expect(shard.pool.state).toBe('closed');
      await expect(selectOne(shard)).resolves.toBeUndefined();
    } finally {
      await single.close();
    }
  });

  it('stops on the server, within a second or two, a statement it gave up on', async () => {
    // A statement that computes without writing to its socket (MariaDB's sequence engine: 10^10
    // rows, joined) runs on after the client closes its connection, for as long as it takes,
    // unless the server's own bound stops it. SLEEP would not show it: that one ends with its
    // connection.
    const tag = `abandoned_${process.pid}_${Date.now()}`;
    const result = await timed(() =>
      rawRows(healthy.db, `SELECT COUNT(*) AS ${tag} FROM seq_1_to_100000 a, seq_1_to_100000 b`),
    );
    expect(unavailableOf(result.error).shard).toBe(healthy.name);
    expect(result.ms).toBeGreaterThanOrEqual(shardStatementTimeoutMs - 50);
    const stopsWithinMs = shardServerStatementTimeoutMs - shardStatementTimeoutMs + 2_000;
    const started = performance.now();
    let running = 1;
    while (running > 0 && performance.now() - started < stopsWithinMs) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const rows = await rawRows<{ n: string }>(
        faulted.db,
        `SELECT COUNT(*) AS n FROM information_schema.processlist WHERE info LIKE '%COUNT(*) AS ${tag}%' AND id <> CONNECTION_ID()`,
      );
      running = Number(rows[0]!.n);
    }
    expect(running).toBe(0);
    await untilClosed(healthy);
  });

  it('keeps a slow but healthy statement (SLEEP) going past the probe', async () => {
    const result = await timed(() => rawRows(faulted.db, 'SELECT SLEEP(1.5) AS s'));
    expect(result.error).toBeUndefined();
    expect(faulted.pool.state).toBe('closed');
  });

  it('keeps a slow statement going when the process itself stalls while the probe waits for its answer', async () => {
    // A CPU-bound stretch (a big merged batch, a burst of requests) holds the event loop for
    // longer than the probe's limit just as the probe is out: the shard answered in time, only
    // this process could not read the answer, so the breaker must stay closed. The slow
    // statement's probe is the proxy's next connection (the pool's two are open already).
    const stallMs = 2 * shardProbeTimeoutMs;
    await Promise.all([selectOne(faulted), selectOne(faulted)]);
    const probing = proxy.nextAccept().then(() => {
      const until = performance.now() + stallMs;
      while (performance.now() < until) {
        /* busy, as a long synchronous computation is */
      }
    });
    const result = await timed(() => rawRows(faulted.db, 'SELECT SLEEP(1) AS s'));
    await probing;
    expect(result.error).toBeUndefined();
    expect(result.ms).toBeGreaterThanOrEqual(stallMs);
    expect(faulted.pool.state).toBe('closed');
  });

  it('opens a pooled connection through a stall of the process longer than a plain 2 s connect timer', async () => {
    // A test process starting four subgraph servers stalled about 2 s while its pools opened
    // connections: mysql2's connect timer (then 2 s) fired before the handshake already read
    // could be, and three healthy shards' breakers opened at the same millisecond. The wall-clock
    // bound is now shardConnectTimeoutMs, and a dead link is the acquire probe's to find.
    const stallMs = 2_200;
    expect(shardConnectTimeoutMs).toBeGreaterThan(stallMs);
    const fresh = openShards({
      urls: urls.map((u, i) => (i === 1 ? throughProxy(u, proxy) : u)).join(','),
      poolSize: 1,
    });
    try {
      const stalled = proxy.nextAccept().then(() => {
        const until = performance.now() + stallMs;
        while (performance.now() < until) {
          /* busy, as building a schema is */
        }
      });
      const result = await timed(() => selectOne(fresh.all[1]!));
      await stalled;
      expect(result.error).toBeUndefined();
      expect(result.ms).toBeGreaterThanOrEqual(stallMs);
      expect(fresh.all[1]!.pool.state).toBe('closed');
    } finally {
      await fresh.close();
    }
  });
});
