import { parseShardUrls } from '../subgraphs/shared/src/shards/topology';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTestRunConfig } from '../test/support/run-config';
import { dropScratchDatabases } from '../subgraphs/shared/src/db/migrate';
import { migrateAll } from './lib/migration-sets';
import { openShards } from '../subgraphs/shared/src/shards/pool';
import { describeError, describeShards, ensureMysql } from './lib/mysql-server';
import { ensureRedis } from './lib/redis-server';
import { ensureSystemPackages } from './lib/system-packages';
import { typecheckProjects, type TypecheckResult } from './lib/typecheck';
import { staticChecks } from './lib/static-checks';
import { signalTree } from './lib/process-tree';
import { sampleConnectionPeak } from './lib/connection-peak';
import { databaseSetNames, shardUrlsOfSet, testWorkersMax, type ShardSets } from '../test/support/database-sets';
import { testRunConnectionsMax } from '../test/support/limits';

/**
 * `npm test`: installs the system packages the tests need (scripts/lib/system-packages.ts: as root, or stops naming the
 * command), typechecks, format-checks and lints the whole tree (tests included), finds or starts MySQL and Redis,
 * migrates the test shards (paygraph_test_s0..), runs vitest against them with any extra
 * arguments (TEST_REDIS_URL names the Redis, for the tests that ask for it), and exits with vitest's exit code. A type
 * error
 * fails the run: the typecheck runs beside vitest, once the databases are ready, at
 * a low priority (typecheckNiceness), and stops vitest when it finds one. Servers it started are stopped at the end.
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
/** Tokens in tests are signed with this unless JWT_SECRET is already set. */
const testJwtSecret = 'paygraph-test-secret-not-for-production-use';
/** Exit code for a vitest that was killed by a signal rather than exiting. */
const killedExitCode = 1;
/**
 * tsc's nice value. It ran first, alone, for 26 s on a plain clone, while the databases took 13 s:
 * vitest waited for it. Beside vitest's two workers it takes the CPU they leave (their waits on
 * MySQL and children, the isolated files' idle core) instead of delaying the first test. It
 * starts once the databases are ready (main), not beside their preparation, which it slowed 3 ×.
 */
const typecheckNiceness = 19;

function log(line: string): void {
  console.log(`[test] ${line}`);
}

/**
 * Every run starts from empty test databases (paygraph_test_* only; explicitly configured
 * MYSQL_SHARDS are migrated, never dropped), so no run sees an earlier one's leftovers.
 */
async function migrate(shardUrls: string): Promise<void> {
  const shards = openShards({ urls: shardUrls });
  try {
    await migrateAll(shards);
  } finally {
    await shards.close();
  }
}

/**
 * The databases of the run (test/support/database-sets.ts): with the server npm test found or
 * started, one set per vitest worker, one for the isolated files and one per file that pins a
 * system account, each dropped and migrated afresh (all sets at once: the work is MySQL's, and
 * one set takes seconds). With explicit MYSQL_SHARDS, only those, migrated and never dropped, and
 * vitest runs one worker on them: two workers would share them.
 */
async function prepareDatabases(
  config: { mysqlServer: { explicitShards: string | null } },
  shardUrls: string,
): Promise<ShardSets | null> {
  if (config.mysqlServer.explicitShards !== null) {
    await migrate(shardUrls);
    return null;
  }
  const sets: ShardSets = Object.fromEntries(databaseSetNames().map((name) => [name, shardUrlsOfSet(shardUrls, name)]));
  await Promise.all(
    Object.values(sets).map(async (urls) => {
      await dropScratchDatabases(parseShardUrls(urls));
      await migrate(urls);
    }),
  );
  return sets;
}

/**
 * Ctrl-C reaches vitest directly (same terminal process group); this process ignores it
 * so that it outlives vitest and can still stop the MySQL server it started. A SIGTERM
 * sent to this process alone is passed on for the same reason.
 */
function runVitest(
  shardUrls: string,
  sets: ShardSets | null,
  redisUrl: string,
  args: readonly string[],
): { exit: Promise<number>; stop(): void } {
  const workers = sets === null ? ['--maxWorkers=1'] : [];
  const child = spawn('npx', ['vitest', 'run', ...workers, ...args], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: {
      ...process.env,
      MYSQL_SHARDS: sets?.w1 ?? shardUrls,
      // Each test file's databases (test/support/setup.ts picks them); unset with explicit MYSQL_SHARDS.
      ...(sets === null ? {} : { TEST_SHARD_SETS: JSON.stringify(sets) }),
      // Under a name of its own: REDIS_URL itself would switch every gateway and account subgraph
      // the tests start to Redis mode, sharing rate budgets and hints across test files.
      TEST_REDIS_URL: redisUrl,
      JWT_SECRET: process.env.JWT_SECRET || testJwtSecret,
      NODE_ENV: 'test',
      // The gateways tests start write their audit lines here rather than into the test output.
      AUDIT_LOG_FILE: process.env.AUDIT_LOG_FILE || join(tmpdir(), 'paygraph-test-audit.jsonl'),
    },
  });
  const ignore = (): void => {};
  // The whole tree: npx does not pass the signal on to vitest (scripts/lib/process-tree.ts).
  const forward = (): void => {
    if (child.pid !== undefined) signalTree(child.pid, 'SIGTERM');
  };
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', forward);
      resolve(code ?? killedExitCode);
    });
  });
  return { exit, stop: forward };
}

/**
 * vitest's exit code once both have ended, or 1 as soon as the typecheck, the format check or the
 * lint fails (scripts/lib/static-checks.ts; vitest is then stopped: its results would not count).
 */
async function vitestAndTypes(
  vitest: { exit: Promise<number>; stop(): void },
  typechecked: Promise<TypecheckResult>,
): Promise<number> {
  const types = await Promise.race([typechecked, vitest.exit.then(() => typechecked)]);
  if (!types.ok) {
    vitest.stop();
    await vitest.exit;
    console.error(types.output);
    return 1;
  }
  log(`typecheck, format and lint passed (${(types.ms / 1000).toFixed(1)} s, beside the tests)`);
  return vitest.exit;
}

/** Which files held the connections at the peak, by set (test/support/database-sets.ts). */
function overBudget(bySet: string): string {
  return `${bySet} (w1, w2: the files the two workers ran then; isolated: the *.isolated.test.ts file running; own_<name>: test/…/<name>.test.ts; bench_smoke_<pid>: test/bench-smoke.test.ts). Make the pools of the files running then smaller (childPoolSize, testPoolSizeDefault, a poolSize of their own)`;
}

async function main(): Promise<number> {
  // Every variable is checked first. Two runs on one server (two work trees, say) each take
  // their own databases with TEST_DATABASE_PREFIX (another name starting with paygraph_test).
  const config = readTestRunConfig(process.env);
  // What a pass on another Node says it is on (.ci/run's on the image's Node): a PATH that did not take is caught here.
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (config.test.nodeMajor !== null && nodeMajor !== config.test.nodeMajor) {
    console.error(
      `[test] TEST_NODE_MAJOR=${config.test.nodeMajor}, but npm test runs on Node ${process.version} (${process.execPath})`,
    );
    return 1;
  }
  log(`Node ${process.version} (${process.execPath})`);
  // Before anything starts: what the selected files need from the system, installed as root or named (and stopped).
  ensureSystemPackages({ args: process.argv.slice(2), log });
  const mysql = await ensureMysql({ databasePrefix: config.test.databasePrefix, log, server: config.mysqlServer });
  try {
    log(
      `tests use ${mysql.privateServer ? 'the private MySQL server' : 'MySQL'} at ${describeShards(mysql.shardUrls)}${config.mysqlServer.explicitShards === null ? ' (one set per worker and per pinning file, named after these: test/support/database-sets.ts)' : ''}`,
    );
    const started = Date.now();
    const sets = await prepareDatabases(config, mysql.shardUrls);
    log(
      sets === null
        ? 'migrated MYSQL_SHARDS; one vitest worker'
        : `migrated ${Object.keys(sets).length} sets of test databases in ${((Date.now() - started) / 1000).toFixed(1)} s (${testWorkersMax} workers)`,
    );
    // After the databases, not beside them: beside tsc (even at nice 19) the 9 sets took 16.6 s
    // instead of 5.7 s alone (2026-11-24, this 2-core machine); vitest waited for all of it.
    const typechecked = staticChecks(
      repoRoot,
      typecheckProjects.map((project) => join(repoRoot, project)),
      { niceness: typecheckNiceness },
    );
    const redis = await ensureRedis({ explicitUrl: config.redisUrl ?? undefined, log });
    try {
      const connections = await sampleConnectionPeak(mysql.shardUrls, config.test.databasePrefix);
      const code = await vitestAndTypes(
        runVitest(mysql.shardUrls, sets, redis.url, process.argv.slice(2)),
        typechecked,
      );
      const peak = await connections.stop();
      const bySet = Object.entries(peak.bySet)
        .sort(([, a], [, b]) => b - a)
        .map(([set, n]) => `${set} ${n}`)
        .join(', ');
      const peakBySet = Object.entries(peak.peakBySet)
        .sort(([, a], [, b]) => b - a)
        .map(([set, n]) => `${set} ${n}`)
        .join(', ');
      log(
        `at most ${peak.connections} MySQL connections at once to the test databases (budget ${testRunConnectionsMax}: testRunConnectionsMax)${peak.at === null ? '' : `, at ${peak.at}: ${bySet}; each set's most at any time: ${peakBySet}`}`,
      );
      if (peak.lost !== null)
        console.error(
          `[test] the MySQL server stopped answering at ${peak.lost.at} (${peak.lost.detail}): the failures from then on are the server's, not the tests'; its error log says why`,
        );
      // Reported, not enforced (docs/TESTING.md "Connection budget"): each worker alone has held
      // 29, so two such files running at once (58 in a full run of the merged tree, 23 November) would fail a green
      // run on which files happened to coincide. The run stays within max_connections (151).
      if (peak.connections > testRunConnectionsMax) {
        console.error(
          `[test] warning: the run held ${peak.connections} MySQL connections at once, over its budget of ${testRunConnectionsMax} (testRunConnectionsMax, docs/TESTING.md "Connection budget"): ${overBudget(bySet)}`,
        );
      }
      return code;
    } finally {
      await redis.stop();
    }
  } finally {
    await mysql.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[test] ${describeError(error)}`);
    process.exit(1);
  },
);
