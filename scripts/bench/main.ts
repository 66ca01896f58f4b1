import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync } from 'node:fs';
import { withServer } from '../../subgraphs/shared/src/db/server-connection';
import { mintToken } from '../../subgraphs/shared/src/identity';
import {
  gatewayIdentityHeader,
  gatewaySecretHeader,
  mintIdentityToken,
} from '../../subgraphs/shared/src/gateway-trust';
import { buildTopology, parseShardUrls } from '../../subgraphs/shared/src/shards/topology';
import { parseKeyRing } from '../../subgraphs/shared/src/config/ledger-keys';
import { setKeyRing } from '../../subgraphs/shared/src/ledger/index';
import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { describeError, ensureMysql } from '../lib/mysql-server';
import { readScriptConfig, scriptConfig } from '../lib/config';
import { configureLedger } from '../../subgraphs/shared/src/server/main';
import {
  benchDatabasePrefix,
  benchShards,
  recreateDatabases,
  hiveGatewayUrl,
  hiveGatewayVariants,
  startHiveGateway,
  startProcessStack,
  processNames,
  type ProcessName,
  type ProcessStack,
} from './bench-stack';
import {
  advancePendingPerMerchant,
  openAndFund,
  prepareAdvanceMerchants,
  prepareFxPayees,
  type Fixtures,
} from './fixtures';
import {
  blindWarmupSeconds,
  bulkConcurrencyDefault,
  bulkSizesDefault,
  concurrencyMax,
  directIdentityMarginSeconds,
  fixtureConcurrency,
  fxPayeeCount,
  jwtSecretBytes,
  openLoopRatePerSecondMax,
  openLoopSecondsDefault,
  openLoopSharePercentMax,
  openLoopSharesPercentDefault,
  rawBatchSize,
  readConcurrencyDefault,
  scenarioSecondsDefault,
  scenarioSecondsMax,
  singleConcurrencyDefault,
  soakRatePerSecondMax,
  readScenariosMax,
  soakRateProbeSeconds,
  soakSecondsMax,
  warmupSecondsMax,
  firstWarmupSecondsMin,
} from './limits';
import { boundedArg, openRatesArg, openSecondsArg, openSharesArg } from './args';
import { holdBufferPool, type BufferPoolHold } from './buffer-pool';
import { LoadClient, type Operation } from './load';
import { calibrationLoopMs, findMysqlServerPid, pidFileOf } from './proc-stats';
import { formatProfile, summariseProfileDir, type ProfileSummary } from './profile-summary';
import { prepareRawTables, runRawCeiling } from './raw-ceiling';
import { runEngineScenario } from './engine';
import { allCpuMsPerUnit, ceilingRatios, jitTable, resultsTable, writeResults } from './report';
import { prepareReadAccounts, type ReadFixtures } from './read-fixtures';
import {
  AdvanceOps,
  accountsByOwnerOps,
  bulkPaymentOps,
  describeQuotePool,
  fxQuotedPaymentOps,
  FxQuotePool,
  getAccountOps,
  holdCaptureOps,
  marketplaceOps,
  runScenario,
  singlePaymentOps,
  type BenchContext,
  type ScenarioResult,
  type WarmupPolicy,
} from './scenarios';
import { perfAvailable } from './perf-sampler';
import { loopProbeModule } from './loop-probe';
import { parseRuntimeChoices, resolveRuntime, type Runtime, type RuntimeChoice } from './runtime';
import { compareRuntimes } from './runtime-pair';
import { describeVerdict, runSoak, type SoakReport } from './soak';
import { repoRoot, type StartupCost } from './processes';

/**
 * `npm run bench`: starts its own copy of the system (3 subgraphs + gateway as processes, on
 * databases paygraph_bench_s0..3 that it recreates), opens and funds 1,000 accounts, runs the
 * scenarios of docs/PERFORMANCE.md, checks the ledger's invariants after each, prints a table
 * and writes bench/results/<ISO date>.json. Options:
 *   --seconds N          measured window per scenario (default 10; the open loops' too, when given)
 *   --open-seconds N     measured window of the open loops, a-70 and a-at-R (default 30: limits.ts says why)
 *   --concurrency N      clients of the single-payment scenarios (default 64)
 *   --read-concurrency N clients of the read scenarios (default 16)
 *   --only a,b,c,d,e,f   scenario groups to run (default all). a: single payments (a-max, a-70, and --open-shares);
 *                        b: b-hot-merchant, b-marketplace, b-hot-merchant-holds, and FX: b-fx-quoted
 *                        (a quote then its payment, two requests per unit) and b-fx (the payment
 *                        alone, its quote made by a pre-phase before the window, which says if the
 *                        quotes ran out), and b-advance (AdvanceSettlement of 1-100 minor units, in
 *                        turn over as many merchants as clients, each with pending on every database;
 *                        a merchant's advances run one at a time, and each home database's at most
 *                        its settlement pool less one at once: settlement's advance-lock.ts),
 *                        each with its ratio to a-max when a runs too; c: bulk;
 *                        d: posting engines; e: raw SQL ceiling; f (reads: GetAccount and AccountsByOwner,
 *                        straight to the account subgraph and through the gateway) includes the
 *                        Hive Gateway comparison
 *   --no-hive            skip the Hive Gateway comparison
 *   --soak S [--rate R]  instead of the scenarios: scenario (a) at 70% of its maximum (or R/s), a
 *                        minute of warm-up and then S seconds measured, sampling the RSS of the
 *                        gateway and every subgraph every 5 s; the verdict per process reads the
 *                        lowest sample of each minute (soak.ts)
 *   --production         start every process with NODE_ENV=production (as the Docker image does) and a
 *                        LEDGER_MAC_KEY made for the run; without it they run as `npm start` does
 *   --subgraph-env K=V,K=V  extra environment for the subgraphs: the knobs MERGE_WAIT_MS,
 *                        MERGE_BATCH_SIZE, MYSQL_POOL_SIZE, RENDERED_ANSWERS (POSTING_ENGINE is set per
 *                        scenario; RENDERED_ANSWERS=false renders every read of group f, as after a payment)
 *   --node-options=F     NODE_OPTIONS for the gateway and every subgraph, to measure a flag (the flags they
 *                        always run with, scripts/lib/node-options.ts, are on the command line and
 *                        win over NODE_OPTIONS: change processNodeArgs to measure those)
 *   --profile p1,p2      start these processes (gateway, account, transaction, settlement) with
 *                        node --cpu-prof and print the top functions by self time at the end
 *   --sources            run the processes from their TypeScript sources through tsx (`--import tsx
 *                        main.ts`), as before npm run build existed, instead of dist/ (what ships):
 *                        for before/after comparisons of the build (docs/PERFORMANCE.md)
 *   --warmup adaptive|S  the warm-up before each window: adaptive (the default) runs slices of
 *                        warmupSliceSeconds sampled with perf until every busy process spends under
 *                        warmupJitShareStop of its CPU compiling (at most warmupSecondsMax); S: a fixed S seconds
 *   --no-perf            no perf sampling of the windows (JIT and GC shares); the adaptive warm-up
 *                        then runs blindWarmupSeconds, as it does wherever perf is unavailable
 *   --node image|machine|N  the Node of the gateway and the subgraphs: image (the default) the Dockerfile's
 *                        major, from the npm registry's node package where the machine's Node is another
 *                        (runtime.ts); machine this process's Node; N that major (e.g. 20, 24). Several
 *                        (--node 20,24): the same run once per Node, back to back, then a table of the
 *                        second against the first (runtime-pair.ts)
 *   --open-shares P,P    the open-loop scenarios after a-max, each at P% of its rate (default 70: a-70), in
 *                        the order given: e.g. 30,50,70 for latency and CPU a payment against the load
 *   --open-rates R,R     open-loop scenarios after those, each at R payments/s (a-at-R): two trees' runs then
 *                        offer the same load whatever each one's a-max (an A B A B of latency)
 *   --loop-probe         every process reports each second its event-loop delay and GC pauses
 *                        (loop-probe.mjs, loaded with NODE_OPTIONS=--import); each window sums them per process
 *   --mysql-as-is        leave the database server's buffer pool as it is (buffer-pool.ts: the bench grows a
 *                        smaller one to hold the run's databases, and gives the old size back at the end)
 *   --table FILE         print the table of an earlier results file and exit
 *   --target URL --token T   measure a system that is already running instead (groups a, b, c, f
 *                        through its gateway; invariants only when MYSQL_SHARDS names its shards)
 */
const resultsDir = join(repoRoot, 'bench/results');
const scenarioGroups = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
type Group = (typeof scenarioGroups)[number];

interface Options {
  seconds: number;
  concurrency: number;
  readConcurrency: number;
  groups: Set<Group>;
  hive: boolean;
  soakSeconds: number | null;
  soakRate: number | null;
  profile: ProcessName[];
  target: { url: string; token: string } | null;
  subgraphEnv: Record<string, string>;
  production: boolean;
  /** NODE_OPTIONS for every process of the stack, besides the command line's processNodeArgs; null: none. */
  nodeOptions: string | null;
  /** The processes run their TypeScript sources through tsx instead of dist/ (--sources). */
  sources: boolean;
  table: string | null;
  databasePrefix: string;
  /** --warmup: 'adaptive' (the default: until the JIT settles, limits.ts) or a fixed number of seconds. */
  warmup: WarmupPolicy;
  /** --loop-probe: the processes report their event-loop delay and GC pauses (loop-probe.ts). */
  loopProbe: boolean;
  /** The Node of the gateway and the subgraphs (--node; runtime.ts); two or more: a run each, compared. */
  nodes: RuntimeChoice[];
  /** perf samples every window for each process's JIT and GC shares (off: --no-perf, or perf unavailable). */
  sampleJit: boolean;
  /** The open-loop scenarios after a-max, each a percent of its rate (--open-shares): a-70 by default. */
  openShares: number[];
  /** Open-loop scenarios at fixed payments per second after a-max (--open-rates): none by default. */
  openRates: number[];
  /** The open loops' measured window (--open-seconds; --seconds where only it is given; else openLoopSecondsDefault). */
  openSeconds: number;
  /** --mysql-as-is: the database server's buffer pool left as it is (buffer-pool.ts). */
  mysqlAsIs: boolean;
  /** --payees same-shard: no payment crosses shards (BenchContext.payeesOnPayersShard); uniform by default. */
  payeesOnPayersShard: boolean;
}

const subgraphKnobs = ['MERGE_WAIT_MS', 'MERGE_BATCH_SIZE', 'MYSQL_POOL_SIZE', 'RENDERED_ANSWERS'];

function parseSubgraphEnv(raw: string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  return Object.fromEntries(
    raw.split(',').map((pair) => {
      const [name, value] = pair.split('=').map((s) => s.trim());
      if (!name || value === undefined || !subgraphKnobs.includes(name)) {
        throw new Error(`--subgraph-env: "${pair}" is not one of ${subgraphKnobs.join(', ')} with a value`);
      }
      return [name, value];
    }),
  );
}

/** --node-options: flags only (each "--name" or "--name=value"), so that nothing else rides in NODE_OPTIONS. */
function parseNodeOptions(value: string | undefined): string | null {
  if (value === undefined || value.trim() === '') return null;
  const flags = value.trim().split(/\s+/);
  const bad = flags.find((f) => !/^--[a-z][a-z0-9-]*(=[A-Za-z0-9._-]+)?$/.test(f));
  if (bad !== undefined) throw new Error(`--node-options: "${bad}" is not a flag (--name or --name=value)`);
  return flags.join(' ');
}

/**
 * With --production, what the Docker image sets (NODE_ENV=production, under which graphql-js
 * skips its development checks, among others) and the ledger key production requires, made for
 * the run. This process seals rows with the same key (the d-engine scenarios post in process).
 */
function productionEnv(production: boolean): Record<string, string> {
  if (!production) return {};
  const key = `bench:${randomBytes(jwtSecretBytes).toString('base64url')}`;
  setKeyRing(parseKeyRing(key));
  // The gateway's default (require: only the contract's and registered documents), as the image runs it.
  const cardKey = randomBytes(jwtSecretBytes).toString('base64url');
  return {
    NODE_ENV: 'production',
    LEDGER_MAC_KEY: key,
    CARD_FINGERPRINT_KEY: cardKey,
    TRUSTED_DOCUMENTS_MODE: 'require',
  };
}

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      concurrency: { type: 'string' },
      'read-concurrency': { type: 'string' },
      only: { type: 'string' },
      'no-hive': { type: 'boolean' },
      soak: { type: 'string' },
      rate: { type: 'string' },
      profile: { type: 'string' },
      target: { type: 'string' },
      token: { type: 'string' },
      'subgraph-env': { type: 'string' },
      production: { type: 'boolean' },
      'node-options': { type: 'string' },
      table: { type: 'string' },
      databases: { type: 'string' },
      sources: { type: 'boolean' },
      warmup: { type: 'string' },
      'no-perf': { type: 'boolean' },
      node: { type: 'string' },
      'loop-probe': { type: 'boolean' },
      'open-shares': { type: 'string' },
      'open-rates': { type: 'string' },
      'open-seconds': { type: 'string' },
      'mysql-as-is': { type: 'boolean' },
      payees: { type: 'string' },
    },
    strict: true,
  });
  const groups = new Set<Group>(
    values.only ? (values.only.split(',').map((g) => g.trim()) as Group[]) : scenarioGroups,
  );
  for (const g of groups)
    if (!scenarioGroups.includes(g))
      throw new Error(`--only: unknown scenario group "${g}" (use ${scenarioGroups.join(',')})`);
  const profile = (values.profile ? values.profile.split(',').map((p) => p.trim()) : []) as ProcessName[];
  for (const p of profile) if (!processNames.includes(p)) throw new Error(`--profile: unknown process "${p}"`);
  if (values.target !== undefined && values.token === undefined)
    throw new Error('--target needs --token (an operator token)');
  if (values.target !== undefined && !/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//.test(values.target)) {
    throw new Error(
      '--target must be a loopback URL (http://127.0.0.1:PORT/graphql): the benchmark sends load to this machine only',
    );
  }
  // --seconds given also sets the open loops' window, unless --open-seconds does (openSecondsArg).
  const seconds = values.seconds === undefined ? null : boundedArg('seconds', values.seconds, 0, scenarioSecondsMax);
  return {
    seconds: seconds ?? scenarioSecondsDefault,
    concurrency: boundedArg('concurrency', values.concurrency, singleConcurrencyDefault, concurrencyMax),
    readConcurrency: boundedArg('read-concurrency', values['read-concurrency'], readConcurrencyDefault, concurrencyMax),
    groups,
    hive: values['no-hive'] !== true,
    soakSeconds: values.soak === undefined ? null : boundedArg('soak', values.soak, 0, soakSecondsMax),
    soakRate: values.rate === undefined ? null : boundedArg('rate', values.rate, 0, soakRatePerSecondMax),
    profile,
    target: values.target === undefined ? null : { url: values.target, token: values.token! },
    subgraphEnv: parseSubgraphEnv(values['subgraph-env']),
    production: values.production === true,
    nodeOptions: parseNodeOptions(values['node-options']),
    sources: values.sources === true,
    table: values.table ?? null,
    databasePrefix: benchDatabasePrefix(values.databases, 'paygraph_bench'),
    warmup: parseWarmup(values.warmup),
    sampleJit: values['no-perf'] !== true,
    nodes: parseRuntimeChoices(values.node),
    loopProbe: values['loop-probe'] === true,
    openShares: openSharesArg(values['open-shares'], openLoopSharesPercentDefault, openLoopSharePercentMax),
    openRates: openRatesArg(values['open-rates'], openLoopRatePerSecondMax),
    openSeconds: openSecondsArg(values['open-seconds'], seconds, openLoopSecondsDefault, scenarioSecondsMax),
    mysqlAsIs: values['mysql-as-is'] === true,
    payeesOnPayersShard: payeesArg(values.payees),
  };
}

function payeesArg(raw: string | undefined): boolean {
  if (raw === undefined || raw === 'uniform') return false;
  if (raw === 'same-shard') return true;
  throw new Error(`--payees: "${raw}" is not uniform or same-shard`);
}

/** A process's /metrics, beside its /graphql. */
function metricsUrlOf(graphqlUrl: string): string {
  return new URL('/metrics', graphqlUrl).toString();
}

/** NODE_OPTIONS of every process: --node-options, and with --loop-probe the probe's module. */
function probeEnv(options: Options, dir: string): Record<string, string> {
  if (options.loopProbe) mkdirSync(dir, { recursive: true });
  const flags = [options.nodeOptions, options.loopProbe ? `--import=${loopProbeModule}` : null].filter(
    (f): f is string => f !== null,
  );
  return {
    ...(flags.length > 0 ? { NODE_OPTIONS: flags.join(' ') } : {}),
    ...(options.loopProbe ? { BENCH_LOOP_PROBE_DIR: dir } : {}),
  };
}

function parseWarmup(raw: string | undefined): WarmupPolicy {
  if (raw === undefined || raw === 'adaptive') return { kind: 'adaptive' };
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > warmupSecondsMax)
    throw new Error(`--warmup must be "adaptive" or seconds 0..${warmupSecondsMax}, got "${raw}"`);
  return { kind: 'fixed', seconds };
}

function mysqlFacts(shardUrl: string): Promise<Record<string, string>> {
  return withServer(shardUrl, async (conn) => {
    // The port and thread handling say which server a run had (an A B of two servers on one machine).
    const [rows] = await conn.query(`SHOW VARIABLES WHERE Variable_name IN ('version', 'innodb_flush_log_at_trx_commit',
      'innodb_buffer_pool_size', 'max_connections', 'sync_binlog', 'log_bin', 'port', 'thread_handling')`);
    return Object.fromEntries(
      (rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name, r.Value]),
    );
  });
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.nodes.length > 1) return compareRuntimes(process.argv.slice(2), options.nodes);
  if (options.table !== null) {
    const earlier = JSON.parse(readFileSync(options.table, 'utf8')) as { scenarios: ScenarioResult[] };
    console.log(resultsTable(earlier.scenarios));
    const jit = jitTable(earlier.scenarios);
    if (jit) console.log(`\n${jit}`);
    return;
  }
  // The engine scenario posts from this process: it seals and dates as the subgraphs would.
  const config = readScriptConfig(scriptConfig, process.env);
  configureLedger(config);
  const startedAt = new Date();
  const loopBefore = calibrationLoopMs();
  log(`calibration: a fixed loop took ${loopBefore} ms on an idle machine (this VM's speed varies from run to run)`);
  const runId = `${startedAt.getTime().toString(36)}${randomBytes(2).toString('hex')}`;
  const logDir = join(resultsDir, 'logs', runId);
  const profileDir = join(resultsDir, 'profiles', runId);
  const loopProbeDir = join(logDir, 'loop-probe');
  const results: ScenarioResult[] = [];
  let hive: { ok: boolean; error?: string } | null = null;
  let soak: SoakReport | null = null;
  let stack: ProcessStack | null = null;
  let startup: Record<string, StartupCost> | null = null;
  let shards: ShardSet | null = null;
  let shardUrls: string | null = null;
  const clients: LoadClient[] = [];
  let mysqlPid: number | undefined;
  let runtime: Runtime | null = null;
  let bufferPool: BufferPoolHold | null = null;

  try {
    let gatewayUrl: string;
    let token: string;
    if (options.target) {
      gatewayUrl = options.target.url;
      token = options.target.token;
      shardUrls = config.mysqlServer.explicitShards;
      log(
        `measuring the running system at ${gatewayUrl}${shardUrls ? '' : ' (no MYSQL_SHARDS: invariants are not checked)'}`,
      );
    } else {
      const server = await ensureMysql({ databasePrefix: options.databasePrefix, log, server: config.mysqlServer });
      shardUrls = server.shardUrls;
      if (!options.mysqlAsIs) bufferPool = await holdBufferPool(parseShardUrls(shardUrls)[0]!, log);
      runtime = resolveRuntime(options.nodes[0]!, log);
      log(
        `the gateway and the subgraphs run on Node ${runtime.version} (${runtime.path}); the load generator on ${process.version}`,
      );
      log('recreating and migrating the benchmark databases');
      await recreateDatabases(shardUrls);
      const secret = randomBytes(jwtSecretBytes).toString('base64url');
      token = await mintToken({ sub: 'bench-operator', role: 'operator' }, secret);
      log(
        `starting the subgraphs and the gateway as processes${options.production ? ' with NODE_ENV=production' : ''} (logs in ${logDir})`,
      );
      stack = await startProcessStack({
        shardUrls,
        jwtSecret: secret,
        logDir,
        engine: 'merged',
        subgraphEnv: options.subgraphEnv,
        processEnv: { ...productionEnv(options.production), ...probeEnv(options, loopProbeDir) },
        ...(options.profile.length > 0 ? { profile: { processes: options.profile, dir: profileDir } } : {}),
        runFrom: options.sources ? 'sources' : 'dist',
        nodePath: runtime.path,
      });
      gatewayUrl = stack.gatewayUrl;
      startup = Object.fromEntries(stack.startups());
      log(
        `start-up (${options.sources ? 'sources through tsx' : 'compiled dist/'}), CPU ms and wall ms to the first healthy answer: ${Object.entries(
          startup,
        )
          .map(([name, cost]) => `${name} ${Math.round(cost.cpuMs)} / ${cost.readyMs}`)
          .join(', ')}`,
      );
    }
    if (shardUrls) shards = benchShards(shardUrls);
    const firstShard = shardUrls ? parseShardUrls(shardUrls)[0] : undefined;
    mysqlPid = await findMysqlServerPid(firstShard ? pidFileOf(firstShard) : undefined);
    const topology = shardUrls ? buildTopology(shardUrls, config.shards.map ?? undefined) : null;
    const gateway = new LoadClient(
      { url: gatewayUrl, token },
      Math.max(options.concurrency, options.readConcurrency, fixtureConcurrency),
    );
    clients.push(gateway);

    log('opening and funding the accounts');
    const fixtures: Fixtures = await openAndFund({ client: gateway, runId, topology, log });
    const currentStack = stack;
    const pids =
      (extra: Record<string, number> = {}) =>
      () =>
        new Map<string, number>([
          ...(currentStack ? currentStack.pids() : []),
          ...Object.entries(extra),
          ...(mysqlPid !== undefined ? [['mysql', mysqlPid] as [string, number]] : []),
          ['bench', process.pid],
        ]);
    const ctx: BenchContext = {
      token,
      fixtures,
      pids: pids(),
      shards,
      runId,
      seconds: options.seconds,
      log,
      warmup: options.warmup,
      sampleJit: options.sampleJit,
      payeesOnPayersShard: options.payeesOnPayersShard,
      ...(options.loopProbe ? { loopProbeDir } : {}),
      postingMetricsUrl: () => (currentStack ? metricsUrlOf(currentStack.urls.transaction) : null),
    };
    if (options.sampleJit && !perfAvailable())
      log(`perf is not available: no JIT shares, and ${describeWarmup(options.warmup)}`);
    const reads =
      options.groups.has('f') && options.soakSeconds === null
        ? await prepareReadAccounts({ client: gateway, fixtures, runId, shards, log })
        : null;
    // Profiles cover the scenarios only: start-up and fixtures would drown them.
    stack?.startProfiling();

    if (options.soakSeconds !== null) {
      soak = await runSoak({
        ctx,
        client: gateway,
        concurrency: options.concurrency,
        seconds: options.soakSeconds,
        rate: options.soakRate,
        probeSeconds: soakRateProbeSeconds,
        processes: () => stack?.pids() ?? new Map<string, number>(),
      });
    } else {
      await runGroups(
        options,
        ctx,
        gateway,
        stack,
        shardUrls,
        token,
        logDir,
        clients,
        results,
        reads,
        (h) => {
          hive = h;
        },
        pids,
      );
    }
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stack?.stop();
    await shards?.close();
    await bufferPool?.restore();
  }

  const loopAfter = calibrationLoopMs();
  const profiles = summariseProfiles(profileDir, options.profile.length > 0);
  const facts = shardUrls ? await mysqlFacts(parseShardUrls(shardUrls)[0]!).catch(() => ({})) : {};
  const ratios = ceilingRatios(results);
  const file = writeResults(resultsDir, startedAt, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      /** The Node of the gateway and the subgraphs (--node); null with --target. */
      processesNode: runtime === null ? null : { version: runtime.version, source: runtime.source },
      mysql: facts,
      /** The buffer pool when the run began and during it (bytes; buffer-pool.ts); null with --target. */
      bufferPool: bufferPool === null ? null : { before: bufferPool.before, during: bufferPool.during },
      cpuLoopMs: { before: loopBefore, after: loopAfter },
    },
    options: { ...options, groups: [...options.groups], target: options.target?.url ?? null },
    scenarios: results.map((r) => ({
      ...r,
      allCpuMsPerUnit: allCpuMsPerUnit(r),
      ceilingRatio: ratios.get(r.id) ?? null,
    })),
    startup,
    hiveGateway: hive,
    soak,
    profiles,
  });
  if (results.length > 0) {
    console.log(`\n${resultsTable(results)}\n`);
    const jit = jitTable(results);
    if (jit) console.log(`JIT and GC shares of each process's CPU (perf samples):\n\n${jit}\n`);
    console.log(`calibration loop: ${loopBefore} ms before the run, ${loopAfter} ms after (each window's: calib ms)`);
    if (runtime)
      console.log(
        `the gateway and the subgraphs ran on Node ${runtime.version}, the load generator on ${process.version}\n`,
      );
  }
  if (soak) {
    const s: SoakReport = soak;
    console.log(
      `\nsoak: ${s.load.unitsPerSecond} payments/s offered ${s.ratePerSecond}/s for ${s.warmupSeconds} + ${s.seconds} s, p50 ${s.load.latencyMs.p50} ms, p99 ${s.load.latencyMs.p99} ms, ${s.load.failedUnits} failed`,
    );
    for (const [name, verdict] of Object.entries(s.memory)) console.log(`soak: ${describeVerdict(name, verdict)}`);
    console.log(`soak: memory ${s.flat === null ? 'not judged' : s.flat ? 'flat in every process' : 'NOT flat'}\n`);
  }
  for (const p of profiles) console.log(`${formatProfile(p)}\n`);
  log(`results written to ${file}`);
}

async function runGroups(
  options: Options,
  ctx: BenchContext,
  gateway: LoadClient,
  stack: ProcessStack | null,
  shardUrls: string | null,
  token: string,
  logDir: string,
  clients: LoadClient[],
  results: ScenarioResult[],
  reads: ReadFixtures | null,
  setHive: (h: { ok: boolean; error?: string }) => void,
  pids: (extra?: Record<string, number>) => () => Map<string, number>,
): Promise<void> {
  const g = options.groups;
  const c = options.concurrency;
  const add = (r: ScenarioResult) => {
    results.push(r);
    return r;
  };
  let singleMax: ScenarioResult | null = null;
  if (g.has('a')) {
    const ops = singlePaymentOps(ctx, 'uniform');
    const max = add(
      await runScenario(ctx, {
        id: 'a-max',
        title: 'single payments, uniform over 1,000 accounts, max throughput',
        engine: 'merged',
        unit: 'payment',
        client: gateway,
        next: ops.next,
        unitsPerRequest: 1,
        load: { concurrency: c },
        crossShardShare: ops.crossShardShare,
        warmupSecondsMin: firstWarmupSecondsMin,
      }),
    );
    singleMax = max;
    const openLoops = [
      ...options.openShares.map((share) => ({
        id: `a-${share}`,
        title: `single payments at ${share}% of a-max (open loop)`,
        ratePerSecond: Math.max(1, (max.load.unitsPerSecond * share) / 100),
      })),
      ...options.openRates.map((rate) => ({
        id: `a-at-${rate}`,
        title: `single payments at ${rate}/s (open loop, a fixed rate)`,
        ratePerSecond: rate,
      })),
    ];
    // Their p99 is made by stalls: a longer window than the others' (limits.ts openLoopSecondsDefault).
    const openCtx = { ...ctx, seconds: options.openSeconds };
    for (const { id, title, ratePerSecond } of openLoops) {
      const open = singlePaymentOps(ctx, 'uniform');
      add(
        await runScenario(openCtx, {
          id,
          title,
          engine: 'merged',
          unit: 'payment',
          client: gateway,
          next: open.next,
          unitsPerRequest: 1,
          load: { ratePerSecond },
          crossShardShare: open.crossShardShare,
        }),
      );
    }
  }
  const hotMerchant = async (id: string, engine: string) => {
    const ops = singlePaymentOps(ctx, 'merchant');
    return add(
      await runScenario(ctx, {
        id,
        title: 'hot merchant: every payment to one MERCHANT account',
        engine,
        unit: 'payment',
        client: gateway,
        next: ops.next,
        unitsPerRequest: 1,
        load: { concurrency: c },
        crossShardShare: ops.crossShardShare,
      }),
    );
  };
  if (g.has('b')) {
    await hotMerchant('b-hot-merchant', 'merged');
    const marketplace = await marketplaceOps(ctx, gateway);
    const legs = add(
      await runScenario(ctx, {
        id: 'b-marketplace',
        title: 'marketplace payments: two splits and a campaign discount, legs on 3+ shards',
        engine: 'merged',
        unit: 'payment',
        client: gateway,
        next: marketplace.next,
        unitsPerRequest: 1,
        load: { concurrency: c },
        crossShardShare: marketplace.crossShardShare,
      }),
    );
    add(
      await runScenario(ctx, {
        id: 'b-hot-merchant-holds',
        title: 'hot merchant: holds created and captured in full (two requests per unit)',
        engine: 'merged',
        unit: 'payment',
        client: gateway,
        next: holdCaptureOps(ctx),
        unitsPerRequest: 1,
        load: { concurrency: c },
        crossShardShare: () => 0,
      }),
    );
    const yen = await prepareFxPayees(gateway, ctx.runId, ctx.fixtures.topology, fxPayeeCount);
    const quoted = add(
      await runScenario(ctx, {
        id: 'b-fx-quoted',
        title: 'cross-shard FX payments USD → JPY: a quote, then the payment with it (two requests per unit)',
        engine: 'merged',
        unit: 'payment',
        client: gateway,
        next: fxQuotedPaymentOps(ctx, yen),
        unitsPerRequest: 1,
        load: { concurrency: c },
        crossShardShare: () => 1,
      }),
    );
    // A payment alone costs at most what a quoted unit does, of which it is one request of two.
    const expectedPerSecond = Math.max(singleMax?.load.unitsPerSecond ?? 0, 2 * quoted.load.unitsPerSecond);
    const pool = new FxQuotePool(ctx, gateway, yen, c);
    const fx = add(
      await runScenario(ctx, {
        id: 'b-fx',
        title:
          'cross-shard FX payments USD → JPY, each with a quote made just before the window (one request per unit)',
        engine: 'merged',
        unit: 'payment',
        client: gateway,
        next: () => pool.next(),
        unitsPerRequest: 1,
        load: { concurrency: c },
        crossShardShare: () => 1,
        beforeRun: (seconds, phase) => pool.topUp(expectedPerSecond, seconds, phase),
        quotePool: () => pool.report(),
      }),
    );
    if (fx.quotePool?.ranOutAfterSeconds != null) log(`b-fx: WARNING: ${describeQuotePool(fx.quotePool)}`);
    const advanceMerchants = await prepareAdvanceMerchants({
      client: gateway,
      runId: ctx.runId,
      fixtures: ctx.fixtures,
      perDatabase: c,
      countMax: c,
      pendingEach: advancePendingPerMerchant(ctx.seconds),
      log,
    });
    const advances = new AdvanceOps(ctx, advanceMerchants);
    const advanceClients = advanceMerchants.merchants.length;
    const advance = add(
      await runScenario(ctx, {
        id: 'b-advance',
        title: `settlement advances: AdvanceSettlement of 1-100 minor units, in turn over ${advanceClients} merchants (${advanceMerchants.perDatabase} homed per database) with pending on ${advanceMerchants.stripes} databases`,
        engine: 'merged',
        unit: 'advance',
        client: gateway,
        next: () => advances.next(),
        unitsPerRequest: 1,
        load: { concurrency: advanceClients },
        beforeRun: () => advances.beforeRun(),
        advances: () => advances.report(),
      }),
    );
    if (singleMax) {
      const ratio = (r: ScenarioResult) => (r.load.unitsPerSecond / singleMax!.load.unitsPerSecond).toFixed(2);
      log(
        `b-marketplace ÷ a-max: ${ratio(legs)} (issue 23's target ≥ 0.5); b-fx ÷ a-max: ${ratio(fx)} (issue 24's target ≥ 0.8); b-fx-quoted ÷ a-max: ${ratio(quoted)}; ` +
          `b-advance ÷ a-max: ${ratio(advance)} (advances against payments)`,
      );
    }
  }
  if (g.has('c')) {
    for (const size of bulkSizesDefault) {
      const ops = bulkPaymentOps(ctx, size);
      add(
        await runScenario(ctx, {
          id: `c-bulk-${size}`,
          title: `createPayments, ${size} per request`,
          engine: 'merged',
          unit: 'payment',
          client: gateway,
          next: ops.next,
          unitsPerRequest: size,
          load: { concurrency: bulkConcurrencyDefault },
          crossShardShare: ops.crossShardShare,
        }),
      );
    }
  }
  if (g.has('f') && reads) {
    const getAccount = getAccountOps(reads.accounts);
    const byOwner = accountsByOwnerOps(reads.owners);
    const readScenario = (id: string, title: string, client: LoadClient, next: () => Operation) =>
      runScenario(ctx, {
        id,
        title,
        engine: '-',
        unit: 'read',
        client,
        next,
        unitsPerRequest: 1,
        load: { concurrency: options.readConcurrency },
        checkInvariants: false,
      });
    let direct: LoadClient | null = null;
    if (stack) {
      // What the gateway would send the subgraph: its secret and the operator's identity signed for it.
      const trust = stack.trusts.account;
      // Signed once for every read scenario that follows (each a warm-up and a window).
      const expiresAt =
        Math.floor(Date.now() / 1000) +
        readScenariosMax * (options.seconds + warmupSecondsMax) +
        directIdentityMarginSeconds;
      const identity = await mintIdentityToken({ sub: 'bench-operator', role: 'operator' }, trust, expiresAt);
      const headers = { [gatewaySecretHeader]: trust.secret, [gatewayIdentityHeader]: identity };
      direct = new LoadClient({ url: stack.urls.account, token, headers }, options.readConcurrency);
      clients.push(direct);
    }
    if (direct) add(await readScenario('f-direct', 'GetAccount straight to the account subgraph', direct, getAccount));
    add(await readScenario('f-gateway', 'GetAccount through the gateway (Apollo)', gateway, getAccount));
    if (direct)
      add(await readScenario('f-owner-direct', 'AccountsByOwner straight to the account subgraph', direct, byOwner));
    add(await readScenario('f-owner-gateway', 'AccountsByOwner through the gateway (Apollo)', gateway, byOwner));
    if (stack && options.hive) {
      try {
        for (const variant of hiveGatewayVariants) {
          const hive = await startHiveGateway(stack, join(logDir, variant.id), logDir, variant);
          try {
            const client = new LoadClient({ url: hiveGatewayUrl(hive), token }, options.readConcurrency);
            clients.push(client);
            const how = [
              variant.routerRuntime ? 'Hive Router runtime' : 'stitching runtime',
              ...(variant.inboundDedupe ? ['inbound deduplication'] : []),
            ].join(', ');
            add(
              await runScenario(
                { ...ctx, pids: pids({ 'hive-gateway': hive.pid }) },
                {
                  id: variant.id,
                  title: `GetAccount through Hive Gateway (${how})`,
                  engine: '-',
                  unit: 'read',
                  client,
                  next: getAccount,
                  unitsPerRequest: 1,
                  load: { concurrency: options.readConcurrency },
                  checkInvariants: false,
                },
              ),
            );
            // Our gateway again right after, so that each Hive figure has an Apollo one of the same minute.
            add(
              await readScenario(
                `${variant.id}-apollo`,
                'GetAccount through the gateway (Apollo), again',
                gateway,
                getAccount,
              ),
            );
          } finally {
            await hive.stop();
          }
        }
        setHive({ ok: true });
      } catch (error) {
        const message = describeError(error);
        log(`Hive Gateway comparison failed: ${message}`);
        setHive({ ok: false, error: message });
      }
    }
  }
  if (g.has('e') && shardUrls && stack) {
    // The subgraphs are stopped so that the ceiling has the machine (and MySQL's connections) to itself.
    await stack.stopSubgraphs();
    await prepareRawTables(shardUrls);
    for (const batchSize of [1, rawBatchSize] as const) {
      add(
        await runRawCeiling({
          shardUrls,
          seconds: options.seconds,
          batchSize,
          pids: pids(),
          log,
          warmup: options.warmup,
          sampleJit: options.sampleJit,
        }),
      );
    }
  }
  if (g.has('d') && stack) {
    for (const engine of ['naive', 'single'] as const) {
      log(`restarting the subgraphs with POSTING_ENGINE=${engine}`);
      await stack.restartSubgraphs(engine);
      stack.startProfiling();
      await hotMerchant(`d-${engine}-hot-merchant`, engine);
    }
  }
  if (g.has('d') && stack && shardUrls) {
    // The engines alone: the subgraphs are stopped and createPayment runs in this process.
    await stack.stopSubgraphs();
    for (const engine of ['merged', 'naive', 'single'] as const)
      add(await runEngineScenario({ ctx, shardUrls, engine, concurrency: c }));
  }
}

function describeWarmup(policy: WarmupPolicy): string {
  return policy.kind === 'fixed'
    ? `a fixed warm-up of ${policy.seconds} s`
    : `a fixed warm-up of ${blindWarmupSeconds} s (blindWarmupSeconds) instead of the adaptive one`;
}

function summariseProfiles(dir: string, wanted: boolean): ProfileSummary[] {
  return wanted ? summariseProfileDir(dir, log) : [];
}

main().catch((error: unknown) => {
  console.error(`[bench] FAILED: ${describeError(error)}`);
  process.exit(1);
});
