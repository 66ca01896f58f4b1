import { startWorkerPerDatabase, type Worker } from '@paygraph/shared/worker';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { newId, shardOf } from '@paygraph/shared/ids';
import { dueHolds } from '../db/holds';
import { releaseHold } from './hold';
import { holdExpiryBatchesPerPassMax, holdExpiryBatchSizeMax } from '../limits';

/**
 * Releases holds past their deadline: each becomes EXPIRED and its money available again, in batches of at most
 * holdExpiryBatchSizeMax per shard. Safe in any number of replicas and against captures and voids: due holds are
 * found with SKIP LOCKED, and each release decides again under the hold's lock, so a hold ended meanwhile is left
 * alone. Answers how many it released. Holds are found by the map's placement, as the relay's rows are.
 *
 * A batch that came back full is followed by the next at once, up to holdExpiryBatchesPerPassMax: one batch a pass
 * released 20 holds a second per shard, fewer than one caller's money rate limit creates, so a flood of holds
 * expiring in a second kept every later-expiring hold on that shard (another customer's) frozen for hours. The bound
 * ends a pass over any backlog, so the shard's other work and the next pass's other shards are not put off for good.
 */
export async function expireDueHolds(shards: ShardSet, shard: Shard, now: () => Date): Promise<number> {
  // Only holds of the logical shards the map places here and does not fence: a moved range's copies left on the
  // source until cleanup (refused there for good) would otherwise come first in every pass.
  const placed = shards.logicalOn(shard);
  let released = 0;
  for (let batch = 0; batch < holdExpiryBatchesPerPassMax; batch++) {
    const due = await inTransaction(shard, (tx) => dueHolds(tx, now(), holdExpiryBatchSizeMax, placed));
    // Submitted together, so merged posting releases them in a transaction or two.
    const answers = await Promise.all(
      due.map((hold) =>
        releaseHold(shard, hold, 'EXPIRED', { releaseId: newId('posting', shardOf('hold', hold.id)) }, now),
      ),
    );
    released += answers.filter((r) => r.ok).length;
    if (due.length < holdExpiryBatchSizeMax) break;
  }
  return released;
}

export type HoldExpiry = Worker;

export function startHoldExpiry(shards: ShardSet, intervalMs: number, now: () => Date = () => new Date()): HoldExpiry {
  // A worker per database (worker.ts startWorkerPerDatabase): a slow database delays only its own holds.
  return startWorkerPerDatabase({
    name: 'hold expiry',
    intervalMs,
    databases: () => shards.all,
    tick: (s) => expireDueHolds(shards, s, now),
  });
}
