import { createHash } from 'node:crypto';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { idempotencyKeys } from '../db/schema/transactions';

type IdempotencyInsert = typeof idempotencyKeys.$inferInsert & { createdAt: Date };
import { toLogicalShard } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import { claimIdempotencyKeys, type IdempotencyRow } from '../db/idempotency';
import { Coalescer } from '@paygraph/shared/shards/coalescer';

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
  const held = await claims.load(shard, { callerId, idempotencyKey: key, operation, requestHash: hash, resourceId, createdAt: now });
  return claimOf(held, operation, hash, resourceId);
}

/** Concurrent requests' claims on a shard go out as one statement. */
const claims = new Coalescer<IdempotencyInsert, IdempotencyRow>((shard, rows) => claimIdempotencyKeys(shard, rows));

function claimOf(held: IdempotencyRow, operation: string, hash: string, resourceId: string): Claim {
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
  const held = new Map<string, IdempotencyRow>();
  await Promise.all([...byShard].map(async ([shard, rows]) => {
    const answers = await claimIdempotencyKeys(shard, rows);
    answers.forEach((row) => held.set(row.idempotencyKey, row));
  }));
  return requests.map((r, i) => claimOf(held.get(r.key)!, operation, r.hash, planned[i]!.resourceId));
}
