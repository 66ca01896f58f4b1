import mysql from 'mysql2/promise';
import { galeraFailoverOwnMs, shardFailoverBudgetMs, shardNodeCheckTimeoutMs } from '../limits';
import type { Topology } from './topology';
import { serverUriOf } from '../db/server-connection';

/**
 * A Galera cluster's group timings decide how long a shard stops after one of its nodes dies:
 * the surviving nodes commit again only once they agree the node is gone, which takes
 * `evs.suspect_timeout` of silence (all of them suspecting it), or `evs.inactive_timeout` (any one
 * declaring it dead) if that is shorter, checked every `evs.inactive_check_period`; then the pool
 * moves and the new primary catches up (shard-pool.ts). With Galera's defaults (5 s, 15 s, 0.5 s)
 * a SIGKILLed node left 6.5 s without a successful operation, twice; with the timings
 * docs/SHARDS.md recommends, 2.1 s (issue 31). A process reads each node's timings at
 * start-up (wsrep_provider_options) and names a shard whose failover they make slower than
 * shardFailoverBudgetMs, in its log and in /health/ready: a misconfigured cluster still serves,
 * so it is a warning, not a refusal.
 */

/** Galera's own defaults, which apply to a key wsrep_provider_options leaves out. */
export const galeraTimingDefaultsMs = {
  suspectTimeout: 5_000,
  inactiveTimeout: 15_000,
  inactiveCheckPeriod: 500,
} as const;

/**
 * The group timings docs/SHARDS.md recommends, which the local cluster runs
 * (scripts/lib/galera-cluster.ts). Galera requires keep-alive ≤ check period ≤ suspect ≤ inactive,
 * and an install timeout no longer than the inactive one, so they change together.
 */
export const galeraGroupTimingsRecommended =
  'evs.keepalive_period=PT0.2S;evs.inactive_check_period=PT0.2S;evs.suspect_timeout=PT0.8S;evs.inactive_timeout=PT1.6S;evs.install_timeout=PT1.6S;evs.join_retrans_period=PT0.2S';

/**
 * wsrep_provider_options as a node shows it: `key = value; key = value; …`. Later keys win; an entry without `=` is
 * skipped.
 */
export function parseProviderOptions(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const entry of text.split(';')) {
    const equals = entry.indexOf('=');
    if (equals < 0) continue;
    const key = entry.slice(0, equals).trim().toLowerCase();
    if (key !== '') options.set(key, entry.slice(equals + 1).trim());
  }
  return options;
}

const number = '(\\d+(?:\\.\\d*)?|\\.\\d+)';
const isoDuration = new RegExp(`^P(?:${number}D)?(?:T(?:${number}H)?(?:${number}M)?(?:${number}S)?)?$`, 'i');
const plainSeconds = new RegExp(`^${number}$`);

/**
 * A Galera duration in milliseconds: ISO 8601 as Galera prints it (PT5S, PT1.5S, PT1M30S, P1DT2H)
 * or plain seconds (`1.5`), which Galera also accepts; null for anything else (years and months
 * included: they are no timeout's length).
 */
export function parseGaleraDuration(text: string): number | null {
  const trimmed = text.trim();
  const plain = plainSeconds.exec(trimmed);
  if (plain) return Math.round(Number(plain[1]) * 1_000);
  const iso = isoDuration.exec(trimmed);
  if (!iso || trimmed.toUpperCase() === 'P' || trimmed.toUpperCase().endsWith('T')) return null;
  const [days, hours, minutes, seconds] = [iso[1], iso[2], iso[3], iso[4]].map((part) =>
    part === undefined ? 0 : Number(part),
  );
  return Math.round((((days! * 24 + hours!) * 60 + minutes!) * 60 + seconds!) * 1_000);
}

export interface GaleraTimings {
  suspectTimeoutMs: number;
  inactiveTimeoutMs: number;
  inactiveCheckPeriodMs: number;
}

/**
 * A node's timings from its wsrep_provider_options; null when they are not a Galera provider's
 * (no `evs.` key: wsrep off, or not MariaDB) or a value does not parse (then nothing is judged).
 */
export function galeraTimingsOf(options: ReadonlyMap<string, string>): GaleraTimings | null {
  if (![...options.keys()].some((key) => key.startsWith('evs.'))) return null;
  const read = (key: string, fallback: number): number | null => {
    const value = options.get(key);
    return value === undefined ? fallback : parseGaleraDuration(value);
  };
  const suspectTimeoutMs = read('evs.suspect_timeout', galeraTimingDefaultsMs.suspectTimeout);
  const inactiveTimeoutMs = read('evs.inactive_timeout', galeraTimingDefaultsMs.inactiveTimeout);
  const inactiveCheckPeriodMs = read('evs.inactive_check_period', galeraTimingDefaultsMs.inactiveCheckPeriod);
  if (suspectTimeoutMs === null || inactiveTimeoutMs === null || inactiveCheckPeriodMs === null) return null;
  return { suspectTimeoutMs, inactiveTimeoutMs, inactiveCheckPeriodMs };
}

/**
 * How long a shard's writes stop after a node dies, by these timings: the group's agreement, then paygraph's own
 * failover.
 */
export function galeraFailoverEstimateMs(timings: GaleraTimings): number {
  return (
    Math.min(timings.suspectTimeoutMs, timings.inactiveTimeoutMs) + timings.inactiveCheckPeriodMs + galeraFailoverOwnMs
  );
}

/** A shard whose nodes' timings make a failover slower than its budget: what /health/ready and the log name. */
export interface SlowFailover {
  warning: 'GALERA_FAILOVER_SLOW';
  /** The shard's database. */
  shard: string;
  /** The node that was read, by its place in MYSQL_SHARDS (no address: /health/ready is open). */
  node: number;
  suspectTimeoutMs: number;
  inactiveTimeoutMs: number;
  inactiveCheckPeriodMs: number;
  failoverEstimateMs: number;
  failoverBudgetMs: number;
  /** What to set on every node of the cluster. */
  change: string;
}

/** The warning for a node's timings, or null when a failover fits the budget. */
export function slowFailoverOf(
  shard: string,
  node: number,
  timings: GaleraTimings,
  budgetMs: number = shardFailoverBudgetMs,
): SlowFailover | null {
  const estimate = galeraFailoverEstimateMs(timings);
  if (estimate <= budgetMs) return null;
  return {
    warning: 'GALERA_FAILOVER_SLOW',
    shard,
    node,
    ...timings,
    failoverEstimateMs: estimate,
    failoverBudgetMs: budgetMs,
    change: `set wsrep_provider_options="${galeraGroupTimingsRecommended}" on every node of the cluster (docs/SHARDS.md, "A shard on a Galera cluster")`,
  };
}

/**
 * The log line of a warning: the shard, the values read, the estimate against the budget, and the settings to change.
 */
export function describeSlowFailover(w: SlowFailover): string {
  return (
    `shard ${w.shard}: node ${w.node} is a Galera node with evs.suspect_timeout ${w.suspectTimeoutMs} ms, evs.inactive_timeout ${w.inactiveTimeoutMs} ms, ` +
    `evs.inactive_check_period ${w.inactiveCheckPeriodMs} ms: after a node of its cluster dies the shard's writes stop for about ${w.failoverEstimateMs} ms, ` +
    `over its failover budget of ${w.failoverBudgetMs} ms; ${w.change}`
  );
}

/**
 * Every node's timings, read once at start-up (one try each, within shardNodeCheckTimeoutMs; a
 * node that does not answer is not judged), for every shard: a shard of one URL on a Galera
 * node stops the same way when another node of its cluster dies. Answers the warnings, at most
 * one per shard (its first node over the budget). Never throws.
 */
export async function checkGaleraTimings(topology: Pick<Topology, 'nodes'>): Promise<SlowFailover[]> {
  const found = await Promise.all(
    topology.nodes.map(async (nodes) => {
      const shard = decodeURIComponent(new URL(nodes[0]!).pathname.slice(1));
      const timings = await Promise.all(nodes.map(nodeTimings));
      for (const [node, read] of timings.entries()) {
        const warning = read === null ? null : slowFailoverOf(shard, node, read);
        if (warning) return warning;
      }
      return null;
    }),
  );
  return found.filter((w): w is SlowFailover => w !== null);
}

async function nodeTimings(url: string): Promise<GaleraTimings | null> {
  const server = serverUriOf(url);
  let connection: mysql.Connection | null = null;
  try {
    connection = await mysql.createConnection({ uri: server, connectTimeout: shardNodeCheckTimeoutMs });
    const [rows] = await connection.query({
      sql: "SHOW GLOBAL VARIABLES LIKE 'wsrep_provider_options'",
      timeout: shardNodeCheckTimeoutMs,
    });
    const value = (rows as Array<{ Value?: string }>)[0]?.Value ?? '';
    return galeraTimingsOf(parseProviderOptions(value));
  } catch {
    return null;
  } finally {
    connection?.destroy();
  }
}
