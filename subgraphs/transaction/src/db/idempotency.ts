import type { Shard } from '@paygraph/shared/shards/pool';
import { insertRows, rawRows } from '@paygraph/shared/db/raw';
import { idempotencyKeys } from './schema/transactions';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;
type IdempotencyInsert = typeof idempotencyKeys.$inferInsert & { createdAt: Date };

/**
 * Inserts each claim unless its (caller, key) exists, and answers, in order, the row that holds
 * each key: one multi-row INSERT IGNORE, and a read only when some row was ignored (a replay, or
 * the same key twice in the batch). Every request that moves money claims a key, so this is
 * hand-written SQL (db/raw.ts), and concurrent requests' claims share it (services/idempotency.ts).
 */
export async function claimIdempotencyKeys(shard: Shard, rows: readonly IdempotencyInsert[]): Promise<IdempotencyRow[]> {
  if (rows.length === 0) return [];
  const inserted = await insertRows(shard.db, idempotencyKeys, rows, { ignore: true });
  if (inserted === rows.length) return [...rows];
  const held = await heldKeys(shard, rows);
  return rows.map((r) => {
    const row = held.get(holderKey(r.callerId, r.idempotencyKey));
    if (!row) throw new Error(`idempotency key ${r.idempotencyKey} vanished right after its claim`);
    return row;
  });
}

function holderKey(callerId: string, key: string): string {
  return `${callerId}\u0000${key}`;
}

async function heldKeys(shard: Shard, wanted: readonly IdempotencyInsert[]): Promise<Map<string, IdempotencyRow>> {
  const rows = await rawRows<{ caller_id: string; idempotency_key: string; operation: string; request_hash: string; resource_id: string; created_at: Date }>(
    shard.db,
    'SELECT caller_id, idempotency_key, operation, request_hash, resource_id, created_at FROM idempotency_keys WHERE caller_id IN (?) AND idempotency_key IN (?)',
    [[...new Set(wanted.map((r) => r.callerId))], [...new Set(wanted.map((r) => r.idempotencyKey))]],
  );
  return new Map(rows.map((r) => [holderKey(r.caller_id, r.idempotency_key), {
    callerId: r.caller_id, idempotencyKey: r.idempotency_key, operation: r.operation, requestHash: r.request_hash,
    resourceId: r.resource_id, createdAt: r.created_at,
  }]));
}
