import { startWorkerPerDatabase, type Worker } from '@paygraph/shared/worker';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { claimDueOutbox, outboxBacklog, postponeOutbox, outboxById } from '../db/outbox';
import { relayBacklog, relayLagSeconds } from '@paygraph/shared/metrics';
import { log } from '@paygraph/shared/log';
import { completeSweepById } from './sweep';
import { CompletionWaits } from './completion-waits';
import { completePaymentById } from './payment-completion';
import { completeRefund } from './refund-completion';
import { recordPayoutEvent } from './link-events';
import { relayBatchSizeMax, relayLeaseMs, relayBacklogCountMax, relayFencedRetryMs } from '../limits';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { fencedIn, refuseFenced } from '@paygraph/shared/control/index';
import { shardOfAnyId } from '@paygraph/shared/ids';

export { CompletionWaits };

/**
 * Carries out the other shard's half of a cross-shard movement and completes the movement on
 * its home shard. Safe to run any number of times, from the request and from any relay
 * replica at once: the remote posting is deduplicated by its key, and the completion runs
 * under the outbox row's lock and only while the row is PENDING.
 */
export async function runOutboxStep(shards: ShardSet, home: Shard, id: string, now: () => Date): Promise<void> {
  const row = await outboxById(home.db, id);
  if (!row || row.status === 'DONE') return;
  if (row.step === 'SWEEP_CREDIT') return completeSweepById(shards, home, id, now);
  // Not a movement's half: a payout's event, told on its owner's link shard (link-events.ts).
  if (row.step === 'PAYOUT_EVENT') return recordPayoutEvent(shards, home, id);
  // Both steps name the one completion of a payment (payment-completion.ts), which reads its
  // legs by the payment's route: PAYMENT_CREDIT is a two-leg plan's, as rows in flight carry it.
  if (row.step === 'PAYMENT_CREDIT' || row.step === 'PAYMENT_LEGS') return completePaymentById(shards, home, id, now);
  // Likewise a refund's (refund-completion.ts): REFUND_DEBIT is a two-leg plan's.
  return completeRefund(shards, home, id, now);
}

/**
 * Claims due rows on one shard with a lease (SKIP LOCKED, so replicas share the work), then runs them. Only rows of
 * the logical shards the live map places on this shard and does not fence (claimDueOutbox), and whose fence rows on
 * the database are open, read in share mode first in the claim's transaction (fencedIn): the lease is a write to a
 * row a shard move carries, and a process's map follows a fence a poll late. Written after the mover's last catch-up,
 * it left the source's row different from the target's copy: the move's verify refused, and the range stayed fenced
 * until an operator ran the move again. A mover's fence write now waits for a claim, and a claim after it leaves the
 * range alone. A row refused by a fence (FencedWrite: a shard move, the other side's or its own) comes due again
 * after relayFencedRetryMs, not at its lease's end: a fence lasts at most shardMoveFenceMsMax, and the movement's
 * money waits in clearing meanwhile.
 */
export async function relayTick(shards: ShardSet, shard: Shard, now: () => Date): Promise<number> {
  await measureBacklog(shard, now());
  const claimed = await inTransaction(shard, async (tx) => {
    const placed = shards.logicalOn(shard);
    const fenced = new Set(await fencedIn(tx, placed));
    const open = placed.filter((l) => !fenced.has(l));
    const rows = await claimDueOutbox(tx, now(), relayBatchSizeMax, open);
    const leaseEnd = new Date(now().getTime() + relayLeaseMs);
    for (const row of rows) await postponeOutbox(tx, row.id, leaseEnd);
    return rows;
  });
  for (const row of claimed) {
    try {
      await runOutboxStep(shards, shard, row.id, now);
    } catch (error) {
      // The row stays PENDING and comes due again when its lease ends.
      if (error instanceof CompletionWaits) {
        log().warn(`relay: ${row.step} ${row.id}: ${error.message}; will retry`);
        continue;
      }
      if (isFenced(error)) {
        log().info(`relay: ${row.step} ${row.id}: a shard move's fence; will retry in ${relayFencedRetryMs} ms`);
        await retrySoon(shard, row.id, new Date(now().getTime() + relayFencedRetryMs));
        continue;
      }
      log().error({ err: error }, `relay: ${row.step} ${row.id} failed, will retry`);
    }
  }
  return claimed.length;
}

function isFenced(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++)
    if (e instanceof FencedWrite) return true;
  return false;
}

/**
 * A row's lease shortened, under its own logical shard's open fence row (share mode, as the claim): a row of a range
 * fenced on its database is left to its lease (the switch makes it due where it arrives: outboxDueOnArrival). The row
 * is written first and its fence row read after, the order a posting's completion locks them in, so that this, a
 * completion and a mover's fence write waiting between them are in no lock cycle; a fenced row's write is rolled
 * back. A shard that does not answer now leaves the row to its lease too.
 */
export async function retrySoon(shard: Shard, id: string, at: Date): Promise<void> {
  await inTransaction(shard, async (tx) => {
    await postponeOutbox(tx, id, at);
    await refuseFenced(tx, shard.name, [shardOfAnyId(id)]);
  }).catch((error: unknown) => {
    if (!isFenced(error)) log().warn({ err: error }, `relay: ${id}: could not shorten its lease`);
  });
}

/** Sets the relay's backlog and lag gauges for a shard, before the pass takes its rows. */
async function measureBacklog(shard: Shard, at: Date): Promise<void> {
  const { due, oldestDueAt } = await outboxBacklog(shard.db, at, relayBacklogCountMax);
  relayBacklog.set({ shard: shard.name }, due);
  relayLagSeconds.set(
    { shard: shard.name },
    oldestDueAt ? Math.max(0, at.getTime() - oldestDueAt.getTime()) / 1000 : 0,
  );
}

export type Relay = Worker;

export function startRelay(shards: ShardSet, intervalMs: number, now: () => Date = () => new Date()): Relay {
  // A worker per database (worker.ts startWorkerPerDatabase): a slow database delays only its own rows.
  return startWorkerPerDatabase({
    name: 'relay',
    intervalMs,
    databases: () => shards.all,
    tick: (s) => relayTick(shards, s, now),
  });
}
