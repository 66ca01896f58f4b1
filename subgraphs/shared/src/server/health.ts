import { sql } from 'drizzle-orm';
import type { Shard, ShardSet } from '../shards/pool';
import { healthProbeTimeoutMs } from '../limits';
import type { SlowFailover } from '../shards/galera-timings';
import { log } from '../log';

/**
 * What a process knows of one shard: it answers (up), it does not (down), or its circuit breaker
 * is open (or half-open, probing), in which case the shard is not asked again here.
 */
export type ShardHealthState = 'up' | 'down' | 'breaker-open';

export interface ShardHealth {
  shard: string;
  state: ShardHealthState;
  /** state === 'up', for readers of the first /health format. */
  ok: boolean;
  /** Why a probe failed, for the log only: it may name hosts and users. */
  error?: string;
  /** A shard of several nodes (Galera): the node this process writes to, by its place in MYSQL_SHARDS (no address). */
  node?: number;
  /** And since when, if the pool moved there from another node (ISO 8601). */
  nodeSince?: string;
}

/**
 * Each shard answers SELECT 1 within healthProbeTimeoutMs, or the probe says why not; an open breaker is not probed.
 */
export async function probeShards(shards: ShardSet): Promise<ShardHealth[]> {
  return Promise.all(shards.all.map(probeShard));
}

async function probeShard(shard: Shard): Promise<ShardHealth> {
  const since = shard.pool.primarySince;
  const node =
    shard.pool.options.nodes.length > 1
      ? { node: shard.pool.primary, ...(since === null ? {} : { nodeSince: new Date(since).toISOString() }) }
      : {};
  if (shard.pool.state !== 'closed') return { shard: shard.name, state: 'breaker-open', ok: false, ...node };
  try {
    await withTimeout(shard.db.execute(sql`SELECT 1`), healthProbeTimeoutMs);
    return { shard: shard.name, state: 'up', ok: true, ...node };
  } catch (error) {
    const state = shard.pool.state === 'closed' ? 'down' : 'breaker-open';
    return {
      shard: shard.name,
      state,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      ...node,
    };
  }
}

/** ready: every shard up; degraded: some up (operations on the others answer SHARD_UNAVAILABLE); unavailable: none. */
export type Readiness = 'ready' | 'degraded' | 'unavailable';

export interface ReadinessReport {
  service: string;
  status: Readiness;
  /** The shards that do not answer now, by database name. */
  down: string[];
  shards: Array<Pick<ShardHealth, 'shard' | 'state' | 'ok' | 'node' | 'nodeSince'>>;
  /**
   * Misconfiguration found at start-up that does not stop the process serving, by name: a shard
   * on a Galera cluster whose timings make a failover slower than its budget (GALERA_FAILOVER_SLOW,
   * with the values read and the settings to change). It does not change `status`: the shard
   * serves. Absent when there is none, as `node` is for a shard of one server.
   */
  warnings?: SlowFailover[];
  /**
   * The live shard map this process routes by (docs/SCALING.md): its version, and `stale` with the time of the first
   * failed read when the control database cannot be read, in which case the process serves the last map it knew.
   * /health/ready's alone: /health keeps its first format (service, status, down, shards; the gateway-trust test).
   */
  shardMap?: { version: number; fenced: number[]; stale?: { since: string } };
}

/**
 * A subgraph can serve while any of its shards answers: /health/ready (and /health) answer 200
 * then, naming the down shards, and 503 only when it can serve nothing. Probe errors go to the
 * log, never into the answer (they name hosts and users).
 */
export async function readiness(
  service: string,
  shards: ShardSet,
  options: { firstFormat?: boolean } = {},
): Promise<{ httpStatus: number; report: ReadinessReport }> {
  const probed = await probeShards(shards);
  for (const failed of probed.filter((s) => s.error !== undefined))
    log().error({ err: failed.error }, `health probe of ${failed.shard} failed`);
  const down = probed.filter((s) => !s.ok).map((s) => s.shard);
  const status: Readiness = down.length === 0 ? 'ready' : down.length < probed.length ? 'degraded' : 'unavailable';
  const warnings = shards.all.flatMap((shard) => (shard.slowFailover === null ? [] : [shard.slowFailover]));
  const report: ReadinessReport = {
    service,
    status,
    down,
    shards: probed.map(({ error: _error, ...shown }) => shown),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
  if (options.firstFormat !== true) report.shardMap = mapReport(shards);
  return { httpStatus: status === 'unavailable' ? 503 : 200, report };
}

function mapReport(shards: ShardSet): NonNullable<ReadinessReport['shardMap']> {
  const { version, fenced } = shards.placement.current;
  const stale = shards.placement.stale;
  return {
    version,
    fenced: [...fenced],
    ...(stale === null ? {} : { stale: { since: new Date(stale.since).toISOString() } }),
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
