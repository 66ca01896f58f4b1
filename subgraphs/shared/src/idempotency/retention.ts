import { deleteInBatches, passOverDatabases } from '../worker';
import type { Shard, ShardSet } from '../shards/pool';
import { idempotencyPurgeBatchesPerPassMax, idempotencyPurgeBatchSizeMax } from '../limits';
import { purgeKeysBefore } from './store/keys';

const dayMs = 24 * 60 * 60 * 1000;

/**
 * Idempotency keys are kept for the retention; within it a replay always finds its key and
 * answers the original outcome. Older keys are deleted by this purge, in batches of at most
 * idempotencyPurgeBatchSizeMax per statement, on every shard. Any number of replicas may run
 * it at once: each batch deletes by primary key and only rows still older than the cut-off.
 */
export interface KeyRetention {
  retentionDays: number;
  batchSize: number;
}

/** The instant before which a key may go: exactly retentionDays before now. */
export function retentionCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * dayMs);
}

/**
 * One pass: on each shard, batches until one comes back short or the pass's batch budget is
 * spent. A shard away (unreachable) is logged and skipped, the others go on (passOverDatabases);
 * anything else is a bug, thrown once all have ended, and the worker logs the failed pass.
 * Answers the keys deleted.
 */
export function purgeExpiredKeys(shards: ShardSet, retention: KeyRetention, now: Date): Promise<number> {
  return purgeOlderThanRetention('idempotency key purge', shards, retention, now, purgeKeysBefore);
}

/**
 * A retention's pass over every shard with `purgeBefore` (at most a batch of rows older than the cut-off on one shard;
 * answers how many it deleted): the keys' (purgeExpiredKeys) and the ledger's refusals' (ledger/rejections.ts), which
 * go at the same cut-off in the same bounded batches.
 */
export function purgeOlderThanRetention(
  name: string,
  shards: ShardSet,
  retention: KeyRetention,
  now: Date,
  purgeBefore: (shard: Shard, cutoff: Date, limit: number) => Promise<number>,
): Promise<number> {
  const cutoff = retentionCutoff(now, retention.retentionDays);
  const batchSize = Math.min(retention.batchSize, idempotencyPurgeBatchSizeMax);
  return passOverDatabases(name, shards.all, (shard) =>
    deleteInBatches((size) => purgeBefore(shard, cutoff, size), batchSize, idempotencyPurgeBatchesPerPassMax),
  );
}
