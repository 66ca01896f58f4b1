import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShards, type ShardSet } from '../../src/shards/pool';
import { ShardUnavailable } from '../../src/shards/unavailable';
import { rawRows } from '../../src/db/raw';
import { serverStatementTimeoutMsOf, shardServerStatementTimeoutMs, shardStatementTimeoutMs } from '../../src/limits';
import { testConfig } from '../../../../test/support/env';

/**
 * A shard set's statement bound: shardStatementTimeoutMs for the requests, and a tool that scans whole tables
 * after its traffic has stopped (the benchmark's invariants check) may open its own with another. The client gives
 * up at its bound, and the server's (max_statement_time) is set a margin past it on every connection.
 */
let requests: ShardSet;
let short: ShardSet;
const shortMs = 1_000;

beforeAll(() => {
  const urls = testConfig().shards.urls.split(',')[0]!;
  requests = openShards({ urls, poolSize: 1 });
  short = openShards({ urls, poolSize: 1, statementTimeoutMs: shortMs });
});
afterAll(async () => {
  await Promise.all([requests.close(), short.close()]);
});

describe("a shard set's statement bound", () => {
  it("sets the server's bound a margin past the client's, on every connection", async () => {
    const [onRequests] = await rawRows<{ s: string }>(requests.all[0]!.db, 'SELECT @@max_statement_time AS s');
    const [onShort] = await rawRows<{ s: string }>(short.all[0]!.db, 'SELECT @@max_statement_time AS s');
    expect(Number(onRequests!.s) * 1_000).toBe(shardServerStatementTimeoutMs);
    expect(Number(onShort!.s) * 1_000).toBe(serverStatementTimeoutMsOf(shortMs));
    expect(serverStatementTimeoutMsOf(shortMs)).toBeGreaterThan(shortMs);
  });

  it('gives up at its own bound: a 2 s statement fails after 1 s under a 1 s bound and completes under the default', async () => {
    expect(shardStatementTimeoutMs).toBeGreaterThan(2_500);
    const started = performance.now();
    await expect(rawRows(short.all[0]!.db, 'SELECT SLEEP(2) AS s')).rejects.toBeInstanceOf(ShardUnavailable);
    const gaveUpMs = performance.now() - started;
    expect(gaveUpMs).toBeGreaterThanOrEqual(shortMs - 50);
    expect(gaveUpMs).toBeLessThan(1_900);
    const [slept] = await rawRows<{ s: string | number }>(requests.all[0]!.db, 'SELECT SLEEP(2) AS s');
    expect(Number(slept!.s)).toBe(0);
  });
});
