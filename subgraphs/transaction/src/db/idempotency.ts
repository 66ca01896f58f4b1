import { and, eq, inArray } from 'drizzle-orm';
import type { Shard } from '@paygraph/shared/shards/pool';
import { idempotencyKeys } from './schema/transactions';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/**
 * Inserts the claim unless (caller, key) exists; answers the row that holds the key either way.
 * A fresh key costs one statement: only when the insert was ignored is the holder read back.
 */
export async function claimIdempotencyKey(shard: Shard, row: typeof idempotencyKeys.$inferInsert): Promise<IdempotencyRow> {
  const [result] = await shard.db.insert(idempotencyKeys).ignore().values(row);
  if (result.affectedRows === 1) return { ...row, createdAt: row.createdAt ?? new Date() };
  const rows = await shard.db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.callerId, row.callerId), eq(idempotencyKeys.idempotencyKey, row.idempotencyKey)));
  const held = rows[0];
  if (!held) throw new Error(`idempotency key ${row.idempotencyKey} vanished right after its claim`);
  return held;
}

/** The bulk form: one multi-row INSERT IGNORE and one read for all the claims on a shard. */
export async function claimIdempotencyKeys(shard: Shard, rows: ReadonlyArray<typeof idempotencyKeys.$inferInsert>): Promise<Map<string, IdempotencyRow>> {
  if (rows.length === 0) return new Map();
  await shard.db.insert(idempotencyKeys).ignore().values([...rows]);
  const callerId = rows[0]!.callerId;
  const held = await shard.db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.callerId, callerId), inArray(idempotencyKeys.idempotencyKey, rows.map((r) => r.idempotencyKey))));
  return new Map(held.map((r) => [r.idempotencyKey, r]));
}
