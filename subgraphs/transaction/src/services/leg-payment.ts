import { inGroup, postOne, type PostingOutcome, type PrepareGroup } from '@paygraph/shared/ledger/post';
import { insertRows } from '@paygraph/shared/db/raw';
import type { PostingRejection } from '@paygraph/shared/ledger/posting-rules';
import type { Account } from '@paygraph/shared/ledger/account';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { businessDateOf } from '@paygraph/shared/business-date';
import { err, ok, type Result } from '@paygraph/shared/result';
import { deferPayment, deleteLegPayment, finishPayment, paymentsByIds, paymentsSucceeded } from '../db/payments';
import { deferOutbox, takeOutbox, takeOutboxRows } from '../db/outbox';
import { deferPaymentLegs, legsOfPayments } from '../db/payment-legs';
import { countCampaignUse } from '../db/campaigns';
import { paymentLegs, payments, transferOutbox, type PaymentLegRow, type PaymentRow } from '../db/schema/transactions';
import { fromRejection, type CreatePaymentError } from '../domain/errors';
import type { PaymentPlan } from '../domain/payment-plan';
import { isPaying, type LegRole, type PaymentLeg } from '../domain/payment-legs';
import { stripeFor } from './accounts';
import { earlierClaim, keyClaim, type Claimed, type KeySpec } from './idempotency';
import { recordOutcome } from './record-outcome';
import { hitFailpoint } from './failpoints';
import { CompletionWaits } from './completion-waits';
import { campaignCounter, homeReversal, legPostings, legReversal, postLeg, reversedOrWait, type LegPostings } from './legs';
import type { ServiceContext } from './context';
import { outboxInlineGraceMs } from '@paygraph/shared/limits';

/**
 * A payment of legs refused now (before its key is claimed) that was perhaps made before: a
 * split closed since a crash. A retry answers what was made, driven on; else the refusal.
 */
export async function legPaymentMadeBefore<E extends CreatePaymentError>(
  ctx: ServiceContext, key: KeySpec, refusal: { ok: false; error: E },
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const home = ctx.shards.of('account', key.anchor.id);
  const made = await earlierClaim(ctx.shards, keyClaim(ctx, key));
  const [existing] = made === null ? [] : await paymentsByIds(home.db, [made]);
  return existing ? answerAfterDriving(ctx, home, existing) : refusal;
}

/**
 * A plan of more than two legs (splits, a campaign's discount) posted: docs/ARCHITECTURE.md, "A
 * payment of many legs". Every leg was checked by the plan before anything is written; then either the home
 * posting (every leg on the payer's shard) goes first and the legs elsewhere follow from the
 * outbox, or — when a paying leg (the campaign's funding account) lives on another shard — the
 * payment's record and outbox row are written first and the legs follow in order: paying legs,
 * the home posting, receiving legs. Any paying leg refused fails the payment with every posted
 * leg reversed; CAMPAIGN_EXHAUSTED is answered as a refusal (nothing was charged).
 */
export async function payLegs(ctx: ServiceContext, plan: PaymentPlan, accounts: ReadonlyMap<string, Account>, claimed: Claimed): Promise<Result<PaymentRow, CreatePaymentError>> {
  const { request, legs, campaignId } = plan;
  const home = ctx.shards.of('account', request.payerAccountId);
  const id = claimed.resourceId;
  if (claimed.replay) {
    const [existing] = await paymentsByIds(home.db, [id]);
    if (existing) return answerAfterDriving(ctx, home, existing);
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
    await postOne<void>(home, {
      grouped: inGroup(legPaymentRecords, { row, legs: legRows, nextAttemptAt: new Date(now.getTime() + outboxInlineGraceMs) }),
      finish: postsNothing,
    }, { now: () => now });
    return answerAfterDriving(ctx, home, row, { legs: legRows, postings, homePosted: false });
  }
  const spec = postings.homeSpec!;
  const crossShard = postings.remote.length > 0;
  const posted = await postOne<Result<PaymentRow, CreatePaymentError>>(home, {
    spec,
    finish: async (tx, outcome, _accounts, deferred) => {
      if (outcome.status === 'REJECTED') return err(homeRefusal(postings, campaignId, outcome.rejection));
      if (outcome.status === 'APPLIED' && postings.campaign?.local) await countCampaignUse(tx, campaignId!, postings.campaign.leg.amount, 1);
      return recordOutcome(outcome, {
        id,
        applied: () => {
          const record = { ...row, status: crossShard ? 'PROCESSING' as const : 'SUCCEEDED' as const, completedAt: crossShard ? null : now };
          deferPayment(deferred, record);
          deferPaymentLegs(deferred, legRows);
          if (crossShard) deferOutbox(deferred, id, 'PAYMENT_LEGS', now, new Date(now.getTime() + outboxInlineGraceMs));
          return record;
        },
        existing: async () => (await paymentsByIds(tx, [id]))[0],
      });
    },
    at: now,
  }, { now: () => now });
  if (!posted.ok) return posted;
  // The home posting is in (applied now, or by the copy of the request that made it first).
  return answerAfterDriving(ctx, home, posted.value, { legs: legRows, postings, homePosted: true });
}

/**
 * The records of LEGS payments whose paying leg is elsewhere, many payments per merged batch:
 * one INSERT IGNORE per table (a copy of the request may have written them first; a payment
 * refused by its campaign and forgotten is written again, and meets the same refusal).
 */
const legPaymentRecords: PrepareGroup<{ row: PaymentRow; legs: PaymentLegRow[]; nextAttemptAt: Date }, void> = {
  name: 'leg payment record',
  run: async (tx, inputs) => {
    await insertRows(tx, payments, inputs.map((i) => i.row), { ignore: true, hold: true });
    await insertRows(tx, paymentLegs, inputs.flatMap((i) => i.legs), { ignore: true, hold: true });
    await insertRows(tx, transferOutbox, inputs.map((i) => ({
      id: i.row.id, step: 'PAYMENT_LEGS' as const, status: 'PENDING' as const, createdAt: i.row.createdAt, nextAttemptAt: i.nextAttemptAt,
    })), { ignore: true, hold: true });
    return inputs.map(() => ({ proceed: false, result: undefined }));
  },
};

/**
 * The successful end of LEGS payments, many per merged batch: their outbox rows taken in one
 * lock and one update (only the first copy of a payment takes its row), those taken marked
 * SUCCEEDED in one more. Answers when, for a run that ended its payment; null for the others.
 */
const legPaymentSuccesses: PrepareGroup<{ id: string; at: Date }, Date | null> = {
  name: 'leg payment success',
  run: async (tx, inputs) => {
    const taken = await takeOutboxRows(tx, [...new Set(inputs.map((i) => i.id))]);
    const won = inputs.map((i) => taken.delete(i.id));
    const completedAt = inputs[0]!.at;
    await paymentsSucceeded(tx, inputs.filter((_, n) => won[n]).map((i) => i.id), completedAt);
    return won.map((w) => ({ proceed: false, result: w ? completedAt : null }));
  },
};

/** The finish of an item whose group decides it without a posting: never called. */
async function postsNothing(): Promise<never> {
  throw new Error('an item decided by its group posts nothing');
}

function legPaymentRow(ctx: ServiceContext, request: PaymentPlan['request'], id: string, legs: readonly PaymentLeg[], campaignId: string | null, now: Date): PaymentRow {
  const payeeLeg = legs.find((l) => l.role === 'PAYEE')!;
  return {
    id, payerAccountId: request.payerAccountId, payeeAccountId: request.payeeAccountId, creditAccountId: payeeLeg.accountId,
    route: 'LEGS', amount: request.amount, currency: request.currency, refundedAmount: 0n,
    discountAmount: legs.find((l) => l.role === 'CAMPAIGN')?.amount ?? 0n, campaignId,
    status: 'PROCESSING', failureCode: null, description: request.description,
    createdBy: ctx.identity.sub, deviceId: ctx.client.deviceId, clientIp: ctx.client.ip, userAgent: ctx.client.userAgent,
    businessDate: businessDateOf(now), settlementId: null, createdAt: now, completedAt: null,
  };
}

/** A merchant receiver is credited on its stripe on the payer's shard (pending), as a two-leg payment's payee is. */
async function legRowsOf(ctx: ServiceContext, home: Shard, id: string, legs: readonly PaymentLeg[], accounts: ReadonlyMap<string, Account>, now: Date): Promise<PaymentLegRow[]> {
  return Promise.all(legs.map(async (leg): Promise<PaymentLegRow> => {
    const account = accounts.get(leg.accountId)!;
    const merchantReceiver = !isPaying(leg.role) && account.type === 'MERCHANT';
    return {
      paymentId: id, legIndex: leg.index, role: leg.role, accountId: leg.accountId,
      postedAccountId: merchantReceiver ? await stripeFor(ctx.shards, account, home) : leg.accountId,
      bucket: merchantReceiver ? 'PENDING' : 'AVAILABLE', amount: leg.amount, currency: leg.currency, refundedAmount: 0n,
      businessDate: businessDateOf(now), settlementId: null,
    };
  }));
}

/** The funding account refusing its debit is the campaign being unable to pay: CAMPAIGN_EXHAUSTED. */
function isCampaignRefusal(postings: LegPostings, rejection: PostingRejection): boolean {
  return postings.campaign !== null && rejection.accountId === postings.campaign.leg.accountId
    && (rejection.code === 'INSUFFICIENT_FUNDS' || rejection.code === 'ACCOUNT_NOT_ACTIVE');
}

function homeRefusal(postings: LegPostings, campaignId: string | null, rejection: PostingRejection): CreatePaymentError {
  return isCampaignRefusal(postings, rejection) ? { kind: 'CampaignExhausted', campaignId: campaignId! } : fromRejection(rejection);
}

/**
 * Drives the legs now (the relay does it after a crash) and answers the payment as it then
 * stands: as this run ended it, or read back when another run (a copy, the relay) ended it.
 * `known`: what the request has just written or posted, so the drive need not read it again.
 */
async function answerAfterDriving(ctx: ServiceContext, home: Shard, payment: PaymentRow, known?: KnownLegs): Promise<Result<PaymentRow, CreatePaymentError>> {
  let ended: Ending = null;
  if (payment.status === 'PROCESSING') {
    try {
      ended = await driveLegs(ctx.shards, home, payment.id, ctx.now, known && { payment, ...known });
    } catch (error) {
      // Something has committed, so the payment exists: answer it PROCESSING (the relay finishes it).
      if (error instanceof CompletionWaits) ctx.log.warn(error.message);
      else ctx.log.error({ err: error }, `payment ${payment.id}: inline legs failed, the relay will finish them`);
    }
  }
  if (ended !== null && ended !== 'FORGOTTEN') return ok({ ...payment, ...ended });
  const [final] = ended === 'FORGOTTEN' ? [] : await paymentsByIds(home.db, [payment.id]);
  // No record: the campaign refused before any leg posted (driveLegPayment), as a refusal leaves none.
  if (!final || (final.status === 'FAILED' && final.failureCode === 'CAMPAIGN_EXHAUSTED')) return err({ kind: 'CampaignExhausted', campaignId: payment.campaignId! });
  return ok(final);
}

/**
 * The leg state machine of a payment (docs/ARCHITECTURE.md): paying legs elsewhere, the home
 * posting, receiving legs elsewhere, then SUCCEEDED under the outbox row's lock. Each step is a
 * posting under its own dedupe key, whose outcome once decided (applied, or refused and kept)
 * is the same for every later attempt: so the request and any relay replica may run this at
 * once, or again after a crash, and take the same path. A refused leg fails the payment:
 * every leg posted before it is reversed, then FAILED under the outbox row's lock.
 */
export async function driveLegPayment(shards: ShardSet, home: Shard, id: string, now: () => Date): Promise<void> {
  await driveLegs(shards, home, id, now);
}

/** What the request that wrote a payment knows of it: its legs and their postings, and whether its home posting is in. */
interface KnownLegs {
  legs: PaymentLegRow[];
  postings: LegPostings;
  homePosted: boolean;
}

/** How a run of the state machine ended the payment; FORGOTTEN: refused by its campaign, no record left; null: another run ended it. */
type Ending = Pick<PaymentRow, 'status' | 'failureCode' | 'completedAt'> | 'FORGOTTEN' | null;

async function driveLegs(shards: ShardSet, home: Shard, id: string, now: () => Date, known?: KnownLegs & { payment: PaymentRow }): Promise<Ending> {
  const payment = known?.payment ?? (await paymentsByIds(home.db, [id]))[0];
  if (!payment || payment.status !== 'PROCESSING') return null;
  const legs = known?.legs ?? await legsOfPayments(home.db, [id]);
  const postings = known?.postings ?? await legPostings(shards, home, 'PAYMENT', payment, legs, (l) => l.amount);
  const posted: LegPostings['remote'] = [];
  for (const r of postings.remote.filter((x) => isPaying(x.leg.role as LegRole))) {
    const outcome = await postLeg(r.shard, r.spec, now, r.leg.role === 'CAMPAIGN' ? campaignCounter(payment.campaignId, r.leg.amount, 1) : undefined);
    if (outcome.status === 'REJECTED') {
      if (posted.length === 0 && r.leg.role === 'CAMPAIGN') return forgetRefusedPayment(home, payment.id);
      return failLegPayment(shards, postings, payment, r.leg.role === 'CAMPAIGN' ? 'CAMPAIGN_EXHAUSTED' : outcome.rejection.code, posted, false, now);
    }
    posted.push(r);
  }
  hitFailpoint('legs-after-paying');
  if (postings.homeSpec && known?.homePosted !== true) {
    const local = postings.campaign?.local ? campaignCounter(payment.campaignId, postings.campaign.leg.amount, 1) : undefined;
    const outcome = await postLeg(home, postings.homeSpec, now, local);
    if (outcome.status === 'REJECTED') {
      const code = isCampaignRefusal(postings, outcome.rejection) ? 'CAMPAIGN_EXHAUSTED' : outcome.rejection.code;
      return failLegPayment(shards, postings, payment, code, posted, false, now);
    }
  }
  hitFailpoint('legs-after-home');
  // Every receiving leg elsewhere at once: each outcome, once decided under its dedupe key, is
  // the same for every run, so every run sees the same refusals and reverses the same legs.
  const receiving = postings.remote.filter((x) => !isPaying(x.leg.role as LegRole));
  const outcomes = await Promise.all(receiving.map((r) => postLeg(r.shard, r.spec, now)));
  posted.push(...receiving.filter((_, n) => outcomes[n]!.status !== 'REJECTED'));
  const refusal = outcomes.find((o) => o.status === 'REJECTED');
  if (refusal?.status === 'REJECTED') return failLegPayment(shards, postings, payment, refusal.rejection.code, posted, postings.homeSpec !== null, now);
  hitFailpoint('legs-after-receiving');
  return endLegPayment(shards, postings, payment, null, false, now);
}

/**
 * The campaign refused the payment before any leg posted: like any refusal it leaves no
 * payment, so its record, legs and outbox row go (under the outbox row's lock, once). Its
 * idempotency key stays: a replay writes the record again and meets the same refusal, which
 * the funding account's shard keeps under the leg's dedupe key.
 */
async function forgetRefusedPayment(home: Shard, id: string): Promise<Ending> {
  return inTransaction(home, async (tx) => {
    if (!(await takeOutbox(tx, id))) return null;
    await deleteLegPayment(tx, id);
    return 'FORGOTTEN' as const;
  });
}

/** Reverses the legs posted elsewhere, newest first, then ends the payment FAILED (reversing the home posting with it). */
async function failLegPayment(
  shards: ShardSet, postings: LegPostings, payment: PaymentRow, code: string, posted: LegPostings['remote'], homePosted: boolean, now: () => Date,
): Promise<Ending> {
  for (const r of [...posted].reverse()) {
    const spec = legReversal(shards, r.shard, payment.id, r.leg, r.spec, 'PAYMENT_LEG_REVERSAL');
    await postLeg(r.shard, spec, now, reversedOrWait(payment.id, r.leg.role === 'CAMPAIGN' ? campaignCounter(payment.campaignId, r.leg.amount, -1) : undefined));
  }
  return endLegPayment(shards, postings, payment, code, homePosted, now);
}

/** The last step, on the payment's shard under its outbox row's lock: once, whoever runs it. */
async function endLegPayment(shards: ShardSet, postings: LegPostings, payment: PaymentRow, failureCode: string | null, homePosted: boolean, now: () => Date): Promise<Ending> {
  const { home } = postings;
  const at = now();
  if (failureCode === null) {
    const won = await postOne<Date | null>(home, {
      grouped: inGroup(legPaymentSuccesses, { id: payment.id, at }),
      finish: postsNothing,
    }, { now });
    return won === null ? null : { status: 'SUCCEEDED', failureCode: null, completedAt: won };
  }
  const failed = { status: 'FAILED' as const, failureCode, completedAt: at };
  const reversal = homePosted && postings.homeSpec ? homeReversal(shards, home, payment.id, postings.homeSpec) : null;
  if (!reversal) {
    return inTransaction(home, async (tx) => {
      if (!(await takeOutbox(tx, payment.id))) return null;
      await finishPayment(tx, payment.id, 'FAILED', failureCode, at);
      return failed;
    });
  }
  return postOne<Ending>(home, {
    prepare: async (tx) => {
      if (!(await takeOutbox(tx, payment.id))) return { proceed: false, result: null };
      return { proceed: true, spec: reversal };
    },
    finish: async (tx, outcome) => {
      await reversedOrWait(payment.id, async (t: Parameters<typeof countCampaignUse>[0], o: PostingOutcome) => {
        if (o.status === 'APPLIED' && postings.campaign?.local) await countCampaignUse(t, payment.campaignId!, postings.campaign.leg.amount, -1);
        await finishPayment(t, payment.id, 'FAILED', failureCode, at);
      })(tx, outcome);
      return failed;
    },
  }, { now });
}
