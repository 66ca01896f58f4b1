import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mintToken } from '../../subgraphs/shared/src/identity';
import { buildTopology } from '../../subgraphs/shared/src/shards/topology';
import { openShards, type ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { startLedgerHintPublisher } from '../../subgraphs/shared/src/events/ledger-hints';
import { describeError, ensureMysql } from '../lib/mysql-server';
import { loadConfig } from '../../subgraphs/shared/src/config';
import { configureLedger } from '../../subgraphs/shared/src/server/main';
import { benchDatabasePrefix, recreateDatabases, startProcessStack, processNames, type ProcessName, type ProcessStack } from './bench-stack';
import { runEventDelivery, type EventRunReport } from './event-delivery';
import {
  eventAccountsDefault, eventAccountsMax, eventPoolSizePerShard, eventRatePerSecondDefault, eventRatePerSecondMax, eventRunDeadlineMs,
  eventSecondsDefault, eventSecondsMax, fixtureConcurrency, jwtSecretBytes,
} from './limits';
import { LoadClient } from './load';
import { findMysqlServerPid } from './proc-stats';
import { repoRoot } from './processes';
import { formatProfile, summariseProfileDir } from './profile-summary';
import { writeResults } from './report';

/**
 * `npm run bench:events`: how long a committed payment takes to reach a subscriber, and what
 * delivering it costs each process. Starts the system as separate processes (bench-stack.ts:
 * the three subgraphs and the gateway, on databases paygraph_bench_events_s0..3 that it
 * recreates), then runs event-delivery.ts and writes bench/results/events/<ISO date>.json.
 *
 *   --accounts N  subscribed payee accounts, one graphql-ws connection and owner each (default 1,000)
 *   --rate N      payments per second (default 200)
 *   --seconds N   measured window (default 15; at most 60)
 *   --via ledger  (default) the bench posts the payments itself: exact commit instants
 *   --via api     createPayment through the gateway; commit instant = the entry's created_at
 *   --redis       fan out with Redis hints (REDIS_URL, default redis://127.0.0.1:6379) instead of polling
 *   --profile p1,p2  start these processes (gateway, account, transaction, settlement) under the
 *                 CPU profiler, profiling the measured window only, and summarise the profiles
 *                 at the end (as `npm run bench -- --profile` does)
 */
const resultsDir = join(repoRoot, 'bench/results/events');

function log(line: string): void {
  console.log(`[bench:events ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function bounded(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be an integer 1..${max}, got "${raw}"`);
  return value;
}

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string' },
    accounts: { type: 'string' },
    redis: { type: 'boolean', default: false },
    via: { type: 'string', default: 'ledger' },
    databases: { type: 'string' },
    profile: { type: 'string' },
  },
  strict: true,
});
if (args.via !== 'ledger' && args.via !== 'api') throw new Error('--via is ledger or api');
const profiled = (args.profile ? args.profile.split(',').map((p) => p.trim()) : []) as ProcessName[];
for (const p of profiled) if (!processNames.includes(p)) throw new Error(`--profile: unknown process "${p}"`);
const databasePrefix = benchDatabasePrefix(args.databases, 'paygraph_bench_events');
const config = loadConfig(process.env);
// With --via ledger this process posts as a subgraph would: it seals and dates the same way.
configureLedger(config);
const options = {
  viaLedger: args.via === 'ledger',
  rate: bounded('rate', args.rate, eventRatePerSecondDefault, eventRatePerSecondMax),
  seconds: bounded('seconds', args.seconds, eventSecondsDefault, eventSecondsMax),
  accounts: bounded('accounts', args.accounts, eventAccountsDefault, eventAccountsMax),
  redisUrl: args.redis ? (config.redisUrl ?? 'redis://127.0.0.1:6379') : null,
};

/** The running stack, for the deadline to stop. */
let stack: ProcessStack | null = null;

async function run(): Promise<EventRunReport> {
  const server = await ensureMysql({ databasePrefix, log, server: config.mysqlServer });
  const startedAt = new Date();
  const runId = `${startedAt.getTime().toString(36)}${randomBytes(2).toString('hex')}`;
  let ledger: ShardSet | null = null;
  let client: LoadClient | null = null;
  let stopHints: (() => Promise<void>) | null = null;
  const profileDir = join(resultsDir, 'profiles', runId);
  let report: EventRunReport | null = null;
  try {
    await recreateDatabases(server.shardUrls);
    const secret = randomBytes(jwtSecretBytes).toString('base64url');
    stack = await startProcessStack({
      shardUrls: server.shardUrls, jwtSecret: secret, logDir: join(repoRoot, 'bench/results/logs', runId), engine: 'merged',
      subgraphEnv: { MYSQL_POOL_SIZE: String(eventPoolSizePerShard), ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}) },
      ...(profiled.length > 0 ? { profile: { processes: profiled, dir: profileDir } } : {}),
    });
    log(`system up (${options.redisUrl ? `Redis hints from ${options.redisUrl}` : 'polling the shards'}); opening ${options.accounts} payees`);
    client = new LoadClient({ url: stack.gatewayUrl, token: await mintToken({ sub: 'bench-operator', role: 'operator' }, secret) }, fixtureConcurrency);
    ledger = options.viaLedger ? openShards({ urls: server.shardUrls, poolSize: eventPoolSizePerShard }) : null;
    if (ledger && options.redisUrl) stopHints = startLedgerHintPublisher(options.redisUrl);
    const mysqlPid = findMysqlServerPid();
    const running = stack;
    report = await runEventDelivery({
      gatewayUrl: stack.gatewayUrl,
      client,
      customerToken: (sub) => mintToken({ sub, role: 'customer' }, secret),
      ledger,
      topology: buildTopology(server.shardUrls, config.shards.map),
      accounts: options.accounts,
      ratePerSecond: options.rate,
      seconds: options.seconds,
      runId,
      pids: () => new Map([...running.pids(), ...(mysqlPid === undefined ? [] : [['mysql', mysqlPid] as [string, number]]), ['bench', process.pid]]),
      accountMetricsUrl: stack.urls.account.replace(/\/graphql$/, '/metrics'),
      // Profiles cover the measured window: set-up (1,000 accounts and subscriptions) would drown it.
      onMeasureStart: () => running.startProfiling(),
      log,
    });
  } finally {
    await stopHints?.();
    await ledger?.close();
    await client?.close();
    await stack?.stop();
    stack = null;
    await server.stop();
  }
  if (!report) throw new Error('the run ended without a report');
  const profiles = profiled.length > 0 ? summariseProfileDir(profileDir, log) : [];
  const file = writeResults(resultsDir, startedAt, {
    startedAt: startedAt.toISOString(), fanOut: options.redisUrl ? 'redis' : 'polling', ...report, profiles,
  });
  print(report, options.redisUrl !== null);
  for (const p of profiles) console.log(`${formatProfile(p)}\n`);
  log(`results written to ${file}`);
  return report;
}


function print(r: EventRunReport, redis: boolean): void {
  log(`fan-out: ${redis ? 'Redis hints' : 'polling'}; mode: ${r.via === 'ledger' ? 'payments posted by the bench, exact commit instants' : 'createPayment through the gateway, commit instant = entry created_at'}`);
  log(`payments: ${r.payments.succeeded} succeeded, ${r.payments.failed} failed, ${r.payments.notSent} not sent (generator behind) = ${r.payments.perSecond}/s into ${r.accounts} subscribed accounts`);
  log(`events: ${r.events.delivered} of ${r.payments.succeeded} delivered, ${r.events.gaps} gaps, ${r.events.repeats} repeats`);
  log(`commit → event on the wire: p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms (target p99 ≤ ${r.p99TargetMs} ms): ${r.met ? 'met' : 'MISSED'}`);
  log(`CPU ms per event: ${Object.entries(r.cpuMsPerEvent).map(([name, ms]) => `${name} ${ms}`).join(', ')}` +
    (r.otherCpuShare === null ? '' : `; other processes took ${Math.round(r.otherCpuShare * 100)}% of the machine`));
  if (r.feed) {
    log(`balance feed: ${r.feed.reads.poll} timer reads asking for ${r.feed.stripesRead.poll} stripes, ${r.feed.reads.hint} hinted reads asking for ${r.feed.stripesRead.hint}`);
  }
}

const deadline = setTimeout(() => {
  log(`still running after ${eventRunDeadlineMs / 1000} s: giving up`);
  const stopping = stack?.stop() ?? Promise.resolve();
  void stopping.finally(() => process.exit(2));
}, eventRunDeadlineMs);
deadline.unref();

run().then(
  (report) => process.exit(report.met ? 0 : 1),
  (error: unknown) => {
    console.error(`[bench:events] ${describeError(error)}`);
    process.exit(1);
  },
);
