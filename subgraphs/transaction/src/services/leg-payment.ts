import { type PrepareGroup, type PostingRejection, type Account } from '@paygraph/shared/ledger/index';
import { insertRows, rawRows } from '@paygraph/shared/db/raw';
import { fenceRead, refuseUnlessOpen } from '@paygraph/shared/control/index';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { businessDateOf } from '@paygraph/shared/business-date';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import { deferPayment, paymentsByIds } from '../db/payments';
import { deferOutbox } from '../db/outbox';
import { deferPaymentLegs } from '../db/payment-legs';
import { paymentLegs, payments, transferOutbox, type PaymentLegRow, type PaymentRow } from '../db/schema/transactions';
import { fromRejection, type CreatePaymentError } from '../domain/errors';
import type { PaymentPlan } from '../domain/payment-plan';
import { isPaying, type PaymentLeg } from '../domain/payment-legs';
import { stripeFor } from './accounts';
import { shardOf } from '@paygraph/shared/ids';
import { earlierClaim, keyClaim, type KeySpec } from '@paygraph/shared/idempotency/index';
import type { LegPostings } from './legs';
import { completeNow, completePaymentById, isCampaignRefusal, legsCompletion } from './payment-completion';
import type { ServiceContext } from './context';
import { outboxInlineGraceMs } from '../limits';

/**
 * What a plan of legs (splits, a campaign's discount; docs/PAYMENTS.md, "A payment of many
 * legs") records and how it is answered. It is posted by the one payment route
 * (post-payment.ts), as every plan is: its home posting (every leg on the payer's shard) goes
 * first and the legs elsewhere follow from the outbox; or, when a paying leg (the campaign's
 * funding account) lives on another shard, its record and outbox row are written first and the
 * legs follow in order: paying legs, the home posting, receiving legs (payment-completion.ts).
 */

/**
 * A payment of legs refused now (before its key is claimed) that was perhaps made before: a
 * split closed since a crash. A retry answers what was made, driven on; else the refusal.
 */
export async function legPaymentMadeBefore<E extends CreatePaymentError>(
  ctx: ServiceContext,
  key: KeySpec,
  refusal: { ok: false; error: E },
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const home = ctx.shards.of('account', key.anchor.id);
  const made = await earlierClaim(ctx.shards, keyClaim(ctx, key));
  const [existing] = made === null ? [] : await paymentsByIds(home.db, [made]);
  return existing ? answerAfterDriving(ctx, existing) : refusal;
}

/**
 * A plan of legs' records as its home posting writes them (post-payment.ts): the payment
 * SUCCEEDED when every leg is on the payer's shard, else PROCESSING with an outbox row
 * PAYMENT_LEGS from which its legs elsewhere follow.
 */
export function writeLegPayment(
  deferred: DeferredInserts,
  row: PaymentRow,
  legRows: readonly PaymentLegRow[],
  postings: LegPostings,
  at: Date,
): PaymentRow {
  const crossShard = postings.remote.length > 0;
  const record = {
    ...row,
    status: crossShard ? ('PROCESSING' as const) : ('SUCCEEDED' as const),
    completedAt: crossShard ? null : at,
  };
  deferPayment(deferred, record);
  deferPaymentLegs(deferred, legRows);
  if (crossShard) deferOutbox(deferred, row.id, 'PAYMENT_LEGS', at, new Date(at.getTime() + outboxInlineGraceMs));
  return record;
}

/**
 * The records of LEGS payments whose paying leg is elsewhere, many payments per merged batch:
 * one INSERT IGNORE per table (a copy of the request may have written them first; a payment
 * refused by its campaign and forgotten is written again, and meets the same refusal). Under
 * their logical shards' fence rows, read after the writes: not open, FencedWrite (retryable) and
 * nothing written; the retry with the same key writes them where the map then places them.
 */
export const legPaymentRecords: PrepareGroup<{ row: PaymentRow; legs: PaymentLegRow[]; nextAttemptAt: Date }, void> = {
  name: 'leg payment record',
  run: async (tx, inputs) => {
    await insertRows(
      tx,
      payments,
      inputs.map((i) => i.row),
      { ignore: true, hold: true },
    );
    await insertRows(
      tx,
      paymentLegs,
      inputs.flatMap((i) => i.legs),
      { ignore: true, hold: true },
    );
    await insertRows(
      tx,
      transferOutbox,
      inputs.map((i) => ({
        id: i.row.id,
        step: 'PAYMENT_LEGS' as const,
        status: 'PENDING' as const,
        createdAt: i.row.createdAt,
        nextAttemptAt: i.nextAttemptAt,
      })),
      { ignore: true, hold: true },
    );
    // No posting of theirs reads their logical shards' fence rows: read after the writes (the order a key's claim and a
    // payment's ending take them in), so a record is never written on a source after a move's last catch-up.
    const fence = fenceRead([...new Set(inputs.map((i) => shardOf('payment', i.row.id)))]);
    refuseUnlessOpen(tx.shardName, await rawRows(tx, fence.sql, fence.values));
    return inputs.map(() => ({ proceed: false, result: undefined }));
  },
};

/** The finish of an item whose group decides it without a posting: never called. */
export async function postsNothing(): Promise<never> {
  throw new Error('an item decided by its group posts nothing');
}

export function legPaymentRow(
  ctx: ServiceContext,
  request: PaymentPlan['request'],
  id: string,
  legs: readonly PaymentLeg[],
  campaignId: string | null,
  now: Date,
): PaymentRow {
  const payeeLeg = legs.find((l) => l.role === 'PAYEE')!;
  return {
    id,
    payerAccountId: request.payerAccountId,
    payeeAccountId: request.payeeAccountId,
    creditAccountId: payeeLeg.accountId,
    route: 'LEGS',
    amount: request.amount,
    currency: request.currency,
    refundedAmount: 0n,
    discountAmount: legs.find((l) => l.role === 'CAMPAIGN')?.amount ?? 0n,
    campaignId,
    status: 'PROCESSING',
    failureCode: null,
    description: request.description,
    createdBy: ctx.identity.sub,
    deviceId: ctx.client.deviceId,
    clientIp: ctx.client.ip,
    userAgent: ctx.client.userAgent,
    businessDate: businessDateOf(now),
    settlementId: null,
    createdAt: now,
    completedAt: null,
  };
}

/** A merchant receiver is credited on its stripe on the payer's shard (pending), as a two-leg payment's payee is. */
export async function legRowsOf(
  ctx: ServiceContext,
  home: Shard,
  id: string,
  legs: readonly PaymentLeg[],
  accounts: ReadonlyMap<string, Account>,
  now: Date,
): Promise<PaymentLegRow[]> {
  return Promise.all(
    legs.map(async (leg): Promise<PaymentLegRow> => {
      // Receivers only: the payer's row may not have been read (payer-facts.ts), and it is never a stripe's.
      const receiver = isPaying(leg.role) ? undefined : accounts.get(leg.accountId);
      assert(isPaying(leg.role) || receiver, `leg ${leg.index}'s receiver ${leg.accountId} was not read`);
      const merchant = receiver?.type === 'MERCHANT' ? receiver : undefined;
      return {
        paymentId: id,
        legIndex: leg.index,
        role: leg.role,
        accountId: leg.accountId,
        postedAccountId: merchant ? await stripeFor(ctx.shards, merchant, shardOf('payment', id)) : leg.accountId,
        bucket: merchant ? 'PENDING' : 'AVAILABLE',
        amount: leg.amount,
        currency: leg.currency,
        refundedAmount: 0n,
        businessDate: businessDateOf(now),
        settlementId: null,
      };
    }),
  );
}

export function homeRefusal(
  postings: LegPostings,
  campaignId: string | null,
  rejection: PostingRejection,
): CreatePaymentError {
  return isCampaignRefusal(postings, rejection)
    ? { kind: 'CampaignExhausted', campaignId: campaignId! }
    : fromRejection(rejection);
}

/**
 * Completes the payment now (payment-completion.ts; the relay does it after a crash) and answers
 * it as it then stands. `known`: what the request has just written or posted, so the completion
 * need not read it again.
 */
export async function answerAfterDriving(
  ctx: ServiceContext,
  payment: PaymentRow,
  known?: { postings: LegPostings; homePosted: boolean },
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const plan = known && legsCompletion(known.postings, payment.id, known.homePosted);
  const final = await completeNow(ctx, plan ? { payment, plan } : { payment });
  // No record: the campaign refused before any leg posted (payment-completion.ts), as a refusal leaves none.
  if (!final || (final.status === 'FAILED' && final.failureCode === 'CAMPAIGN_EXHAUSTED'))
    return err({ kind: 'CampaignExhausted', campaignId: payment.campaignId! });
  return ok(final);
}

/** The leg state machine of a payment: the one completion (payment-completion.ts), as the relay runs it. */
export async function driveLegPayment(shards: ShardSet, home: Shard, id: string, now: () => Date): Promise<void> {
  await completePaymentById(shards, home, id, now);
}
