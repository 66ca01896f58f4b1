import mysql from 'mysql2/promise';
import { parseShardUrls } from '../../subgraphs/shared/src/shards/topology';

/**
 * How npm test keeps to its share of max_connections (testRunConnectionsMax): while vitest runs it
 * counts the server's connections to the run's databases (PROCESSLIST rows whose database starts
 * with the test prefix, or is test/bench-smoke.test.ts's paygraph_bench_smoke_*) every sampleIntervalMs and keeps the peak, which the run prints and is
 * held to. Its own connection names no database, so it does not count itself.
 */
const sampleIntervalMs = 250;

export interface ConnectionPeak {
  /** Stops sampling and closes; resolves to the most connections seen at once. */
  stop(): Promise<number>;
}

export async function sampleConnectionPeak(shardUrls: string, databasePrefix: string): Promise<ConnectionPeak> {
  const server = new URL(parseShardUrls(shardUrls)[0]!);
  server.pathname = '/';
  const conn = await mysql.createConnection({ uri: server.toString() });
  const pattern = `${databasePrefix.replace(/_/g, '\\_')}\\_%`;
  const count = async (): Promise<number> => {
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB LIKE ? OR DB LIKE ?', [pattern, 'paygraph\\_bench\\_smoke\\_%']);
    return Number((rows as Array<{ n: unknown }>)[0]!.n);
  };
  let peak = 0;
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(async () => {
      peak = Math.max(peak, await count());
    });
  }, sampleIntervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await sampling;
      await conn.end();
      return peak;
    },
  };
}
