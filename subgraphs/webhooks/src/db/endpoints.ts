import { and, desc, eq, isNotNull, isNull, lte } from 'drizzle-orm';
import type { Executor, DrizzleTx } from '@paygraph/shared/shards/transaction';
import { offLogicalShards } from '@paygraph/shared/db/placed';
import { webhookEndpoints, type EndpointRow } from './schema/webhooks';

/** SQL over webhook_endpoints: each on the shard the endpoint's id names. */
export async function insertEndpoint(db: Executor, row: typeof webhookEndpoints.$inferInsert): Promise<void> {
  await db.insert(webhookEndpoints).values(row);
}

export async function endpointById(db: Executor, id: string): Promise<EndpointRow | undefined> {
  const rows = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return rows[0];
}

export async function endpointsOfOwner(db: Executor, ownerId: string, limit: number): Promise<EndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.ownerId, ownerId))
    .orderBy(desc(webhookEndpoints.id))
    .limit(limit);
}

/**
 * The owner's endpoint rows and how many of them are ENABLED, counted under locks on all of the owner's rows (and the
 * gap
 * after them, on webhook_endpoints_owner_idx): a concurrent registration of the same owner waits
 * here until this transaction ends, so two cannot both see room for one. With no row yet, two
 * registrations' gap locks deadlock at their inserts and inTransaction runs the loser again.
 */
export async function countEndpointsOfOwnerLocked(
  tx: DrizzleTx,
  ownerId: string,
): Promise<{ rows: number; enabled: number }> {
  const rows = await tx
    .select({ status: webhookEndpoints.status })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.ownerId, ownerId))
    .for('update');
  return { rows: rows.length, enabled: rows.filter((r) => r.status === 'ENABLED').length };
}

/** The endpoint, its row locked until the transaction ends (a rotation reads the secret it replaces under it). */
export async function endpointByIdLocked(tx: DrizzleTx, id: string): Promise<EndpointRow | undefined> {
  const rows = await tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).for('update');
  return rows[0];
}

/** Every endpoint of the shard: the dispatcher's view, refreshed every few seconds (a small table). */
export async function allEndpoints(db: Executor): Promise<EndpointRow[]> {
  return db.select().from(webhookEndpoints);
}

/** ENABLED → DISABLED with its reason; true when this call disabled it. */
export async function disableEndpoint(db: Executor, id: string, reason: string, now: Date): Promise<boolean> {
  const [result] = await db
    .update(webhookEndpoints)
    .set({ status: 'DISABLED', disabledReason: reason, updatedAt: now })
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.status, 'ENABLED')));
  return result.affectedRows === 1;
}

export async function rotateEndpointSecret(
  db: Executor,
  id: string,
  sealed: { next: string; previous: string; previousUntil: Date },
  now: Date,
): Promise<void> {
  await db
    .update(webhookEndpoints)
    .set({
      secretSealed: sealed.next,
      previousSecretSealed: sealed.previous,
      previousSecretUntil: sealed.previousUntil,
      updatedAt: now,
    })
    .where(eq(webhookEndpoints.id, id));
}

/** The first failure after a success starts the clock that may end in disabling the endpoint. */
export async function markEndpointFailing(db: Executor, id: string, now: Date): Promise<void> {
  await db
    .update(webhookEndpoints)
    .set({ failingSince: now })
    .where(and(eq(webhookEndpoints.id, id), isNull(webhookEndpoints.failingSince)));
}

export async function markEndpointHealthy(db: Executor, id: string): Promise<void> {
  await db
    .update(webhookEndpoints)
    .set({ failingSince: null })
    .where(and(eq(webhookEndpoints.id, id), isNotNull(webhookEndpoints.failingSince)));
}

/**
 * Erases the rotated-out secrets whose overlap has ended by `now` (signer.ts signs with one only
 * while previousSecretUntil > now): both columns nulled, so the sealed secret leaves the row.
 * Answers how many rows it erased. A scan of the shard's endpoint rows, a small table (bounded per
 * owner by endpointsPerOwnerRowsMax), each row locked only for its update. Not those of the logical shards `leftOut`
 * (fenced here: services/writable-here.ts eraseSecretsHere); a later pass erases them where they then are.
 */
export async function forgetExpiredSecrets(db: Executor, now: Date, leftOut: readonly number[] = []): Promise<number> {
  const [result] = await db
    .update(webhookEndpoints)
    .set({ previousSecretSealed: null, previousSecretUntil: null })
    .where(
      and(
        isNotNull(webhookEndpoints.previousSecretUntil),
        lte(webhookEndpoints.previousSecretUntil, now),
        offLogicalShards(webhookEndpoints.id, leftOut),
      ),
    );
  return result.affectedRows;
}
