import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { freePort } from './free-port';
import { findBinary, redactUrl, sleep, stopChild } from './server-process';

/**
 * Finds a Redis server for `npm test`, as mysql-server.ts finds MySQL: an explicit REDIS_URL
 * wins (and must answer), then a server on the usual address, then a private `redis-server`
 * started from PATH on a free loopback port, with no persistence, stopped when the run ends.
 */

export interface RedisServer {
  /** redis:// URL of the server, in the form REDIS_URL takes. */
  url: string;
  /** True when this call started the server. */
  privateServer: boolean;
  /** The private server's process id, when there is one. */
  pid: number | null;
  /** Stops the private server if this call started it; otherwise does nothing. */
  stop(): Promise<void>;
}

export interface EnsureRedisOptions {
  /** REDIS_URL as the user set it (the caller reads the environment); unset or '' when not set. */
  explicitUrl?: string | undefined;
  /** Where a server is looked for when none is named; redis://127.0.0.1:6379 by default. */
  defaultUrl?: string;
  log: (line: string) => void;
}

export const defaultRedisUrl = 'redis://127.0.0.1:6379';
/** How long one probe waits for PONG before calling the server unreachable. */
const probeTimeoutMs = 2_000;
/** How long a private server may take to answer PING after it is started. */
const privateServerReadyTimeoutMs = 10_000;
const readyPollIntervalMs = 100;
/** How long a private server may take to exit after SIGTERM before it is killed. */
const privateServerStopTimeoutMs = 10_000;
/** Characters of the private server's output quoted when it fails to start. */
const outputTailChars = 2_000;

const noRedisHelp =
  'No Redis server found and no redis-server binary on PATH. The tests of ledger hints and shared rate limits need Redis; ' +
  'install it (e.g. `sudo apt-get install redis-server` or `brew install redis`: npm test then starts a private server by itself), ' +
  'run one on 127.0.0.1:6379, or set REDIS_URL (redis://[:password@]host:port) to one.';

export async function ensureRedis(options: EnsureRedisOptions): Promise<RedisServer> {
  const explicit = options.explicitUrl?.trim() ?? '';
  if (explicit !== '') {
    const probe = await probeRedis(explicit);
    if (!probe.ok)
      throw new Error(
        `REDIS_URL is set, but ${redactUrl(explicit)} does not answer (${probe.reason}); start that server or unset REDIS_URL.`,
      );
    options.log(`using REDIS_URL ${redactUrl(explicit)}`);
    return external(explicit);
  }
  const url = options.defaultUrl ?? defaultRedisUrl;
  const probe = await probeRedis(url);
  if (probe.ok) {
    options.log(`using Redis at ${redactUrl(url)}`);
    return external(url);
  }
  options.log(`no Redis at ${redactUrl(url)} (${probe.reason})`);
  const binary = findBinary(['redis-server']);
  if (binary === undefined) throw new Error(noRedisHelp);
  return startPrivateServer(binary, options.log);
}

function external(url: string): RedisServer {
  return { url, privateServer: false, pid: null, stop: async () => {} };
}

type ProbeResult = { ok: true } | { ok: false; reason: string };

/** One connection, one PING, no retries: the answer is whether a server is there now. */
export async function probeRedis(url: string): Promise<ProbeResult> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: probeTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Connection errors also reach the promise below; this keeps them from being reported twice.
  client.on('error', () => {});
  try {
    await client.connect();
    const answer = await client.ping();
    return answer === 'PONG' ? { ok: true } : { ok: false, reason: `PING answered "${answer}"` };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    client.disconnect();
  }
}

/**
 * A throwaway server: loopback only, a free port, no RDB snapshots or AOF (nothing is
 * written to disk), its own process group so a Ctrl-C reaches only the script that stops it.
 */
async function startPrivateServer(binary: string, log: (line: string) => void): Promise<RedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  log(`starting a private Redis server (${binary}) on 127.0.0.1:${port}, without persistence`);
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      tmpdir(),
      '--daemonize',
      'no',
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-outputTailChars);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.unref();
  try {
    await waitUntilReady(url, child, () => output);
  } catch (error) {
    await stopChild(child, privateServerStopTimeoutMs);
    throw error;
  }
  // Its output is no longer needed; unread pipes would otherwise keep this process alive.
  child.stdout!.destroy();
  child.stderr!.destroy();
  log(`private Redis server is up (pid ${child.pid}); it stops when this command exits`);
  return {
    url,
    privateServer: true,
    pid: child.pid ?? null,
    stop: async () => {
      log('stopping the private Redis server');
      await stopChild(child, privateServerStopTimeoutMs);
    },
  };
}

async function waitUntilReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + privateServerReadyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the private Redis server exited during start-up:\n${output()}`);
    if ((await probeRedis(url)).ok) return;
    await sleep(readyPollIntervalMs);
  }
  throw new Error(
    `the private Redis server did not answer PING within ${privateServerReadyTimeoutMs / 1000} s:\n${output()}`,
  );
}
