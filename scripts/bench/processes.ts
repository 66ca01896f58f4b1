import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  healthRequestTimeoutMs,
  processReadyPollIntervalMs,
  processReadyTimeoutMs,
  processStopGraceMs,
} from './limits';
import { freePort, freePorts } from '../lib/free-port';
import { processNodeArgs } from '../lib/node-options';
import { compiledEntry } from '../lib/build';
import { cpuMsOf } from './proc-stats';

export { freePort, freePorts };

/**
 * The system as `npm start` runs it: each subgraph and the gateway a separate Node process
 * running its compiled file (`node <processNodeArgs> dist/<name>.js`, what production runs), here on
 * ports of the benchmark's own and with their output in log files, so that the CPU of each one can
 * be read from /proc.
 */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceSpec {
  name: string;
  /** The file node runs, relative to the repository root: compiled JavaScript unless tsxLoader. */
  entry: string;
  /**
   * Registers tsx (`--import tsx`) to run a TypeScript entry: the way every process ran before
   * `npm run build` (issue 21), kept only for the benchmark's --sources comparison.
   */
  tsxLoader?: boolean;
  /** Arguments after the entry script. */
  args?: string[];
  env: Record<string, string>;
  healthUrl: string;
  /** The node binary that runs it (--node, runtime.ts); this process's own when absent. */
  nodePath?: string;
  /** Run under profiled-entry.ts: SIGUSR2 starts the CPU profiler, and stopping writes the profile here. */
  cpuProfileFile?: string;
}

/** What a process's start cost: from spawn to its first healthy answer. */
export interface StartupCost {
  /** Wall time, to within processReadyPollIntervalMs; processes started together share the CPU. */
  readyMs: number;
  /** CPU (user + system) the process used until then, from /proc. */
  cpuMs: number;
}

export interface Service {
  readonly spec: ServiceSpec;
  readonly pid: number;
  readonly startup: StartupCost;
  /** Starts the CPU profiler of a service started with cpuProfileFile; does nothing otherwise. */
  startProfiling(): void;
  stop(): Promise<void>;
}

/** How long a profiled process may take to write its profile once asked. */
const profileWriteTimeoutMs = 20_000;
const profileWritePollIntervalMs = 100;

/**
 * Variables a child must not inherit from whoever ran the benchmark: each is set per run, and
 * an inherited one (a developer's PORT or POSTING_ENGINE) would silently change what is measured.
 */
const perRunVariables = [
  'MYSQL_SHARDS',
  'MYSQL_URL',
  'PORT',
  'ACCOUNT_PORT',
  'TRANSACTION_PORT',
  'SETTLEMENT_PORT',
  'WEBHOOKS_PORT',
  'ACCOUNT_URL',
  'TRANSACTION_URL',
  'SETTLEMENT_URL',
  'WEBHOOKS_URL',
  'POSTING_ENGINE',
  'MERGE_WAIT_MS',
  'MERGE_BATCH_SIZE',
  'MERGE_QUEUE_SIZE',
  'MYSQL_POOL_SIZE',
  'RENDERED_ANSWERS',
  'RELAY_ENABLED',
  'TRANSACTION_FAILPOINT',
  'NODE_OPTIONS',
  'JWT_SECRET',
  'REDIS_URL',
  'HOST',
  'GATEWAY_HOST',
  'SUBGRAPH_SECRET_ACCOUNT',
  'SUBGRAPH_SECRET_TRANSACTION',
  'SUBGRAPH_SECRET_SETTLEMENT',
  'SUBGRAPH_SECRET_WEBHOOKS',
  'JWKS_URL',
];

export async function startService(spec: ServiceSpec, logDir: string): Promise<Service> {
  mkdirSync(logDir, { recursive: true });
  // The child writes its output to the file itself: relayed through pipes, every line (the gateway's audit log, about
  // 1 MB/s in a-max) was read and written again by this process, the load generator whose CPU the bench reports.
  const log = openSync(join(logDir, `${spec.name}.log`), 'a');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !perRunVariables.includes(name)));
  const profiled = spec.cpuProfileFile !== undefined;
  const nodeArgs = [
    ...processNodeArgs,
    ...(spec.tsxLoader === true ? ['--import', 'tsx'] : []),
    profiled ? compiledEntry('profiled-entry') : spec.entry,
    ...(spec.args ?? []),
  ];
  const spawnedAt = performance.now();
  const profileEnv = profiled ? { BENCH_PROFILE_ENTRY: spec.entry, BENCH_PROFILE_FILE: spec.cpuProfileFile! } : {};
  const child = spawn(spec.nodePath ?? process.execPath, nodeArgs, {
    cwd: repoRoot,
    env: { ...inherited, ...spec.env, ...profileEnv },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let profiling = false;
  const pid = child.pid ?? -1;
  const service = {
    spec,
    pid,
    startup: { readyMs: Number.NaN, cpuMs: Number.NaN },
    startProfiling: () => {
      if (!profiled || profiling || hasExited(child)) return;
      profiling = true;
      child.kill('SIGUSR2');
    },
    stop: async () => {
      if (profiling && !hasExited(child)) await collectProfile(child, spec.cpuProfileFile!);
      await stopChild(child, exited);
    },
  };
  try {
    await waitForHealth(spec, child, logDir);
  } catch (error) {
    await service.stop();
    throw error;
  }
  service.startup = { readyMs: Math.round(performance.now() - spawnedAt), cpuMs: cpuMsOf(pid) ?? Number.NaN };
  return service;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitForHealth(spec: ServiceSpec, child: ChildProcess, logDir: string): Promise<void> {
  const deadline = Date.now() + processReadyTimeoutMs;
  while (Date.now() < deadline) {
    if (hasExited(child)) {
      throw new Error(
        `${spec.name} exited (${child.signalCode ?? `code ${child.exitCode}`}) before it became healthy; see ${join(logDir, `${spec.name}.log`)}`,
      );
    }
    try {
      const response = await fetch(spec.healthUrl, { signal: AbortSignal.timeout(healthRequestTimeoutMs) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, processReadyPollIntervalMs));
  }
  throw new Error(
    `${spec.name} did not answer ${spec.healthUrl} with 200 within ${processReadyTimeoutMs} ms; see ${join(logDir, `${spec.name}.log`)}`,
  );
}

/** Asks the profiled process for its profile (SIGUSR2 again) and waits until the file is written. */
async function collectProfile(child: ChildProcess, file: string): Promise<void> {
  child.kill('SIGUSR2');
  const deadline = Date.now() + profileWriteTimeoutMs;
  let lastSize = -1;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, profileWritePollIntervalMs));
    const size = existsSync(file) ? statSync(file).size : -1;
    // writeFileSync writes the whole file at once, but a size that holds for one poll is the safer sign.
    if (size > 0 && size === lastSize) return;
    lastSize = size;
  }
  console.error(`[bench] ${file} was not written within ${profileWriteTimeoutMs} ms`);
}

/** SIGTERM lets the process exit cleanly (and write its CPU profile); SIGKILL only if it hangs. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (!hasExited(child)) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), processStopGraceMs);
    await exited;
    clearTimeout(timer);
  }
}
