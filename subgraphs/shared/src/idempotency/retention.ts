import { deleteInBatches } from '../worker';
import type { Shard, ShardSet } from '../shards/pool';
import { idempotencyPurgeBatchesPerPassMax, idempotencyPurgeBatchSizeMax } from '../limits';
import { purgeKeysBefore } from './store/keys';
import { log } from '../log';

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
 * spent. A shard that fails (unreachable) is reported and skipped; the others go on.
 * Answers the keys deleted.
 */
export async function purgeExpiredKeys(shards: ShardSet, retention: KeyRetention, now: Date): Promise<number> {
  const cutoff = retentionCutoff(now, retention.retentionDays);
  const batchSize = Math.min(retention.batchSize, idempotencyPurgeBatchSizeMax);
  const counts = await Promise.all(
    shards.all.map((shard) =>
      purgeShard(shard, cutoff, batchSize).catch((error: unknown) => {
        log().error({ err: error }, `idempotency key purge on ${shard.name} failed`);
        return 0;
      }),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

function purgeShard(shard: Shard, cutoff: Date, batchSize: number): Promise<number> {
  return deleteInBatches((size) => purgeKeysBefore(shard, cutoff, size), batchSize, idempotencyPurgeBatchesPerPassMax);
}
