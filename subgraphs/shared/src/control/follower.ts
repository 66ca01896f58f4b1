import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { log } from '../log';
import { shardMapAckForgetMs, shardMapHeartbeatMs, shardMapPollIntervalMs } from '../limits';
import type { ShardSet } from '../shards/pool';
import { seedMap, type ShardMap } from '../shards/shard-map';
import { startWorker } from '../worker';
import { acknowledge, forgetGone, latestMap, seedMapIfAbsent } from './store/map-store';

/** A process following the live map: its id in shard_map_acks, and how to stop. */
export interface MapFollower {
  readonly processId: string;
  /** Reads the map now and acknowledges it (tests use it instead of waiting for the poll). */
  poll(): Promise<void>;
  stop(): Promise<void>;
}

export interface FollowOptions {
  /** The process's service name, written beside its acknowledgements. */
  service: string;
  /** shardMapPollIntervalMs unless a test says otherwise. */
  pollIntervalMs?: number;
}

/** An id no other process uses: its service, host and pid, and random bytes against a reused pid. */
export function newProcessId(service: string): string {
  return `${service}:${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`.slice(0, 96);
}

/**
 * Follows the live shard map on the control database (the shard set's first database): every pollIntervalMs reads
 * the newest version, applies it to the shard set's placement when newer (shards/placement.ts) and acknowledges it;
 * seeds version 1 from the process's configuration when there is none. A read that fails leaves the placement as it
 * was, marked stale (answered by /health/ready) until a read succeeds again.
 */
export function followShardMap(shards: ShardSet, options: FollowOptions): MapFollower {
  const processId = newProcessId(options.service);
  const control = shards.all[0]!;
  let ackedVersion = 0;
  let ackedAt = 0;
  let passes = 0;
  const poll = async (): Promise<void> => {
    try {
      let map = await latestMap(control);
      if (map === null) {
        await seedMapIfAbsent(control, seedMap(shards.topology));
        map = await latestMap(control);
      }
      if (map !== null) follow(shards, map);
      const version = shards.placement.version;
      if (version !== ackedVersion || Date.now() - ackedAt >= shardMapHeartbeatMs) {
        await acknowledge(control, processId, options.service, version);
        ackedVersion = version;
        ackedAt = Date.now();
      }
      if (shards.placement.stale !== null) log().info({ version }, 'shard map: the control database answers again');
      shards.placement.stale = null;
      if (++passes % 1_000 === 0) await forgetGone(control, shardMapAckForgetMs);
    } catch (error) {
      if (shards.placement.stale === null) {
        const message = error instanceof Error ? error.message : String(error);
        shards.placement.stale = { since: Date.now(), error: message };
        log().warn(
          { err: error, version: shards.placement.version },
          `shard map: cannot read the control database; serving version ${shards.placement.version}`,
        );
      }
    }
  };
  const worker = startWorker({
    name: 'shard-map',
    intervalMs: options.pollIntervalMs ?? shardMapPollIntervalMs,
    pass: async () => {
      await poll();
      return 0;
    },
  });
  return {
    processId,
    poll: async () => void (await worker.drain()),
    stop: () => worker.stop(),
  };
}

/** Applies a newer map to the placement, logging what changed. */
function follow(shards: ShardSet, map: ShardMap): void {
  const before = shards.placement.current;
  if (!shards.placement.apply(map)) return;
  const now = shards.placement.current;
  const moved = now.logical.filter((d, l) => now.databases[d] !== before.databases[before.logical[l]!]).length;
  log().info(
    { version: map.version, from: before.version, moved, fenced: map.fenced },
    `shard map: following version ${map.version}`,
  );
}
