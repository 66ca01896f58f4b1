import { parseShardUrls } from '@paygraph/shared/shards/topology';
import mysql from 'mysql2/promise';
import { serverUriOf } from '@paygraph/shared/db/server-connection';
import { defaultMysqlShards } from '@paygraph/shared/config/shared';

/**
 * Counts the server's connections to this run's shard databases (PROCESSLIST), every
 * sampleIntervalMs until stopped, and keeps the peak: how the connection budget is measured.
 * Its own connection names no database, so it does not count itself.
 */
const sampleIntervalMs = 200;

export interface ConnectionSampler {
  /** The count now. */
  count(): Promise<number>;
  /**
   * Stops sampling and closes (once; later calls give the same answer); resolves to the most connections seen at once.
   */
  stop(): Promise<number>;
}

export async function sampleConnections(): Promise<ConnectionSampler> {
  const urls = parseShardUrls(process.env.MYSQL_SHARDS || defaultMysqlShards).map((raw) => new URL(raw));
  const databases = urls.map((url) => decodeURIComponent(url.pathname.slice(1)));
  const conn = await mysql.createConnection({ uri: serverUriOf(urls[0]!.toString()) });
  const count = async (): Promise<number> => {
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB IN (?)', [
      databases,
    ]);
    return Number((rows as Array<{ n: unknown }>)[0]!.n);
  };
  let peak = await count();
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(async () => {
      peak = Math.max(peak, await count());
    });
  }, sampleIntervalMs);
  let stopped: Promise<number> | null = null;
  return {
    count,
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer);
        await sampling;
        peak = Math.max(peak, await count());
        await conn.end();
        return peak;
      })();
      return stopped;
    },
  };
}
