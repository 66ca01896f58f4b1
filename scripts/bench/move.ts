import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mintToken } from '../../subgraphs/shared/src/identity';
import { parseId } from '../../subgraphs/shared/src/ids';
import { latestMove } from '../../subgraphs/shared/src/control/index';
import { ledgerHealth, totalSubtotalCheck } from '../../subgraphs/shared/src/ledger/index';
import { rawRows } from '../../subgraphs/shared/src/db/raw';
import { openShards } from '../../subgraphs/shared/src/shards/pool';
import { buildTopology } from '../../subgraphs/shared/src/shards/topology';
import { startScratchServer } from '../lib/mysql-server';
import { rangeWhere, placedTables } from '../lib/move-tables';
import { boundedArg } from './args';
import { recreateDatabases, startProcessStack, type ProcessStack } from './bench-stack';
import { benchConfig } from './delivery-bench';
import { openAndFund, type Fixtures } from './fixtures';
import {
  jwtSecretBytes,
  moveEntriesDefault,
  moveEntriesMax,
  moveSeedBatch,
  moveSeedConcurrency,
  moveSeedRoundSeconds,
  moveWindowSecondsMax,
  openLoopRateShare,
  scenarioSecondsDefault,
  scenarioSecondsMax,
  singleConcurrencyDefault,
} from './limits';
import { LoadClient, runClosedLoop, runOpenLoop, type LoadResult } from './load';
import { calibrationLoopMs, loadAverages } from './proc-stats';
import { repoRoot } from './processes';
import { writeResults } from './report';
import { bulkPaymentOps, singlePaymentOps, type BenchContext } from './scenarios';

/**
 * `npm run bench:move` (issue 50, item 6): a shard move of a range holding a million ledger entries while payments run
 * at 70% of a-max. On private MariaDB servers with a ROW binlog (the catch-up's, startScratchServer): two databases of
 * one serve the system (gateway and subgraphs as processes of their own), the target is on a second (another cluster,
 * as a move to grow would have it: the source's binlog then holds the system's writes, not the copy's). It fills logical shards
 * 40-47 with entries (bulk payments among the fixture accounts there), measures a-max, then a baseline at 70% of it,
 * then the same rate while `npm run shards -- move 40-47` runs, and reports the copy's rate, the fence's length, the
 * payments' latency during the move against the baseline, what was refused, and every database's ledger health.
 * Writes bench/results/move/<ISO date>.json.
 *
 *   --entries N   ledger entries in the range before the move (default 1,000,000)
 *   --seconds N   a-max's window and the baseline's (default 10)
 */
const range = { first: 40, last: 47 };
/** Each server's buffer pool: the range's tables (about 3 GB of rows and indexes for a million entries) mostly fit. */
const serverArgs = ['--innodb-buffer-pool-size=2G'];

const { values: args } = parseArgs({
  options: { entries: { type: 'string' }, seconds: { type: 'string' } },
  strict: true,
});
const entries = boundedArg('entries', args.entries, moveEntriesDefault, moveEntriesMax);
const seconds = boundedArg('seconds', args.seconds, scenarioSecondsDefault, scenarioSecondsMax);
const log = (line: string) => console.log(`[bench:move ${new Date().toISOString().slice(11, 19)}] ${line}`);

const inRange = (id: string) => {
  const l = parseId('account', id)!.shard;
  return l >= range.first && l <= range.last;
};

/** The fixtures' accounts in the range alone: what fills it, each payment within it. */
function rangeFixtures(fixtures: Fixtures): Fixtures {
  const kept = fixtures.accounts.flatMap((id, i) => (inRange(id) ? [i] : []));
  return {
    ...fixtures,
    accounts: kept.map((i) => fixtures.accounts[i]!),
    owners: kept.map((i) => fixtures.owners[i]!),
    shardOfAccount: kept.map((i) => fixtures.shardOfAccount[i]!),
  };
}

async function entriesInRange(url: string): Promise<number> {
  const set = openShards({ urls: url, poolSize: 1 });
  try {
    const { where, values } = rangeWhere(
      placedTables.find((t) => t.table === 'ledger_entries')!,
      range.first,
      range.last,
    );
    const [row] = await rawRows<{ n: number }>(
      set.all[0]!,
      `SELECT COUNT(*) AS n FROM ledger_entries WHERE ${where}`,
      values,
    );
    return Number(row!.n);
  } finally {
    await set.close();
  }
}

/** Bulk payments among the range's accounts until it holds `entries` ledger entries. */
async function fillRange(ctx: BenchContext, client: LoadClient, source: string): Promise<number> {
  const started = Date.now();
  const ops = bulkPaymentOps({ ...ctx, fixtures: rangeFixtures(ctx.fixtures) }, moveSeedBatch);
  for (let held = await entriesInRange(source); ; held = await entriesInRange(source)) {
    log(`the range holds ${held} ledger entries (${Math.round((Date.now() - started) / 1000)} s)`);
    if (held >= entries) return held;
    await runClosedLoop({ client, seconds: moveSeedRoundSeconds, concurrency: moveSeedConcurrency, next: ops.next });
  }
}

/** `npm run shards -- move`, its lines logged as they come; answers its exit status. */
function runMover(controlUrls: string, target: string): Promise<number> {
  const child = spawn(
    'npx',
    ['tsx', 'scripts/shards.ts', 'move', `${range.first}-${range.last}`, target, '--keep-source'],
    {
      cwd: repoRoot,
      env: { ...process.env, MYSQL_SHARDS: controlUrls },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim() !== '') log(`  ${line.slice(0, 400)}`);
  };
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

function conditions() {
  return { loadAverage: loadAverages(), calibrationMs: calibrationLoopMs() };
}

const latency = (r: LoadResult) =>
  `${r.unitsPerSecond}/s, p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} max ${r.latencyMs.max} ms, ` +
  `${r.failedUnits} failed${r.errors[0] ? ` (${r.errors[0].slice(0, 160)})` : ''}`;

/** The move under payments at 70% of a-max; answers what the results file holds. */
async function measure(urls: string[], ctx: BenchContext, client: LoadClient) {
  log(`before: ${JSON.stringify(conditions())}`);
  const held = await fillRange(ctx, client, urls[1]!);
  const ops = singlePaymentOps(ctx, 'uniform');
  await runClosedLoop({ client, seconds, concurrency: singleConcurrencyDefault, next: ops.next });
  const aMax = await runClosedLoop({ client, seconds, concurrency: singleConcurrencyDefault, next: ops.next });
  const rate = Math.max(1, aMax.unitsPerSecond * openLoopRateShare);
  log(`a-max ${latency(aMax)}; payments at ${Math.round(rate)}/s from here`);
  const baseline = await runOpenLoop({ client, seconds, ratePerSecond: rate, next: ops.next });
  log(`baseline (no move): ${latency(baseline)}`);
  let moving = true;
  const mover = runMover(`${urls[0]},${urls[1]}`, urls[2]!).finally(() => (moving = false));
  const during = await runOpenLoop({
    client,
    seconds: moveWindowSecondsMax,
    ratePerSecond: rate,
    next: ops.next,
    stop: () => !moving,
  });
  const exit = await mover;
  log(`during the move: ${latency(during)}`);
  const control = openShards({ urls: urls[0]!, poolSize: 1 });
  const move = await latestMove(control.all[0]!).finally(() => control.close());
  return { entriesInRange: held, aMax, rate, baseline, during, moverExit: exit, move, health: await healthOf(urls) };
}

/** Every database's ledger health and books once the payments stopped (each database its own). */
async function healthOf(urls: readonly string[]) {
  const all = openShards({ urls: urls.join(','), poolSize: 2 });
  try {
    const [ledger, books] = await Promise.all([ledgerHealth(all), totalSubtotalCheck(all)]);
    return {
      unbalanced: ledger.shards.filter((s) => !s.balanced).map((s) => s.shard),
      books,
      conditions: conditions(),
    };
  } finally {
    await all.close();
  }
}

async function main(): Promise<number> {
  const config = benchConfig();
  const startedAt = new Date();
  const runId = `${startedAt.getTime().toString(36)}${randomBytes(2).toString('hex')}`;
  const servers = await Promise.all(
    ['bench-move', 'bench-move-target'].map((name) => startScratchServer(name, log, serverArgs)),
  );
  let stack: ProcessStack | null = null;
  try {
    const urls = [0, 1, 2].map((n) => `${servers[n === 2 ? 1 : 0]!.url}/paygraph_bench_move_s${n}`);
    const systemUrls = `${urls[0]},${urls[1]}`;
    await recreateDatabases(systemUrls);
    await recreateDatabases(urls[2]!);
    const jwtSecret = randomBytes(jwtSecretBytes).toString('base64url');
    const logDir = join(repoRoot, 'bench/results/logs', runId);
    stack = await startProcessStack({ shardUrls: systemUrls, jwtSecret, logDir, engine: 'merged' });
    const token = await mintToken({ sub: 'bench-operator', role: 'operator' }, jwtSecret);
    const client = new LoadClient({ url: stack.gatewayUrl, token }, singleConcurrencyDefault);
    const topology = buildTopology(systemUrls, config.shards.map ?? undefined);
    const fixtures = await openAndFund({ client, runId, topology, log });
    const running = stack;
    const ctx: BenchContext = { token, fixtures, pids: () => running.pids(), shards: null, runId, seconds, log };
    const results = await measure(urls, ctx, client);
    const file = writeResults(join(repoRoot, 'bench/results/move'), startedAt, { startedAt, range, ...results });
    report(results);
    log(`results in ${file}`);
    await client.close();
    return results.moverExit === 0 && results.health.books.length === 0 ? 0 : 1;
  } finally {
    await stack?.stop();
    await Promise.all(servers.map((server) => server.stop()));
  }
}

function report(r: Awaited<ReturnType<typeof measure>>): void {
  const f = (r.move?.figures ?? {}) as Record<string, number | undefined>;
  const copyRate = f.rowsCopied !== undefined && f.copyMs ? Math.round((f.rowsCopied / f.copyMs) * 1000) : null;
  log(`entries in the range: ${r.entriesInRange}; rows copied ${f.rowsCopied} in ${f.copyMs} ms (${copyRate} rows/s)`);
  log(
    `catch-up passes ${f.catchUpPasses}, rows caught up before the fence ${f.rowsCaughtUp}, fenced ${f.caughtUpRows}`,
  );
  log(
    `fence ${f.fenceMs} ms; the move's p99 ${r.during.latencyMs.p99} ms against ${r.baseline.latencyMs.p99} ms without`,
  );
  log(
    `ledger: ${r.health.unbalanced.length} databases unbalanced, ${r.health.books.length} total–subtotal differences`,
  );
  log(`at the end: ${JSON.stringify(r.health.conditions)}`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
