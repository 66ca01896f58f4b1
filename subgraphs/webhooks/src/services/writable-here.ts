import { fencedIn } from '@paygraph/shared/control/index';
import { shardOf } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type DrizzleTx } from '@paygraph/shared/shards/transaction';
import { insertStreamsIfMissing } from '../db/streams';
import { purgeFinishedBefore } from '../db/deliveries';

/**
 * Webhook streams and deliveries are written beside the ledger row they follow (an account, or a merchant's stripe),
 * and a shard move carries them with it (scripts/lib/move-tables.ts). A write of them must happen under an open fence
 * row of that row's logical shard, read in share mode in the writer's transaction (control/store/fences.ts fencedIn):
 * written before a move's fence, the copy carries it; after the fence, it would stay behind on the source, and the
 * copy on the target would send the same events again, under new ids for new deliveries. This answers the items whose
 * logical shard is open; the caller writes only those, and the others wait for the side the map places them on.
 * Callers read it before locking streams, so every transaction takes the fence rows first (shared) and the streams
 * after: a mover's fence write, which takes the fence rows alone, can be in no cycle with them.
 */
export async function writableHere<T>(
  tx: DrizzleTx,
  items: readonly T[],
  logicalOf: (item: T) => number,
): Promise<T[]> {
  if (items.length === 0) return [];
  const fenced = new Set(await fencedIn(tx, [...new Set(items.map(logicalOf))]));
  return fenced.size === 0 ? [...items] : items.filter((item) => !fenced.has(logicalOf(item)));
}

/**
 * New streams (an endpoint's, or those discovery found) on a database: those of logical shards the map places there,
 * under their open fence rows; a moving range's wait for discovery on the side the map places them on.
 */
export async function insertStreamsWritable(
  shards: ShardSet,
  shard: Shard,
  rows: Parameters<typeof insertStreamsIfMissing>[1],
): Promise<void> {
  const placed = new Set<number>(shards.logicalOn(shard));
  const here = rows.filter((row) => placed.has(shardOf('account', row.stripeId)));
  if (here.length === 0) return;
  await inTransaction(shard, async (tx) =>
    insertStreamsIfMissing(tx, await writableHere(tx, here, (row) => shardOf('account', row.stripeId))),
  );
}

const everyLogicalShard = Array.from({ length: logicalShardCount }, (_, l) => l);

/**
 * A batch of the delivery purge on a database (db/deliveries.ts purgeFinishedBefore), under the fence as every other
 * write of deliveries: a delivery moves with its logical shard, and one deleted on a fenced source after the mover's
 * last catch-up, or from a target's arriving copy, left the two sides unlike (the move's verify refuses, the range
 * stays fenced). In one transaction, every logical shard's fence row read in share mode first (as writableHere, so
 * the fence rows before the deliveries), then only the deliveries of the open ones deleted: a fence write waits for
 * the batch, and a range not open is left out of it, never filling it, until a pass finds it open.
 */
export function purgeFinishedHere(shard: Shard, cutoff: Date, limit: number): Promise<number> {
  return inTransaction(shard, async (tx) =>
    purgeFinishedBefore(tx, cutoff, limit, await fencedIn(tx, everyLogicalShard)),
  );
}
