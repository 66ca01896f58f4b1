import {
  inGroup,
  postOne,
  type PrepareDecision,
  type PrepareGroup,
  type PostingSpec,
  systemAccountId,
} from '@paygraph/shared/ledger/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { assert } from '@paygraph/shared/result';
import { fenceRead, refuseUnlessOpen } from '@paygraph/shared/control/index';
import { rawRows } from '@paygraph/shared/db/raw';
import { shardOfAnyId } from '@paygraph/shared/ids';
import { deleteLegPayment, finishPayment, paymentsByIds, paymentsSucceeded } from '../db/payments';
import { outboxRowsLock, outboxRowsTaken, takeOutboxRows, takeOutboxHere } from '../db/outbox';
import { legsOfPayments } from '../db/payment-legs';
import { paymentFxByIds } from '../db/fx';
import { countCampaignUse } from '../db/campaigns';
import type { PaymentLegRow, PaymentRow } from '../db/schema/transactions';
import type { PaymentFxRow } from '../db/schema/fx';
import { paymentCreditSpec, paymentReversalSpec, type Movement } from '../domain/legs';
import { fxPaymentReversalSpec } from '../domain/fx-legs';
import { isPaying, type LegRole } from '../domain/payment-legs';
import { payerFxPositionsOn, sidesOf } from './fx-positions';
import { hitFailpoint, hitFailpointAfterAnswer } from './failpoints';
import {
  campaignCounter,
  homeReversal,
  legPostings,
  legReversal,
  postingIdBeside,
  postLeg,
  reversedOrWait,
  type LegPostings,
} from './legs';
import { CompletionWaits } from './completion-waits';
import type { ServiceContext } from './context';
import type { EndingsInFlight } from './endings-in-flight';

/**
 * The one completion of every payment (docs/PAYMENTS.md, "One payment route"): once a
 * plan's home legs are posted on the payer's shard (or, when a paying leg lives elsewhere, its
 * record written first), this posts its remote legs — paying legs elsewhere, the home posting,
 * receiving legs elsewhere — then ends it under its outbox row's lock: SUCCEEDED, or FAILED with
 * every posted leg reversed. Each step is a posting under its own dedupe key whose outcome, once
 * decided (applied, or refused and kept), is the same for every later attempt: so the request
 * and any relay replica may run it at once, or again after a crash, and take the same path.
 *
 * A plain, FX or captured payment is the two-leg plan: its home posting is written with its
 * record, and its one remote leg is the PAYEE's credit on the payee's shard. That leg posts as
 * two-leg payments always have (PAYMENT_CREDIT under `<pay>:credit`, undone by the home
 * posting's PAYMENT_REVERSAL under `<pay>:reverse`; outbox step PAYMENT_CREDIT), and a plan of
 * more legs as it always has (`<pay>:leg:<i>`, outbox step PAYMENT_LEGS): the ledger's history,
 * webhooks' events and settlement's reconciliation read those kinds and keys, and payments in
 * flight across an upgrade carry them. So both outbox steps name this one completion, and it
 * reads the legs of a payment by its route (legsOf): payment_legs for route LEGS, else the two
 * legs its record and FX record hold.
 */

/** How a run ended the payment; FORGOTTEN: refused by its campaign, no record left; null: another run ended it. */
export type Ending = Pick<PaymentRow, 'status' | 'failureCode' | 'completedAt'> | 'FORGOTTEN' | null;

/** A payment's postings as its completion runs them. */
export interface CompletionPlan {
  postings: LegPostings;
  /** The home posting is in already: written with the record (a two-leg plan), or by the request that drives it. */
  homePosted: boolean;
  /** The home posting's undoing, for a payment that fails after it; null when there is no home posting. */
  reverseHome: (() => Promise<PostingSpec>) | null;
}

/** A plan of legs (route LEGS) as its completion runs it. */
export function legsCompletion(postings: LegPostings, paymentId: string, homePosted: boolean): CompletionPlan {
  const { homeSpec } = postings;
  return {
    postings,
    homePosted,
    reverseHome: homeSpec ? async () => homeReversal(paymentId, homeSpec) : null,
  };
}

/**
 * The two-leg plan (plain, FX, a hold's capture) after its home posting: the PAYEE leg credited
 * on the payee's shard from its clearing, in the quote's buy currency for an FX payment; its
 * failure returns the money to the payer through the home shard's clearing (and positions).
 */
export async function twoLegCompletion(
  shards: ShardSet,
  home: Shard,
  payment: PaymentRow,
  fx: PaymentFxRow | null,
): Promise<CompletionPlan> {
  const id = payment.id;
  const movement: Movement = fx
    ? { id, currency: fx.buyCurrency, amount: fx.buyAmount }
    : { id, currency: payment.currency, amount: payment.amount };
  const remote = shards.of('account', payment.payeeAccountId);
  const remoteClearing = await systemAccountId(shards, remote, 'CLEARING', movement.currency);
  const leg: PaymentLegRow = {
    paymentId: id,
    legIndex: 1,
    role: 'PAYEE',
    accountId: payment.payeeAccountId,
    postedAccountId: payment.payeeAccountId,
    bucket: 'AVAILABLE',
    amount: movement.amount,
    currency: movement.currency,
    refundedAmount: 0n,
    businessDate: payment.businessDate,
    settlementId: null,
  };
  const spec = paymentCreditSpec(
    movement,
    postingIdBeside('account', payment.payeeAccountId),
    remoteClearing,
    payment.payeeAccountId,
  );
  const reverseHome = async (): Promise<PostingSpec> => {
    const homeClearing = await systemAccountId(shards, home, 'CLEARING', movement.currency);
    return fx
      ? fxPaymentReversalSpec(
          id,
          postingIdBeside('payment', id),
          homeClearing,
          payment.payerAccountId,
          sidesOf(fx),
          await payerFxPositionsOn(shards, home, fx, payment.payerAccountId),
        )
      : paymentReversalSpec(movement, postingIdBeside('payment', id), homeClearing, payment.payerAccountId);
  };
  return {
    postings: { home, homeSpec: null, remote: [{ leg, shard: remote, spec }], campaign: null },
    homePosted: true,
    reverseHome,
  };
}

/**
 * The completion of a payment read back (the relay, a replay): its legs by its route. `fx`: its FX record when the
 * caller has it.
 */
async function completionOf(
  shards: ShardSet,
  home: Shard,
  payment: PaymentRow,
  fx?: PaymentFxRow | null,
): Promise<CompletionPlan> {
  if (payment.route !== 'LEGS')
    return twoLegCompletion(
      shards,
      home,
      payment,
      fx !== undefined ? fx : ((await paymentFxByIds(home.db, [payment.id]))[0] ?? null),
    );
  const legs = await legsOfPayments(home.db, [payment.id]);
  return legsCompletion(await legPostings(shards, home, 'PAYMENT', payment, legs, (l) => l.amount), payment.id, false);
}

/** Completes the payment behind an outbox row PAYMENT_CREDIT or PAYMENT_LEGS (the relay). */
export async function completePaymentById(shards: ShardSet, home: Shard, id: string, now: () => Date): Promise<void> {
  await completePayment(shards, home, id, now);
}

/** What the request that wrote a payment knows of it, so that the completion need not read it again. */
export interface KnownPayment {
  payment: PaymentRow;
  plan?: CompletionPlan;
  /** Its FX record (null: none), for a two-leg plan whose plan is not given. */
  fx?: PaymentFxRow | null;
  /** Where its success's ending may go on after the answer (endings-in-flight.ts); absent: the ending is awaited. */
  endings?: EndingsInFlight;
}

/** Runs the completion once; answers how this run ended the payment. */
export async function completePayment(
  shards: ShardSet,
  home: Shard,
  id: string,
  now: () => Date,
  known?: KnownPayment,
): Promise<Ending> {
  const payment = known?.payment ?? (await paymentsByIds(home.db, [id]))[0];
  if (!payment || payment.status !== 'PROCESSING') return null;
  const plan = known?.plan ?? (await completionOf(shards, home, payment, known?.fx));
  const { postings } = plan;
  const posted: LegPostings['remote'] = [];
  for (const r of postings.remote.filter((x) => isPaying(x.leg.role as LegRole))) {
    const outcome = await postLeg(
      r.shard,
      r.spec,
      now,
      r.leg.role === 'CAMPAIGN' ? campaignCounter(payment.campaignId, r.leg.amount, 1) : undefined,
    );
    if (outcome.status === 'REJECTED') {
      if (posted.length === 0 && r.leg.role === 'CAMPAIGN') return forgetRefusedPayment(home, payment.id);
      return failPayment(
        shards,
        plan,
        payment,
        r.leg.role === 'CAMPAIGN' ? 'CAMPAIGN_EXHAUSTED' : outcome.rejection.code,
        posted,
        false,
        now,
      );
    }
    posted.push(r);
  }
  hitFailpoint('legs-after-paying');
  if (postings.homeSpec && !plan.homePosted) {
    const local = postings.campaign?.local
      ? campaignCounter(payment.campaignId, postings.campaign.leg.amount, 1)
      : undefined;
    const outcome = await postLeg(home, postings.homeSpec, now, local);
    if (outcome.status === 'REJECTED') {
      const code = isCampaignRefusal(postings, outcome.rejection) ? 'CAMPAIGN_EXHAUSTED' : outcome.rejection.code;
      return failPayment(shards, plan, payment, code, posted, false, now);
    }
  }
  hitFailpoint('legs-after-home');
  // Every receiving leg elsewhere at once: each outcome, once decided under its dedupe key, is
  // the same for every run, so every run sees the same refusals and reverses the same legs.
  const receiving = postings.remote.filter((x) => !isPaying(x.leg.role as LegRole));
  const outcomes = await Promise.all(receiving.map((r) => postLeg(r.shard, r.spec, now)));
  posted.push(...receiving.filter((_, n) => outcomes[n]!.status !== 'REJECTED'));
  const refusal = outcomes.find((o) => o.status === 'REJECTED');
  if (refusal?.status === 'REJECTED')
    return failPayment(shards, plan, payment, refusal.rejection.code, posted, true, now);
  hitFailpoint('legs-after-receiving');
  return endSucceeded(plan, payment, now, known?.endings);
}

/**
 * A success's ending. Every leg has posted, so every run of this completion ends the payment SUCCEEDED: where the
 * request may answer first (EndingsInFlight has room), it answers that now and the ending goes on after it.
 */
async function endSucceeded(
  plan: CompletionPlan,
  payment: PaymentRow,
  now: () => Date,
  endings: EndingsInFlight | undefined,
): Promise<Ending> {
  if (!endings?.hasRoom()) return endPayment(plan, payment, null, null, now);
  const at = now();
  endings.run(payment.id, () => endAfterAnswer(plan, payment, at));
  return { status: 'SUCCEEDED', failureCode: null, completedAt: at };
}

/** The ending of an answered success, at the instant its answer gave. */
async function endAfterAnswer(plan: CompletionPlan, payment: PaymentRow, at: Date): Promise<Ending> {
  await hitFailpointAfterAnswer('payment-after-answer');
  return endPayment(plan, payment, null, null, () => at);
}

/** The funding account refusing its debit is the campaign being unable to pay: CAMPAIGN_EXHAUSTED. */
export function isCampaignRefusal(postings: LegPostings, rejection: { accountId: string; code: string }): boolean {
  return (
    postings.campaign !== null &&
    rejection.accountId === postings.campaign.leg.accountId &&
    (rejection.code === 'INSUFFICIENT_FUNDS' || rejection.code === 'ACCOUNT_NOT_ACTIVE')
  );
}

/**
 * The campaign refused the payment before any leg posted: like any refusal it leaves no
 * payment, so its record, legs and outbox row go (under the outbox row's lock, once). Its
 * idempotency key stays: a replay writes the record again and meets the same refusal, which
 * the funding account's shard keeps under the leg's dedupe key.
 */
async function forgetRefusedPayment(home: Shard, id: string): Promise<Ending> {
  return inTransaction(home, async (tx) => {
    if (!(await takeOutboxHere(tx, home.name, id))) return null;
    await deleteLegPayment(tx, id);
    return 'FORGOTTEN' as const;
  });
}

/**
 * Reverses the legs posted elsewhere, newest first, then ends the payment FAILED (reversing the home posting with it
 * once it is in).
 */
async function failPayment(
  shards: ShardSet,
  plan: CompletionPlan,
  payment: PaymentRow,
  code: string,
  posted: LegPostings['remote'],
  homeIn: boolean,
  now: () => Date,
): Promise<Ending> {
  for (const r of [...posted].reverse()) {
    const spec = legReversal(payment.id, r.leg, r.spec, 'PAYMENT_LEG_REVERSAL');
    await postLeg(
      r.shard,
      spec,
      now,
      reversedOrWait(
        payment.id,
        r.leg.role === 'CAMPAIGN' ? campaignCounter(payment.campaignId, r.leg.amount, -1) : undefined,
      ),
    );
  }
  const reversal = homeIn && plan.reverseHome ? await plan.reverseHome() : null;
  return endPayment(plan, payment, code, reversal, now);
}

interface EndingInput {
  id: string;
  at: Date;
  /** null: the payment succeeded. */
  failureCode: string | null;
  /** The home posting's reversal, for a payment failed after it. */
  reversal: PostingSpec | null;
}

type Ended = Exclude<Ending, 'FORGOTTEN'>;

/**
 * The endings of a merged batch, taken together: their outbox rows in one lock and one update
 * (only the first copy of a payment takes its row), the payments that succeeded in one more
 * update. A failure with a home posting to undo goes on to post its reversal; one without is
 * marked FAILED here. The lock is a LeadingRead: the batch sends it with its accounts' lock.
 *
 * The outbox row and the payment's record move with the payment's logical shard (its id's end),
 * and a success posts nothing, so no posting's lock reads their fence: the ending names that
 * logical shard for the batch to read its fence row with the accounts' (`logicalShards`), or reads
 * it itself where the batch runs the group without its lead. Before, a process whose map missed a
 * shard move's fence ended a payment on the source after the mover's last catch-up: the verify
 * found the range's payments and outbox rows unlike (test/shard-move-catch-up.test.ts under load),
 * and where none came after, the target's row stayed PENDING for the relay to end again.
 */
const paymentEndings: PrepareGroup<EndingInput, Ended> = {
  name: 'payment ending',
  run: async (tx, inputs) => {
    // The outbox rows, then the fence rows: the order the lead takes them in.
    const taken = await takeOutboxRows(tx, outboxIdsOf(inputs));
    const fence = fenceRead(logicalShardsOf(inputs));
    refuseUnlessOpen(tx.shardName, await rawRows(tx, fence.sql, fence.values));
    return decideEndings(tx, inputs, taken);
  },
  lead: {
    statement: (inputs) => outboxRowsLock(outboxIdsOf(inputs)),
    // Only a failure's reversal posts: to the accounts of its spec, under its key. Every ending
    // writes rows of its payment's logical shard.
    reach: (input) => ({
      accountIds: input.reversal?.legs.map((l) => l.accountId) ?? [],
      dedupeKey: input.reversal?.dedupeKey ?? null,
      logicalShards: [shardOfAnyId(input.id)],
    }),
    decide: async (tx, inputs, rows) =>
      decideEndings(tx, inputs, await outboxRowsTaken(tx, rows as Array<{ id: string }>)),
  },
};

function outboxIdsOf(inputs: readonly EndingInput[]): string[] {
  return [...new Set(inputs.map((i) => i.id))];
}

function logicalShardsOf(inputs: readonly EndingInput[]): number[] {
  return [...new Set(inputs.map((i) => shardOfAnyId(i.id)))];
}

/** Each ending, once its outbox row is taken (or found done by another run). */
async function decideEndings(
  tx: PostingTx,
  inputs: readonly EndingInput[],
  taken: Set<string>,
): Promise<Array<PrepareDecision<Ended>>> {
  const succeeded: Array<{ id: string; at: Date }> = [];
  const decisions: Array<PrepareDecision<Ended>> = [];
  for (const input of inputs) {
    if (!taken.delete(input.id)) decisions.push({ proceed: false, result: null });
    else if (input.failureCode === null) {
      succeeded.push({ id: input.id, at: input.at });
      decisions.push({ proceed: false, result: { status: 'SUCCEEDED', failureCode: null, completedAt: input.at } });
    } else if (input.reversal) decisions.push({ proceed: true, spec: input.reversal });
    else {
      await finishPayment(tx, input.id, 'FAILED', input.failureCode, input.at);
      decisions.push({
        proceed: false,
        result: { status: 'FAILED', failureCode: input.failureCode, completedAt: input.at },
      });
    }
  }
  await paymentsSucceeded(tx, succeeded);
  return decisions;
}

/** The last step, on the payment's shard under its outbox row's lock: once, whoever runs it. */
async function endPayment(
  plan: CompletionPlan,
  payment: PaymentRow,
  failureCode: string | null,
  reversal: PostingSpec | null,
  now: () => Date,
): Promise<Ending> {
  const at = now();
  const { campaign } = plan.postings;
  return postOne<Ended>(
    plan.postings.home,
    {
      kind: 'grouped',
      grouped: inGroup(paymentEndings, { id: payment.id, at, failureCode, reversal }),
      // Only a reversal posts. It may be refused only while a receiver on this shard no longer
      // holds what it received, or by BALANCE_LIMIT: the money is owed back, so the payment waits.
      finish: async (tx, outcome) => {
        // A two-leg plan's reversal only credits the payer from clearing: BALANCE_LIMIT is the one
        // refusal it can meet, and any other is a bug.
        if (outcome.status === 'REJECTED' && plan.postings.homeSpec === null) {
          assert(
            outcome.rejection.code === 'BALANCE_LIMIT',
            `reversal of payment ${payment.id} was refused: ${outcome.rejection.code}`,
          );
        }
        await reversedOrWait(payment.id, async (t, o) => {
          if (o.status === 'APPLIED' && campaign?.local)
            await countCampaignUse(t, payment.campaignId!, campaign.leg.amount, -1);
          await finishPayment(t, payment.id, 'FAILED', failureCode!, at);
        })(tx, outcome);
        return { status: 'FAILED', failureCode: failureCode!, completedAt: at };
      },
    },
    { now },
  );
}

/**
 * The completion tried at once by the request that posted the payment's home legs (the relay
 * finishes it after a crash), then the payment as it stands: as this run ended it, or read back
 * when another run (a copy, the relay) ended it or it must wait. Null: its campaign refused it
 * before any leg posted, and no record is left.
 */
export async function completeNow(ctx: ServiceContext, known: KnownPayment): Promise<PaymentRow | null> {
  const { payment } = known;
  const home = ctx.shards.of('account', payment.payerAccountId);
  let ended: Ending = null;
  try {
    ended = await completePayment(ctx.shards, home, payment.id, ctx.now, known);
  } catch (error) {
    // Its home legs have committed, so the payment exists: answer it PROCESSING (the relay
    // finishes it) rather than an error such as LOCK_TIMEOUT, which tells the client nothing was written.
    if (error instanceof CompletionWaits) ctx.log.warn(error.message);
    else ctx.log.error({ err: error }, `payment ${payment.id}: inline completion failed, the relay will finish it`);
  }
  if (ended === 'FORGOTTEN') return null;
  if (ended !== null) return { ...payment, ...ended };
  const [final] = await paymentsByIds(home.db, [payment.id]);
  return final ?? null;
}
