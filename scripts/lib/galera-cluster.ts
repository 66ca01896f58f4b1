import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePorts } from './free-port';
import { findBinary, sleep, stopChild } from './server-process';
import { galeraLibrary, installCommand } from './system-packages';

export { galeraLibrary };
import { galeraGroupTimingsRecommended } from '../../subgraphs/shared/src/shards/galera-timings';

/**
 * A private 3-node Galera cluster on loopback (issue 26), for `npm start -- --galera` and the
 * Galera tests, started the way mysql-server.ts starts a private MySQL: MariaDB's own binaries,
 * private ports, nothing installed or configured. The data is not under the checkout but in a
 * folder of its own under the system's temporary folder (os.tmpdir(), paygraph-galera-<name>-…),
 * owned by the user the nodes run as and removed when the cluster stops: run as root, the nodes,
 * mariadb-install-db and the rsync SST run as the mysql user, which cannot enter a checkout that
 * only its owner may (mode 700, as `mktemp -d` and many home folders are). Galera is MariaDB's synchronous
 * multi-primary replication (package galera-4);
 * a shard's database lives on every node, and a shard's pool writes to one node at a time and
 * fails over to the next (subgraphs/shared/src/shards/shard-pool.ts).
 *
 * Each node runs with wsrep on, the installed galera library as provider, the cluster's three
 * gcomm addresses, ports of its own for MySQL, group communication (gmcast.listen_addr), IST and
 * SST (rsync), binlog_format=ROW and innodb_autoinc_lock_mode=2 (what Galera requires). The first
 * node bootstraps the cluster (--wsrep-new-cluster); the others join it with a full copy (SST).
 * A node that was killed is started again from its position (--wsrep-recover, then
 * --wsrep_start_position), so it rejoins with the writes it missed (IST) rather than a full copy.
 */

export const galeraPackageHelp = `the Galera library (libgalera_smm.so) is not installed: install the packages galera-4 and rsync (${installCommand(['galera-4', 'rsync'], false)}); npm test installs them itself when run as root`;

export const galeraNodeCount = 3;
/** How long a node may take to be Synced after it is started (a joiner copies the whole data directory by rsync). */
const nodeSyncedTimeoutMs = 60_000;
const readyPollIntervalMs = 200;
const nodeStopTimeoutMs = 30_000;
const probeTimeoutMs = 1_000;
const errorLogTailLines = 20;
/**
 * Group communication timings: a killed node is suspected after 0.8 s and evicted after 1.6 s of
 * silence (Galera's defaults are 5 s and 15 s), and the surviving nodes only commit again once
 * the view without it is agreed; the defaults alone would hold every write for several seconds
 * after a node dies (galeraGroupTimingsRecommended, shared with the processes' start-up check).
 */
const groupTimings = galeraGroupTimingsRecommended;
/** Writes a node keeps to hand to a rejoining node (IST) instead of a full copy. */
const gcacheSize = '128M';
/** Small InnoDB buffers: three servers share a developer's machine (or CI's). */
const bufferPoolSize = '64M';

export interface GaleraNode {
  /** 0-based, the node's place in every shard's node list. */
  readonly index: number;
  readonly port: number;
  /** mysql://root@127.0.0.1:<port> (no database). */
  readonly url: string;
  readonly running: boolean;
  readonly pid: number | undefined;
}

export interface GaleraCluster {
  readonly nodes: readonly GaleraNode[];
  readonly dataDir: string;
  /** MYSQL_SHARDS for `shardCount` databases `<prefix>_s<i>`, each listing every node in order. */
  shardUrls(databasePrefix: string, shardCount: number): string;
  /** SIGKILLs a node (as a crash would) and waits for it to exit. */
  kill(node: number): Promise<void>;
  /** Starts a killed or stopped node again from its position; settles when it is Synced. */
  restart(node: number): Promise<void>;
  /** Whether a node answers and is Synced now. */
  synced(node: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface StartGaleraOptions {
  /**
   * Names the cluster (its data directory's name starts paygraph-galera-<name>-): `start` for npm start, the test's own
   * otherwise.
   */
  name: string;
  log: (line: string) => void;
  /** Nodes to start; galeraNodeCount when absent (a test's second cluster may need one). */
  nodeCount?: number;
  /**
   * `recommended` (the default): the short group timings above. `galera-defaults`: Galera's own,
   * as a cluster nobody tuned runs, which every process names at start-up (a test's).
   */
  groupTimings?: 'recommended' | 'galera-defaults';
}

/** The galera library, rsync (rsync SST) and MariaDB's binaries, or an error naming what to install. */
function requirements(): { library: string; server: string; installDb: string } {
  const library = galeraLibrary();
  if (library === undefined) throw new Error(galeraPackageHelp);
  if (findBinary(['rsync']) === undefined)
    throw new Error(
      'rsync is not installed: the Galera nodes copy their data with it (SST); install the package rsync',
    );
  const server = findBinary(['mariadbd']);
  const installDb = findBinary(['mariadb-install-db']);
  if (server === undefined || installDb === undefined)
    throw new Error('MariaDB is not installed: install the package mariadb-server (10.6 or later), beside galera-4');
  return { library, server, installDb };
}

interface NodePorts {
  mysql: number;
  group: number;
  ist: number;
  sst: number;
}

export async function startGaleraCluster(options: StartGaleraOptions): Promise<GaleraCluster> {
  const { library, server, installDb } = requirements();
  // Run as root, MariaDB refuses to run unless told to; the data is given to the mysql user,
  // which the rsync SST also runs as (a root-owned directory makes the joiner's copy fail).
  const asUser = userInfo().uid === 0 ? 'mysql' : userInfo().username;
  // Unique, so two clusters (npm start beside a test run) never share one; mode 700, given to asUser.
  const dataDir = mkdtempSync(join(tmpdir(), `paygraph-galera-${options.name}-`));
  const nodeCount = options.nodeCount ?? galeraNodeCount;
  const ports: NodePorts[] = [];
  const free = await freePorts(nodeCount * 4);
  for (let i = 0; i < nodeCount; i++)
    ports.push({ mysql: free[4 * i]!, group: free[4 * i + 1]!, ist: free[4 * i + 2]!, sst: free[4 * i + 3]! });
  const clusterAddress = `gcomm://${ports.map((p) => `127.0.0.1:${p.group}`).join(',')}`;
  const nodeDir = (i: number) => join(dataDir, `node${i}`);
  const children: Array<ChildProcess | null> = ports.map(() => null);
  const timings = (options.groupTimings ?? 'recommended') === 'recommended' ? `;${groupTimings}` : '';

  const removeData = (): void => rmSync(dataDir, { recursive: true, force: true });
  try {
    freshDataDirs(installDb, dataDir, nodeCount, asUser, options.log);
  } catch (error) {
    removeData();
    throw error;
  }

  const args = (i: number): string[] => {
    const dir = nodeDir(i);
    const p = ports[i]!;
    return [
      '--no-defaults',
      `--datadir=${join(dir, 'data')}`,
      '--bind-address=127.0.0.1',
      `--port=${p.mysql}`,
      `--socket=${join(dir, 'mysqld.sock')}`,
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      `--log-error=${join(dir, 'error.log')}`,
      `--user=${asUser}`,
      '--skip-name-resolve',
      `--innodb-buffer-pool-size=${bufferPoolSize}`,
      '--performance-schema=OFF',
      '--max-connections=1000',
      '--binlog-format=ROW',
      '--innodb-autoinc-lock-mode=2',
      '--default-storage-engine=InnoDB',
      '--wsrep-on=ON',
      `--wsrep-provider=${library}`,
      `--wsrep-cluster-name=paygraph-${options.name}`,
      `--wsrep-cluster-address=${clusterAddress}`,
      `--wsrep-node-name=node${i}`,
      `--wsrep-node-address=127.0.0.1:${p.group}`,
      `--wsrep-sst-method=rsync`,
      `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`,
      `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.group};ist.recv_addr=127.0.0.1:${p.ist};gcache.size=${gcacheSize}${timings}`,
    ];
  };
  const url = (i: number) => `mysql://root@127.0.0.1:${ports[i]!.mysql}`;

  const startNode = async (i: number, bootstrap: boolean): Promise<void> => {
    const extra = bootstrap ? ['--wsrep-new-cluster'] : recoveredPosition(server, args(i));
    const child = spawn(server, [...args(i), ...extra], { detached: true, stdio: 'ignore' });
    child.unref();
    children[i] = child;
    await waitSynced(url(i), child, join(nodeDir(i), 'error.log'));
  };

  try {
    options.log(
      `starting a ${nodeCount}-node Galera cluster on 127.0.0.1 (MySQL ports ${ports.map((p) => p.mysql).join(', ')}), data in ${dataDir}`,
    );
    await startNode(0, true);
    // One joiner at a time: an rsync donor serves one copy at once.
    for (let i = 1; i < nodeCount; i++) await startNode(i, false);
    options.log('the Galera cluster is up: every node Synced');
  } catch (error) {
    await Promise.all(children.map((c) => (c ? stopChild(c, nodeStopTimeoutMs) : undefined)));
    removeData();
    throw error;
  }

  const nodes: GaleraNode[] = ports.map((p, index) => ({
    index,
    port: p.mysql,
    url: url(index),
    get running() {
      const child = children[index];
      return child !== null && child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return children[index]?.pid;
    },
  }));

  return {
    nodes,
    dataDir,
    shardUrls: (prefix, shardCount) =>
      Array.from({ length: shardCount }, (_, s) => nodes.map((n) => `${n.url}/${prefix}_s${s}`).join('|')).join(','),
    kill: async (i) => {
      const child = children[i];
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Held while we wait: an unref'd child's exit would not keep a script alive to see it.
      child.ref();
      child.kill('SIGKILL');
      await exited;
      child.unref();
    },
    restart: (i) => startNode(i, false),
    synced: async (i) => (await nodeState(url(i))) === 'synced',
    stop: async () => {
      options.log('stopping the Galera cluster');
      // The last node to stop is the one safe to bootstrap from; the data is made afresh next time anyway.
      for (let i = nodeCount - 1; i >= 0; i--) {
        const child = children[i];
        if (child) await stopChild(child, nodeStopTimeoutMs);
      }
      removeData();
    },
  };
}

/**
 * Every start makes the nodes' data afresh in the cluster's new folder: one system database made
 * by mariadb-install-db, copied to each node, all owned by the user the servers run as (the
 * folder too, so that user may enter it).
 */
function freshDataDirs(
  installDb: string,
  dataDir: string,
  nodeCount: number,
  asUser: string,
  log: (line: string) => void,
): void {
  const template = join(dataDir, 'template');
  chownTree(dataDir, asUser);
  log(`initialising the Galera nodes' system database in ${template}`);
  const result = spawnSync(
    installDb,
    [
      '--no-defaults',
      `--datadir=${template}`,
      '--auth-root-authentication-method=normal',
      `--user=${asUser}`,
      '--skip-test-db',
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
      .trim()
      .split('\n')
      .slice(-errorLogTailLines)
      .join('\n');
    throw new Error(
      `mariadb-install-db for the Galera nodes failed (${result.error?.message ?? `exit ${result.status}`}):\n${output}`,
    );
  }
  for (let i = 0; i < nodeCount; i++) {
    const dir = join(dataDir, `node${i}`);
    mkdirSync(dir);
    cpSync(template, join(dir, 'data'), { recursive: true });
    chownTree(dir, asUser);
  }
}

function chownTree(path: string, user: string): void {
  if (userInfo().uid !== 0) return;
  const ids = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gids = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  const uid = Number(ids.stdout.trim());
  const gid = Number(gids.stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || ids.status !== 0)
    throw new Error(`there is no user ${user} to run the Galera nodes as (it comes with mariadb-server)`);
  const visit = (p: string): void => {
    chownSync(p, uid, gid);
    if (statSync(p).isDirectory()) for (const entry of readdirSync(p)) visit(join(p, entry));
  };
  visit(path);
}

/**
 * The position a node stopped at, read by `mariadbd --wsrep-recover` from its InnoDB (what
 * Debian's galera_recovery does before systemd starts a node): with it the node asks for the
 * writes it missed (IST); without it, after a crash, for a full copy (SST).
 */
function recoveredPosition(server: string, args: readonly string[]): string[] {
  // Without --log-error the recovery writes its lines to stderr, where its position is read.
  const recoverArgs = args.filter((a) => !a.startsWith('--log-error=')).concat(['--wsrep-recover']);
  const result = spawnSync(server, recoverArgs, { encoding: 'utf8', timeout: nodeSyncedTimeoutMs });
  const match = /WSREP: Recovered position: ([0-9a-f-]{36}:-?\d+)/.exec(`${result.stdout ?? ''}${result.stderr ?? ''}`);
  return match && !match[1]!.endsWith(':-1') ? [`--wsrep-start-position=${match[1]}`] : [];
}

type NodeState = 'synced' | 'not-synced' | 'down';

async function nodeState(url: string): Promise<NodeState> {
  let connection: mysql.Connection | null = null;
  try {
    connection = await mysql.createConnection({ uri: url, connectTimeout: probeTimeoutMs });
    const [rows] = await connection.query({
      sql: "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state')",
      timeout: probeTimeoutMs,
    });
    const values = new Map(
      (rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name.toLowerCase(), r.Value]),
    );
    return values.get('wsrep_ready') === 'ON' && values.get('wsrep_local_state') === '4' ? 'synced' : 'not-synced';
  } catch {
    return 'down';
  } finally {
    connection?.destroy();
  }
}

async function waitSynced(url: string, child: ChildProcess, errorLog: string): Promise<void> {
  const deadline = Date.now() + nodeSyncedTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`a Galera node exited during start-up; the end of ${errorLog}:\n${tail(errorLog)}`);
    if ((await nodeState(url)) === 'synced') return;
    await sleep(readyPollIntervalMs);
  }
  throw new Error(
    `a Galera node was not Synced within ${nodeSyncedTimeoutMs / 1000} s; the end of ${errorLog}:\n${tail(errorLog)}`,
  );
}

function tail(path: string): string {
  if (!existsSync(path)) return '(no error log written)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-errorLogTailLines).join('\n');
}
