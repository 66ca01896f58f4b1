import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { testSubgraphSecrets } from './env';
import { freePort, freePorts } from '../../scripts/lib/free-port';
import { compiledEntry } from '../../scripts/lib/build';
import { processNodeArgs } from '../../scripts/lib/node-options';
import { parts, type PartName } from '../../scripts/lib/parts';
import { variablePrefixOf } from '@paygraph/shared/part';

export { freePort, freePorts };

/**
 * Subgraphs as real child processes, for tests that need a process to die (failpoints) and
 * come back. The child runs its dist/<name>.js, as npm start and production do: npm test's global
 * set-up builds dist/ from the sources under test when stale (test/support/build.ts). Under tsx
 * the same child answered its /health in 0.86–1.13 s, compiled in 0.51–0.54 s (the transaction
 * subgraph, three starts each on an idle machine), and the tests start some hundred of them.
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** How long a child may take to answer /health after it is spawned. */
export const childReadyTimeoutMs = 30_000;
const readyPollIntervalMs = 100;
/**
 * Connections a child keeps per shard: a test sends it a request at a time, and the server's
 * connections are shared by two test workers (testRunConnectionsMax).
 */
export const childPoolSize = 2;
/** How much of the child's output (characters) is kept for failure messages. */
const outputTailChars = 16_000;

export interface ChildService {
  readonly graphqlUrl: string;
  readonly healthUrl: string;
  readonly process: ChildProcess;
  /** Settles when the process has exited, with how. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the child printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGKILLs the child unless it has exited already, and waits for the exit. */
  kill(): Promise<void>;
}

/**
 * A service of `npm start`, one per part (parts.ts): the variable that names its port (its entry is dist/<name>.js).
 */
export const serviceEntries = Object.fromEntries(
  parts.map((part) => [
    part.name,
    {
      portVariable: part.kind === 'gateway' ? 'PORT' : `${variablePrefixOf(part.name)}_PORT`,
    },
  ]),
) as Record<PartName, { portVariable: string }>;
export type ServiceName = PartName;

/** Variables a child must not inherit from the test process: each run sets its own. */
const perRunVariables = [
  'TRANSACTION_FAILPOINT',
  'SETTLEMENT_FAILPOINT',
  'RELAY_ENABLED',
  'RELAY_INTERVAL_MS',
  ...Object.values(serviceEntries).map((s) => s.portVariable),
];

/**
 * Spawns `node dist/transaction.js` with MYSQL_SHARDS from this
 * process, the test stack's SUBGRAPH_SECRET_TRANSACTION and `env` on top, and waits until its /health answers 200.
 */
export async function spawnTransactionSubgraph(env: Record<string, string>): Promise<ChildService> {
  return spawnService('transaction', {
    [subgraphSecretVariable('transaction')]: testSubgraphSecrets.transaction,
    MYSQL_POOL_SIZE: String(childPoolSize),
    ...env,
  });
}

/**
 * Transaction subgraphs a crash test spawns, killed together at the end (afterAll):
 * `spawn` starts one as spawnTransactionSubgraph does and keeps its handle.
 */
export function transactionChildren(): {
  spawn(env: Record<string, string>): Promise<ChildService>;
  killAll(): Promise<void>;
} {
  const children: ChildService[] = [];
  return {
    async spawn(env) {
      const child = await spawnTransactionSubgraph(env);
      children.push(child);
      return child;
    },
    async killAll() {
      await Promise.all(children.map((c) => c.kill()));
    },
  };
}

/**
 * Spawns one service from its compiled file, as npm start and production run it (`node
 * <processNodeArgs> dist/<name>.js`, no TypeScript loader), on `port` (a free one by default)
 * with this process's environment and `env` on top, and waits until its /health answers 200.
 * With logFile, everything the child prints is appended there as well, whole: the kept tail dies
 * with the child's handle, and a test that restarts a service wants to read what the killed one
 * said.
 */
export async function spawnService(
  name: ServiceName,
  env: Record<string, string>,
  port?: number,
  logFile?: string,
): Promise<ChildService> {
  return spawnChild(name, env, port, logFile);
}

/** The same service from `appDir` (an image's layout, say); dist/ is built by npm test's global set-up. */
export async function spawnCompiledService(
  name: ServiceName,
  env: Record<string, string>,
  appDir: string = repoRoot,
): Promise<ChildService> {
  return spawnChild(name, env, undefined, undefined, appDir);
}

/**
 * NODE_OPTIONS is emptied beside these: it could register a loader (--import tsx), and none may help the compiled code
 * run.
 */
export function compiledNodeArgs(name: ServiceName): string[] {
  return [...processNodeArgs, compiledEntry(name)];
}

/**
 * What a service prints once it listens (runSubgraphMain's and the gateway's main.ts's line): the
 * port is read from it, so the test talks to the child it spawned and no other process.
 */
const listeningPattern = /listening on http:\/\/[^\s/:"]+:(\d+)\/graphql/;

async function spawnChild(
  name: ServiceName,
  env: Record<string, string>,
  port?: number,
  logFile?: string,
  cwd: string = repoRoot,
): Promise<ChildService> {
  const { portVariable } = serviceEntries[name];
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([variable]) => !perRunVariables.includes(variable)),
  );
  // Port 0 unless the test names one (a restart on the same port): the child binds a free port
  // itself and says which. A port picked here and let go first (freePort) could be taken by
  // another process before the child binds it; the child then exited with EADDRINUSE (code 1)
  // while the other process answered its /health (merchant-payout's "killed after its debit",
  // once in a full run). The info line is needed for that, so LOG_LEVEL is info unless the test says.
  const child = spawn(process.execPath, compiledNodeArgs(name), {
    cwd,
    env: {
      ...inherited,
      [portVariable]: String(port ?? 0),
      HOST: '127.0.0.1',
      GATEWAY_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
      NODE_OPTIONS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let announced: number | null = null;
  const collect = (chunk: Buffer) => {
    const text = output + chunk.toString('utf8');
    if (announced === null) {
      const match = listeningPattern.exec(text);
      if (match) announced = Number(match[1]);
    }
    output = text.slice(-outputTailChars);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  if (logFile) {
    const log = createWriteStream(logFile, { flags: 'a' });
    log.write(`--- ${name} pid ${child.pid} started ${new Date().toISOString()}\n`);
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    // 'close', not 'exit': output still buffered at the exit would be written after the end, an
    // error with no listener, which a shared process would blame on a later file.
    child.once('close', (code, signal) =>
      log.end(`--- ${name} pid ${child.pid} exited with ${signal ?? `code ${code}`}\n`),
    );
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const kill = async (): Promise<void> => {
    if (!gone) child.kill('SIGKILL');
    await exited;
  };
  const listenPort = await readyPort(name, {
    port,
    announced: () => announced,
    gone: () => gone,
    output: () => output,
    kill,
  });
  return {
    graphqlUrl: `http://127.0.0.1:${listenPort}/graphql`,
    healthUrl: `http://127.0.0.1:${listenPort}/health`,
    process: child,
    exited,
    output: () => output,
    kill,
  };
}

/**
 * Waits until the child has said where it listens and its /health there answers 200; answers
 * the port. A child that exits first, or is not ready in childReadyTimeoutMs, is an error with
 * its output (and is killed).
 */
async function readyPort(
  name: ServiceName,
  child: {
    port: number | undefined;
    announced(): number | null;
    gone(): boolean;
    output(): string;
    kill(): Promise<void>;
  },
): Promise<number> {
  const deadline = Date.now() + childReadyTimeoutMs;
  for (;;) {
    if (child.gone()) throw new Error(`${name} exited before it was ready:\n${child.output()}`);
    const port = child.announced();
    if (port !== null && child.port !== undefined && port !== child.port) {
      await child.kill();
      throw new Error(`${name} listens on ${port}, not on the port it was given (${child.port}):\n${child.output()}`);
    }
    if (port !== null) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        if (response.status === 200) return port;
      } catch {
        // Not answering yet.
      }
    }
    if (Date.now() > deadline) {
      await child.kill();
      throw new Error(
        `${name} did not ${port === null ? 'say where it listens' : 'answer /health'} within ${childReadyTimeoutMs} ms:\n${child.output()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, readyPollIntervalMs));
  }
}

/**
 * How long `npm start` may take to print "Press Ctrl-C to stop": a build when stale, then four processes start, slowly
 * on a busy 2-core machine.
 */
export const systemStartTimeoutMs = 150_000;
/** How long `npm start` may take to exit after a stop signal. */
export const systemStopTimeoutMs = 20_000;
const outputPollIntervalMs = 100;

export interface StartedSystem {
  readonly process: ChildProcess;
  readonly ports: {
    PORT: number;
    ACCOUNT_PORT: number;
    TRANSACTION_PORT: number;
    SETTLEMENT_PORT: number;
    WEBHOOKS_PORT: number;
  };
  /** Everything `npm start` and its children printed so far. */
  output(): string;
  /** Waits until the output matches, failing with the output after timeoutMs or if `npm start` exits. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Sends the signal and waits for the exit: its code, or 'timeout' (after which it was SIGKILLed). */
  stop(signal: NodeJS.Signals): Promise<number | null | 'timeout'>;
}

/**
 * `npm start` (scripts/start.ts) as a newcomer runs it, on free ports, without JWT_SECRET or
 * subgraph secrets, with plain log prefixes; resolves once it says it is running.
 */
export async function startSystem(extraEnv: Record<string, string> = {}): Promise<StartedSystem> {
  const [gateway, account, transaction, settlement, webhooks] = await freePorts(5);
  const ports = {
    PORT: gateway!,
    ACCOUNT_PORT: account!,
    TRANSACTION_PORT: transaction!,
    SETTLEMENT_PORT: settlement!,
    WEBHOOKS_PORT: webhooks!,
  };
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', NODE_ENV: 'development', ...extraEnv };
  delete env.JWT_SECRET;
  for (const key of Object.keys(env)) if (key.startsWith('SUBGRAPH_SECRET_')) delete env[key];
  for (const [key, value] of Object.entries(ports)) env[key] = String(value);
  const child = spawn(`${repoRoot}node_modules/.bin/tsx`, ['scripts/start.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const system: StartedSystem = {
    process: child,
    ports,
    output: () => output,
    waitForOutput: async (pattern, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`npm start did not print ${pattern}:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, outputPollIntervalMs));
      }
    },
    stop: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), systemStopTimeoutMs));
      const result = await Promise.race([exited, timeout]);
      if (result === 'timeout') child.kill('SIGKILL');
      return result;
    },
  };
  try {
    await system.waitForOutput(/Press Ctrl-C to stop/, systemStartTimeoutMs);
  } catch (error) {
    await system.stop('SIGINT');
    throw error;
  }
  return system;
}

/** True while a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
