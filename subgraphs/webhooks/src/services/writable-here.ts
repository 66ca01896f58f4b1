import { fencedIn, notOpenIn, underFence } from '@paygraph/shared/control/index';
import { shardOf, shardOfAnyId } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type DrizzleTx } from '@paygraph/shared/shards/transaction';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { insertStreamsIfMissing, streamsDueNow } from '../db/streams';
import { anyToRequeue, purgeFinishedBefore, requeueSince } from '../db/deliveries';
import { forgetExpiredSecrets } from '../db/endpoints';

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
 * A worker's write over a whole database (rows of many logical shards) under the fence, as every other write of rows
 * a move carries: in one transaction, every logical shard's fence row read in share mode first (as writableHere, so
 * the fence rows before the rows written), then `write`, given the logical shards not open there, which it leaves
 * out. Written on a fenced source after the mover's last catch-up, or on a target's arriving copy, a row would leave
 * the two sides unlike (the move's verify refuses, the range stays fenced) or be lost at the target; so a fence write
 * waits for the transaction, and a range not open is left as it is until a pass finds it open where it then is.
 */
export function underOpenFences<T>(shard: Shard, write: (tx: DrizzleTx, leftOut: number[]) => Promise<T>): Promise<T> {
  return inTransaction(shard, async (tx) => write(tx, await fencedIn(tx, everyLogicalShard)));
}

/**
 * A batch of the delivery purge on a database (db/deliveries.ts purgeFinishedBefore), under the fence
 * (underOpenFences): a range not open is left out of it, never filling it, until a pass finds it open.
 */
export function purgeFinishedHere(shard: Shard, cutoff: Date, limit: number): Promise<number> {
  return underOpenFences(shard, (tx, leftOut) => purgeFinishedBefore(tx, cutoff, limit, leftOut));
}

/**
 * The rotated-out secrets past their overlap erased on a database (db/endpoints.ts forgetExpiredSecrets), under the
 * fence (underOpenFences): an endpoint moves with its id's logical shard, and an erase made on a fenced source after
 * the copy read the row would be lost at the target, the sealed secret kept there. A fenced endpoint's is erased by a
 * later pass, on the side the map then places it.
 */
export function eraseSecretsHere(shard: Shard, now: Date): Promise<number> {
  return underOpenFences(shard, (tx, leftOut) => forgetExpiredSecrets(tx, now, leftOut));
}

/**
 * A write of an endpoint's row in one transaction under its logical shard's fence (its id's end: an endpoint moves with
 * it): the fence row read in share mode first (refuseFenced), before the row's lock, as writableHere's callers take
 * them. Not open there (a move the process's map has not followed): FencedWrite (SHARD_UNAVAILABLE, retryable) and
 * nothing written, where a registration, a rotation or a disabling made after the mover's copy read the row would be
 * lost at the target (the endpoint gone, its old secret signing, or sending again after its owner disabled it).
 */
export function underEndpointFence<T>(
  shard: Shard,
  endpointId: string,
  write: (tx: DrizzleTx) => Promise<T>,
): Promise<T> {
  return underFence(shard, [shardOfAnyId(endpointId)], write);
}

/**
 * A redelivery's requeue on a database (services/endpoints.ts redeliver: the endpoint's deliveries since `since`
 * PENDING again, their streams due now) in one transaction under the fence: every fence row read in share mode first
 * (as underOpenFences), then the rows. A range `moved` away is left out: its rows here are copies a move left behind,
 * never sent from here, and the redelivery, which asks every database, requeues the range's own where it now is. A
 * range `fenced` or `arriving` here that holds a delivery it would requeue refuses it (FencedWrite, SHARD_UNAVAILABLE,
 * retryable; nothing written here): written there, the requeue would be lost at the target or leave the two sides
 * unlike, and left out, the redelivery would answer done without that range: while a move switches, the source says
 * `moved` before the target says `open` (scripts/lib/shard-mover.ts switchMap), and there the range is `arriving`.
 */
export function requeueHere(shard: Shard, endpointId: string, since: Date, now: Date): Promise<number> {
  return inTransaction(shard, async (tx) => {
    const notOpen = await notOpenIn(tx, everyLogicalShard);
    const refusing = notOpen.filter((f) => f.reason !== 'moved').map((f) => f.logical);
    if (await anyToRequeue(tx, endpointId, since, refusing)) throw new FencedWrite(shard.name, refusing);
    const leftOut = notOpen.map((f) => f.logical);
    const count = await requeueSince(tx, endpointId, since, now, leftOut);
    if (count > 0) await streamsDueNow(tx, endpointId, now, leftOut);
    return count;
  });
}
