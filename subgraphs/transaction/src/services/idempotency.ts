import { createHash } from 'node:crypto';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { idempotencyKeys } from '../db/schema/transactions';

type IdempotencyInsert = typeof idempotencyKeys.$inferInsert;
import { toLogicalShard } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import { claimIdempotencyKey, claimIdempotencyKeys } from '../db/idempotency';

export type Claim = { kind: 'fresh' | 'replay'; resourceId: string } | { kind: 'reused' };

/**
 * Claims (caller, key) before any money moves. The claim names the resource the first
 * request creates; every later request with the same key and parameters works on that
 * same resource, whose postings carry its id as dedupe key — so however many copies run,
 * concurrently or after a crash, the money moves once. Other parameters → reused.
 */
export async function claimKey(
  shards: ShardSet,
  callerId: string,
  key: string,
  operation: string,
  hash: string,
  newResourceId: () => string,
  now: Date,
): Promise<Claim> {
  const shard = shards.byLogical(claimShard(callerId, key));
  const resourceId = newResourceId();
  const held = await claimIdempotencyKey(shard, { callerId, idempotencyKey: key, operation, requestHash: hash, resourceId, createdAt: now });
  if (held.operation !== operation || held.requestHash !== hash) return { kind: 'reused' };
  return { kind: held.resourceId === resourceId ? 'fresh' : 'replay', resourceId: held.resourceId };
}

function claimShard(callerId: string, key: string) {
  const digest = createHash('sha256').update(`${callerId}\u0000${key}`).digest();
  return toLogicalShard(digest.readUInt32BE(0) % logicalShardCount);
}

export interface ClaimRequest {
  key: string;
  hash: string;
  newResourceId: () => string;
}

/**
 * Claims many keys of one caller at once (createPayments): one statement and one read per
 * claim shard instead of two per key. A key sent twice in one request claims once; the copies
 * replay it when their parameters match and are refused as reused when they do not.
 */
export async function claimKeys(shards: ShardSet, callerId: string, operation: string, requests: readonly ClaimRequest[], now: Date): Promise<Claim[]> {
  const planned = requests.map((r) => ({ shard: shards.byLogical(claimShard(callerId, r.key)), resourceId: r.newResourceId() }));
  const byShard = new Map<Shard, IdempotencyInsert[]>();
  requests.forEach((r, i) => {
    const row = { callerId, idempotencyKey: r.key, operation, requestHash: r.hash, resourceId: planned[i]!.resourceId, createdAt: now };
    const list = byShard.get(planned[i]!.shard);
    if (list) list.push(row);
    else byShard.set(planned[i]!.shard, [row]);
  });
  const held = new Map<string, { resourceId: string; operation: string; requestHash: string }>();
  await Promise.all([...byShard].map(async ([shard, rows]) => {
    for (const [key, row] of await claimIdempotencyKeys(shard, rows)) held.set(key, row);
  }));
  return requests.map((r, i) => {
    const row = held.get(r.key)!;
    if (row.operation !== operation || row.requestHash !== r.hash) return { kind: 'reused' };
    return { kind: row.resourceId === planned[i]!.resourceId ? 'fresh' : 'replay', resourceId: row.resourceId };
  });
}
