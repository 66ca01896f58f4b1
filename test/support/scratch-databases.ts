import { randomBytes } from 'node:crypto';
import { createDatabases, dropScratchDatabases, applyMigrationSet } from '@paygraph/shared/db/migrate';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { fenceOn, unfenceOn, type FenceReason } from '@paygraph/shared/control/index';
import { migrationSets } from '../../scripts/lib/migration-sets';

/**
 * Databases of a test's own on the test run's server (or on `server`, a URL without a database), migrated by every part's set: for tests that change what every
 * database shares (the live shard map, moves between databases) without touching the worker's databases, which other
 * files use. Named paygraph_test_<prefix>_<random>_<n>, so that the drop refuses anything else.
 */
export interface ScratchDatabases {
  /** Each database as MYSQL_SHARDS writes one. */
  readonly urls: readonly string[];
  drop(): Promise<void>;
}

export async function scratchDatabases(prefix: string, count: number, server?: string): Promise<ScratchDatabases> {
  const base = new URL(server ?? process.env.MYSQL_SHARDS!.split(',')[0]!.split('|')[0]!);
  const tag = randomBytes(3).toString('hex');
  const urls = Array.from({ length: count }, (_, n) => {
    const url = new URL(base);
    url.pathname = `/paygraph_test_${prefix}_${tag}_${n}`;
    return url.toString();
  });
  await createDatabases(urls);
  const shards = openShards({ urls: urls.join(','), poolSize: 2 });
  try {
    for (const shard of shards.all) for (const set of migrationSets) await applyMigrationSet(shard.db, set);
  } finally {
    await shards.close();
  }
  return { urls, drop: () => dropScratchDatabases(urls) };
}

/**
 * One scratch database opened as a shard set of its own that follows no map: it routes by its configuration, as a
 * process that missed a shard move's fence would (the fence tests: key, hold, purge, legacy-key and relay).
 */
export interface ScratchShard {
  readonly shards: ShardSet;
  readonly shard: Shard;
  close(): Promise<void>;
}

export async function scratchShard(prefix: string): Promise<ScratchShard> {
  const dbs = await scratchDatabases(prefix, 1);
  const shards = openShards({ urls: dbs.urls[0]!, poolSize: 2 });
  return {
    shards,
    shard: shards.all[0]!,
    close: async () => {
      await shards.close();
      await dbs.drop();
    },
  };
}

/**
 * Runs `run` with the logical shard (or the range `first`-`last`) fenced for `reason` on the shard's database, and
 * opens it again after, whatever `run` did.
 */
export async function whileFenced<T>(
  shard: Shard,
  logical: number | { first: number; last: number },
  reason: FenceReason,
  run: () => Promise<T>,
): Promise<T> {
  const { first, last } = typeof logical === 'number' ? { first: logical, last: logical } : logical;
  await fenceOn(shard, first, last, reason);
  try {
    return await run();
  } finally {
    await unfenceOn(shard, first, last);
  }
}
