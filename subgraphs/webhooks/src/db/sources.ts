import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Executor, DrizzleTx } from '@paygraph/shared/shards/transaction';
import { webhookDeliveries, webhookSources, webhookStreams, type StreamRow } from './schema/webhooks';

/** SQL for events no ledger entry carries (services/record-events.ts): the scan cursors and their deliveries. */
export async function scannedUntil(db: Executor, source: string): Promise<Date | null> {
  const [row] = await db.select().from(webhookSources).where(eq(webhookSources.source, source));
  return row?.scannedUntil ?? null;
}

export async function moveScannedUntil(db: Executor, source: string, until: Date): Promise<void> {
  await db
    .insert(webhookSources)
    .values({ source, scannedUntil: until })
    .onDuplicateKeyUpdate({
      set: { scannedUntil: sql`GREATEST(${webhookSources.scannedUntil}, VALUES(${webhookSources.scannedUntil}))` },
    });
}

/**
 * The streams of these endpoints following these stripes, locked in key order (as hand-backs lock them: no deadlock).
 */
export async function lockStreamsOf(
  tx: DrizzleTx,
  endpointIds: readonly string[],
  stripeIds: readonly string[],
): Promise<StreamRow[]> {
  if (endpointIds.length === 0 || stripeIds.length === 0) return [];
  return tx
    .select()
    .from(webhookStreams)
    .where(and(inArray(webhookStreams.endpointId, [...endpointIds]), inArray(webhookStreams.stripeId, [...stripeIds])))
    .orderBy(asc(webhookStreams.endpointId), asc(webhookStreams.stripeId))
    .for('update');
}

/** Which (endpoint, stripe, record) of these records already have a delivery of this type: "endpoint|stripe|record". */
export async function deliveredRecords(
  db: Executor,
  eventType: string,
  recordIds: readonly string[],
): Promise<Set<string>> {
  if (recordIds.length === 0) return new Set();
  const rows = await db
    .select({
      endpointId: webhookDeliveries.endpointId,
      stripeId: webhookDeliveries.stripeId,
      recordId: webhookDeliveries.recordId,
    })
    .from(webhookDeliveries)
    .where(and(inArray(webhookDeliveries.recordId, [...recordIds]), eq(webhookDeliveries.eventType, eventType)));
  return new Set(rows.map((r) => `${r.endpointId}|${r.stripeId}|${r.recordId}`));
}

/** Streams that were given deliveries become due now, unless due already. */
export async function streamsDueBy(
  tx: DrizzleTx,
  keys: ReadonlyArray<{ endpointId: string; stripeId: string }>,
  at: Date,
): Promise<void> {
  for (const key of keys) {
    await tx
      .update(webhookStreams)
      .set({ dueAt: sql`COALESCE(${webhookStreams.dueAt}, ${at})` })
      .where(and(eq(webhookStreams.endpointId, key.endpointId), eq(webhookStreams.stripeId, key.stripeId)));
  }
}

/** The streams of these endpoints following these stripes, unlocked: which endpoint follows which (services/link-events.ts). */
export async function streamsFollowing(
  db: Executor,
  endpointIds: readonly string[],
  stripeIds: readonly string[],
): Promise<StreamRow[]> {
  if (endpointIds.length === 0 || stripeIds.length === 0) return [];
  return db
    .select()
    .from(webhookStreams)
    .where(and(inArray(webhookStreams.endpointId, [...endpointIds]), inArray(webhookStreams.stripeId, [...stripeIds])));
}
