import { and, asc, desc, eq, gt, inArray, isNotNull, lte, ne, notInArray, or, sql } from 'drizzle-orm';
import type { Executor, DrizzleTx } from '@paygraph/shared/shards/transaction';
import { accounts, ledgerEntries, postings } from '@paygraph/shared/ledger/read-model/tables';
import type { Account, AccountBalances } from '@paygraph/shared/ledger/index';
import { offLogicalShards, onLogicalShards } from '@paygraph/shared/db/placed';
import type { EntryWithPosting } from '../domain/events';
import { entryEventType } from '../domain/event-types';
import { webhookStreams, type StreamRow } from './schema/webhooks';

export type { EntryWithPosting };

/**
 * SQL over webhook_streams, each on the shard of the stripe it follows, and the ledger reads
 * that feed them. A stream's last_sequence is the durable cursor: entries up to it have become
 * deliveries, in the same local transaction that moved it.
 */
export interface StreamKey {
  endpointId: string;
  stripeId: string;
}

export async function insertStreamsIfMissing(
  db: Executor,
  rows: ReadonlyArray<typeof webhookStreams.$inferInsert>,
): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(webhookStreams)
    .ignore()
    .values([...rows]);
}

export async function streamKeysOf(db: Executor, endpointIds: readonly string[]): Promise<StreamKey[]> {
  if (endpointIds.length === 0) return [];
  return db
    .select({ endpointId: webhookStreams.endpointId, stripeId: webhookStreams.stripeId })
    .from(webhookStreams)
    .where(inArray(webhookStreams.endpointId, [...endpointIds]));
}

/**
 * A pass's one read (no lock: claims come after): streams whose stripe has entries past the
 * cursor, first, then streams due for sending — unleased, of endpoints not at their bound in
 * this process — with whether each is due. Every endpoint's: a disabled endpoint has no streams left
 * (disabled-endpoints.ts), and the caller skips those of an endpoint it does not know yet, so
 * the statement names no endpoints but the busy ones. `due` is whether a due stream came back;
 * null when lagging ones filled the limit and it is not known. Only streams of `placed` logical shards (those the live
 * map places on this database, unfenced): a moving range's are written on its copy's side of the move, not here.
 */
export async function streamsWithWork(
  db: Executor,
  placed: readonly number[],
  busyEndpointIds: readonly string[],
  now: Date,
  limit: number,
): Promise<{ lagging: StreamRow[]; due: boolean | null }> {
  if (placed.length === 0) return { lagging: [], due: false };
  const behind = and(
    onLogicalShards(webhookStreams.stripeId, placed),
    gt(accounts.lastSequence, webhookStreams.lastSequence),
  );
  const due = dueFilter(placed, busyEndpointIds, now);
  const rows = await db
    .select({
      stream: webhookStreams,
      lagging: sql<number>`${behind}`.mapWith(Number),
      due: sql<number>`COALESCE(${due}, 0)`.mapWith(Number),
    })
    .from(webhookStreams)
    .innerJoin(accounts, eq(accounts.id, webhookStreams.stripeId))
    .where(or(behind, due))
    .orderBy(desc(sql`${behind}`))
    .limit(limit);
  const lagging = rows.filter((r) => r.lagging === 1).map((r) => r.stream);
  // A stream may be both (a retry due, new entries behind it): its due flag counts too.
  return { lagging, due: rows.some((r) => r.due === 1) ? true : rows.length < limit ? false : null };
}

function keyMatch(keys: readonly StreamKey[]) {
  return or(
    ...keys.map((k) => and(eq(webhookStreams.endpointId, k.endpointId), eq(webhookStreams.stripeId, k.stripeId))),
  );
}

/** Locks the streams no other dispatcher holds: SKIP LOCKED lets replicas share the work. */
export async function lockStreams(tx: DrizzleTx, keys: readonly StreamKey[]): Promise<StreamRow[]> {
  if (keys.length === 0) return [];
  return tx.select().from(webhookStreams).where(keyMatch(keys)).for('update', { skipLocked: true });
}

export interface StreamAdvance extends StreamKey, AccountBalances {
  accountId: string;
  lastSequence: bigint;
  /** When deliveries were queued: the stream becomes due then unless it is due already (or waits for a retry). */
  queuedAt: Date | null;
  /** The lease the stream has after the move: a new one when the caller claims it, its own otherwise. */
  leaseUntil: Date;
}

/**
 * Moves the cursors of streams the caller holds locked, in one statement (an upsert on the
 * primary key, which always finds the row), so a pass's transaction stays a few round trips
 * however many streams it advances.
 */
export async function advanceStreams(tx: DrizzleTx, rows: readonly StreamAdvance[]): Promise<void> {
  if (rows.length === 0) return;
  await tx
    .insert(webhookStreams)
    .values(
      rows.map((r) => ({
        endpointId: r.endpointId,
        stripeId: r.stripeId,
        accountId: r.accountId,
        lastSequence: r.lastSequence,
        available: r.available,
        frozen: r.frozen,
        pending: r.pending,
        dueAt: r.queuedAt,
        leaseUntil: r.leaseUntil,
      })),
    )
    .onDuplicateKeyUpdate({
      set: {
        leaseUntil: sql`VALUES(${webhookStreams.leaseUntil})`,
        lastSequence: sql`VALUES(${webhookStreams.lastSequence})`,
        available: sql`VALUES(${webhookStreams.available})`,
        frozen: sql`VALUES(${webhookStreams.frozen})`,
        pending: sql`VALUES(${webhookStreams.pending})`,
        dueAt: sql`COALESCE(${webhookStreams.dueAt}, VALUES(${webhookStreams.dueAt}))`,
      },
    });
}

function dueFilter(placed: readonly number[], busyEndpointIds: readonly string[], now: Date) {
  return and(
    onLogicalShards(webhookStreams.stripeId, placed),
    isNotNull(webhookStreams.dueAt),
    lte(webhookStreams.dueAt, now),
    lte(webhookStreams.leaseUntil, now),
    busyEndpointIds.length === 0 ? undefined : notInArray(webhookStreams.endpointId, [...busyEndpointIds]),
  );
}

/**
 * Whether any stream of the placed logical shards is due, unleased, of an endpoint not at its bound: one indexed read,
 * no lock.
 */
export async function anyStreamDue(
  db: Executor,
  placed: readonly number[],
  busyEndpointIds: readonly string[],
  now: Date,
): Promise<boolean> {
  if (placed.length === 0) return false;
  const rows = await db
    .select({ endpointId: webhookStreams.endpointId })
    .from(webhookStreams)
    .where(dueFilter(placed, busyEndpointIds, now))
    .limit(1);
  return rows.length > 0;
}

/**
 * Claims due streams no dispatcher holds, in due order, except those of endpoints at their
 * bound in this process, and leases them until leaseUntil: while leased, only the claimer
 * sends the stream's deliveries, one at a time. Only streams of the placed logical shards (streamsWithWork).
 */
export async function claimDueStreams(
  tx: DrizzleTx,
  placed: readonly number[],
  busyEndpointIds: readonly string[],
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<StreamRow[]> {
  if (placed.length === 0) return [];
  const rows = await tx
    .select()
    .from(webhookStreams)
    .where(dueFilter(placed, busyEndpointIds, now))
    .orderBy(asc(webhookStreams.dueAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  if (rows.length > 0) await tx.update(webhookStreams).set({ leaseUntil }).where(keyMatch(rows));
  return rows;
}

export async function extendLease(db: Executor, key: StreamKey, leaseUntil: Date): Promise<void> {
  await db
    .update(webhookStreams)
    .set({ leaseUntil })
    .where(and(eq(webhookStreams.endpointId, key.endpointId), eq(webhookStreams.stripeId, key.stripeId)));
}

/**
 * Hands streams back, together: under their locks (taken in key order, so that two hand-backs
 * cannot deadlock, and a materialisation committing meanwhile is waited for), each stream's due
 * instant becomes its head delivery's — the oldest pending, which later ones wait behind; none
 * when nothing is pending — and its lease ends. The head is read by the update after the locks
 * are held: under READ COMMITTED that read sees what a materialisation committed while this
 * waited (a single UPDATE would read the heads as of its start, and could leave a stream with
 * a pending delivery and no due instant). Two statements whatever the number of streams.
 */
export async function releaseStreams(tx: DrizzleTx, keys: readonly StreamKey[], epoch: Date): Promise<void> {
  if (keys.length === 0) return;
  await tx
    .select({ endpointId: webhookStreams.endpointId })
    .from(webhookStreams)
    .where(keyMatch(keys))
    .orderBy(asc(webhookStreams.endpointId), asc(webhookStreams.stripeId))
    .for('update');
  await tx.execute(sql`
    UPDATE webhook_streams AS s SET
      s.due_at = (
        SELECT d.next_attempt_at FROM webhook_deliveries AS d
        WHERE d.endpoint_id = s.endpoint_id AND d.stripe_id = s.stripe_id AND d.status = 'PENDING'
        ORDER BY d.sequence, d.event_type <> ${entryEventType}, d.event_type LIMIT 1
      ),
      s.lease_until = ${epoch}
    WHERE ${sql.join(
      keys.map((k) => sql`(s.endpoint_id = ${k.endpointId} AND s.stripe_id = ${k.stripeId})`),
      sql` OR `,
    )}`);
}

/**
 * Streams of an endpoint on this shard are due now (a redelivery queued their events again); not those of the logical
 * shards `leftOut` (a stream's is its stripe's).
 */
export async function streamsDueNow(
  db: Executor,
  endpointId: string,
  now: Date,
  leftOut: readonly number[] = [],
): Promise<void> {
  await db
    .update(webhookStreams)
    .set({ dueAt: now })
    .where(and(eq(webhookStreams.endpointId, endpointId), offLogicalShards(webhookStreams.stripeId, leftOut)));
}

/**
 * A disabled endpoint's streams on this shard go: nothing of theirs is ever sent again, and the
 * dispatcher's reads then need no list of the enabled endpoints. Not those of the logical shards `leftOut` (a stream's
 * is its stripe's: fenced here, services/disabled-endpoints.ts closeEndpointQueues).
 */
export async function deleteStreamsOf(
  db: Executor,
  endpointId: string,
  leftOut: readonly number[] = [],
): Promise<void> {
  await db
    .delete(webhookStreams)
    .where(and(eq(webhookStreams.endpointId, endpointId), offLogicalShards(webhookStreams.stripeId, leftOut)));
}

/**
 * The entries from each stream's cursor on (the one at the cursor too, to tell whether the next
 * entry starts a posting), up to perStream after it: ranges of the primary key, one statement.
 */
export async function entriesAfter(
  db: Executor,
  from: ReadonlyArray<{ stripeId: string; after: bigint }>,
  perStream: number,
): Promise<EntryWithPosting[]> {
  if (from.length === 0) return [];
  const ranges = from.map((f) =>
    and(
      eq(ledgerEntries.accountId, f.stripeId),
      gt(ledgerEntries.sequence, f.after > 0n ? f.after - 1n : 0n),
      lte(ledgerEntries.sequence, f.after + BigInt(perStream)),
    ),
  );
  return db
    .select({
      stripeId: ledgerEntries.accountId,
      sequence: ledgerEntries.sequence,
      id: ledgerEntries.id,
      postingId: ledgerEntries.postingId,
      bucket: ledgerEntries.bucket,
      amount: ledgerEntries.amount,
      direction: ledgerEntries.direction,
      balanceAfter: ledgerEntries.balanceAfter,
      createdAt: ledgerEntries.createdAt,
      postingKind: postings.kind,
      refId: postings.refId,
    })
    .from(ledgerEntries)
    .innerJoin(postings, eq(postings.id, ledgerEntries.postingId))
    .where(or(...ranges))
    .orderBy(asc(ledgerEntries.accountId), asc(ledgerEntries.sequence));
}

/** What a stream starts from: the account (or stripe) rows an endpoint follows on this shard. */
/** What the dispatcher reads of a followed account: the ledger's one shape of an account, in part. */
export type FollowedRow = Pick<
  Account,
  'id' | 'parentId' | 'ownerId' | 'lastSequence' | 'available' | 'frozen' | 'pending' | 'createdAt'
>;

const followedColumns = {
  id: accounts.id,
  parentId: accounts.parentId,
  ownerId: accounts.ownerId,
  lastSequence: accounts.lastSequence,
  available: accounts.available,
  frozen: accounts.frozen,
  pending: accounts.pending,
  createdAt: accounts.createdAt,
};

/** Accounts by id and the stripes of those that are merchants. */
export async function accountsAndStripesToFollow(db: Executor, ids: readonly string[]): Promise<FollowedRow[]> {
  if (ids.length === 0) return [];
  return db
    .select(followedColumns)
    .from(accounts)
    .where(or(inArray(accounts.id, [...ids]), inArray(accounts.parentId, [...ids])));
}

/**
 * Every client account (and stripe) of these owners on this shard; all of them when owners is null (an operator's
 * endpoint).
 */
export async function accountsOfOwnersToFollow(db: Executor, owners: readonly string[] | null): Promise<FollowedRow[]> {
  if (owners !== null && owners.length === 0) return [];
  const client = ne(accounts.type, 'SYSTEM');
  return db
    .select(followedColumns)
    .from(accounts)
    .where(owners === null ? client : and(client, inArray(accounts.ownerId, [...owners])));
}
