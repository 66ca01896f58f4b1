import { sql } from 'drizzle-orm';
import { rawWrite } from '../../db/raw';
import type { Tx } from '../../shards/transaction';
import { FencedWrite } from '../../shards/unavailable';
import type { Statement } from '../../shards/posting-transaction';
import type { Shard } from '../../shards/pool';

/**
 * The fence where the write happens: shard_fences, on every database, one row per logical shard (migration 0002),
 * `open` unless a mover fenced it there (`fenced`, while its move stands at the fence) or moved it away (`moved`: the
 * rows left there until cleanup are no longer the range's). The ledger's posting transaction reads the rows of its
 * accounts' logical shards in share mode, in the round trip that locks the accounts (ledger/store/postings.ts), and
 * refuses the posting when one is not open; a mover's fence write takes them exclusively. So the fence write waits
 * for every posting in flight on those logical shards, and every posting after it sees it, whatever map the writing
 * process routes by.
 */
export type FenceReason = 'fenced' | 'moved';

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
  const list = sql.join(
    logicalShards.map((l) => sql`${l}`),
    sql`, `,
  );
  const answer = await tx.execute(sql`${sql.raw(fenceSelect)} (${list}) LOCK IN SHARE MODE`);
  const [rows] = answer as unknown as [unknown[]];
  const refused = fencedAmong(rows);
  if (refused.length > 0) throw new FencedWrite(shardName, refused);
}

/** The logical shards fenceRead's rows say are not open, ascending. */
export function fencedAmong(rows: readonly unknown[]): number[] {
  return (rows as Array<{ l: number; r: string }>)
    .filter((row) => row.r !== 'open')
    .map((row) => Number(row.l))
    .sort((a, b) => a - b);
}

/**
 * Fences the range on a database. Locks: the range's fence rows, exclusively, for its statement (autocommit): it
 * waits until every posting transaction that read one of them has ended.
 */
export async function fenceOn(database: Shard, first: number, last: number, reason: FenceReason): Promise<void> {
  await rawWrite(
    database,
    'UPDATE shard_fences SET reason = ?, since = CURRENT_TIMESTAMP(3) WHERE logical_shard BETWEEN ? AND ?',
    [reason, first, last],
  );
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
