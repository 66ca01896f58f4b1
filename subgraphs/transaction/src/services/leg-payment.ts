import {
  inGroup,
  postOne,
  type PrepareGroup,
  type PostingRejection,
  type Account,
} from '@paygraph/shared/ledger/index';
import { insertRows } from '@paygraph/shared/db/raw';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { businessDateOf } from '@paygraph/shared/business-date';
import { err, ok, type Result } from '@paygraph/shared/result';
import { deferPayment, paymentsByIds } from '../db/payments';
import { deferOutbox } from '../db/outbox';
import { deferPaymentLegs } from '../db/payment-legs';
import { countCampaignUse } from '../db/campaigns';
import { paymentLegs, payments, transferOutbox, type PaymentLegRow, type PaymentRow } from '../db/schema/transactions';
import { fromRejection, type CreatePaymentError } from '../domain/errors';
import type { PaymentPlan } from '../domain/payment-plan';
import { isPaying, type LegRole, type PaymentLeg } from '../domain/payment-legs';
import { stripeFor } from './accounts';
import { earlierClaim, keyClaim, type Claimed, type KeySpec } from '@paygraph/shared/idempotency/index';
import { postHomeLegs } from './home-legs';
import { legPostings, type LegPostings } from './legs';
import { completeNow, completePaymentById, isCampaignRefusal, legsCompletion } from './payment-completion';
import type { ServiceContext } from './context';
import { outboxInlineGraceMs } from '../limits';

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
 * A plan of more than two legs (splits, a campaign's discount) posted: docs/PAYMENTS.md, "A
 * payment of many legs". Every leg was checked by the plan before anything is written; then either the home
 * posting (every leg on the payer's shard, posted by home-legs.ts postHomeLegs as every plan's
 * is) goes first and the legs elsewhere follow from the outbox, or — when a paying leg (the campaign's funding account)
 * lives on another shard — the
 * payment's record and outbox row are written first and the legs follow in order: paying legs,
 * the home posting, receiving legs. Any paying leg refused fails the payment with every posted
 * leg reversed; CAMPAIGN_EXHAUSTED is answered as a refusal (nothing was charged).
 */
export async function payLegs(
  ctx: ServiceContext,
  plan: PaymentPlan,
  accounts: ReadonlyMap<string, Account>,
  claimed: Claimed,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const { request, legs, campaignId } = plan;
  const home = ctx.shards.of('account', request.payerAccountId);
  const id = claimed.resourceId;
  if (claimed.replay) {
    const [existing] = await paymentsByIds(home.db, [id]);
    if (existing) return answerAfterDriving(ctx, existing);
  }
  const now = ctx.now();
  const row = legPaymentRow(ctx, request, id, legs, campaignId, now);
  const legRows = await legRowsOf(ctx, home, id, legs, accounts, now);
  // As written (nothing refunded yet): the answer's legs need not be read back.
  ctx.primeLegs?.(id, legRows);
  const postings = await legPostings(ctx.shards, home, 'PAYMENT', row, legRows, (l) => l.amount);
  const remotePaying = postings.remote.some((r) => isPaying(r.leg.role as LegRole));
  if (remotePaying) {
    // A paying leg elsewhere posts first, so the payment's record must exist before any leg:
    // written in the home shard's next merged batch, beside other requests' postings.
    await postOne<void>(
      home,
      {
        grouped: inGroup(legPaymentRecords, {
          row,
          legs: legRows,
          nextAttemptAt: new Date(now.getTime() + outboxInlineGraceMs),
        }),
        finish: postsNothing,
      },
      { now: () => now },
    );
    return answerAfterDriving(ctx, row, { postings, homePosted: false });
  }
  const spec = postings.homeSpec!;
  const crossShard = postings.remote.length > 0;
  const posted = await postHomeLegs<Result<PaymentRow, CreatePaymentError>>(ctx, request.payerAccountId, {
    posting: { id },
    spec: () => spec,
    at: now,
    write: (deferred) => {
      const record = {
        ...row,
        status: crossShard ? ('PROCESSING' as const) : ('SUCCEEDED' as const),
        completedAt: crossShard ? null : now,
      };
      deferPayment(deferred, record);
      deferPaymentLegs(deferred, legRows);
      if (crossShard) deferOutbox(deferred, id, 'PAYMENT_LEGS', now, new Date(now.getTime() + outboxInlineGraceMs));
      return record;
    },
    finish: async (tx, outcome, record) => {
      if (outcome.status === 'REJECTED') return err(homeRefusal(postings, campaignId, outcome.rejection));
      if (outcome.status === 'APPLIED' && postings.campaign?.local)
        await countCampaignUse(tx, campaignId!, postings.campaign.leg.amount, 1);
      return record();
    },
  });
  if (!posted.ok) return posted;
  // The home posting is in (applied now, or by the copy of the request that made it first).
  return answerAfterDriving(ctx, posted.value, { postings, homePosted: true });
}

/**
 * The records of LEGS payments whose paying leg is elsewhere, many payments per merged batch:
 * one INSERT IGNORE per table (a copy of the request may have written them first; a payment
 * refused by its campaign and forgotten is written again, and meets the same refusal).
 */
const legPaymentRecords: PrepareGroup<{ row: PaymentRow; legs: PaymentLegRow[]; nextAttemptAt: Date }, void> = {
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
    return inputs.map(() => ({ proceed: false, result: undefined }));
  },
};

/** The finish of an item whose group decides it without a posting: never called. */
async function postsNothing(): Promise<never> {
  throw new Error('an item decided by its group posts nothing');
}

function legPaymentRow(
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
async function legRowsOf(
  ctx: ServiceContext,
  home: Shard,
  id: string,
  legs: readonly PaymentLeg[],
  accounts: ReadonlyMap<string, Account>,
  now: Date,
): Promise<PaymentLegRow[]> {
  return Promise.all(
    legs.map(async (leg): Promise<PaymentLegRow> => {
      const account = accounts.get(leg.accountId)!;
      const merchantReceiver = !isPaying(leg.role) && account.type === 'MERCHANT';
      return {
        paymentId: id,
        legIndex: leg.index,
        role: leg.role,
        accountId: leg.accountId,
        postedAccountId: merchantReceiver ? await stripeFor(ctx.shards, account, home) : leg.accountId,
        bucket: merchantReceiver ? 'PENDING' : 'AVAILABLE',
        amount: leg.amount,
        currency: leg.currency,
        refundedAmount: 0n,
        businessDate: businessDateOf(now),
        settlementId: null,
      };
    }),
  );
}

function homeRefusal(
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
async function answerAfterDriving(
  ctx: ServiceContext,
  payment: PaymentRow,
  known?: { postings: LegPostings; homePosted: boolean },
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const plan = known && legsCompletion(ctx.shards, known.postings, payment.id, known.homePosted);
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
