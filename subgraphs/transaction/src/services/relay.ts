import { startWorker, type Worker } from '@paygraph/shared/worker';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { newId } from '@paygraph/shared/ids';
import { inGroup, postOne, type PostingOutcome, type PrepareDecision, type PrepareGroup } from '@paygraph/shared/ledger/post';
import type { PostingSpec } from '@paygraph/shared/ledger/posting-rules';
import { systemAccountId } from '@paygraph/shared/ledger/system-accounts';
import { assert } from '@paygraph/shared/result';
import type { PaymentRow } from '../db/schema/transactions';
import { claimDueOutbox, outboxBacklog, outboxById, postponeOutbox, takeOutbox, takeOutboxRows } from '../db/outbox';
import { addRefundedAmount, finishPayment, finishRefund, paymentsByIds, paymentsSucceeded, refundsByIds } from '../db/payments';
import { paymentCreditSpec, paymentReversalSpec, refundCreditSpec, refundDebitSpec, type Movement } from '../domain/legs';
import { relayBacklog, relayLagSeconds } from '@paygraph/shared/metrics';
import { log } from '@paygraph/shared/log';
import { completeSweepById } from './sweep';
import { paymentFxByIds, refundFxById } from '../db/fx';
import type { PaymentFxRow } from '../db/schema/fx';
import { fxPaymentReversalSpec, fxRefundCreditSpec } from '../domain/fx-legs';
import { fxPositionsOn, sidesOf } from './fx-positions';
import { CompletionWaits } from './completion-waits';
import { driveLegPayment } from './leg-payment';
import { driveLegRefund } from './leg-refund';

export { CompletionWaits };

/** Relay limits: rows per shard per tick, how long a claimed row is ours, the pause between ticks. */
export const relayBatchSizeMax = 100;
export const relayLeaseMs = 30_000;
/** The backlog metric counts at most this many rows per shard: beyond it the number only says "far behind". */
export const relayBacklogCountMax = 10_000;

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
  if (row.step === 'PAYMENT_LEGS') return driveLegPayment(shards, home, id, now);
  if (row.step === 'REFUND_LEGS') return driveLegRefund(shards, home, id, now);
  if (row.step === 'PAYMENT_CREDIT') {
    const [[payment], [fx]] = await Promise.all([paymentsByIds(home.db, [id]), paymentFxByIds(home.db, [id])]);
    assert(payment, `outbox row ${id} has no payment`);
    await completePayment(shards, home, payment, now, fx ?? null);
    return;
  }
  return completeRefund(shards, home, id, now);
}

function postingIdOn(shards: ShardSet, shard: Shard): string {
  const logical = shards.logicalOn(shard)[0];
  assert(logical !== undefined, `shard ${shard.name} holds no logical shard`);
  return newId('posting', logical);
}

async function postRemote(shard: Shard, spec: PostingSpec, now: () => Date): Promise<PostingOutcome> {
  return postOne<PostingOutcome>(shard, { spec, finish: async (_tx, outcome) => outcome }, { now });
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

export type PaymentCompletion = { status: 'SUCCEEDED' | 'FAILED'; failureCode: string | null; completedAt: Date } | null;

interface CompletionInput {
  id: string;
  credit: PostingOutcome;
  reversal: PostingSpec;
  now: () => Date;
}

/**
 * The completions of a merged batch, taken together: their outbox rows in one lock and one
 * update, the payments whose credit landed in one more update. A refused credit goes on to
 * post its reversal: whatever refused it (the payee closed, or BALANCE_LIMIT because the payee's
 * balance is full) the payment FAILS with that code and the money returns to the payer. Only
 * the first copy of a payment in the batch can take its row.
 */
const paymentCompletions: PrepareGroup<CompletionInput, PaymentCompletion> = {
  name: 'payment completion',
  run: async (tx, inputs) => {
    const taken = await takeOutboxRows(tx, [...new Set(inputs.map((i) => i.id))]);
    const completedAt = inputs[0]!.now();
    const decisions = inputs.map((input): PrepareDecision<PaymentCompletion> => {
      if (!taken.delete(input.id)) return { proceed: false, result: null };
      if (input.credit.status === 'REJECTED') return { proceed: true, spec: input.reversal };
      return { proceed: false, result: { status: 'SUCCEEDED', failureCode: null, completedAt } };
    });
    // Those that took their row and need no reversal: their credit landed.
    await paymentsSucceeded(tx, inputs.filter((_, i) => {
      const d = decisions[i]!;
      return !d.proceed && d.result !== null;
    }).map((input) => input.id), completedAt);
    return decisions;
  },
};

/**
 * The payee's half of a cross-shard payment, then its completion on the payer's shard under
 * the outbox row's lock. Answers the payment's final status, or null when another run (the
 * relay, a replay) had completed it already.
 */
export async function completePayment(shards: ShardSet, home: Shard, payment: PaymentRow, now: () => Date, fx: PaymentFxRow | null): Promise<PaymentCompletion> {
  const id = payment.id;
  // An FX payment's credit is the quote's buy side, in the payee's currency (domain/fx-legs.ts).
  const movement: Movement = fx ? { id, currency: fx.buyCurrency, amount: fx.buyAmount } : { id, currency: payment.currency, amount: payment.amount };
  const remote = shards.of('account', payment.payeeAccountId);
  const remoteClearing = await systemAccountId(shards, remote, 'CLEARING', movement.currency);
  const credit = await postRemote(remote, paymentCreditSpec(movement, postingIdOn(shards, remote), remoteClearing, payment.payeeAccountId), now);
  const homeClearing = await systemAccountId(shards, home, 'CLEARING', movement.currency);
  const reversal = fx
    ? fxPaymentReversalSpec(id, postingIdOn(shards, home), homeClearing, payment.payerAccountId, sidesOf(fx), await fxPositionsOn(shards, home, fx))
    : paymentReversalSpec(movement, postingIdOn(shards, home), homeClearing, payment.payerAccountId);
  return postOne<PaymentCompletion>(home, {
    grouped: inGroup(paymentCompletions, { id, credit, reversal, now }),
    finish: async (tx, outcome) => {
      waitOrCrash(id, outcome, 'reversal of payment');
      assert(credit.status === 'REJECTED', 'reversal without a refused credit');
      const completedAt = now();
      await finishPayment(tx, id, 'FAILED', credit.rejection.code, completedAt);
      return { status: 'FAILED', failureCode: credit.rejection.code, completedAt };
    },
  }, { now });
}

async function completeRefund(shards: ShardSet, home: Shard, id: string, now: () => Date): Promise<void> {
  const [[refund], fx] = await Promise.all([refundsByIds(home.db, [id]), refundFxById(home.db, id)]);
  assert(refund, `outbox row ${id} has no refund`);
  const [payment] = await paymentsByIds(home.db, [refund.paymentId]);
  assert(payment, `refund ${id} has no payment`);
  // An FX payment's refund takes its share back from the payee in the payee's currency.
  const movement: Movement = fx ? { id, currency: fx.buyCurrency, amount: fx.buyAmount } : { id, currency: refund.currency, amount: refund.amount };
  const remote = shards.of('account', payment.creditAccountId);
  const remoteClearing = await systemAccountId(shards, remote, 'CLEARING', movement.currency);
  // A share of zero (a small part of a refund, by the cumulative rule) takes nothing from the payee.
  const debit: PostingOutcome = movement.amount === 0n
    ? { status: 'APPLIED', postingId: '', entries: [] }
    : await postRemote(remote, refundDebitSpec(movement, postingIdOn(shards, remote), payment.creditAccountId, remoteClearing), now);
  const homeClearing = await systemAccountId(shards, home, 'CLEARING', movement.currency);
  const credit = fx
    ? fxRefundCreditSpec(id, postingIdOn(shards, home), homeClearing, payment.payerAccountId,
      { sellAmount: refund.amount, sellCurrency: refund.currency, buyAmount: fx.buyAmount, buyCurrency: fx.buyCurrency },
      await fxPositionsOn(shards, home, { sellCurrency: refund.currency, buyCurrency: fx.buyCurrency }))
    : refundCreditSpec(movement, postingIdOn(shards, home), homeClearing, payment.payerAccountId);
  await postOne<void>(home, {
    prepare: async (tx) => {
      if (!(await takeOutbox(tx, id))) return { proceed: false, result: undefined };
      if (debit.status !== 'REJECTED') return { proceed: true, spec: credit };
      await finishRefund(tx, id, 'FAILED', debit.rejection.code, now());
      await addRefundedAmount(tx, payment.id, -refund.amount);
      return { proceed: false, result: undefined };
    },
    finish: async (tx, outcome) => {
      waitOrCrash(id, outcome, 'credit of refund');
      await finishRefund(tx, id, 'SUCCEEDED', null, now());
    },
  }, { now });
}

/** Claims due rows on one shard with a lease (SKIP LOCKED, so replicas share the work), then runs them. */
export async function relayTick(shards: ShardSet, shard: Shard, now: () => Date): Promise<number> {
  await measureBacklog(shard, now());
  const claimed = await inTransaction(shard, async (tx) => {
    const rows = await claimDueOutbox(tx, now(), relayBatchSizeMax);
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
      log().error({ err: error }, `relay: ${row.step} ${row.id} failed, will retry`);
    }
  }
  return claimed.length;
}

/** Sets the relay's backlog and lag gauges for a shard, before the pass takes its rows. */
async function measureBacklog(shard: Shard, at: Date): Promise<void> {
  const { due, oldestDueAt } = await outboxBacklog(shard.db, at, relayBacklogCountMax);
  relayBacklog.set({ shard: shard.name }, due);
  relayLagSeconds.set({ shard: shard.name }, oldestDueAt ? Math.max(0, at.getTime() - oldestDueAt.getTime()) / 1000 : 0);
}

export type Relay = Worker;

export function startRelay(shards: ShardSet, intervalMs: number, now: () => Date = () => new Date()): Relay {
  return startWorker({
    name: 'relay',
    intervalMs,
    pass: async () => (await Promise.all(shards.all.map((s) => relayTick(shards, s, now)))).reduce((a, b) => a + b, 0),
  });
}

