import mysql from 'mysql2/promise';
import { serverUriOf } from '../../subgraphs/shared/src/db/server-connection';
import { parseShardUrls } from '../../subgraphs/shared/src/shards/topology';

/**
 * How npm test keeps to its share of max_connections (testRunConnectionsMax): while vitest runs it
 * counts the server's connections to the run's databases (PROCESSLIST rows whose database starts
 * with the test prefix, or is test/bench-smoke.test.ts's paygraph_bench_smoke_*) every
 * sampleIntervalMs and keeps the peak, which the run prints and is held to. At the peak it also
 * keeps how many each set of databases held (test/support/database-sets.ts: a worker's `w1`, the
 * `isolated` files', a pinning file's `own_…`) and when, which names the files running then.
 * Its own connection names no database, so it does not count itself.
 *
 * It reads SHOW PROCESSLIST and counts here, not information_schema.PROCESSLIST with GROUP BY: that
 * query materialises the table (its INFO column is LONGTEXT) as an Aria temporary table each time, and
 * on 2026-11-30 MariaDB 10.11.19 crashed freeing one (signal 11 in ha_maria::drop_table under
 * free_tmp_table, this query on the stack), 4 minutes into a full run that then failed 141 files.
 * SHOW PROCESSLIST sends the list as it walks it, with no table. A sample the server does not answer
 * is kept as the moment it went away, which the run prints: the failures after it are the server's.
 */
const sampleIntervalMs = 250;

export interface Peak {
  /** The most connections seen at once. */
  connections: number;
  /** At that moment, per set of databases (the database name without its `_s<N>` shard suffix and the run's prefix). */
  bySet: Record<string, number>;
  /** When it was seen (ISO 8601). */
  at: string | null;
  /** Each set's own most at once over the run (whenever that was): the share each file group took. */
  peakBySet: Record<string, number>;
  /** The first sample the server did not answer: when (ISO 8601) and what the driver said; null if none. */
  lost: { at: string; detail: string } | null;
}

export interface ConnectionPeak {
  /** Stops sampling and closes; resolves to the peak. */
  stop(): Promise<Peak>;
}

/** `paygraph_test_w1_s3` → `w1` (prefix `paygraph_test`); `paygraph_bench_smoke_s0` → `bench_smoke`. */
export function setOfDatabase(database: string, databasePrefix: string): string {
  const withoutShard = database.replace(/_s\d+$/, '');
  if (withoutShard.startsWith(`${databasePrefix}_`)) return withoutShard.slice(databasePrefix.length + 1);
  return withoutShard.replace(/^paygraph_/, '');
}

export async function sampleConnectionPeak(shardUrls: string, databasePrefix: string): Promise<ConnectionPeak> {
  const conn = await mysql.createConnection({ uri: serverUriOf(parseShardUrls(shardUrls)[0]!) });
  // A connection that dies with the server must not end the run with an unhandled error event.
  conn.on('error', () => undefined);
  const counted = (db: string | null): boolean =>
    db !== null && (db.startsWith(`${databasePrefix}_`) || db.startsWith('paygraph_bench_smoke_'));
  const count = async (): Promise<Record<string, number>> => {
    const [rows] = await conn.query('SHOW PROCESSLIST');
    const bySet: Record<string, number> = {};
    for (const row of rows as Array<{ db: string | null }>) {
      if (!counted(row.db)) continue;
      const set = setOfDatabase(row.db!, databasePrefix);
      bySet[set] = (bySet[set] ?? 0) + 1;
    }
    return bySet;
  };
  let peak: Omit<Peak, 'lost'> = { connections: 0, bySet: {}, at: null, peakBySet: {} };
  const peakBySet: Record<string, number> = {};
  let lost: Peak['lost'] = null;
  const sample = async (): Promise<void> => {
    if (lost !== null) return;
    let bySet: Record<string, number>;
    try {
      bySet = await count();
    } catch (error) {
      lost = { at: new Date().toISOString(), detail: error instanceof Error ? error.message : String(error) };
      return;
    }
    const connections = Object.values(bySet).reduce((a, b) => a + b, 0);
    for (const [set, n] of Object.entries(bySet)) peakBySet[set] = Math.max(peakBySet[set] ?? 0, n);
    if (connections > peak.connections) peak = { connections, bySet, at: new Date().toISOString(), peakBySet };
  };
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(sample);
  }, sampleIntervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await sampling;
      await conn.end().catch(() => undefined);
      return { ...peak, peakBySet, lost };
    },
  };
}
