import { startWorker, type Worker } from '@paygraph/shared/worker';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { newId, shardOf } from '@paygraph/shared/ids';
import { dueHolds } from '../db/holds';
import { releaseHold } from './hold';
import { holdExpiryBatchSizeMax } from '../limits';

/**
 * Releases holds past their deadline: each becomes EXPIRED and its money available again, at
 * most holdExpiryBatchSizeMax per shard per pass. Safe in any number of replicas and against
 * captures and voids: due holds are found with SKIP LOCKED, and each release decides again
 * under the hold's lock, so a hold ended meanwhile is left alone. Answers how many it released.
 * Holds are found by the map's placement, as the relay's rows are.
 */
export async function expireDueHolds(shards: ShardSet, shard: Shard, now: () => Date): Promise<number> {
  // Only holds of the logical shards the map places here and does not fence: a moved range's copies left on the
  // source until cleanup (refused there for good) would otherwise come first in every pass.
  const placed = shards.logicalOn(shard);
  const due = await inTransaction(shard, (tx) => dueHolds(tx, now(), holdExpiryBatchSizeMax, placed));
  const at = now();
  // Submitted together, so merged posting releases them in a transaction or two.
  const released = await Promise.all(
    due.map((hold) =>
      releaseHold(shard, hold, 'EXPIRED', { releaseId: newId('posting', shardOf('hold', hold.id)) }, at),
    ),
  );
  return released.filter((r) => r.ok).length;
}

export type HoldExpiry = Worker;

export function startHoldExpiry(shards: ShardSet, intervalMs: number, now: () => Date = () => new Date()): HoldExpiry {
  return startWorker({
    name: 'hold expiry',
    intervalMs,
    pass: async () =>
      (await Promise.all(shards.all.map((s) => expireDueHolds(shards, s, now)))).reduce((a, b) => a + b, 0),
  });
}
