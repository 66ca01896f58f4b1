import { and, eq, inArray, sql } from 'drizzle-orm';
import { paymentFx, refundFx } from '@paygraph/transaction/db/schema/fx';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { idKinds, newId, parseId, ulid, type IdKind } from '@paygraph/shared/ids';
import { clearingTotals, insertAccount, type EntryRow, type PostingRow } from '@paygraph/shared/ledger/index';
import { accounts, ledgerEntries, postings, type AccountRow } from '@paygraph/shared/ledger/store/schema';
import { clearingOfRefs } from '@paygraph/settlement/db/ledger-checks';
import {
  externalTransfers,
  holds,
  payments,
  refunds,
  sweeps,
  transferOutbox,
  type OutboxRow,
  type PaymentRow,
  type RefundRow,
} from '@paygraph/transaction/db/schema/transactions';
import { idempotencyKeys } from '@paygraph/shared/idempotency/store/schema';
import { pushTo } from '@paygraph/shared/collections';
import { testShards } from './env';

/**
 * Fixtures and ledger-wide reads for the money-movement tests (bank, crash, lock timeout).
 * Everything here reads real tables on every shard; nothing is mocked.
 */

/** The shard an id of this kind lives on (its logical shard, through the topology). */
export function shardOf(shards: ShardSet, kind: IdKind, id: string): Shard {
  const parsed = parseId(kind, id);
  if (!parsed) throw new Error(`${id} is not a ${kind} id`);
  return shards.byLogical(parsed.shard);
}

/** The physical shard index an account lives on. */
export function physicalOf(shards: ShardSet, accountId: string): number {
  const parsed = parseId('account', accountId);
  if (!parsed) throw new Error(`${accountId} is not an account id`);
  return shards.topology.physicalOf[parsed.shard]!;
}

/** Opens an account directly on a chosen physical shard, for tests that need a placement. */
export async function insertAccountOn(
  shards: ShardSet,
  physical: number,
  ownerId: string,
  type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL',
  currency = 'USD',
): Promise<string> {
  const shard = shards.all[physical];
  if (!shard) throw new Error(`there is no physical shard ${physical}`);
  const id = newId('account', shards.logicalOn(shard)[0]!);
  await insertAccount(shard.db, { id, ownerId, type, currency });
  return id;
}

/**
 * Like insertAccountOn, but the id's ULID time is the epoch, so it sorts before every other
 * account on its shard, the system accounts included. Postings lock their accounts in id
 * order: one that waits on this account's row lock then waits before it locks the shard's
 * shared CLEARING or RESERVE row, instead of holding that row (and every other payment on
 * the shard) hostage meanwhile. Tests that hold such a row locked use this to stay out of
 * other tests' way.
 */
export async function insertEarlyAccountOn(shards: ShardSet, physical: number, ownerId: string): Promise<string> {
  const shard = shards.all[physical];
  if (!shard) throw new Error(`there is no physical shard ${physical}`);
  const logical = shards.logicalOn(shard)[0]!;
  const id = `${idKinds.account}_${ulid(0)}_${logical.toString(16).padStart(2, '0')}`;
  await insertAccount(shard.db, { id, ownerId, type: 'PERSONAL', currency: 'USD' });
  return id;
}

export async function paymentRow(shards: ShardSet, id: string): Promise<PaymentRow | undefined> {
  const rows = await shardOf(shards, 'payment', id).db.select().from(payments).where(eq(payments.id, id));
  return rows[0];
}

export async function refundRow(shards: ShardSet, id: string): Promise<RefundRow | undefined> {
  const rows = await shardOf(shards, 'refund', id).db.select().from(refunds).where(eq(refunds.id, id));
  return rows[0];
}

/** The outbox row of a payment or refund, on the shard of that payment or refund. */
export async function outboxRow(
  shards: ShardSet,
  kind: 'payment' | 'refund',
  id: string,
): Promise<OutboxRow | undefined> {
  const rows = await shardOf(shards, kind, id).db.select().from(transferOutbox).where(eq(transferOutbox.id, id));
  return rows[0];
}

/**
 * Makes a PENDING outbox row due at once (next_attempt_at = created_at), as if its inline grace
 * (outboxInlineGraceMs, 5 s of real time) had passed: a crash test hands the row to the
 * restarted process's relay without waiting that time out. The grace itself is asserted where a
 * row is cut (crash.test.ts: nextAttemptAt − createdAt). Throws unless exactly one row changed.
 */
export async function outboxDueNow(shards: ShardSet, id: string): Promise<void> {
  const changed = await Promise.all(
    shards.all.map(async (s) => {
      const [result] = await s.db
        .update(transferOutbox)
        .set({ nextAttemptAt: sql`${transferOutbox.createdAt}` })
        .where(and(eq(transferOutbox.id, id), eq(transferOutbox.status, 'PENDING')));
      return result.affectedRows;
    }),
  );
  const total = changed.reduce((a, b) => a + b, 0);
  if (total !== 1) throw new Error(`outbox row ${id}: ${total} PENDING rows made due, not one`);
}

/** The resource an idempotency key was claimed for, looked up on every shard (the key's shard is a hash). */
export async function resourceOfKey(shards: ShardSet, callerId: string, key: string): Promise<string | undefined> {
  const found = await Promise.all(
    shards.all.map((s) =>
      s.db
        .select({ id: idempotencyKeys.resourceId })
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.callerId, callerId), eq(idempotencyKeys.idempotencyKey, key))),
    ),
  );
  const ids = found.flat().map((r) => r.id);
  if (ids.length > 1) throw new Error(`key ${key} of ${callerId} is claimed on ${ids.length} shards`);
  return ids[0];
}

/** Postings with these dedupe keys, on any shard. */
export async function postingsByDedupeKey(
  shards: ShardSet,
  keys: readonly string[],
): Promise<Array<PostingRow & { shard: number }>> {
  if (keys.length === 0) return [];
  const found = await Promise.all(
    shards.all.map(async (s) =>
      (
        await s.db
          .select()
          .from(postings)
          .where(inArray(postings.dedupeKey, [...keys]))
      ).map((p) => ({ ...p, shard: s.index })),
    ),
  );
  return found.flat();
}

/** The entries a set of postings made, on one shard. */
export async function entriesOfPostings(shard: Shard, postingIds: readonly string[]): Promise<EntryRow[]> {
  if (postingIds.length === 0) return [];
  return shard.db
    .select()
    .from(ledgerEntries)
    .where(inArray(ledgerEntries.postingId, [...postingIds]));
}

/** Account rows by id, each read from the shard its id names. */
export async function accountRows(shards: ShardSet, ids: readonly string[]): Promise<Map<string, AccountRow>> {
  const byShard = new Map<Shard, string[]>();
  for (const id of ids) {
    const shard = shardOf(shards, 'account', id);
    pushTo(byShard, shard, id);
  }
  const rows = await Promise.all(
    [...byShard].map(([shard, local]) => shard.db.select().from(accounts).where(inArray(accounts.id, local))),
  );
  return new Map(rows.flat().map((r) => [r.id, r]));
}

/** Σ over all shards of the CLEARING accounts' balances in a currency. */
export async function clearingSum(shards: ShardSet, currency: string): Promise<bigint> {
  const totals = await Promise.all(shards.all.map((s) => clearingTotals(s.db)));
  return totals
    .flat()
    .filter((t) => t.currency === currency)
    .reduce((sum, t) => sum + t.amount, 0n);
}

export interface InFlight {
  amount: bigint;
  /** Cross-shard payments debited on the payer's shard whose credit has not been posted. */
  payments: string[];
  /** Cross-shard refunds debited on the payee's shard whose credit back to the payer has not been posted. */
  refunds: string[];
  /** Sweeps debited on a merchant stripe whose credit of the home row has not been posted. */
  sweeps: string[];
}

/**
 * The money between shards, computed from the business tables of every test and process using
 * these shards: payments PROCESSING without a `<id>:credit` posting, plus refunds with a
 * `<id>:debit` posting but no `<id>:credit`, plus sweeps PROCESSING without a `<id>:credit`,
 * plus what the postings of payments and refunds of many legs in flight hold in clearing.
 * Σ clearing must equal it.
 */
export async function moneyInFlight(shards: ShardSet, currency: string): Promise<InFlight> {
  // An FX payment or refund is in flight in its buy currency (clearing holds the payee's side).
  const [open, openRefunds, openSweeps] = await Promise.all([
    Promise.all(
      shards.all.map((s) =>
        s.db
          .select({
            id: payments.id,
            amount: sql<string>`COALESCE(${paymentFx.buyAmount}, ${payments.amount})`.mapWith(BigInt),
            route: payments.route,
          })
          .from(payments)
          .leftJoin(paymentFx, eq(paymentFx.paymentId, payments.id))
          .where(
            and(
              eq(payments.status, 'PROCESSING'),
              eq(sql`COALESCE(${paymentFx.buyCurrency}, ${payments.currency})`, currency),
            ),
          ),
      ),
    ),
    Promise.all(
      shards.all.map((s) =>
        s.db
          .select({
            id: refunds.id,
            amount: sql<string>`COALESCE(${refundFx.buyAmount}, ${refunds.amount})`.mapWith(BigInt),
            route: payments.route,
          })
          .from(refunds)
          .innerJoin(payments, eq(payments.id, refunds.paymentId))
          .leftJoin(refundFx, eq(refundFx.refundId, refunds.id))
          .where(
            and(
              eq(refunds.status, 'PROCESSING'),
              eq(sql`COALESCE(${refundFx.buyCurrency}, ${refunds.currency})`, currency),
            ),
          ),
      ),
    ),
    Promise.all(
      shards.all.map((s) =>
        s.db
          .select({ id: sweeps.id, amount: sweeps.amount })
          .from(sweeps)
          .where(and(eq(sweeps.status, 'PROCESSING'), eq(sweeps.currency, currency))),
      ),
    ),
  ]);
  // A movement of many legs (route LEGS) holds in clearing what its own postings put there.
  const moving = [...open.flat(), ...openRefunds.flat()].filter((m) => m.route === 'LEGS').map((m) => m.id);
  const legsHeld = (await Promise.all(shards.all.map((s) => clearingOfRefs(s.db, moving))))
    .flat()
    .filter((c) => c.currency === currency)
    .reduce((sum, c) => sum + c.amount, 0n);
  const pays = open.flat().filter((p) => p.route !== 'LEGS');
  const refs = openRefunds.flat().filter((r) => r.route !== 'LEGS');
  const sweepRows = openSweeps.flat();
  const keys = [
    ...pays.map((p) => `${p.id}:credit`),
    ...refs.flatMap((r) => [`${r.id}:debit`, `${r.id}:credit`]),
    ...sweepRows.map((w) => `${w.id}:credit`),
  ];
  const posted = new Set((await postingsByDedupeKey(shards, keys)).map((p) => p.dedupeKey));
  const inFlightPayments = pays.filter((p) => !posted.has(`${p.id}:credit`));
  const inFlightRefunds = refs.filter((r) => posted.has(`${r.id}:debit`) && !posted.has(`${r.id}:credit`));
  const inFlightSweeps = sweepRows.filter((w) => !posted.has(`${w.id}:credit`));
  const amount = [...inFlightPayments, ...inFlightRefunds, ...inFlightSweeps].reduce(
    (sum, m) => sum + m.amount,
    legsHeld,
  );
  return {
    amount,
    payments: [...inFlightPayments.map((p) => p.id), ...moving.filter((id) => id.startsWith('pay_'))],
    refunds: inFlightRefunds.map((r) => r.id),
    sweeps: inFlightSweeps.map((w) => w.id),
  };
}

/**
 * Compares Σ clearing with the money in flight until they agree (in-flight read before and
 * after the clearing sum, so that a movement completing in between is not mistaken for a
 * match) or the time is up. Other test files move money between the reads, so a single
 * comparison could differ for a moment; a real leak differs every time.
 */
export async function clearingAgainstInFlight(
  shards: ShardSet,
  currency: string,
  timeoutMs = 10_000,
): Promise<{ clearing: bigint; inFlight: InFlight; agreed: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const before = await moneyInFlight(shards, currency);
    const clearing = await clearingSum(shards, currency);
    const after = await moneyInFlight(shards, currency);
    const agreed = before.amount === clearing && after.amount === clearing;
    if (agreed || Date.now() > deadline) return { clearing, inFlight: after, agreed };
    await sleep(100);
  }
}

/**
 * The payments, refunds, deposits and withdrawals, and holds one caller (a test run's operator) created, on every
 * shard.
 */
export async function rowsCreatedBy(shards: ShardSet, createdBy: string) {
  const read = async <T>(fn: (shard: Shard) => Promise<T[]>) => (await Promise.all(shards.all.map(fn))).flat();
  return {
    payments: await read((s) => s.db.select().from(payments).where(eq(payments.createdBy, createdBy))),
    refunds: await read((s) => s.db.select().from(refunds).where(eq(refunds.createdBy, createdBy))),
    transfers: await read((s) =>
      s.db.select().from(externalTransfers).where(eq(externalTransfers.createdBy, createdBy)),
    ),
    holds: await read((s) => s.db.select().from(holds).where(eq(holds.createdBy, createdBy))),
  };
}

/**
 * Waits until none of a caller's payments and refunds is PROCESSING (the relay finishes what a
 * fault left in flight); answers the ids still PROCESSING after timeoutMs (none: drained).
 */
export async function drainProcessing(
  shards: ShardSet,
  createdBy: string,
  timeoutMs: number,
  pollMs = 250,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await rowsCreatedBy(shards, createdBy);
    const open = [...rows.payments, ...rows.refunds].filter((r) => r.status === 'PROCESSING').map((r) => r.id);
    if (open.length === 0 || Date.now() > deadline) return open;
    await sleep(pollMs);
  }
}

/** Polls until fn answers something other than undefined, or fails after timeoutMs. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How long a cross-shard payment's ending may take after its answer on a loaded machine: it is one merged batch. */
const paymentEndingWaitMs = 10_000;

/**
 * Waits until a cross-shard payment's ending has committed (it follows the answer: endings-in-flight.ts), reading on
 * connections of its own, so that a test counting its stack's statements and round trips does not count these.
 */
export async function paymentEnded(paymentId: string): Promise<void> {
  const own = testShards(1);
  try {
    await eventually(`payment ${paymentId} ended`, paymentEndingWaitMs, async () =>
      (await paymentRow(own, paymentId))?.status === 'SUCCEEDED' ? true : undefined,
    );
  } finally {
    await own.close();
  }
}
