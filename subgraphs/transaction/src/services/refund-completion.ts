import { postOne, type PostingOutcome, type PostingSpec, systemAccountId } from '@paygraph/shared/ledger/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type Tx } from '@paygraph/shared/shards/transaction';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { assert } from '@paygraph/shared/result';
import { addRefundedAmount, finishRefund, paymentsByIds, refundsByIds } from '../db/payments';
import { takeOutbox, takeOutboxHere } from '../db/outbox';
import { addLegRefunded, legsOfPayments, legsOfRefund } from '../db/payment-legs';
import { refundFxById } from '../db/fx';
import { countGiveBack } from '../db/give-backs';
import type { PaymentLegRow, PaymentRow, RefundRow } from '../db/schema/transactions';
import { refundCreditSpec, refundDebitSpec, type Movement } from '../domain/legs';
import { fxRefundCreditSpec } from '../domain/fx-legs';
import { isPaying, type LegRole } from '../domain/payment-legs';
import { payerFxPositionsOn } from './fx-positions';
import { CompletionWaits } from './completion-waits';
import { legPostings, legReversal, postingIdBeside, postLeg, reversedOrWait, type LegPostings } from './legs';

/**
 * The one completion of every cross-shard refund, its payment's completion run backwards, with
 * the shares services/refund.ts reserved (domain/refund-rules.ts refundShares): the receiving
 * legs elsewhere give their share back into their shard's clearing, then the home posting (the
 * legs on the payment's shard, the payer credited), then the paying legs elsewhere get theirs
 * back, then SUCCEEDED under the outbox row's lock. A receiver that cannot give its share back
 * fails the refund, leg by leg: what others gave is returned to them and the reservation
 * released, nothing half-applied. Safe to run any number of times at once, as a payment's.
 *
 * A two-leg plan's refund (plain or FX) is the case of one remote leg, the PAYEE's debit, whose
 * home posting — the payer's credit from clearing, a completion — is posted with the ending.
 * Its postings keep the kinds and keys they always had (REFUND_DEBIT under `<ref>:debit`,
 * REFUND_CREDIT under `<ref>:credit`; outbox step REFUND_DEBIT), as a refund of legs keeps its
 * own (`<ref>:leg:<i>`, REFUND_LEGS): reconciliation reads them and refunds in flight across an
 * upgrade carry them, so both outbox steps name this completion, which reads the refund's legs
 * by its payment's route.
 */
interface RefundPlan {
  postings: LegPostings;
  /** A two-leg plan's credit back to the payer, posted with the ending under the outbox row's lock. */
  creditAtEnd: PostingSpec | null;
  /** Each leg's reserved share (a refund of legs), released when the refund fails. */
  shares: ReadonlyMap<number, bigint>;
}

/** Completes the refund behind an outbox row REFUND_DEBIT or REFUND_LEGS. */
export async function completeRefund(shards: ShardSet, home: Shard, id: string, now: () => Date): Promise<void> {
  const [refund] = await refundsByIds(home.db, [id]);
  assert(refund, `outbox row ${id} has no refund`);
  if (refund.status !== 'PROCESSING') return;
  const [payment] = await paymentsByIds(home.db, [refund.paymentId]);
  assert(payment, `refund ${id} has no payment`);
  const plan =
    payment.route === 'LEGS'
      ? await legsRefundPlan(shards, home, refund)
      : await twoLegRefundPlan(shards, home, refund, payment);
  const { postings } = plan;
  const given: LegPostings['remote'] = [];
  // A refund of legs may still fail after a receiver gave back (a later one refused), and credit it back whatever its
  // status: the give-back is counted beside the row, so that a close sees it (read-model/account.ts givenBackInFlight).
  const counted = payment.route === 'LEGS' ? countedGiveBack : undefined;
  for (const r of postings.remote.filter((x) => !isPaying(x.leg.role as LegRole))) {
    const outcome = await postLeg(r.shard, r.spec, now, counted?.(r.leg.postedAccountId));
    if (outcome.status === 'REJECTED')
      return failRefund(shards, home, refund, plan, outcome.rejection.code, given, now);
    given.push(r);
  }
  if (postings.homeSpec) {
    const outcome = await postLeg(home, postings.homeSpec, now);
    if (outcome.status === 'REJECTED')
      return failRefund(shards, home, refund, plan, outcome.rejection.code, given, now);
  }
  // Paying legs elsewhere get their share back: the receivers have given it, so it cannot be refused (a completion).
  for (const r of postings.remote.filter((x) => isPaying(x.leg.role as LegRole))) {
    await postLeg(r.shard, { ...r.spec, completion: true }, now, reversedOrWait(id));
  }
  await endRefund(home, id, plan.creditAtEnd, now);
}

function countedGiveBack(rowId: string) {
  return async (tx: PostingTx, outcome: PostingOutcome) => {
    if (outcome.status === 'APPLIED') await countGiveBack(tx, rowId);
  };
}

/** A refund of legs: each leg's reserved share (refund_legs) taken back from it. */
async function legsRefundPlan(shards: ShardSet, home: Shard, refund: RefundRow): Promise<RefundPlan> {
  const [legs, refundLegs] = await Promise.all([
    legsOfPayments(home.db, [refund.paymentId]),
    legsOfRefund(home.db, refund.id),
  ]);
  const shares = new Map(refundLegs.map((l) => [l.legIndex, l.amount]));
  const postings = await legPostings(shards, home, 'REFUND', refund, legs, (l) => -(shares.get(l.legIndex) ?? 0n));
  return { postings, creditAtEnd: null, shares };
}

/**
 * A two-leg plan's refund: the payee's share debited on its shard into clearing (in the quote's
 * buy currency for an FX payment, its share of buy in refund_fx; a share of zero takes nothing),
 * then the refund credited to the payer from clearing (through the positions for FX).
 */
async function twoLegRefundPlan(
  shards: ShardSet,
  home: Shard,
  refund: RefundRow,
  payment: PaymentRow,
): Promise<RefundPlan> {
  const id = refund.id;
  const fx = await refundFxById(home.db, id);
  const movement: Movement = fx
    ? { id, currency: fx.buyCurrency, amount: fx.buyAmount }
    : { id, currency: refund.currency, amount: refund.amount };
  const remote = shards.of('account', payment.creditAccountId);
  const leg: PaymentLegRow = {
    paymentId: payment.id,
    legIndex: 1,
    role: 'PAYEE',
    accountId: payment.payeeAccountId,
    postedAccountId: payment.creditAccountId,
    bucket: 'AVAILABLE',
    amount: movement.amount,
    currency: movement.currency,
    refundedAmount: 0n,
    businessDate: payment.businessDate,
    settlementId: null,
  };
  const debit =
    movement.amount === 0n
      ? []
      : [
          {
            leg,
            shard: remote,
            spec: refundDebitSpec(
              movement,
              postingIdBeside('account', payment.creditAccountId),
              payment.creditAccountId,
              await systemAccountId(shards, remote, 'CLEARING', movement.currency),
            ),
          },
        ];
  const homeClearing = await systemAccountId(shards, home, 'CLEARING', movement.currency);
  const credit = fx
    ? fxRefundCreditSpec(
        id,
        postingIdBeside('refund', id),
        homeClearing,
        payment.payerAccountId,
        {
          sellAmount: refund.amount,
          sellCurrency: refund.currency,
          buyAmount: fx.buyAmount,
          buyCurrency: fx.buyCurrency,
        },
        await payerFxPositionsOn(
          shards,
          home,
          { sellCurrency: refund.currency, buyCurrency: fx.buyCurrency },
          payment.payerAccountId,
        ),
      )
    : refundCreditSpec(movement, postingIdBeside('refund', id), homeClearing, payment.payerAccountId);
  return { postings: { home, homeSpec: null, remote: debit, campaign: null }, creditAtEnd: credit, shares: new Map() };
}

/**
 * A completion is refused only by BALANCE_LIMIT: it ignores account status, its accounts and
 * currency were checked by the first half and never change, and clearing (a system account)
 * may go negative. Anything else is a bug and crashes.
 */
function waitOrCrash(movementId: string, outcome: PostingOutcome, what: string): void {
  if (outcome.status !== 'REJECTED') return;
  assert(outcome.rejection.code === 'BALANCE_LIMIT', `${what} of ${movementId} was refused: ${outcome.rejection.code}`);
  throw new CompletionWaits(movementId, outcome.rejection.accountId);
}

/** SUCCEEDED under the outbox row's lock, once, with a two-leg plan's credit to the payer in the same transaction. */
async function endRefund(home: Shard, id: string, credit: PostingSpec | null, now: () => Date): Promise<void> {
  if (!credit) {
    await inTransaction(home, async (tx) => {
      if (await takeOutboxHere(tx, home.name, id)) await finishRefund(tx, id, 'SUCCEEDED', null, now());
    });
    return;
  }
  await postOne<void>(
    home,
    {
      kind: 'prepare',
      prepare: async (tx) =>
        (await takeOutbox(tx, id)) ? { proceed: true, spec: credit } : { proceed: false, result: undefined },
      finish: async (tx, outcome) => {
        waitOrCrash(id, outcome, 'credit of refund');
        await finishRefund(tx, id, 'SUCCEEDED', null, now());
      },
    },
    { now },
  );
}

/**
 * Gives back what the legs elsewhere gave, then FAILED and the reservation released (amount and shares), under the
 * outbox row's lock.
 */
async function failRefund(
  shards: ShardSet,
  home: Shard,
  refund: RefundRow,
  plan: RefundPlan,
  code: string,
  given: LegPostings['remote'],
  now: () => Date,
): Promise<void> {
  for (const r of [...given].reverse()) {
    await postLeg(
      r.shard,
      legReversal(refund.id, r.leg, r.spec, 'REFUND_LEG_REVERSAL'),
      now,
      reversedOrWait(refund.id),
    );
  }
  await inTransaction(home, async (tx: Tx) => {
    if (!(await takeOutboxHere(tx, home.name, refund.id))) return;
    await finishRefund(tx, refund.id, 'FAILED', code, now());
    await addRefundedAmount(tx, refund.paymentId, -refund.amount);
    for (const [legIndex, share] of plan.shares) await addLegRefunded(tx, refund.paymentId, legIndex, -share);
  });
}
