import { and, asc, eq, gt, gte, inArray, isNotNull, lt, or } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { externalTransfers, holds, payments, refunds } from '../db/schema/transactions';
import { externalAccounts } from '../db/schema/external-accounts';

/**
 * The transaction subgraph's read model for the webhooks subgraph: what an event about a
 * payment, refund or hold says (docs/WEBHOOKS.md). The webhooks dispatcher finds the business
 * record through the posting's ref_id and reads it here, on the record's own shard, one
 * statement per shard and kind for a whole pass of entries.
 */

/** The rows a payment names, whose streams hear its events (and its refunds'): no other account's. */
export interface PaymentParties {
  payerAccountId: string;
  payeeAccountId: string;
  /** The ledger row the payment credited: the payee, or the merchant's stripe. */
  creditAccountId: string;
}

export interface PaymentFacts extends PaymentParties {
  id: string;
  status: 'PROCESSING' | 'SUCCEEDED' | 'FAILED';
  amount: bigint;
  currency: string;
}

/** A refund, with the parties of its payment (whose streams hear it). */
export interface RefundFacts extends PaymentParties {
  id: string;
  paymentId: string;
  status: 'PROCESSING' | 'SUCCEEDED' | 'FAILED';
  amount: bigint;
}

export interface HoldFacts {
  id: string;
  status: string;
  amount: bigint;
  capturedAmount: bigint;
  /** The payment a capture made, or the posting that released it. */
  endedBy: string | null;
}

export async function paymentFacts(db: Executor, ids: readonly string[]): Promise<PaymentFacts[]> {
  if (ids.length === 0) return [];
  return db
    .select({
      id: payments.id,
      status: payments.status,
      amount: payments.amount,
      currency: payments.currency,
      payerAccountId: payments.payerAccountId,
      payeeAccountId: payments.payeeAccountId,
      creditAccountId: payments.creditAccountId,
    })
    .from(payments)
    .where(inArray(payments.id, [...ids]));
}

export async function refundFacts(db: Executor, ids: readonly string[]): Promise<RefundFacts[]> {
  if (ids.length === 0) return [];
  return (
    db
      .select({
        id: refunds.id,
        paymentId: refunds.paymentId,
        status: refunds.status,
        amount: refunds.amount,
        payerAccountId: payments.payerAccountId,
        payeeAccountId: payments.payeeAccountId,
        creditAccountId: payments.creditAccountId,
      })
      .from(refunds)
      // A refund lives on its payment's shard (its id is made there), as failedRefundsBetween reads it too.
      .innerJoin(payments, eq(payments.id, refunds.paymentId))
      .where(inArray(refunds.id, [...ids]))
  );
}

export async function holdFacts(db: Executor, ids: readonly string[]): Promise<HoldFacts[]> {
  if (ids.length === 0) return [];
  return db
    .select({
      id: holds.id,
      status: holds.status,
      amount: holds.amount,
      capturedAmount: holds.capturedAmount,
      endedBy: holds.endedBy,
    })
    .from(holds)
    .where(inArray(holds.id, [...ids]));
}

/** The holds whose capture made these payments (holds.ended_by), through holds_ended_by_idx. */
export async function holdsCapturedBy(db: Executor, paymentIds: readonly string[]): Promise<HoldFacts[]> {
  if (paymentIds.length === 0) return [];
  return db
    .select({
      id: holds.id,
      status: holds.status,
      amount: holds.amount,
      capturedAmount: holds.capturedAmount,
      endedBy: holds.endedBy,
    })
    .from(holds)
    .where(inArray(holds.endedBy, [...paymentIds]));
}

/** A withdrawal that paid out to a linked external account (payout.succeeded): the link, never its identifier. */
export interface PayoutFacts {
  id: string;
  accountId: string;
  amount: bigint;
  currency: string;
  channel: string | null;
  externalAccountId: string;
}

/**
 * The withdrawals among these ids that named a linked account, on the withdrawal's shard (its account's): a
 * withdrawal naming none is not a payout to a link and says only its balance change. Primary-key reads.
 */
export async function payoutFacts(db: Executor, ids: readonly string[]): Promise<PayoutFacts[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select({
      id: externalTransfers.id,
      accountId: externalTransfers.accountId,
      amount: externalTransfers.amount,
      currency: externalTransfers.currency,
      channel: externalTransfers.channel,
      externalAccountId: externalTransfers.externalAccountId,
    })
    .from(externalTransfers)
    .where(
      and(
        inArray(externalTransfers.id, [...ids]),
        eq(externalTransfers.kind, 'WITHDRAWAL'),
        isNotNull(externalTransfers.externalAccountId),
      ),
    );
  return rows.map((r) => ({ ...r, externalAccountId: r.externalAccountId! }));
}

/** A refund that ended FAILED, with the accounts of the payment it was for (both on the refund's shard). */
export interface FailedRefundFacts extends RefundFacts {
  endedAt: Date;
}

/**
 * Refunds that ended FAILED from `from` (or after the page's last, `after`) until before
 * `until`, in (ended, id) order, through refunds_ended_idx: a refund that fails moves no money
 * on the accounts it names, so its row is the only record of the failure (docs/WEBHOOKS.md).
 */
export async function failedRefundsBetween(
  db: Executor,
  from: Date,
  until: Date,
  after: { endedAt: Date; id: string } | null,
  limit: number,
): Promise<FailedRefundFacts[]> {
  const position =
    after === null
      ? gte(refunds.completedAt, from)
      : or(
          gt(refunds.completedAt, after.endedAt),
          and(eq(refunds.completedAt, after.endedAt), gt(refunds.id, after.id)),
        );
  const rows = await db
    .select({
      id: refunds.id,
      paymentId: refunds.paymentId,
      status: refunds.status,
      amount: refunds.amount,
      endedAt: refunds.completedAt,
      payerAccountId: payments.payerAccountId,
      payeeAccountId: payments.payeeAccountId,
      creditAccountId: payments.creditAccountId,
    })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(and(eq(refunds.status, 'FAILED'), position, lt(refunds.completedAt, until)))
    .orderBy(asc(refunds.completedAt), asc(refunds.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, endedAt: r.endedAt! }));
}

/** A link its channel (or an operator) verified: what external_account.verified says, and whose it is. */
export interface VerifiedLinkFacts {
  id: string;
  /** Whose accounts' streams carry it; not in the event's data. */
  ownerId: string;
  kind: string;
  channel: string;
  currency: string;
  /** What may be shown ("DE89 •••• 3000", "•••• 4242"): never a card number, which no row holds. */
  display: string;
  verifiedAt: Date;
}

/**
 * Links VERIFIED from `from` (or after the page's last, `after`) until before `until`, in (verified, id)
 * order, through external_accounts_decided_idx (status, decided_at): a verification moves no money, so
 * the link's row is its only record (docs/WEBHOOKS.md). On the links' shard (their owner's link shard).
 */
export async function verifiedLinksBetween(
  db: Executor,
  from: Date,
  until: Date,
  after: { verifiedAt: Date; id: string } | null,
  limit: number,
): Promise<VerifiedLinkFacts[]> {
  const position =
    after === null
      ? gte(externalAccounts.decidedAt, from)
      : or(
          gt(externalAccounts.decidedAt, after.verifiedAt),
          and(eq(externalAccounts.decidedAt, after.verifiedAt), gt(externalAccounts.id, after.id)),
        );
  const rows = await db
    .select({
      id: externalAccounts.id,
      ownerId: externalAccounts.ownerId,
      kind: externalAccounts.kind,
      channel: externalAccounts.channel,
      currency: externalAccounts.currency,
      display: externalAccounts.display,
      verifiedAt: externalAccounts.decidedAt,
    })
    .from(externalAccounts)
    .where(and(eq(externalAccounts.status, 'VERIFIED'), position, lt(externalAccounts.decidedAt, until)))
    .orderBy(asc(externalAccounts.decidedAt), asc(externalAccounts.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, verifiedAt: r.verifiedAt! }));
}
