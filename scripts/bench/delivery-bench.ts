import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mintToken } from '../../subgraphs/shared/src/identity';
import { onCommitted } from '../../subgraphs/shared/src/ledger/index';
import { buildTopology, parseShardUrls, type Topology } from '../../subgraphs/shared/src/shards/topology';
import { openShards, type ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { describeError, ensureMysql } from '../lib/mysql-server';
import { readScriptConfig, scriptConfig, type ScriptConfig } from '../lib/config';
import { configureLedger } from '../../subgraphs/shared/src/server/main';
import { recreateDatabases, startProcessStack, processNames, type ProcessName, type ProcessStack } from './bench-stack';
import {
  eventDrainPollIntervalMs,
  eventGeneratorTickMs,
  eventPaymentsInFlightMax,
  eventPoolSizePerShard,
  eventRunDeadlineMs,
  fixtureConcurrency,
  jwtSecretBytes,
} from './limits';
import { LoadClient } from './load';
import { cpuDelta, findMysqlServerPid, pidFileOf, snapshotCpu } from './proc-stats';
import { repoRoot } from './processes';
import { formatProfile, summariseProfileDir } from './profile-summary';
import { writeResults } from './report';
import { otherShare, perUnit } from './scenarios';

/**
 * What `npm run bench:events` and `npm run bench:webhooks` share: both start the system as
 * separate processes on bench databases they recreate, post payments at a fixed rate and measure
 * how long each committed entry takes to reach its consumer (a subscriber, a webhook receiver)
 * and what delivering it costs each process. This file holds the run around the measurement
 * (MySQL, the stack, the operator's client, the posting shards, optional CPU profiles, the
 * results file, the deadline, the exit code), the commit instants and the measured window.
 */
export interface BenchLog {
  (line: string): void;
}

export interface DeliveryBenchRun {
  stack: ProcessStack;
  client: LoadClient;
  /** Shards this process posts on (it seals and dates as a subgraph does). */
  ledger: ShardSet;
  topology: Topology | null;
  jwtSecret: string;
  runId: string;
  pids: () => Map<string, number>;
  /** Starts the CPU profilers: called as the measured window opens (set-up would drown it). */
  onMeasureStart: () => void;
  config: ScriptConfig;
  log: BenchLog;
}

export interface DeliveryBenchOptions<R extends { met: boolean }> {
  /** events or webhooks: the log prefix and bench/results/<name>/. */
  name: string;
  databasePrefix: string;
  profiled: readonly ProcessName[];
  subgraphEnv?: (config: ScriptConfig) => Record<string, string>;
  measure: (run: DeliveryBenchRun) => Promise<R>;
  /** The report's lines, after the profiles. */
  print: (report: R, log: BenchLog) => void;
  /** Extra fields of the results file. */
  extra?: Record<string, unknown>;
  /** Started before the measurement, stopped after it (Redis hints). */
  around?: (config: ScriptConfig) => (() => Promise<void>) | null;
}

/** `--profile p1,p2`: processes to start under the CPU profiler. */
export function profiledProcesses(raw: string | undefined): ProcessName[] {
  const profiled = (raw ? raw.split(',').map((p) => p.trim()) : []) as ProcessName[];
  for (const p of profiled) if (!processNames.includes(p)) throw new Error(`--profile: unknown process "${p}"`);
  return profiled;
}

export function benchConfig(): ScriptConfig {
  const config = readScriptConfig(scriptConfig, process.env);
  // This process posts the payments as a subgraph would: it seals and dates the same way.
  configureLedger(config);
  return config;
}

/** Runs one delivery benchmark and exits: 0 when its target was met, 1 otherwise or on error, 2 past the deadline. */
export function runDeliveryBench<R extends { met: boolean }>(
  config: ScriptConfig,
  options: DeliveryBenchOptions<R>,
): void {
  const log: BenchLog = (line) =>
    console.log(`[bench:${options.name} ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const resultsDir = join(repoRoot, 'bench/results', options.name);
  let stack: ProcessStack | null = null;

  const run = async (): Promise<R> => {
    const server = await ensureMysql({ databasePrefix: options.databasePrefix, log, server: config.mysqlServer });
    const startedAt = new Date();
    const runId = `${startedAt.getTime().toString(36)}${randomBytes(2).toString('hex')}`;
    const profileDir = join(resultsDir, 'profiles', runId);
    let ledger: ShardSet | null = null;
    let client: LoadClient | null = null;
    let stopAround: (() => Promise<void>) | null = null;
    let report: R | null = null;
    try {
      await recreateDatabases(server.shardUrls);
      const jwtSecret = randomBytes(jwtSecretBytes).toString('base64url');
      stack = await startProcessStack({
        shardUrls: server.shardUrls,
        jwtSecret,
        logDir: join(repoRoot, 'bench/results/logs', runId),
        engine: 'merged',
        subgraphEnv: { MYSQL_POOL_SIZE: String(eventPoolSizePerShard), ...options.subgraphEnv?.(config) },
        ...(options.profiled.length > 0 ? { profile: { processes: options.profiled, dir: profileDir } } : {}),
      });
      client = new LoadClient(
        { url: stack.gatewayUrl, token: await mintToken({ sub: 'bench-operator', role: 'operator' }, jwtSecret) },
        fixtureConcurrency,
      );
      ledger = openShards({ urls: server.shardUrls, poolSize: eventPoolSizePerShard });
      stopAround = options.around?.(config) ?? null;
      const mysqlPid = await findMysqlServerPid(pidFileOf(parseShardUrls(server.shardUrls)[0]!));
      const running = stack;
      report = await options.measure({
        stack,
        client,
        ledger,
        jwtSecret,
        runId,
        config,
        log,
        topology: buildTopology(server.shardUrls, config.shards.map ?? undefined),
        pids: () =>
          new Map([
            ...running.pids(),
            ...(mysqlPid === undefined ? [] : [['mysql', mysqlPid] as [string, number]]),
            ['bench', process.pid],
          ]),
        onMeasureStart: () => running.startProfiling(),
      });
    } finally {
      await stopAround?.();
      await ledger?.close();
      await client?.close();
      await stack?.stop();
      stack = null;
      await server.stop();
    }
    if (!report) throw new Error('the run ended without a report');
    const profiles = options.profiled.length > 0 ? summariseProfileDir(profileDir, log) : [];
    const file = writeResults(resultsDir, startedAt, {
      startedAt: startedAt.toISOString(),
      ...options.extra,
      ...report,
      profiles,
    });
    for (const p of profiles) console.log(`${formatProfile(p)}\n`);
    options.print(report, log);
    log(`results written to ${file}`);
    return report;
  };

  const deadline = setTimeout(() => {
    log(`still running after ${eventRunDeadlineMs / 1000} s: giving up`);
    const stopping = stack?.stop() ?? Promise.resolve();
    void stopping.finally(() => process.exit(2));
  }, eventRunDeadlineMs);
  deadline.unref();

  run().then(
    (report) => process.exit(report.met ? 0 : 1),
    (error: unknown) => {
      console.error(`[bench:${options.name}] ${describeError(error)}`);
      process.exit(1);
    },
  );
}

/**
 * Commit → arrival of events about the watched accounts. Commit instants come from
 * onCommitted as this process posts; an event can be read off its socket in the same turn of
 * the event loop as, and before, the COMMIT's reply: such an event counts as 0 ms once its
 * commit is seen. `arrived` with `committedAt` takes the commit instant from the event instead.
 */
export interface CommitLatency {
  latencies: number[];
  measuring: boolean;
  arrived(accountId: string, sequence: number | string, committedAt?: number): void;
  stop(): void;
}

export function trackCommitLatency(accounts: Iterable<string>): CommitLatency {
  const watched = new Set(accounts);
  const committedAt = new Map<string, number>();
  const arrivedFirst = new Set<string>();
  const tracker: CommitLatency = {
    latencies: [],
    measuring: false,
    arrived: (accountId, sequence, given) => {
      if (!tracker.measuring) return;
      const key = `${accountId}:${sequence}`;
      const committed = given ?? committedAt.get(key);
      if (committed !== undefined) tracker.latencies.push(Date.now() - committed);
      else arrivedFirst.add(key);
    },
    stop: () => stopListening(),
  };
  const stopListening = onCommitted((_shard, entries) => {
    const now = Date.now();
    for (const entry of entries) {
      if (!watched.has(entry.accountId)) continue;
      const key = `${entry.accountId}:${entry.sequence}`;
      if (arrivedFirst.delete(key)) tracker.latencies.push(0);
      else committedAt.set(key, now);
    }
  });
  return tracker;
}

export interface MeasuredWindow {
  payments: { succeeded: number; failed: number; notSent: number; perSecond: number };
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** CPU ms per delivered event, per process, over the payments and the drain. */
  cpuMsPerEvent: Record<string, number>;
  /** Share of the machine's CPU that processes outside the run took meanwhile. */
  otherCpuShare: number | null;
}

/**
 * The measured window: pays at the rate (payAtRate), then waits up to drainMs until `delivered()`
 * reaches the payments that succeeded, and reports latency percentiles and CPU per delivered event.
 */
export async function measureWindow(options: {
  run: Pick<DeliveryBenchRun, 'pids'> & { onMeasureStart?: () => void };
  rate: { seconds: number; ratePerSecond: number; runId: string };
  latency: CommitLatency;
  payees: readonly string[];
  payers?: readonly string[];
  pay: Parameters<typeof payAtRate>[3];
  delivered: () => number;
  drainMs: number;
}): Promise<MeasuredWindow & { delivered: number }> {
  options.run.onMeasureStart?.();
  const cpuBefore = snapshotCpu(options.run.pids());
  const started = Date.now();
  const deliveredBefore = options.delivered();
  options.latency.measuring = true;
  const payments = await payAtRate(options.rate, options.payees, options.payers ?? [], options.pay);
  const paidFor = (Date.now() - started) / 1000;
  const drainStarted = Date.now();
  while (options.delivered() - deliveredBefore < payments.succeeded && Date.now() - drainStarted < options.drainMs) {
    await new Promise((resolve) => setTimeout(resolve, eventDrainPollIntervalMs));
  }
  const cpu = cpuDelta(cpuBefore, snapshotCpu(options.run.pids()));
  const windowMs = Date.now() - started;
  options.latency.measuring = false;
  const delivered = options.delivered() - deliveredBefore;
  const sorted = [...options.latency.latencies].sort((a, b) => a - b);
  const own = Object.fromEntries(Object.entries(cpu).filter(([name]) => name !== 'other' && name !== 'steal'));
  return {
    delivered,
    payments: { ...payments, perSecond: round(payments.succeeded / paidFor) },
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? Number.NaN,
    },
    cpuMsPerEvent: perUnit(own, delivered),
    otherCpuShare: otherShare(cpu, windowMs / 1000),
  };
}

/** The lines both benchmarks print about their window. */
export function printWindow(
  log: BenchLog,
  what: string,
  r: MeasuredWindow & { p99TargetMs: number; met: boolean },
): void {
  log(
    `${what}: p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms (target p99 ≤ ${r.p99TargetMs} ms): ${r.met ? 'met' : 'MISSED'}`,
  );
  log(
    `CPU ms per delivered event: ${Object.entries(r.cpuMsPerEvent)
      .map(([name, ms]) => `${name} ${ms}`)
      .join(', ')}` +
      (r.otherCpuShare === null ? '' : `; other processes took ${Math.round(r.otherCpuShare * 100)}% of the machine`),
  );
}

/**
 * Payments into random payees at a fixed rate; one the generator could not send (too many in flight) counts as not
 * sent.
 */
export async function payAtRate(
  options: { seconds: number; ratePerSecond: number; runId: string },
  payees: readonly string[],
  payers: readonly string[],
  pay: (payee: string, payer: string | undefined, key: string) => Promise<boolean>,
): Promise<{ succeeded: number; failed: number; notSent: number }> {
  const tally = { succeeded: 0, failed: 0, notSent: 0 };
  const pending = new Set<Promise<void>>();
  const started = Date.now();
  let sent = 0;
  while (Date.now() - started < options.seconds * 1_000) {
    const due = Math.floor(((Date.now() - started) / 1_000) * options.ratePerSecond);
    for (; sent < due; sent++) {
      if (pending.size >= eventPaymentsInFlightMax) {
        tally.notSent += 1;
        continue;
      }
      const payee = payees[Math.floor(Math.random() * payees.length)]!;
      const task: Promise<void> = pay(payee, payers[sent % Math.max(1, payers.length)], `${options.runId}-pay-${sent}`)
        .then(
          (ok) => void (ok ? tally.succeeded++ : tally.failed++),
          () => void tally.failed++,
        )
        .finally(() => pending.delete(task));
      pending.add(task);
    }
    await new Promise((resolve) => setTimeout(resolve, eventGeneratorTickMs));
  }
  await Promise.all(pending);
  return tally;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
