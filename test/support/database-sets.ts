import { relative } from 'node:path';
import { parseShardUrls } from '../../subgraphs/shared/src/shards/topology';

/**
 * Which test databases a test file runs on (docs/TESTING.md). `npm test` (scripts/test.ts) creates
 * and migrates one set of shard databases per name below, up front, and hands them to vitest as
 * TEST_SHARD_SETS; test/support/setup.ts points each file's MYSQL_SHARDS at its set before the file
 * is imported, so the file, the parts it starts in process and the processes it spawns all use it.
 *
 * - `w1`, `w2`, …: one set per vitest worker (VITEST_POOL_ID), so files running at the same time
 *   never share a database. Files that one worker runs one after another do share its set; they
 *   keep to accounts of their own (unique owners), which is all a file may rely on.
 * - `isolated`: the *.isolated.test.ts files, which check platform-wide figures and run one at a
 *   time after the others (vitest.config.ts).
 * - `own_<file>`: a file that drives a shard's system account (its RESERVE, its FEE_INCOME) to a
 *   BIGINT bound (BALANCE_LIMIT) would refuse or disturb every later file on the same databases
 *   that moved that currency: money-limits' FX test once filled an account with the BIGINT maximum
 *   in SEK, the currency balance-limit pins, and balance-limit failed whenever the two ran on one
 *   database in that order. Each such file has databases no other file touches.
 */

/**
 * Test files (relative to the root) that change platform-wide state a later file on the same
 * databases would meet, so each runs on a set of its own: the first three pin a shard's system
 * account at a BIGINT bound; the simulator sets FX rates between USD, JPY, VND and KWD (fx.test
 * counts on USD → KWD having none: it failed after the simulator on one worker's set) and checks
 * the platform's FX position and fee income against a baseline of its own. The last two reconcile
 * a whole business date: on a worker's set that date holds every earlier file's postings (the bank
 * soak's thousands), and reconciliation's balance check sums every entry of each account the date
 * touched, which outran the shard's statement timeout on a slow run (marketplace, Query inactivity
 * timeout on w2_s3); on a set of their own the date is theirs alone.
 */
export const ownDatabaseFiles = [
  'subgraphs/shared/test/int/balance-limit.test.ts',
  'subgraphs/transaction/test/int/money-limits.test.ts',
  'subgraphs/settlement/test/int/settlement-limit.test.ts',
  'test/simulator.test.ts',
  'subgraphs/transaction/test/int/marketplace.test.ts',
  'subgraphs/settlement/test/int/advances.test.ts',
] as const;

/**
 * vitest workers of the parallel project: one per core of the 2-core machine the suite is timed on
 * (three measured no faster: the third shares a core with MySQL). Each holds its own databases and
 * MySQL connections (testRunConnectionsMax bounds the run's total).
 */
export const testWorkersMax = 2;

const isolatedSet = 'isolated';

/** Every set npm test prepares: one per worker, the isolated files', one per pinning file. */
export function databaseSetNames(): string[] {
  const workers = Array.from({ length: testWorkersMax }, (_, i) => `w${i + 1}`);
  return [...workers, isolatedSet, ...ownDatabaseFiles.map(ownSetOf)];
}

function ownSetOf(file: string): string {
  const base = file
    .split('/')
    .pop()!
    .replace(/\.test\.ts$/, '');
  return `own_${base.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/** The set a test file runs on, given its path relative to the root and its worker's id (VITEST_POOL_ID). */
export function databaseSetOf(file: string, poolId: number): string {
  if ((ownDatabaseFiles as readonly string[]).includes(file)) return ownSetOf(file);
  if (file.endsWith('.isolated.test.ts')) return isolatedSet;
  if (!Number.isInteger(poolId) || poolId < 1 || poolId > testWorkersMax) {
    throw new Error(
      `VITEST_POOL_ID ${poolId} is outside 1..${testWorkersMax}: run more workers and npm test must prepare their databases (test/support/database-sets.ts)`,
    );
  }
  return `w${poolId}`;
}

/** The shard URLs of a set: each database `<prefix>_sN` becomes `<prefix>_<set>_sN` on the same server. */
export function shardUrlsOfSet(shardUrls: string, set: string): string {
  return parseShardUrls(shardUrls)
    .map((raw) => {
      const url = new URL(raw);
      const database = decodeURIComponent(url.pathname.slice(1));
      const renamed = database.replace(/_s(\d+)$/, `_${set}_s$1`);
      if (renamed === database) throw new Error(`shard database ${database} does not end in _s<number>`);
      url.pathname = `/${renamed}`;
      return url.toString();
    })
    .join(',');
}

/** TEST_SHARD_SETS as npm test sets it: set name → MYSQL_SHARDS of that set. */
export type ShardSets = Record<string, string>;

/** The MYSQL_SHARDS a test file runs with (setup.ts), from the absolute path vitest gives it. */
export function shardUrlsForFile(sets: ShardSets, root: string, absolutePath: string, poolId: number): string {
  const set = databaseSetOf(relative(root, absolutePath), poolId);
  const urls = sets[set];
  if (urls === undefined)
    throw new Error(`TEST_SHARD_SETS has no set ${set}: npm test prepares them (test/support/database-sets.ts)`);
  return urls;
}
