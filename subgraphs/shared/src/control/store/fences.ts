import { sql } from 'drizzle-orm';
import { rawRows, rawWrite } from '../../db/raw';
import { errnoOf, inTransaction, mysqlErrno, type DrizzleTx, type Tx } from '../../shards/transaction';
import { FencedWrite } from '../../shards/unavailable';
import { inPostingTransaction, type Statement } from '../../shards/posting-transaction';
import type { Shard } from '../../shards/pool';
import { idSuffix } from '../../ids';
import { deadlockRetryCountMax, logicalShardCount } from '../../limits';
import { ascending } from '../../collections';

/**
 * The fence where the write happens: shard_fences, on every database, one row per logical shard (migration 0002),
 * `open` unless a mover fenced it there (`fenced`, while its move stands at the fence) or moved it away (`moved`: the
 * rows left there until cleanup are no longer the range's). The ledger's posting transaction reads the rows of its
 * accounts' logical shards in share mode, in the round trip that locks the accounts (ledger/store/postings.ts), and
 * refuses the posting when one is not open; a mover's fence write takes them exclusively. So the fence write waits
 * for every posting in flight on those logical shards, and every posting after it sees it, whatever map the writing
 * process routes by.
 */
export type FenceReason = 'fenced' | 'moved' | 'arriving';

/**
 * SQL true of a row whose `column` (an id) names a logical shard this database holds: neither moved away (`moved`, its
 * rows here are copies left until cleanup) nor still arriving (`arriving`, a copy not switched to yet). What a check
 * of a database's own books reads (ledger/store/class-days.ts totalsAndSubtotals).
 */
export function heldHere(column: string): string {
  return `RIGHT(${column}, 2) NOT IN (SELECT LPAD(LOWER(HEX(logical_shard)), 2, '0') FROM shard_fences
    WHERE reason IN ('moved', 'arriving'))`;
}

/**
 * SQL true of a row whose `column` (an id) names a logical shard whose fence row here is open, or names none (a legacy
 * key's empty anchor: no move carries it). What a purge's search keeps, unlocked, so that a range fenced, moved away
 * or arriving here is left out of its bounded batches rather than filling them pass after pass (`moved` rows stay
 * until the mover's cleanup, and for good with --keep-source). The delete reads the fence again (deleteUnderFences).
 */
export function openHere(column: string): string {
  return `RIGHT(${column}, 2) NOT IN (SELECT LPAD(LOWER(HEX(logical_shard)), 2, '0') FROM shard_fences
    WHERE reason <> 'open')`;
}

/**
 * The logical shards of these ids as a move reads them (RIGHT(id, 2), scripts/lib/move-tables.ts rangeWhere),
 * ascending; an id whose end is no logical shard's suffix (a legacy key's empty anchor) names none, and no move
 * carries its row.
 */
export function logicalShardsNamed(ids: readonly string[]): number[] {
  const named = new Set<number>();
  for (const id of ids) {
    const logical = Number.parseInt(id.slice(-2), 16);
    if (logical < logicalShardCount && idSuffix(logical) === id.slice(-2)) named.add(logical);
  }
  return [...named].sort(ascending);
}

/**
 * A worker's delete of rows a shard move carries (a purge), under the fence where the write happens: the DELETE and a
 * share-mode read of the fence rows of its rows' logical shards (logicalShardsNamed) in one transaction, sent with its
 * BEGIN in one round trip, its COMMIT in another. The rows first and the fence rows after, the order a key's claim
 * takes them in (idempotency/store/keys.ts), so that a purge, a claim and a mover's fence write waiting between them
 * are in no lock cycle. A logical shard among them not open (fenced since the search that found the rows) rolls it
 * back: answers null, nothing deleted, and the next pass's search leaves that range out (openHere). Else the rows
 * deleted. Locks: the rows deleted, and the fence rows, shared, until the COMMIT; a mover's fence write waits for it,
 * and the fenced catch-up after it carries the delete.
 */
export async function deleteUnderFences(
  shard: Shard,
  deletion: Statement,
  logicalShards: readonly number[],
): Promise<number | null> {
  try {
    return await inPostingTransaction(shard, async (tx) => {
      const fences = logicalShards.length > 0 ? [fenceRead(logicalShards)] : [];
      const [deleted, read] = await tx.queryMany([deletion, ...fences]);
      if (read !== undefined) refuseUnlessOpen(shard.name, read);
      return (deleted as unknown as { affectedRows: number }).affectedRows;
    });
  } catch (error) {
    if (error instanceof FencedWrite) return null;
    throw error;
  }
}

/**
 * A batch of coalesced writes (one statement for many requests) made under the fence by `write`, which throws
 * FencedWrite, nothing written, when one of its items' logical shards is not open (in its transaction: its rows, then
 * their fence rows in share mode). The batch is written again without that logical shard's items, so an item of a
 * range being moved does not refuse the items of open ranges that shared its statement; each of them is answered
 * FencedWrite (SHARD_UNAVAILABLE, retryable). Each attempt after the first leaves out at least one logical shard more,
 * so it ends. Answers each item's answer, or its FencedWrite, in order.
 */
export async function batchUnderFences<T, A>(
  shard: Shard,
  items: readonly T[],
  logicalOf: (item: T) => number,
  write: (open: T[]) => Promise<A[]>,
): Promise<Array<A | FencedWrite>> {
  const fenced = new Set<number>();
  for (;;) {
    try {
      // Loops, not callbacks (here and in fencedAmong): a closure made per call is compiled again after each major GC
      // (docs/PERFORMANCE.md).
      const open: T[] = [];
      for (const item of items) if (!fenced.has(logicalOf(item))) open.push(item);
      const answers = open.length === 0 ? [] : await write(open);
      const answered: Array<A | FencedWrite> = [];
      let next = 0;
      for (const item of items) {
        const logical = logicalOf(item);
        answered.push(fenced.has(logical) ? new FencedWrite(shard.name, [logical]) : answers[next++]!);
      }
      return answered;
    } catch (error) {
      if (!(error instanceof FencedWrite) || error.logicalShards.every((l) => fenced.has(l))) throw error;
      for (const l of error.logicalShards) fenced.add(l);
    }
  }
}

/**
 * Changes the range's fence rows from one reason to another in the caller's transaction, those that have `from`;
 * answers whether any changed. A mover's step that must happen once with the change (the books' sums of a range
 * leaving or arriving, ledger/store/class-days.ts moveClassDays) runs in the same transaction when it answers true, so
 * a step run again after a crash does it no second time. Locks: as fenceOn.
 */
export async function changeFence(
  tx: Tx,
  range: { first: number; last: number },
  from: FenceReason,
  to: FenceReason | 'open',
): Promise<boolean> {
  const answer = await tx.execute(
    sql`UPDATE shard_fences SET reason = ${to}, since = CURRENT_TIMESTAMP(3)
        WHERE logical_shard BETWEEN ${range.first} AND ${range.last} AND reason = ${from}`,
  );
  const [result] = answer as unknown as [{ affectedRows: number }];
  return result.affectedRows > 0;
}

const fenceSelect = 'SELECT logical_shard AS l, reason AS r FROM shard_fences WHERE logical_shard IN';

/**
 * The posting transaction's read of its logical shards' fence rows. Locks: those rows, shared (LOCK IN SHARE MODE),
 * until the transaction ends; a mover's fence write waits for them, and the read waits for a fence write in flight.
 * Postings share the lock, so they never wait for each other here.
 */
export function fenceRead(logicalShards: readonly number[]): Statement {
  return {
    sql: `${fenceSelect} (?) LOCK IN SHARE MODE`,
    values: [logicalShards],
  };
}

/**
 * The fence for a write that is not a posting (an account opened): in the writer's transaction, before its write, the
 * same share-mode read as a posting's; a logical shard not open refuses the write with FencedWrite (SHARD_UNAVAILABLE,
 * retryable) before anything is written, and the rows stay shared to the transaction's end, so a mover's fence write
 * waits for it as for a posting.
 */
export async function refuseFenced(tx: Tx, shardName: string, logicalShards: readonly number[]): Promise<void> {
  const refused = await fencedIn(tx, logicalShards);
  if (refused.length > 0) throw new FencedWrite(shardName, refused);
}

/**
 * A write that is not a posting, in a transaction of its own on `shard` under the fence of these logical shards
 * (refuseFenced first, before the write's own locks, the order a posting and a campaign take them in): not open, it
 * throws FencedWrite (SHARD_UNAVAILABLE, retryable) and nothing is written; else `write`'s answer, committed. One
 * statement more than the write. For the rows of a moving logical shard written outside a posting (an owner's links,
 * a webhook endpoint, a merchant's advance terms).
 */
export function underFence<T>(
  shard: Shard,
  logicalShards: readonly number[],
  write: (tx: DrizzleTx) => Promise<T>,
): Promise<T> {
  return inTransaction(shard, async (tx) => {
    await refuseFenced(tx, shard.name, logicalShards);
    return write(tx);
  });
}

/**
 * The same share-mode read as refuseFenced, for a worker's write that may wait (a webhook stream's new deliveries and
 * cursor): answers the logical shards among them that are not open, ascending, and the caller leaves their rows for
 * the side the map places them on. The rows stay shared to the transaction's end, so a fence write waits for the
 * writes made under an open row, and the copy after the fence carries them.
 */
export async function fencedIn(tx: Tx, logicalShards: readonly number[]): Promise<number[]> {
  return (await notOpenIn(tx, logicalShards)).map((f) => f.logical);
}

/**
 * fencedIn's read (share mode, the rows shared to the transaction's end), answering each logical shard among them that
 * is not open with its reason, ascending: for a write that treats the reasons apart (a webhook redelivery: a range
 * `moved` away is left out, its rows here being copies a move left behind, and one `fenced` or `arriving` refuses).
 */
export async function notOpenIn(
  tx: Tx,
  logicalShards: readonly number[],
): Promise<Array<{ logical: number; reason: FenceReason }>> {
  if (logicalShards.length === 0) return [];
  const list = sql.join(
    logicalShards.map((l) => sql`${l}`),
    sql`, `,
  );
  const answer = await tx.execute(sql`${sql.raw(fenceSelect)} (${list}) LOCK IN SHARE MODE`);
  const [rows] = answer as unknown as [Array<{ l: number; r: FenceReason | 'open' }>];
  const reasonOf = new Map(rows.map((row) => [Number(row.l), row.r]));
  return fencedAmong(rows).map((logical) => ({ logical, reason: reasonOf.get(logical) as FenceReason }));
}

/**
 * The fence for an idempotent write made on its own (an owner's directory bit, a merchant's stripe bit), read after it
 * committed. Open: the write committed before any fence of its logical shard, so a move's copy (made after its fence)
 * carries it. Not open: it may be left behind, and it is refused with FencedWrite (retryable); the retry writes it where
 * the map then places it. Locks: none.
 */
export async function refuseFencedAfterWrite(shard: Shard, logicalShards: readonly number[]): Promise<void> {
  await refuseFencedNow(shard, logicalShards);
}

/**
 * A look at the fence without holding it (a plain read, no lock): FencedWrite (retryable) when one of these logical
 * shards is not open on `shard` now. For a change written in several transactions on several databases (a status
 * change's stripes, after its home row commits), refused before its first write when a later one would be; each later
 * write still reads its own rows in share mode. Locks: none.
 */
export async function refuseFencedNow(shard: Shard, logicalShards: readonly number[]): Promise<void> {
  if (logicalShards.length === 0) return;
  refuseUnlessOpen(shard.name, await rawRows(shard, `${fenceSelect} (?)`, [logicalShards]));
}

/**
 * The check every writer under the fence makes of fenceRead's rows: FencedWrite (SHARD_UNAVAILABLE, retryable) naming
 * the logical shards among them that are not open, ascending; nothing when every one is.
 */
export function refuseUnlessOpen(shardName: string, rows: readonly unknown[]): void {
  const refused = fencedAmong(rows);
  if (refused.length > 0) throw new FencedWrite(shardName, refused);
}

/** The logical shards fenceRead's rows say are not open, ascending. */
export function fencedAmong(rows: readonly unknown[]): number[] {
  const fenced: number[] = [];
  for (const row of rows as Array<{ l: number; r: string }>) if (row.r !== 'open') fenced.push(Number(row.l));
  return fenced.sort(ascending);
}

/**
 * Fences the range on a database. Locks: the range's fence rows, exclusively, for its statement (autocommit): it
 * waits until every transaction that read one of them in share mode has ended.
 *
 * A deadlock is sent again (at most deadlockRetryCountMax times): while this write waits, a share request for the same
 * row queues behind it, and not every writer takes a fence row and its business rows in one order (a refund's
 * reservation reads the payment's fence row before the payment's row, a stripe's settlement part after it). One
 * holding the fence row waits for a row the other holds while the other's share request waits behind this write:
 * MariaDB breaks the cycle, and this write, which has changed nothing yet, is its cheapest victim. Failing the
 * mover's step there would leave the range fenced in the map until an operator ran the move again.
 */
export async function fenceOn(database: Shard, first: number, last: number, reason: FenceReason): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rawWrite(
        database,
        'UPDATE shard_fences SET reason = ?, since = CURRENT_TIMESTAMP(3) WHERE logical_shard BETWEEN ? AND ?',
        [reason, first, last],
      );
      return;
    } catch (error) {
      if (errnoOf(error) !== mysqlErrno.deadlock || attempt >= deadlockRetryCountMax) throw error;
    }
  }
}

/** The reasons of a range's fence rows on a database, by logical shard. Locks: none. */
export async function fenceReasons(database: Shard, first: number, last: number): Promise<string[]> {
  const rows = await rawRows<{ r: string }>(
    database,
    'SELECT reason AS r FROM shard_fences WHERE logical_shard BETWEEN ? AND ? ORDER BY logical_shard',
    [first, last],
  );
  return rows.map((row) => row.r);
}

/** Opens the range on a database again (a `reason` given: only rows of that reason). Locks: as fenceOn. */
export async function unfenceOn(database: Shard, first: number, last: number, reason?: FenceReason): Promise<void> {
  await rawWrite(
    database,
    `UPDATE shard_fences SET reason = 'open', since = CURRENT_TIMESTAMP(3)
     WHERE logical_shard BETWEEN ? AND ?${reason === undefined ? '' : ' AND reason = ?'}`,
    reason === undefined ? [first, last] : [first, last, reason],
  );
}
