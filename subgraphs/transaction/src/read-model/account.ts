import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { heldHere } from '@paygraph/shared/control/index';
import { onShard } from '@paygraph/shared/ledger/index';
import { campaignCounts, paymentLegs, payments, refundLegs, refunds, sweeps } from '../db/schema/transactions';
import { anyGaveBack } from '../db/give-backs';
import { receivingRoles } from '../domain/payment-legs';

/**
 * The transaction subgraph's read model for the account subgraph: what may still come back to an
 * account from a movement in flight, which a close waits for (docs/PAYMENTS.md). A cross-shard
 * payment still PROCESSING may be reversed into its payer (`<pay>:reverse`), and a refund still
 * PROCESSING credits its payment's payer; both are completions, posted whatever the status, so an
 * account closed in between would hold that money for good. Read on the account's home database
 * inside the close's transaction, under the account row's lock: a payer's payments and their
 * refunds live on the payer's logical shard, and a new payment's debit locks the same row, so
 * none starts unseen. In the payer's currency (an FX payment's sell side).
 */
export async function moneyInFlightToward(db: Executor, accountId: string): Promise<bigint> {
  const [paid] = await db
    .select({ total: sql<string | null>`SUM(${payments.amount})` })
    .from(payments)
    .where(and(eq(payments.payerAccountId, accountId), eq(payments.status, 'PROCESSING')));
  const [refunding] = await db
    .select({ total: sql<string | null>`SUM(${refunds.amount})` })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(and(eq(payments.payerAccountId, accountId), eq(refunds.status, 'PROCESSING')));
  return BigInt(paid?.total ?? 0) + BigInt(refunding?.total ?? 0);
}

/**
 * Sweeps still PROCESSING between rows of one merchant, on this database (services/sweep.ts): a sweep row lives with
 * the row it debited, so a merchant's sweeps are on the databases of its rows, and `rowIds` are its rows placed here.
 * Between the debit and the credit the money is on neither row, and the credit is a completion, posted whatever the
 * status: a close that judged both rows zero would leave it in a CLOSED row. Read after the rows' locks (a new sweep
 * debits one of them, so none starts unseen); in the merchant's currency.
 */
export async function sweepsInFlightTouching(db: Executor, rowIds: readonly string[]): Promise<bigint> {
  if (rowIds.length === 0) return 0n;
  const [moving] = await db
    .select({ total: sql<string | null>`SUM(${sweeps.amount})` })
    .from(sweeps)
    .where(
      and(
        eq(sweeps.status, 'PROCESSING'),
        or(inArray(sweeps.stripeAccountId, [...rowIds]), inArray(sweeps.merchantAccountId, [...rowIds])),
      ),
    );
  return BigInt(moving?.total ?? 0);
}

/**
 * What may still come back to a campaign's funding account from payments of legs in flight (services/leg-payment.ts):
 * a payment still PROCESSING whose CAMPAIGN leg it paid is reversed into it if a later leg is refused, and a refund
 * still PROCESSING gives its share back to that leg; both are completions on the funder's database, posted whatever
 * its status. Those payments live on their payers' databases, any of them, so every database is read (the home one in
 * `homeTx`, after the funder row's lock): only for an account that has funded a campaign (campaign_counts, on its home
 * database). A payment's record is written before its CAMPAIGN leg debits the funder's row, so under that row's lock
 * none whose leg posted is unseen; one recorded later finds the account CLOSED and posts nothing from it. A refund's
 * reservation holds the funder's row in share mode until it has committed (services/credited-hold.ts), so under that
 * row's lock none reserved is unseen, and one reserved later reads it CLOSED and is refused. Live rows only (control's
 * heldHere): a shard move's copy of a payment stays PROCESSING where it was left.
 */
export async function fundedMoneyInFlight(
  shards: ShardSet,
  home: Shard,
  homeTx: Executor,
  accountId: string,
): Promise<bigint> {
  const [count] = await homeTx
    .select({ campaigns: campaignCounts.campaigns })
    .from(campaignCounts)
    .where(eq(campaignCounts.fundingAccountId, accountId));
  if (!count || count.campaigns === 0) return 0n;
  // A database that does not answer fails the close as SHARD_UNAVAILABLE (retryable), named by that database.
  const totals = await Promise.all(
    shards.all.map((shard) =>
      shard === home
        ? fundedLegsInFlightOn(homeTx, accountId)
        : onShard(shard, () => fundedLegsInFlightOn(shard.db, accountId)),
    ),
  );
  return totals.reduce((sum, t) => sum + t, 0n);
}

async function fundedLegsInFlightOn(db: Executor, accountId: string): Promise<bigint> {
  const funded = and(eq(paymentLegs.accountId, accountId), eq(paymentLegs.role, 'CAMPAIGN'));
  const [paid] = await db
    .select({ total: sql<string | null>`SUM(${paymentLegs.amount})` })
    .from(paymentLegs)
    .innerJoin(payments, eq(payments.id, paymentLegs.paymentId))
    .where(and(funded, eq(payments.status, 'PROCESSING'), sql.raw(heldHere('`payments`.`id`'))));
  const [refunding] = await db
    .select({ total: sql<string | null>`SUM(ABS(${refundLegs.amount}))` })
    .from(paymentLegs)
    .innerJoin(refunds, eq(refunds.paymentId, paymentLegs.paymentId))
    .innerJoin(refundLegs, and(eq(refundLegs.refundId, refunds.id), eq(refundLegs.legIndex, paymentLegs.legIndex)))
    .where(and(funded, eq(refunds.status, 'PROCESSING'), sql.raw(heldHere('`refunds`.`id`'))));
  return BigInt(paid?.total ?? 0) + BigInt(refunding?.total ?? 0);
}

/**
 * Whether any of these rows (an account's home row or stripes, on this database) has ever given a leg's share back to a
 * refund (give_back_counts): read by a close on each database under the rows' locks. The give-back counts in its own
 * transaction, which holds the row's lock, so none made before the lock is unseen.
 */
export async function gaveBackAmong(db: Executor, rowIds: readonly string[]): Promise<boolean> {
  return anyGaveBack(db, rowIds);
}

/**
 * What may still come back to an account that has given a leg's share back to a refund of legs (services/
 * refund-completion.ts): a receiver elsewhere gives back first, and a later receiver's refusal fails the refund, which
 * credits what was given back, a completion, whatever the account's status: an account closed in between would hold
 * it for good. Read after gaveBackAmong found a row of it counted, with every row of it locked: the refund stays
 * PROCESSING until its give-backs are credited back, and a credit back waits for the close's lock, so none that can
 * come back is unseen; a give-back after the close finds the row CLOSED and is refused. The refunds live on their
 * payments' databases, any of them, so every database is read, each in a read of its own (a fresh snapshot: a held
 * transaction's predates the later locks). Its receiving legs (PAYEE, SPLIT; payment_legs.account_id is the account,
 * a merchant's stripes included) of refunds still PROCESSING, given back or not yet. Live rows only (heldHere).
 */
export async function givenBackInFlight(shards: ShardSet, accountId: string): Promise<bigint> {
  // A database that does not answer fails the close as SHARD_UNAVAILABLE (retryable), named by that database.
  const totals = await Promise.all(shards.all.map((shard) => onShard(shard, () => givenBackOn(shard.db, accountId))));
  return totals.reduce((sum, t) => sum + t, 0n);
}

async function givenBackOn(db: Executor, accountId: string): Promise<bigint> {
  const [refunding] = await db
    .select({ total: sql<string | null>`SUM(ABS(${refundLegs.amount}))` })
    .from(paymentLegs)
    .innerJoin(refunds, eq(refunds.paymentId, paymentLegs.paymentId))
    .innerJoin(refundLegs, and(eq(refundLegs.refundId, refunds.id), eq(refundLegs.legIndex, paymentLegs.legIndex)))
    .where(
      and(
        eq(paymentLegs.accountId, accountId),
        inArray(paymentLegs.role, [...receivingRoles]),
        eq(refunds.status, 'PROCESSING'),
        sql.raw(heldHere('`refunds`.`id`')),
      ),
    );
  return BigInt(refunding?.total ?? 0);
}
