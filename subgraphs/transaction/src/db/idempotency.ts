import type { Shard } from '@paygraph/shared/shards/pool';
import { insertRows, rawRows } from '@paygraph/shared/db/raw';
import { idempotencyKeys } from './schema/transactions';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;
type IdempotencyInsert = typeof idempotencyKeys.$inferInsert;

/**
 * Inserts the claim unless (caller, key) exists; answers the row that holds the key either way.
 * A fresh key costs one statement: only when the insert was ignored is the holder read back.
 * Every request that moves money claims a key, so these two are hand-written SQL (db/raw.ts).
 */
export async function claimIdempotencyKey(shard: Shard, row: IdempotencyInsert): Promise<IdempotencyRow> {
  const createdAt = row.createdAt ?? new Date();
  if (await insertRows(shard.db, idempotencyKeys, [{ ...row, createdAt }], { ignore: true }) === 1) return { ...row, createdAt };
  const [held] = await heldKeys(shard, row.callerId, [row.idempotencyKey]);
  if (!held) throw new Error(`idempotency key ${row.idempotencyKey} vanished right after its claim`);
  return held;
}

/** The bulk form: one multi-row INSERT IGNORE and one read for all the claims on a shard. */
export async function claimIdempotencyKeys(shard: Shard, rows: readonly IdempotencyInsert[]): Promise<Map<string, IdempotencyRow>> {
  if (rows.length === 0) return new Map();
  await insertRows(shard.db, idempotencyKeys, rows, { ignore: true });
  const held = await heldKeys(shard, rows[0]!.callerId, rows.map((r) => r.idempotencyKey));
  return new Map(held.map((r) => [r.idempotencyKey, r]));
}

async function heldKeys(shard: Shard, callerId: string, keys: readonly string[]): Promise<IdempotencyRow[]> {
  const rows = await rawRows<{ caller_id: string; idempotency_key: string; operation: string; request_hash: string; resource_id: string; created_at: Date }>(
    shard.db,
    'SELECT caller_id, idempotency_key, operation, request_hash, resource_id, created_at FROM idempotency_keys WHERE caller_id = ? AND idempotency_key IN (?)',
    [callerId, keys],
  );
  return rows.map((r) => ({
    callerId: r.caller_id, idempotencyKey: r.idempotency_key, operation: r.operation, requestHash: r.request_hash,
    resourceId: r.resource_id, createdAt: r.created_at,
  }));
}
