import { expect } from 'vitest';
import { configureLedger } from '@paygraph/shared/server/main';
import { testConfig } from './env';
import { shardUrlsForFile, type ShardSets } from './database-sets';
import { repoRoot } from './sources';

/**
 * Runs before every test file (vitest.config.ts: setupFiles), in the file's own process, before
 * the file is imported. First it points MYSQL_SHARDS at the file's databases (database-sets.ts:
 * its worker's, or its own), which the parts it starts in process and the processes it spawns
 * inherit. Without TEST_SHARD_SETS (npm test with explicit MYSQL_SHARDS runs one worker) the file
 * uses MYSQL_SHARDS as given. Then, as main.ts does before a process serves: the ledger's keys
 * and business calendar from the test run's configuration, for the parts tests start in process.
 * A test that needs others sets its own and restores these.
 */
const sets = process.env.TEST_SHARD_SETS;
if (sets !== undefined && sets !== '') {
  const file = expect.getState().testPath;
  if (file === undefined) throw new Error('vitest gave the setup file no test path');
  process.env.MYSQL_SHARDS = shardUrlsForFile(
    JSON.parse(sets) as ShardSets,
    repoRoot,
    file,
    Number(process.env.VITEST_POOL_ID),
  );
}
configureLedger(testConfig());
