import { newId, shardOf } from '@paygraph/shared/ids';
import {
  inGroup,
  postOne,
  type Account,
  type PostingItem,
  type PostingOutcome,
  type PostingSpec,
  type PostingStep,
} from '@paygraph/shared/ledger/index';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import type { Claimed, ClaimInTransaction } from '@paygraph/shared/idempotency/index';
import { deferPaymentFx } from '../db/fx';
import { paymentsByIds } from '../db/payments';
import { reopenHold } from '../db/holds';
import { countCampaignUse } from '../db/campaigns';
import type { FxQuoteRow, PaymentFxRow } from '../db/schema/fx';
import type { HoldRow, PaymentLegRow, PaymentRow } from '../db/schema/transactions';
import { fromDebitRejection, type CaptureHoldError, type CreatePaymentError } from '../domain/errors';
import type { FxPositions } from '../domain/fx-legs';
import { twoLegDebitSpec, type DebitCredit, type PaymentPlan } from '../domain/payment-plan';
import { isPaying, type LegRole } from '../domain/payment-legs';
import { claimQuote } from './fx-quotes';
import { fxPositionsOn } from './fx-positions';
import { captureEnding, type CaptureEnding, type CaptureTicket } from './hold-endings';
import {
  answerAfterDriving,
  homeRefusal,
  legPaymentRecords,
  legPaymentRow,
  legRowsOf,
  postsNothing,
  writeLegPayment,
} from './leg-payment';
import { legPostings, type LegPostings } from './legs';
import {
  creditAcrossShards,
  deferNewPayment,
  fxRecordOf,
  newPaymentRow,
  routeBetween,
  type PaymentRoute,
} from './payment-steps';
import { claimedDebit, type ClaimedBefore } from './payment-claims';
import { recordOutcome } from './record-outcome';
import type { ServiceContext } from './context';
import { outboxInlineGraceMs } from '../limits';

/**
 * The one payment route (docs/PAYMENTS.md, "One payment route"). Every plan — two legs, FX, a
 * plan of legs, a hold's capture, each item of createPayments — planned by domain/payment-plan.ts
 * as a PaymentPlan, is posted here in the same three steps, each one function for every shape:
 *
 * 1. place (`place`): the reads the pure plan could not make — where the payer's shard credits a
 *    two-leg plan (the payee, the merchant's stripe, clearing), an FX plan's quote taken and its
 *    positions, a plan of legs' rows and postings;
 * 2. post (`post`): on the payer's shard, one posting of the plan's home legs with the payment's
 *    records in its transaction, keyed by the payment the key names (claimed before, or for a
 *    capture claimed under the hold's lock); a plan of legs whose paying leg lives elsewhere
 *    writes its records alone first;
 * 3. complete (`complete`): payment-completion.ts at once, the relay after a crash (a plan of
 *    legs a replay finds made before is driven on from where it stands).
 *
 * What differs between shapes is data (Placed, PaymentClaim), never a callback handed to
 * another module.
 */

/**
 * How the posting learns its payment's id: the key claimed before it; claimed in its debit's
 * transaction (`inDebit`: a plain two-leg payment, services/payment-claims.ts); or, for a
 * capture, claimed in it under the hold's lock.
 */
export type PaymentClaim =
  | { kind: 'claimed'; claimed: Claimed }
  | { kind: 'inDebit'; claim: ClaimInTransaction }
  | ({ kind: 'capture' } & CaptureEnding);

/** One plan to post, with the facts it was planned from that its placement needs. */
export interface PaymentToPost {
  plan: PaymentPlan;
  claim: PaymentClaim;
  /** The accounts the plan names, as read for it (a plan of legs credits a merchant receiver on its stripe). */
  accounts: ReadonlyMap<string, Account>;
  /** An FX plan's quote, whole: taken between the key and the posting, and copied into its record. */
  quote: FxQuoteRow | undefined;
}

/** A posted payment; for a capture, the hold as the capture left it. */
export interface Posted {
  payment: PaymentRow;
  hold: HoldRow | null;
}

export type PostedPayment = Result<Posted, CreatePaymentError | CaptureHoldError>;

/** An FX plan's quote as taken, its record and its position accounts; `lapsedAt`: its deadline, for a late replay. */
interface PlacedFx {
  row: PaymentFxRow;
  positions: FxPositions;
  lapsedAt: Date | null;
}

/** A plan placed on the shards: what its home posting credits and what it records, as data. */
type Placed =
  /** Answered without posting: an FX quote another payment took. */
  | { kind: 'answered'; answer: PostedPayment }
  /** A plan of legs its key's replay finds made before: nothing to post, driven on from where it stands. */
  | { kind: 'made'; payment: PaymentRow }
  /** Two legs (plain, FX, a capture): one posting on the payer's shard, the PAYEE leg credited there or in clearing. */
  | {
      kind: 'TWO_LEGS';
      at: Date;
      route: PaymentRoute;
      credit: DebitCredit;
      postingId: string;
      fx: PlacedFx | null;
    }
  /** A plan of legs: its home posting (or its records first, when a paying leg lives elsewhere), then its legs. */
  | {
      kind: 'LEGS';
      at: Date;
      row: PaymentRow;
      legs: PaymentLegRow[];
      postings: LegPostings;
      payingElsewhere: boolean;
    };

/**
 * Posts every plan, one answer per plan in order. The plans are placed at once; then their
 * postings are submitted in input order with nothing awaited in between, so payments from one
 * account that share a merged batch (MERGE_BATCH_SIZE) are decided in the order the client
 * listed them (60, 30, 50 from 100 refuses the 50); each is completed as soon as it is posted.
 */
export async function postPayments(ctx: ServiceContext, items: readonly PaymentToPost[]): Promise<PostedPayment[]> {
  // Loops, not callbacks: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const placing: Array<Promise<Placed>> = [];
  for (const item of items) placing.push(place(ctx, item));
  const placed = await Promise.all(placing);
  const posted: Array<Promise<PostedPayment>> = [];
  for (let i = 0; i < items.length; i++) posted.push(post(ctx, items[i]!, placed[i]!));
  const completed: Array<Promise<PostedPayment>> = [];
  for (let i = 0; i < items.length; i++) completed.push(completeOnceDone(ctx, items[i]!, placed[i]!, posted[i]!));
  return Promise.all(completed);
}

/** Step 3 of one item, once its posting (submitted with the others', nothing awaited in between) has answered. */
async function completeOnceDone(
  ctx: ServiceContext,
  item: PaymentToPost,
  placed: Placed,
  posting: Promise<PostedPayment>,
): Promise<PostedPayment> {
  return complete(ctx, item, placed, await posting);
}

/**
 * The payment's id when the key was claimed before the posting, or the id a claim in the debit
 * mints (the payment's, if that claim is fresh); a capture's is claimed in it.
 */
function claimedId(claim: PaymentClaim): string | null {
  if (claim.kind === 'claimed') return claim.claimed.resourceId;
  return claim.kind === 'inDebit' ? claim.claim.row.resourceId : null;
}

/** Step 1: where the plan's legs land, read now; or its answer, when there is nothing to post. */
async function place(ctx: ServiceContext, item: PaymentToPost): Promise<Placed> {
  const { plan, claim } = item;
  if (plan.shape.kind === 'LEGS') return placeLegs(ctx, item);
  const creditCurrency = plan.legs[1]!.currency;
  // A capture's payment lives with its hold: its posting's id on the hold's logical shard.
  const logical = claim.kind === 'capture' ? shardOf('hold', claim.hold.id) : shardOf('payment', claimedId(claim)!);
  const postingId = newId('posting', logical);
  let fx: PlacedFx | null = null;
  let route: PaymentRoute;
  if (plan.shape.kind === 'FX') {
    // Taken for good, before the posting: a payment the ledger refuses keeps its quote (its
    // refusal is kept under its key, and a replay must find the quote its own to meet that
    // refusal again rather than FX_QUOTE_USED). So its key is claimed before, never in the debit.
    // A replay finding its quote lapsed posts its debit lapsed: see debitSpec.
    assert(claim.kind === 'claimed', 'an FX payment claims its key before its quote is taken');
    const id = claim.claimed.resourceId;
    const taken = await claimQuote(ctx, item.quote!, id);
    if (!taken.ok) return { kind: 'answered', answer: taken };
    const row = fxRecordOf(taken.value.quote, id);
    const home = ctx.shards.of('account', plan.payer.id);
    const [routed, positions] = await Promise.all([
      routeBetween(ctx, plan.payer, plan.payee, creditCurrency),
      fxPositionsOn(ctx.shards, home, row, plan.payer.entity),
    ]);
    route = routed;
    fx = { row, positions, lapsedAt: taken.value.lapsed ? taken.value.quote.expiresAt : null };
  } else route = await routeBetween(ctx, plan.payer, plan.payee, creditCurrency);
  const credit: DebitCredit = {
    accountId: route.creditAccountId,
    bucket: route.route === 'MERCHANT_STRIPE' ? 'PENDING' : 'AVAILABLE',
  };
  const at = claim.kind === 'capture' ? claim.at : ctx.now();
  return { kind: 'TWO_LEGS', at, route, credit, postingId, fx };
}

/** A plan of legs placed: its rows (a merchant receiver on its stripe here) and its postings per shard. */
async function placeLegs(ctx: ServiceContext, item: PaymentToPost): Promise<Placed> {
  const { plan } = item;
  const { request, legs, campaignId } = plan;
  const home = ctx.shards.of('account', request.payerAccountId);
  assert(item.claim.kind === 'claimed', 'a plan of legs claims its key before it is placed');
  const id = item.claim.claimed.resourceId;
  if (item.claim.claimed.replay) {
    const [existing] = await paymentsByIds(home.db, [id]);
    if (existing) return { kind: 'made', payment: existing };
  }
  const at = ctx.now();
  const row = legPaymentRow(ctx, request, id, legs, campaignId, at);
  const legRows = await legRowsOf(ctx, home, id, legs, item.accounts, at);
  // As written (nothing refunded yet): the answer's legs need not be read back.
  ctx.primeLegs?.(id, legRows);
  const postings = await legPostings(ctx.shards, home, 'PAYMENT', row, legRows, (l) => l.amount);
  const payingElsewhere = postings.remote.some((r) => isPaying(r.leg.role as LegRole));
  return { kind: 'LEGS', at, row, legs: legRows, postings, payingElsewhere };
}

/**
 * Step 2: the plan's home legs on the payer's shard, in one posting with the payment's records.
 * Submits at once (no await before postOne), so the caller controls the order of submission.
 * Nothing is read here before the posting: a replay that reaches it meets its posting's dedupe
 * key under the payer's lock and answers DUPLICATE, which reads the payment back.
 */
function post(ctx: ServiceContext, item: PaymentToPost, placed: Placed): Promise<PostedPayment> {
  if (placed.kind === 'answered') return Promise.resolve(placed.answer);
  if (placed.kind === 'made') return Promise.resolve(ok({ payment: placed.payment, hold: null }));
  const shard = ctx.shards.of('account', item.plan.payer.id);
  const { at } = placed;
  if (placed.kind === 'LEGS' && placed.payingElsewhere) {
    // A paying leg elsewhere posts first, so the payment's record must exist before any leg:
    // written in the home shard's next merged batch, beside other requests' postings.
    const nextAttemptAt = new Date(at.getTime() + outboxInlineGraceMs);
    const records = inGroup(legPaymentRecords, { row: placed.row, legs: placed.legs, nextAttemptAt });
    return postOne<void>(shard, { kind: 'grouped', grouped: records, finish: postsNothing }, { now: () => at }).then(
      () => ok({ payment: placed.row, hold: null }),
    );
  }
  const ticket: CaptureTicket = { paymentId: claimedId(item.claim) ?? '', hold: null };
  const posting: PostingItem<PostedPayment | ClaimedBefore> = {
    ...homeStep(item, placed, ticket),
    finish: (tx, outcome, _accounts, deferred) => finishHome(ctx, item, placed, ticket, tx, outcome, deferred),
    at,
  };
  return postOne(shard, posting, { now: () => at }).then((answer) =>
    // A key claimed in the debit that an earlier request holds: posted again keyed by its
    // payment, as a key claimed before the posting is on a replay (DUPLICATE, or its refusal).
    'kind' in answer
      ? post(
          ctx,
          { ...item, claim: { kind: 'claimed', claimed: { resourceId: answer.resourceId, replay: true } } },
          placed,
        )
      : answer,
  );
}

/** The home posting: known now, keyed by the payment the key named; or decided under the hold's lock (a capture). */
function homeStep(
  item: PaymentToPost,
  placed: Exclude<Placed, { kind: 'answered' | 'made' }>,
  ticket: CaptureTicket,
): PostingStep<PostedPayment | ClaimedBefore> {
  const { claim, plan } = item;
  if (placed.kind === 'LEGS') return { kind: 'spec', spec: placed.postings.homeSpec! };
  if (claim.kind === 'capture')
    return { kind: 'grouped', grouped: captureEnding<PostedPayment>(claim, { plan, ...placed }, ticket) };
  const spec = debitSpec(plan, ticket.paymentId, placed);
  if (claim.kind === 'inDebit') return { kind: 'grouped', grouped: claimedDebit<PostedPayment>(claim.claim, spec) };
  return { kind: 'spec', spec };
}

/**
 * A two-leg plan's debit. An FX payment's replay that found its quote past the deadline (claimQuote's `lapsed`) posts
 * it lapsed: the ledger answers the debit made before (DUPLICATE: the payment read back), the refusal kept before, or
 * else refuses it FX_QUOTE_EXPIRED and keeps that refusal under the debit's key. Without this, a payment whose debit
 * failed writing nothing (LOCK_TIMEOUT, SHARD_UNAVAILABLE, a crash) after its quote was taken could be replayed for
 * the key's retention (IDEMPOTENCY_RETENTION_DAYS) and post at the quote's rate whenever the market moved the
 * client's way: a free option on the platform's money.
 *
 * Correct under races because the lapse is decided where the debit is: in the posting engine, under the payer's row
 * lock (FOR UPDATE) and after reading the key's earlier outcomes. Of the replay's lapse and the original request's
 * debit (a copy still in flight that took the quote before the deadline), whichever locks first keeps its outcome,
 * and the other meets it as a repeat: never both, so the original never posts after the refusal. No grace after the
 * deadline: a copy that took the quote in time and is still posting when a late replay refuses is answered that same
 * refusal, consistently (the client asks for a new quote), and a grace would only widen the window in which an old
 * rate can be bought. Taking the quote in the debit's transaction instead (so that take and debit commit together)
 * cannot be done: the quote lives on a random logical shard (services/fx-quotes.ts), the debit on the payer's, two
 * databases. Plain payments are untouched: no read, statement or round trip is added to them.
 */
function debitSpec(plan: PaymentPlan, paymentId: string, placed: Extract<Placed, { kind: 'TWO_LEGS' }>): PostingSpec {
  const debit = twoLegDebitSpec(plan, paymentId, placed.postingId, placed.credit, placed.fx?.positions ?? null);
  if (!placed.fx?.lapsedAt) return debit;
  const { row, lapsedAt } = placed.fx;
  return {
    ...debit,
    lapsed: { code: 'TERMS_LAPSED', accountId: plan.payer.id, termsId: row.quoteId, lapsedAt: lapsedAt.toISOString() },
  };
}

/**
 * The home posting's answer, in its transaction: a refusal (a plan of legs' funding account
 * refusing is its campaign exhausted; a refused capture leaves its hold HELD), or the payment's
 * records written (a replay's read back), the campaign's counters moved with a local CAMPAIGN leg.
 */
async function finishHome(
  ctx: ServiceContext,
  item: PaymentToPost,
  placed: Exclude<Placed, { kind: 'answered' | 'made' }>,
  ticket: CaptureTicket,
  tx: PostingTx,
  outcome: PostingOutcome,
  deferred: DeferredInserts,
): Promise<PostedPayment> {
  const { claim, plan } = item;
  if (outcome.status === 'REJECTED') {
    // The hold stays HELD: a refused capture (the payee closed meanwhile) ends nothing.
    if (claim.kind === 'capture') await reopenHold(tx, claim.hold.id);
    return err(
      placed.kind === 'LEGS'
        ? homeRefusal(placed.postings, plan.campaignId, outcome.rejection)
        : fromDebitRejection(outcome.rejection),
    );
  }
  const campaign = placed.kind === 'LEGS' ? placed.postings.campaign : null;
  if (outcome.status === 'APPLIED' && campaign?.local)
    await countCampaignUse(tx, plan.campaignId!, campaign.leg.amount, 1);
  const id = ticket.paymentId;
  const recorded = await recordOutcome(outcome, {
    id,
    applied: () => writeRecords(ctx, deferred, plan, placed, id),
    existing: async () => (await paymentsByIds(tx, [id]))[0],
  });
  return recorded.ok ? ok({ payment: recorded.value, hold: ticket.hold }) : recorded;
}

/** The payment's records, in the home posting's transaction: its row, legs, FX record and outbox row. */
function writeRecords(
  ctx: ServiceContext,
  deferred: DeferredInserts,
  plan: PaymentPlan,
  placed: Exclude<Placed, { kind: 'answered' | 'made' }>,
  id: string,
): PaymentRow {
  if (placed.kind === 'LEGS') return writeLegPayment(deferred, placed.row, placed.legs, placed.postings, placed.at);
  const { request, payer, payee } = plan;
  if (placed.fx) deferPaymentFx(deferred, placed.fx.row);
  const { route, creditAccountId } = placed.route;
  const movement = { amount: request.amount, currency: request.currency, description: request.description };
  const row = newPaymentRow(
    ctx,
    { id, payer: payer.id, payee: payee.id, route, creditAccountId, ...movement },
    placed.at,
  );
  return deferNewPayment(deferred, row);
}

/**
 * Step 3: the completion tried at once (payment-completion.ts; the relay finishes it after a
 * crash): a plan of legs is driven on from where its request left it; a two-leg plan posted
 * PROCESSING has its PAYEE leg credited on the payee's shard.
 */
async function complete(
  ctx: ServiceContext,
  item: PaymentToPost,
  placed: Placed,
  posted: PostedPayment,
): Promise<PostedPayment> {
  if (placed.kind === 'answered' || !posted.ok) return posted;
  const { payment } = posted.value;
  if (placed.kind === 'made') return asPosted(await answerAfterDriving(ctx, payment));
  if (placed.kind === 'LEGS') {
    // The home posting is in (applied now, or by the copy of the request that made it first), or the records alone.
    const known = { postings: placed.postings, homePosted: !placed.payingElsewhere };
    const final = await answerAfterDriving(ctx, payment, known);
    return final.ok ? ok({ ...posted.value, payment: final.value }) : final;
  }
  if (payment.status !== 'PROCESSING') return posted;
  const capture = item.claim.kind === 'capture';
  const failpoint = capture ? 'capture-after-debit' : 'payment-after-debit';
  const credited = await creditAcrossShards(ctx, payment, failpoint, placed.fx?.row ?? null, !capture);
  return ok({ ...posted.value, payment: credited });
}

function asPosted(answer: Result<PaymentRow, CreatePaymentError>): PostedPayment {
  return answer.ok ? ok({ payment: answer.value, hold: null }) : answer;
}
