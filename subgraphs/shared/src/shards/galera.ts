import mysql from 'mysql2/promise';
import { shardNodeCheckAttempts, shardNodeCheckTimeoutMs } from '../limits';
import type { Topology } from './topology';
import { serverUriOf } from '../db/server-connection';

/**
 * What paygraph asks of a Galera node (MariaDB's wsrep status). A shard of several nodes is one
 * database on one Galera cluster: each node must be a member of it (wsrep on, the same
 * wsrep_cluster_state_uuid as the others), and the node a pool writes to must be in the
 * cluster's primary component and Synced.
 */
export const galeraStateQuery =
  "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state', 'wsrep_cluster_status', 'wsrep_cluster_state_uuid')";

/**
 * One causal read: with wsrep_sync_wait the SELECT first waits until the node has applied every
 * write the cluster committed before it (shard-pool.ts, failoverBarrier). A server without
 * wsrep accepts the variable and answers at once.
 */
export const galeraCatchUpStatements = ['SET SESSION wsrep_sync_wait = 1', 'SELECT 1'] as const;

export interface GaleraStatusRow {
  Variable_name: string;
  Value: string;
}

/** wsrep_local_state of a node that applies and serves writes (4: Synced). */
const syncedState = '4';

export interface GaleraState {
  ready: boolean;
  synced: boolean;
  primaryComponent: boolean;
  /** Empty on a server that is not a Galera node. */
  clusterUuid: string;
}

export function galeraStateOf(rows: readonly GaleraStatusRow[]): GaleraState {
  const value = (name: string): string => rows.find((r) => r.Variable_name.toLowerCase() === name)?.Value ?? '';
  return {
    ready: value('wsrep_ready') === 'ON',
    synced: value('wsrep_local_state') === syncedState,
    primaryComponent: value('wsrep_cluster_status') === 'Primary',
    clusterUuid: value('wsrep_cluster_state_uuid'),
  };
}

/**
 * Why a node cannot be a shard's primary now (with requireSynced, why it cannot become one), or
 * null when it can. A server that is not a Galera
 * node at all is judged as a single server is, by answering: a list of such nodes is refused at
 * start-up (checkShardNodes), and tests put two proxies of one server in a list to fail over
 * between them.
 */
export function galeraNodeProblem(rows: readonly GaleraStatusRow[], requireSynced: boolean): string | null {
  const state = galeraStateOf(rows);
  if (state.clusterUuid === '') return null;
  if (!state.primaryComponent) return 'not in the primary component';
  if (!state.ready) return 'not ready';
  if (requireSynced && !state.synced) return 'not synced';
  return null;
}

export class ShardNodesRefused extends Error {
  override name = 'ShardNodesRefused';
}

/** A node's address as a message may name it at start-up: host and port, no user or password. */
function nodeName(url: string): string {
  const parsed = new URL(url);
  return parsed.host === '' ? url : parsed.host;
}

/**
 * The start-up check of every shard listing several nodes (Bad input of issue 26): a node that
 * is not a Galera node, or whose cluster differs from the other nodes' (a different
 * wsrep_cluster_state_uuid), makes the process refuse to start, naming the shard and the node.
 * A node that does not answer is left out (it may be down for now; failover skips it), but at
 * least one node of each shard must answer. Answers, per shard, the node the process should
 * start on (chooseStartNode).
 */
export async function checkShardNodes(topology: Pick<Topology, 'nodes'>): Promise<number[]> {
  return Promise.all(
    topology.nodes.map(async (nodes, shard) => {
      if (nodes.length === 1) return 0;
      const database = decodeURIComponent(new URL(nodes[0]!).pathname.slice(1));
      const states = await Promise.all(nodes.map((url) => nodeStateAsked(url, database)));
      const answered = states.flatMap((state, node) => (state === null ? [] : [{ state, node }]));
      if (answered.length === 0)
        throw new ShardNodesRefused(`MYSQL_SHARDS: no node of shard ${shard} (${database}) answers`);
      const notGalera = answered.find((a) => a.state.clusterUuid === '');
      if (notGalera) {
        throw new ShardNodesRefused(
          `MYSQL_SHARDS: shard ${shard} (${database}) lists several nodes, but node ${notGalera.node} (${nodeName(nodes[notGalera.node]!)}) is not a Galera node (wsrep is off)`,
        );
      }
      const first = answered[0]!;
      const stranger = answered.find((a) => a.state.clusterUuid !== first.state.clusterUuid);
      if (stranger) {
        throw new ShardNodesRefused(
          `MYSQL_SHARDS: shard ${shard} (${database}) mixes clusters: node ${stranger.node} (${nodeName(nodes[stranger.node]!)}) belongs to cluster ${stranger.state.clusterUuid}, node ${first.node} (${nodeName(nodes[first.node]!)}) to ${first.state.clusterUuid}`,
        );
      }
      return chooseStartNode(
        answered.map((a) => ({
          node: a.node,
          synced: a.state.ready && a.state.synced && a.state.primaryComponent,
          sessions: a.state.sessions,
        })),
      );
    }),
  );
}

export interface StartCandidate {
  node: number;
  synced: boolean;
  /** Client sessions on the node using the shard's database now: other processes' pools. */
  sessions: number;
}

/**
 * The node a starting process writes a shard to: where the other processes write it now (the
 * Synced node with the most sessions on the shard's database, the first in list order on a tie),
 * so that a process restarted after a failover joins the others on their node rather than going
 * back to the first node that has since rejoined; with no sessions anywhere (the fleet starts),
 * the first Synced node in list order, every process's rule; with none Synced, the first that answers.
 */
export function chooseStartNode(candidates: readonly StartCandidate[]): number {
  const synced = candidates.filter((c) => c.synced);
  const busiest = synced.reduce<StartCandidate | null>(
    (best, c) => (c.sessions > (best?.sessions ?? 0) ? c : best),
    null,
  );
  return (busiest ?? synced[0] ?? candidates[0]!).node;
}

/** A node's state, asked up to shardNodeCheckAttempts times; null when it never answered. */
async function nodeStateAsked(url: string, database: string): Promise<(GaleraState & { sessions: number }) | null> {
  for (let attempt = 1; ; attempt++) {
    const state = await nodeState(url, database);
    if (state !== null || attempt >= shardNodeCheckAttempts) return state;
  }
}

/**
 * A node's wsrep state and its sessions on the database, or null when it does not answer within
 * shardNodeCheckTimeoutMs.
 */
async function nodeState(url: string, database: string): Promise<(GaleraState & { sessions: number }) | null> {
  // The database may not exist yet (migrations create it): the check connects to the server.
  const server = serverUriOf(url);
  let connection: mysql.Connection | null = null;
  try {
    connection = await mysql.createConnection({ uri: server, connectTimeout: shardNodeCheckTimeoutMs });
    const [rows] = await connection.query({ sql: galeraStateQuery, timeout: shardNodeCheckTimeoutMs });
    const [counted] = await connection.query(
      {
        sql: 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?',
        timeout: shardNodeCheckTimeoutMs,
      },
      [database],
    );
    return {
      ...galeraStateOf(rows as GaleraStatusRow[]),
      sessions: Number((counted as Array<{ n: number | string }>)[0]?.n ?? 0),
    };
  } catch {
    return null;
  } finally {
    connection?.destroy();
  }
}
