import { parseShardNodes, parseShardUrls } from '../../subgraphs/shared/src/shards/topology';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import type { MysqlServerSettings } from './config';
import { findBinary, redactUrl, sleep, stopChild } from './server-process';
import { freePort } from './free-port';
import { serverUriOf } from '../../subgraphs/shared/src/db/server-connection';

export { redactUrl };

/**
 * Finds a MySQL server for the scripts that run the system (npm start, npm test), so that
 * a fresh checkout works without setup: an explicit MYSQL_SHARDS wins, then a server on
 * the usual port, then a private server this module starts from the local MariaDB or
 * MySQL binaries with its data under <repo>/.data.
 */

export interface MysqlServer {
  /** Comma-separated shard URLs, in the form MYSQL_SHARDS takes. */
  shardUrls: string;
  /** True when the shards live on a server under <repo>/.data rather than one the user runs. */
  privateServer: boolean;
  /** Stops the private server if this call started it; otherwise does nothing. */
  stop(): Promise<void>;
}

export interface EnsureMysqlOptions {
  /** Shard databases are named `<prefix>_s0`, `<prefix>_s1`, ... */
  databasePrefix: string;
  log: (line: string) => void;
  /**
   * MYSQL_SHARDS, MYSQL_URL, MYSQL_LOCAL_SOCKET, MYSQL_SHARD_COUNT, MYSQL_PRIVATE_PORT, from the script's schema
   * (config.ts).
   */
  server: MysqlServerSettings;
}

/** How long one probe waits for a server to answer before calling it unreachable. */
const probeTimeoutMs = 2_000;
/** How long a private server may take to accept connections after it is started. */
const privateServerReadyTimeoutMs = 30_000;
const readyPollIntervalMs = 250;
/** How long a private server may take to shut down (InnoDB flushes) before it is killed. */
const privateServerStopTimeoutMs = 30_000;
/** Lines of the server's error log quoted when it fails to start. */
const errorLogTailLines = 20;
/** How deep describeError follows `cause` chains, in case one loops. */
const errorCausesMax = 5;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dataRoot = join(repoRoot, '.data');
/** Where a private server keeps its data, socket, pid and error log: `<root>/<name>` and its siblings. */
function pathsUnder(root: string, name: string) {
  return {
    root,
    dataDir: join(root, name),
    initDir: join(root, `${name}.initialising`),
    socket: join(root, `${name}.sock`),
    pidFile: join(root, `${name}.pid`),
    errorLog: join(root, `${name}.err`),
  };
}
type PrivatePaths = ReturnType<typeof pathsUnder>;
const privatePaths = pathsUnder(dataRoot, 'mysql');
/**
 * Every private server writes a ROW binlog: a shard move catches up from it while the range still takes writes
 * (scripts/lib/binlog-catch-up.ts), so its fence is short whatever the range's size. With each table's columns
 * described in the binlog (FULL), the reader decodes rows without asking INFORMATION_SCHEMA.
 */
const binlogArgs = ['--log-bin=binlog', '--binlog-format=ROW', '--binlog-row-metadata=FULL', '--server-id=1'];

const serverBinaryNames = ['mariadbd', 'mysqld'];
const installDbBinaryNames = ['mariadb-install-db', 'mysql_install_db'];

const noDatabaseHelp =
  'No MySQL server found. paygraph needs MySQL 8 or MariaDB 10.6+; any one of these works: ' +
  'install MariaDB or MySQL locally (e.g. `sudo apt-get install mariadb-server` or `brew install mariadb`; ' +
  'if it is running on 127.0.0.1:3306 with a passwordless root it is used as is, and if only the binaries ' +
  'are present a private server is started with its data in .data/mysql), ' +
  'or run the MySQL servers of docker-compose.yml (`docker compose up -d mysql-a mysql-b`, publishing their port 3306) ' +
  'and set MYSQL_SHARDS to their shard URLs (mysql://root:paygraph@127.0.0.1:<published port>/paygraph_s0,...), ' +
  'or point MYSQL_SHARDS (comma-separated mysql://user:password@host:port/database URLs) ' +
  'or MYSQL_URL (mysql://user:password@host:port) at an existing server.';

export async function ensureMysql(options: EnsureMysqlOptions): Promise<MysqlServer> {
  const explicitShards = options.server.explicitShards;
  if (explicitShards !== null) return useExplicitShards(explicitShards, options);

  const serverUrl = options.server.url;
  const probe = await probeServer(serverUrl);
  if (probe.ok) {
    const { shardUrls, socket } = await localShardUrls(serverUrl, options);
    options.log(`using MySQL at ${redactUrl(serverUrl)}${socket ? ` through its Unix socket ${socket}` : ''}`);
    return { shardUrls, privateServer: false, stop: async () => {} };
  }
  options.log(`no usable MySQL at ${redactUrl(serverUrl)} (${probe.reason})`);

  const serverBinary = findBinary(serverBinaryNames);
  if (serverBinary === undefined) throw new Error(noDatabaseHelp);
  return startPrivateServer(serverBinary, options);
}

async function useExplicitShards(shardUrls: string, options: EnsureMysqlOptions): Promise<MysqlServer> {
  const first = parseShardUrls(shardUrls)[0] ?? '';
  const probe = await probeServer(first);
  if (!probe.ok) {
    throw new Error(
      `MYSQL_SHARDS is set, but its first server ${redactUrl(first)} does not answer (${probe.reason}); start that server or unset MYSQL_SHARDS.`,
    );
  }
  options.log(`using MYSQL_SHARDS (${parseShardUrls(shardUrls).length} shards, first ${redactUrl(first)})`);
  return { shardUrls, privateServer: false, stop: async () => {} };
}

/**
 * The Unix socket of a server on this machine, when it can be used: a statement's round trip
 * over loopback TCP cost the subgraphs about a third more CPU than over the socket
 * (docs/PERFORMANCE.md). MYSQL_LOCAL_SOCKET=off keeps TCP; explicit MYSQL_SHARDS are used as given.
 */
export async function localSocketOf(
  serverUrl: string,
  mode: MysqlServerSettings['localSocket'],
): Promise<string | null> {
  const url = new URL(serverUrl);
  if (mode === 'off' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return null;
  try {
    const conn = await mysql.createConnection({ uri: serverUrl, connectTimeout: probeTimeoutMs });
    let socket: unknown;
    try {
      const [rows] = await conn.query('SELECT @@socket AS socket');
      socket = (rows as Array<{ socket: unknown }>)[0]?.socket;
    } finally {
      await conn.end();
    }
    if (typeof socket !== 'string' || socket === '') return null;
    accessSync(socket, constants.R_OK | constants.W_OK);
    // The same server must answer there, with the same credentials.
    return (await probeServer(withSocket(serverUrl, socket))).ok ? socket : null;
  } catch {
    return null;
  }
}

/** The shards on a server of this machine, through its Unix socket when localSocketOf finds one that works. */
async function localShardUrls(
  serverUrl: string,
  options: EnsureMysqlOptions,
): Promise<{ shardUrls: string; socket: string | null }> {
  const socket = await localSocketOf(serverUrl, options.server.localSocket);
  return { shardUrls: shardUrlsOn(socket ? withSocket(serverUrl, socket) : serverUrl, options), socket };
}

function withSocket(serverUrl: string, socket: string): string {
  const url = new URL(serverUrl);
  url.searchParams.set('socketPath', socket);
  return url.toString();
}

/** MYSQL_SHARD_COUNT databases on the server, named after the prefix. */
function shardUrlsOn(serverUrl: string, options: EnsureMysqlOptions): string {
  const base = new URL(serverUrl);
  return Array.from({ length: options.server.shardCount }, (_, i) => {
    const url = new URL(base.toString());
    url.pathname = `/${options.databasePrefix}_s${i}`;
    return url.toString();
  }).join(',');
}

/** "127.0.0.1:3306: paygraph_s0, paygraph_s1, ..." for a one-line summary of the shards in use. */
export function describeShards(shardUrls: string): string {
  const byHost = new Map<string, string[]>();
  // A shard on a Galera cluster lists its nodes joined by `|`: each node names its host.
  for (const raw of parseShardNodes(shardUrls).flat()) {
    const url = new URL(raw.trim());
    const databases = byHost.get(url.host) ?? [];
    databases.push(decodeURIComponent(url.pathname.slice(1)));
    byHost.set(url.host, databases);
  }
  return [...byHost].map(([host, databases]) => `${host}: ${databases.join(', ')}`).join('; ');
}

/**
 * An error's message followed by its causes: drizzle wraps a failed statement in
 * "Failed query: ..." and keeps the server's reason only in `cause`.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current !== undefined && parts.length < errorCausesMax) {
    parts.push(current instanceof Error ? current.message.trim() : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join('\n  caused by: ');
}

type ProbeResult = { ok: true } | { ok: false; reason: string };

/** Connects to the server (not to a database, which may not exist yet) and disconnects. */
async function probeServer(url: string): Promise<ProbeResult> {
  let server: string;
  try {
    server = serverUriOf(url);
  } catch {
    return { ok: false, reason: `"${url}" is not a URL` };
  }
  try {
    const conn = await mysql.createConnection({ uri: server, connectTimeout: probeTimeoutMs });
    await conn.end();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message || errorCode(error) : String(error) };
  }
}

function errorCode(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'connection failed';
}

async function startPrivateServer(serverBinary: string, options: EnsureMysqlOptions): Promise<MysqlServer> {
  const port = options.server.privatePort;
  const serverUrl = `mysql://root@127.0.0.1:${port}`;

  if ((await probeServer(serverUrl)).ok) {
    const pid = runningPrivatePid();
    options.log(
      pid === undefined
        ? `a MySQL server not started by paygraph answers on 127.0.0.1:${port}; using it (set MYSQL_PRIVATE_PORT to avoid it)`
        : `reusing the private MySQL server from an earlier run on 127.0.0.1:${port} (pid ${pid}, data in ${privatePaths.dataDir})`,
    );
    return { shardUrls: await privateShardUrls(serverUrl, options), privateServer: true, stop: async () => {} };
  }

  initialiseDataDir(serverBinary, privatePaths, options.log);
  options.log(
    `starting a private MySQL server (${serverBinary}) on 127.0.0.1:${port}, data in ${privatePaths.dataDir}`,
  );
  const child = spawnServer(serverBinary, privatePaths, port);
  try {
    await waitUntilReady(serverUrl, child, privatePaths);
  } catch (error) {
    await stopChild(child, privateServerStopTimeoutMs);
    throw error;
  }
  options.log(`private MySQL server is up (pid ${child.pid}); it stops when this command exits`);
  const stop = async (): Promise<void> => {
    options.log('stopping the private MySQL server');
    await stopChild(child, privateServerStopTimeoutMs);
  };
  return { shardUrls: await privateShardUrls(serverUrl, options), privateServer: true, stop };
}

/** The shards on a private server, through its Unix socket as for a server found running (localShardUrls). */
async function privateShardUrls(serverUrl: string, options: EnsureMysqlOptions): Promise<string> {
  const { shardUrls, socket } = await localShardUrls(serverUrl, options);
  if (socket) options.log(`reaching the private MySQL server through its Unix socket ${socket}`);
  return shardUrls;
}

/**
 * A private server of a caller's own (a test's), under the system's temporary folder on a free port, with a ROW
 * binlog as every private server: stop() stops it and deletes its folder. For tests of what needs the server itself
 * configured (a shard move's binlog catch-up), whichever server the run otherwise uses. `args`: more server options.
 */
export async function startScratchServer(
  name: string,
  log: (line: string) => void,
  args: readonly string[] = [],
): Promise<{ url: string; stop(): Promise<void> }> {
  const serverBinary = findBinary(serverBinaryNames);
  if (serverBinary === undefined) throw new Error(noDatabaseHelp);
  const paths = pathsUnder(mkdtempSync(join(tmpdir(), `paygraph-mysql-${name}-`)), 'mysql');
  const port = await freePort();
  const url = `mysql://root@127.0.0.1:${port}`;
  try {
    initialiseDataDir(serverBinary, paths, log);
    const child = spawnServer(serverBinary, paths, port, args);
    const stop = async () => {
      await stopChild(child, privateServerStopTimeoutMs);
      rmSync(paths.root, { recursive: true, force: true });
    };
    await waitUntilReady(url, child, paths).catch(async (error: unknown) => {
      await stop();
      throw error;
    });
    log(`a private MySQL server of ${name}'s own on 127.0.0.1:${port} (pid ${child.pid}), data in ${paths.root}`);
    return { url, stop };
  } catch (error) {
    rmSync(paths.root, { recursive: true, force: true });
    throw error;
  }
}

/** The pid in the pid file when that process is alive, i.e. a private server is running. */
function runningPrivatePid(): number | undefined {
  if (!existsSync(privatePaths.pidFile)) return undefined;
  const pid = Number(readFileSync(privatePaths.pidFile, 'utf8').trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Creates the system tables once. It initialises a scratch directory and renames it into
 * place, so an interrupted first run does not leave a half-made data directory behind.
 */
function initialiseDataDir(serverBinary: string, paths: PrivatePaths, log: (line: string) => void): void {
  if (existsSync(join(paths.dataDir, 'mysql'))) return;
  log(`initialising a new MySQL data directory in ${paths.dataDir} (once)`);
  mkdirSync(paths.root, { recursive: true });
  rmSync(paths.initDir, { recursive: true, force: true });
  const [command, args] = installCommand(serverBinary, paths.initDir);
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
      .trim()
      .split('\n')
      .slice(-errorLogTailLines)
      .join('\n');
    throw new Error(
      `initialising ${paths.initDir} with ${command} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output}`,
    );
  }
  rmSync(paths.dataDir, { recursive: true, force: true });
  renameSync(paths.initDir, paths.dataDir);
}

/**
 * MariaDB ships an install-db script; MySQL 8 dropped it in favour of
 * `mysqld --initialize-insecure`, which likewise leaves root without a password.
 */
function installCommand(serverBinary: string, initDir: string): [string, string[]] {
  const installDb = findBinary(installDbBinaryNames);
  if (installDb !== undefined && isMariadb(serverBinary)) {
    return [
      installDb,
      [
        '--no-defaults',
        `--datadir=${initDir}`,
        '--auth-root-authentication-method=normal',
        '--user=root',
        '--skip-test-db',
      ],
    ];
  }
  return [serverBinary, ['--no-defaults', '--initialize-insecure', `--datadir=${initDir}`, '--user=root']];
}

function isMariadb(serverBinary: string): boolean {
  if (serverBinary.endsWith('mariadbd')) return true;
  const version = spawnSync(serverBinary, ['--version'], { encoding: 'utf8' });
  return /mariadb/i.test(`${version.stdout ?? ''}`);
}

/**
 * The server runs in its own process group, so a Ctrl-C in the terminal reaches only the
 * script, which stops the server after the processes that use it. It is unref'd so a
 * script that forgets to stop it can still exit; the next run then reuses it.
 */
function spawnServer(
  serverBinary: string,
  paths: PrivatePaths,
  port: number,
  args: readonly string[] = [],
): ChildProcess {
  const child = spawn(
    serverBinary,
    [
      '--no-defaults',
      `--datadir=${paths.dataDir}`,
      '--bind-address=127.0.0.1',
      `--port=${port}`,
      `--socket=${paths.socket}`,
      `--pid-file=${paths.pidFile}`,
      `--log-error=${paths.errorLog}`,
      '--user=root',
      '--skip-name-resolve',
      ...binlogArgs,
      ...args,
    ],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
  return child;
}

async function waitUntilReady(serverUrl: string, child: ChildProcess, paths: PrivatePaths): Promise<void> {
  const deadline = Date.now() + privateServerReadyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the private MySQL server exited during start-up; the end of ${paths.errorLog}:\n${errorLogTail(paths)}`,
      );
    }
    if ((await probeServer(serverUrl)).ok) return;
    await sleep(readyPollIntervalMs);
  }
  throw new Error(
    `the private MySQL server did not accept connections within ${privateServerReadyTimeoutMs / 1000} s; the end of ${paths.errorLog}:\n${errorLogTail(paths)}`,
  );
}

function errorLogTail(paths: PrivatePaths): string {
  if (!existsSync(paths.errorLog)) return '(no error log written)';
  return readFileSync(paths.errorLog, 'utf8').trimEnd().split('\n').slice(-errorLogTailLines).join('\n');
}
