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
  const pattern = `${databasePrefix.replace(/_/g, '\\_')}\\_%`;
  const count = async (): Promise<Record<string, number>> => {
    const [rows] = await conn.query(
      'SELECT DB AS db, COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB LIKE ? OR DB LIKE ? GROUP BY DB',
      [pattern, 'paygraph\\_bench\\_smoke\\_%'],
    );
    const bySet: Record<string, number> = {};
    for (const row of rows as Array<{ db: string; n: unknown }>) {
      const set = setOfDatabase(row.db, databasePrefix);
      bySet[set] = (bySet[set] ?? 0) + Number(row.n);
    }
    return bySet;
  };
  let peak: Peak = { connections: 0, bySet: {}, at: null, peakBySet: {} };
  const peakBySet: Record<string, number> = {};
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(async () => {
      const bySet = await count();
      const connections = Object.values(bySet).reduce((a, b) => a + b, 0);
      for (const [set, n] of Object.entries(bySet)) peakBySet[set] = Math.max(peakBySet[set] ?? 0, n);
      if (connections > peak.connections) peak = { connections, bySet, at: new Date().toISOString(), peakBySet };
    });
  }, sampleIntervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await sampling;
      await conn.end();
      return { ...peak, peakBySet };
    },
  };
}
