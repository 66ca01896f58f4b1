import { and, asc, desc, eq, gte, inArray, lt, or, sql } from 'drizzle-orm';
import type { Executor, DrizzleTx } from '@paygraph/shared/shards/transaction';
import { rawRows, type SqlTarget } from '@paygraph/shared/db/raw';
import { heldHere } from '@paygraph/shared/control/index';
import { offLogicalShards, onLogicalShards } from '@paygraph/shared/db/placed';
import { webhookDeliveries, type DeliveryRow } from './schema/webhooks';
import type { StreamKey } from './streams';
import { pushTo } from '@paygraph/shared/collections';
import { entryEventType } from '../domain/event-types';

/** A stream's order: by sequence, the entry's own event before what the entry finished (event-types.ts). */
const inStreamOrder = [
  asc(webhookDeliveries.sequence),
  sql`${webhookDeliveries.eventType} <> ${entryEventType}`,
  asc(webhookDeliveries.eventType),
];

/** SQL over webhook_deliveries, each on the shard of the stripe whose entry it reports. */
export async function insertDeliveries(
  tx: DrizzleTx,
  rows: ReadonlyArray<typeof webhookDeliveries.$inferInsert>,
): Promise<void> {
  if (rows.length === 0) return;
  // The unique (endpoint, stripe, sequence, type) makes a second materialisation of an entry a no-op.
  await tx
    .insert(webhookDeliveries)
    .ignore()
    .values([...rows]);
}

/**
 * A stream's pending deliveries in the order they must arrive: by sequence, balance.changed before what the entry
 * finished.
 */
export async function pendingOfStream(db: Executor, key: StreamKey, limit: number): Promise<DeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, key.endpointId),
        eq(webhookDeliveries.stripeId, key.stripeId),
        eq(webhookDeliveries.status, 'PENDING'),
      ),
    )
    .orderBy(...inStreamOrder)
    .limit(limit);
}

/**
 * The pending deliveries of several streams in one statement, each stream's in order, at most
 * `limit` rows in all (a stream with a long backlog may take them all: its neighbours then read
 * their own, pendingOfStream).
 */
export async function pendingOfStreams(
  db: Executor,
  keys: readonly StreamKey[],
  limit: number,
): Promise<Map<string, DeliveryRow[]>> {
  const found = new Map<string, DeliveryRow[]>();
  if (keys.length === 0) return found;
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.status, 'PENDING'),
        or(
          ...keys.map((k) =>
            and(eq(webhookDeliveries.endpointId, k.endpointId), eq(webhookDeliveries.stripeId, k.stripeId)),
          ),
        ),
      ),
    )
    .orderBy(asc(webhookDeliveries.endpointId), asc(webhookDeliveries.stripeId), ...inStreamOrder)
    .limit(limit);
  for (const row of rows) {
    const key = `${row.endpointId}|${row.stripeId}`;
    pushTo(found, key, row);
  }
  return found;
}

export interface AttemptRecord {
  statusCode: number | null;
  error: string | null;
  /** SUCCEEDED, FAILED (retry window over), or PENDING with its next attempt. */
  status: DeliveryRow['status'];
  nextAttemptAt: Date | null;
}

/** An attempt's outcome, written when its stream is handed back. */
export interface AttemptWrite {
  id: string;
  record: AttemptRecord;
  at: Date;
}

/**
 * The attempts of the streams handed back together, grouped by outcome: attempts with the same
 * outcome share one statement (a run of 2xx answers is one), at the instant of the last of them.
 */
export function attemptGroups(writes: readonly AttemptWrite[]): AttemptWrite[][] {
  const groups = new Map<string, AttemptWrite[]>();
  for (const write of writes) {
    const key = JSON.stringify([
      write.record.status,
      write.record.statusCode,
      write.record.error,
      write.record.nextAttemptAt?.getTime() ?? null,
    ]);
    pushTo(groups, key, write);
  }
  return [...groups.values()];
}

/**
 * Writes attempt groups (attemptGroups), written before their streams are released. A crash before this write sends
 * them again (at least once).
 */
export async function recordAttempts(db: Executor, groups: readonly AttemptWrite[][]): Promise<void> {
  for (const group of groups)
    await recordAttempt(
      db,
      group.map((w) => w.id),
      group[0]!.record,
      group.at(-1)!.at,
    );
}

async function recordAttempt(db: Executor, ids: readonly string[], record: AttemptRecord, now: Date): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      status: record.status,
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      lastStatusCode: record.statusCode,
      lastError: record.error === null ? null : record.error.slice(0, 255),
      firstAttemptAt: sql`COALESCE(${webhookDeliveries.firstAttemptAt}, ${now})`,
      lastAttemptAt: now,
      nextAttemptAt: record.nextAttemptAt,
    })
    .where(inArray(webhookDeliveries.id, [...ids]));
}

/**
 * An endpoint's deliveries on this shard, newest first, before (createdAt, id): of the ranges this database holds
 * (control's heldHere), not the copies a shard move leaves on its source until its cleanup (`moved`) nor a target's
 * before the switch (`arriving`), which would list a delivery twice, one of them stale, and take the page's places.
 */
export async function deliveriesPage(
  db: Executor,
  endpointId: string,
  before: { createdAt: Date; id: string } | null,
  limit: number,
): Promise<DeliveryRow[]> {
  const position =
    before === null
      ? undefined
      : or(
          lt(webhookDeliveries.createdAt, before.createdAt),
          and(eq(webhookDeliveries.createdAt, before.createdAt), lt(webhookDeliveries.id, before.id)),
        );
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.endpointId, endpointId), position, sql.raw(heldHere('`webhook_deliveries`.`id`'))))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit);
}

/**
 * Every delivery of the endpoint on this shard whose event was recorded at or after `since`
 * becomes PENDING again, due now, with a fresh retry window; answers how many. Not those of the logical shards
 * `leftOut` (a range moved away: services/writable-here.ts requeueHere).
 */
export async function requeueSince(
  db: Executor,
  endpointId: string,
  since: Date,
  now: Date,
  leftOut: readonly number[] = [],
): Promise<number> {
  const [result] = await db
    .update(webhookDeliveries)
    .set({ status: 'PENDING', nextAttemptAt: now, firstAttemptAt: null })
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        gte(webhookDeliveries.createdAt, since),
        offLogicalShards(webhookDeliveries.id, leftOut),
      ),
    );
  return result.affectedRows;
}

/** Whether requeueSince would requeue a delivery of one of these logical shards here. Locks: none. */
export async function anyToRequeue(
  db: Executor,
  endpointId: string,
  since: Date,
  logicalShards: readonly number[],
): Promise<boolean> {
  if (logicalShards.length === 0) return false;
  const rows = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        gte(webhookDeliveries.createdAt, since),
        onLogicalShards(webhookDeliveries.id, logicalShards),
      ),
    )
    .limit(1);
  return rows.length > 0;
}

/**
 * Pending deliveries on this shard (counting stops at countMax) and the instant of the oldest event among them. Only
 * the live rows here (control's heldHere): a shard move's PENDING copies are never worked here, and the oldest of
 * them would age for good (with --keep-source) and raise the dispatcher's alert.
 */
export async function queueState(db: SqlTarget, countMax: number): Promise<{ pending: number; oldestAt: Date | null }> {
  const pending = `webhook_deliveries WHERE status = 'PENDING' AND ${heldHere('id')}`;
  const [counted] = await rawRows<{ n: number | string }>(
    db,
    `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${pending} LIMIT ?) AS d`,
    [countMax],
  );
  const [oldest] = await rawRows<{ at: Date | null }>(db, `SELECT MIN(created_at) AS at FROM ${pending}`);
  return { pending: Number(counted?.n ?? 0), oldestAt: oldest?.at ?? null };
}

/**
 * Deletes up to `limit` finished deliveries (SUCCEEDED or FAILED) whose event was recorded
 * before `cutoff`, oldest first, through the (status, created_at) index; answers how many. A
 * PENDING delivery is never deleted, however old (a redelivery made it pending again). Nor is one of the logical
 * shards `leftOut` (those whose fence row here is not open: services/writable-here.ts purgeFinishedHere).
 */
export async function purgeFinishedBefore(
  db: Executor,
  cutoff: Date,
  limit: number,
  leftOut: readonly number[] = [],
): Promise<number> {
  const open = offLogicalShards(webhookDeliveries.id, leftOut);
  let deleted = 0;
  for (const status of ['SUCCEEDED', 'FAILED'] as const) {
    if (deleted >= limit) break;
    const [result] = await db
      .delete(webhookDeliveries)
      .where(and(eq(webhookDeliveries.status, status), lt(webhookDeliveries.createdAt, cutoff), open))
      .orderBy(asc(webhookDeliveries.createdAt))
      .limit(limit - deleted);
    deleted += result.affectedRows;
  }
  return deleted;
}

/**
 * A disabled endpoint's deliveries still PENDING on this shard end FAILED, the reason in
 * last_error, nothing due; answers how many. They are not sent (the endpoint is disabled) and
 * must not sit in the queue for ever. Not those of the logical shards `leftOut` (fenced here:
 * services/disabled-endpoints.ts closeEndpointQueues).
 */
export async function failPendingOfEndpoint(
  db: Executor,
  endpointId: string,
  error: string,
  leftOut: readonly number[] = [],
): Promise<number> {
  const [result] = await db
    .update(webhookDeliveries)
    .set({ status: 'FAILED', lastError: error.slice(0, 255), nextAttemptAt: null })
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        eq(webhookDeliveries.status, 'PENDING'),
        offLogicalShards(webhookDeliveries.id, leftOut),
      ),
    );
  return result.affectedRows;
}
