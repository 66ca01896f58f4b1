import { createHash } from 'node:crypto';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { toLogicalShard } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import { claimIdempotencyKey } from '../db/idempotency';

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
