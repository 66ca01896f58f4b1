import type { Shard } from '../../shards/pool';
import { rawRows, rawWrite, type SqlTarget } from '../../db/raw';
import { inPostingTransaction, type PostingTx, type Statement } from '../../shards/posting-transaction';
import { deleteUnderFences, fenceRead, logicalShardsNamed, openHere, refuseUnlessOpen } from '../../control/index';
import { shardOfAnyId, type LogicalShard } from '../../ids';
import { idempotencyKeys } from './schema';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;
export type IdempotencyInsert = typeof idempotencyKeys.$inferInsert & { anchorId: string; createdAt: Date };

/**
 * Inserts each claim unless its (anchor, caller, key) exists, and answers, in order, the row
 * that holds each key: one multi-row INSERT IGNORE, and a read only when some row was ignored
 * (a replay, or the same key twice in the batch). Every request that moves money claims a key,
 * so this is hand-written SQL (db/raw.ts), and concurrent requests' claims on one shard share
 * it (claims.ts).
 *
 * Under the fence where the write happens (control/store/fences.ts): a key row moves with its anchor's logical shard
 * (scripts/lib/move-tables.ts), and a process whose map follows a move's fence a poll late would otherwise claim it on
 * the source after the mover's last catch-up. So the INSERT and a share-mode read of the fence rows of the anchors'
 * logical shards are one transaction, sent with its BEGIN in one round trip (PostingTx); a logical shard among them
 * not open throws FencedWrite (SHARD_UNAVAILABLE, retryable) and the transaction rolls back, nothing written. The key
 * rows first and the fence rows after: the order a payment's debit and a hold's ending take them in (their claims lead
 * the fence read of their lock round trip), so that a claim, such a posting and a mover's fence write waiting between
 * them are in no lock cycle. Locks: the keys' rows (inserted, or read by the duplicate check) and the fence rows, shared, until the
 * COMMIT: one round trip more than the INSERT alone, per batch.
 */
export async function claimIdempotencyKeys(
  shard: Shard,
  rows: readonly IdempotencyInsert[],
): Promise<IdempotencyRow[]> {
  if (rows.length === 0) return [];
  // Loops, not callbacks (here and in claimStatement): a closure made per call is compiled again after each major GC
  // (docs/PERFORMANCE.md).
  const logical = new Set<LogicalShard>();
  for (const row of rows) logical.add(shardOfAnyId(row.anchorId));
  const logicalShards = [...logical];
  return inPostingTransaction(shard, async (tx) => {
    const [inserted, fences] = await tx.queryMany([claimStatement(rows), fenceRead(logicalShards)]);
    refuseUnlessOpen(shard.name, fences!);
    return claimedIn(tx, rows, inserted);
  });
}

/**
 * The same claim as one statement, for a posting transaction to send together with its own
 * first statement (the transaction subgraph's services/hold.ts: a hold's ending claims its key as it locks the hold).
 * Its answer goes to claimedIn.
 */
export function claimStatement(rows: readonly IdempotencyInsert[]): Statement {
  const values: Array<Array<string | Date>> = [];
  for (const r of rows) {
    values.push([r.anchorId, r.callerId, r.idempotencyKey, r.operation, r.requestHash, r.resourceId, r.createdAt]);
  }
  return { sql: `INSERT IGNORE INTO idempotency_keys (${keyColumns}) VALUES ?`, values: [values] };
}

/** The rows that hold claimStatement's keys, in order: a read only when some insert was ignored. */
export function claimedIn(
  tx: PostingTx,
  rows: readonly IdempotencyInsert[],
  answer: unknown,
): Promise<IdempotencyRow[]> {
  return keysHeld(tx, rows, (answer as { affectedRows: number }).affectedRows);
}

async function keysHeld(
  target: SqlTarget,
  rows: readonly IdempotencyInsert[],
  inserted: number,
): Promise<IdempotencyRow[]> {
  if (inserted === rows.length) return [...rows];
  const held = await heldKeys(target, rows);
  return rows.map((r) => {
    const row = held.get(scopeOf(r));
    if (!row) throw new Error(`idempotency key ${r.idempotencyKey} vanished right after its claim`);
    return row;
  });
}

/** The scope a key is unique in, as one string. */
export function scopeOf(row: { anchorId: string; callerId: string; idempotencyKey: string }): string {
  return `${row.anchorId}\u0000${row.callerId}\u0000${row.idempotencyKey}`;
}

interface KeyRow {
  anchor_id: string;
  caller_id: string;
  idempotency_key: string;
  operation: string;
  request_hash: string;
  resource_id: string;
  created_at: Date;
}

const keyColumns = 'anchor_id, caller_id, idempotency_key, operation, request_hash, resource_id, created_at';

function fromKeyRow(r: KeyRow): IdempotencyRow {
  return {
    anchorId: r.anchor_id,
    callerId: r.caller_id,
    idempotencyKey: r.idempotency_key,
    operation: r.operation,
    requestHash: r.request_hash,
    resourceId: r.resource_id,
    createdAt: r.created_at,
  };
}

async function heldKeys(target: SqlTarget, wanted: readonly IdempotencyInsert[]): Promise<Map<string, IdempotencyRow>> {
  const rows = await rawRows<KeyRow>(
    target,
    `SELECT ${keyColumns} FROM idempotency_keys WHERE anchor_id IN (?) AND caller_id IN (?) AND idempotency_key IN (?)`,
    [
      [...new Set(wanted.map((r) => r.anchorId))],
      [...new Set(wanted.map((r) => r.callerId))],
      [...new Set(wanted.map((r) => r.idempotencyKey))],
    ],
  );
  return new Map(
    rows.map((r) => [
      scopeOf({ anchorId: r.anchor_id, callerId: r.caller_id, idempotencyKey: r.idempotency_key }),
      fromKeyRow(r),
    ]),
  );
}

/**
 * Keys claimed before keys were anchored (anchor_id ''), in primary-key order after a cursor:
 * the data step that places them pages through them with it.
 */
export async function legacyKeys(
  shard: Shard,
  after: { callerId: string; idempotencyKey: string } | null,
  limit: number,
): Promise<IdempotencyRow[]> {
  const rows = after
    ? await rawRows<KeyRow>(
        shard.db,
        `SELECT ${keyColumns} FROM idempotency_keys WHERE anchor_id = '' AND (caller_id, idempotency_key) > (?, ?)
       ORDER BY caller_id, idempotency_key LIMIT ?`,
        [after.callerId, after.idempotencyKey, limit],
      )
    : await rawRows<KeyRow>(
        shard.db,
        `SELECT ${keyColumns} FROM idempotency_keys WHERE anchor_id = '' ORDER BY caller_id, idempotency_key LIMIT ?`,
        [limit],
      );
  return rows.map(fromKeyRow);
}

/** Removes legacy (unanchored) key rows once they have been placed. */
export async function deleteLegacyKeys(
  shard: Shard,
  keys: ReadonlyArray<{ callerId: string; idempotencyKey: string }>,
): Promise<void> {
  if (keys.length === 0) return;
  await rawWrite(
    shard.db,
    `DELETE FROM idempotency_keys WHERE anchor_id = '' AND (caller_id, idempotency_key) IN (?)`,
    [keys.map((k) => [k.callerId, k.idempotencyKey])],
  );
}

/**
 * Deletes at most `limit` keys claimed before `cutoff`, oldest first, and answers how many it
 * deleted. The keys are found without locks, then deleted by primary key with the age checked
 * again: two replicas purging at once lock rows in primary-key order (no deadlock between
 * them), and the second simply finds fewer rows. Each call is its own short transaction.
 *
 * Under the fence where the write happens: a key row moves with its anchor's logical shard, and a delete on a fenced
 * source after the mover's last catch-up left the source unlike the target's copy (the move's verify refuses, the
 * range stays fenced), as a purge that deleted a target's arriving copy would. So the search leaves out the keys of
 * logical shards whose fence row here is not open (openHere), and the delete reads the fence rows of the keys it
 * deletes in share mode in its transaction (deleteUnderFences); fenced since the search, nothing is deleted and 0 is
 * answered, which ends this pass's batches on the database. A legacy key's empty anchor names no logical shard.
 */
export async function purgeKeysBefore(shard: Shard, cutoff: Date, limit: number): Promise<number> {
  const rows = await rawRows<Pick<KeyRow, 'anchor_id' | 'caller_id' | 'idempotency_key'>>(
    shard.db,
    `SELECT anchor_id, caller_id, idempotency_key FROM idempotency_keys WHERE created_at < ? AND ${openHere('anchor_id')}
     ORDER BY created_at LIMIT ?`,
    [cutoff, limit],
  );
  if (rows.length === 0) return 0;
  const deletion = {
    sql: 'DELETE FROM idempotency_keys WHERE (anchor_id, caller_id, idempotency_key) IN (?) AND created_at < ?',
    values: [rows.map((r) => [r.anchor_id, r.caller_id, r.idempotency_key]), cutoff],
  };
  return (await deleteUnderFences(shard, deletion, logicalShardsNamed(rows.map((r) => r.anchor_id)))) ?? 0;
}

/** The row holding a key, if any, without claiming it. */
export async function keyHeld(
  shard: Shard,
  scope: { anchorId: string; callerId: string; idempotencyKey: string },
): Promise<IdempotencyRow | undefined> {
  const held = await heldKeys(shard.db, [
    { ...scope, operation: '', requestHash: '', resourceId: '', createdAt: new Date(0) },
  ]);
  return held.get(scopeOf(scope));
}
