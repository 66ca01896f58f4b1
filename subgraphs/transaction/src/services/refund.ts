import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postOne } from '@paygraph/shared/ledger/post';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { err, ok, unreachable, type Result } from '@paygraph/shared/result';
import type { Shard } from '@paygraph/shared/shards/pool';
import { addRefundedAmount, deleteRefund, finishRefund, insertRefund, lockPayment, paymentsByIds, refundsByIds, setRefundedAmount } from '../db/payments';
import { insertOutbox } from '../db/outbox';
import type { PaymentRow, RefundRow } from '../db/schema/transactions';
import { localRefundSpec } from '../domain/legs';
import { decideRefund } from '../domain/refund-rules';
import { fromRejection, refundPaymentErrorKinds, refusalOf, type RefundPaymentError } from '../domain/errors';
import { parseRefundPayment, type ParsedRefund, type RefundPaymentInput } from '../domain/inputs';
import { businessDateOf } from '@paygraph/shared/business-date';
import { readAccounts } from './accounts';
import { withIdempotencyKey } from './idempotency';
import { CompletionWaits, runOutboxStep } from './relay';
import { inlineGraceMs } from './payment-steps';
import { hitFailpoint } from './failpoints';
import { buyReturnedOf, deleteRefundFx, insertRefundFx, paymentFxByIds, refundFxById } from '../db/fx';
import type { PaymentFxRow } from '../db/schema/fx';
import { fxLocalRefundSpec } from '../domain/fx-legs';
import { buyReturnedAfter } from '../domain/fx';
import { fxPositionsOn } from './fx-positions';
import type { Tx } from '@paygraph/shared/shards/transaction';
import { reserveRefundLegs } from './leg-refund';
import type { ServiceContext } from './context';
import { mayRefund } from './access';

/**
 * A refund reverses (part of) a payment's legs. It serialises on the payment row: the cap
 * check and the increase of refunded_amount happen under that lock, so concurrent refunds
 * never add up to more than the payment. Payments that never left the payer's shard
 * (same-shard, merchant stripe) refund in one local transaction; a cross-shard payment's
 * refund reserves its amount here, debits the payee on the other shard, then credits the
 * payer — or, when the payee cannot pay it back, fails and releases the reservation.
 */
export async function refundPayment(ctx: ServiceContext, input: RefundPaymentInput): Promise<Result<RefundRow, RefundPaymentError | Forbidden>> {
  const parsed = parseRefundPayment(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const shard = ctx.shards.of('payment', request.paymentId);
  const [payment] = await paymentsByIds(shard.db, [request.paymentId]);
  if (!payment) return err({ kind: 'PaymentNotFound', paymentId: request.paymentId });
  const payee = (await readAccounts(ctx.shards, [payment.payeeAccountId])).get(payment.payeeAccountId);
  const notYours = mayRefund(ctx.identity, payee);
  if (notYours) return err(notYours);
  // Anchored on the payment refunded: the refund's record and the key live on its shard.
  const spec = {
    anchor: { kind: 'payment' as const, id: payment.id }, key: request.idempotencyKey, operation: 'REFUND',
    content: { payment: request.paymentId, amount: request.amount, reason: request.reason },
    newResourceId: () => newId('refund', shardOf('payment', payment.id)),
  };
  return withIdempotencyKey(ctx, spec, ({ resourceId }) => refundOnce(ctx, shard, payment, request, resourceId));
}

/** The refund the key names: one local posting, or reserved here and driven from the outbox. */
async function refundOnce(ctx: ServiceContext, shard: Shard, payment: PaymentRow, request: ParsedRefund, id: string): Promise<Result<RefundRow, RefundPaymentError>> {
  const [fx] = await paymentFxByIds(shard.db, [payment.id]);
  if (payment.route !== 'CROSS_SHARD' && payment.route !== 'LEGS') return refundLocally(ctx, shard, payment, request, id, fx ?? null);
  // A LEGS payment's refund reserves each leg's share with the amount and runs its legs from the outbox (leg-refund.ts).
  const reserved = await reserveRemoteRefund(ctx, shard, request, id, payment.route === 'LEGS' ? reserveRefundLegs : null, fx ?? null);
  if (!reserved.ok || reserved.value.status !== 'PROCESSING') return reserved;
  hitFailpoint('refund-after-reserve');
  try {
    await runOutboxStep(ctx.shards, shard, id, ctx.now);
  } catch (error) {
    // The reservation has committed, so the refund exists: answer it PROCESSING (the relay
    // finishes it) rather than an error that tells the client nothing was written.
    if (error instanceof CompletionWaits) ctx.log.warn(error.message);
    else ctx.log.error({ err: error }, `refund ${id}: inline step failed, the relay will finish it`);
  }
  const [final] = await refundsByIds(shard.db, [id]);
  return ok(final!);
}

function refundRow(ctx: ServiceContext, id: string, payment: PaymentRow, request: ParsedRefund, status: RefundRow['status'], now: Date): RefundRow {
  return {
    id, paymentId: payment.id, amount: request.amount, currency: payment.currency, status, failureCode: null,
    reason: request.reason, createdBy: ctx.identity.sub, payeeAccountId: payment.payeeAccountId,
    businessDate: businessDateOf(now), settlementId: null, createdAt: now, completedAt: status === 'SUCCEEDED' ? now : null,
  };
}

/**
 * A refund on the payment's own shard, one posting. Its row is written in prepare, as
 * PROCESSING, together with the reservation of its amount: in a merged batch every prepare
 * runs before any finish, and a later refund of the same payment (or a copy of this very
 * request) must see both. A copy finding the PROCESSING row defers to it through the
 * posting's dedupe key; finish completes the row, or removes it if the posting was refused.
 */
async function refundLocally(ctx: ServiceContext, shard: Shard, payment: PaymentRow, request: ParsedRefund, id: string, fx: PaymentFxRow | null) {
  const movement = { id, currency: payment.currency, amount: request.amount };
  const postingId = newId('posting', shardOf('refund', id));
  const now = ctx.now();
  const positions = fx ? await fxPositionsOn(ctx.shards, shard, fx) : null;
  // An FX payment's refund: r back to the payer in its currency, the payee's share of buyAmount in its own.
  const specOf = (fromPending: boolean, share: bigint) => (fx && positions
    ? fxLocalRefundSpec(id, postingId, payment.creditAccountId, fromPending, payment.payerAccountId,
      { sellAmount: request.amount, sellCurrency: payment.currency, buyAmount: share, buyCurrency: fx.buyCurrency }, positions)
    : localRefundSpec(movement, postingId, payment.creditAccountId, fromPending, payment.payerAccountId));
  let reserved = false;
  return postOne<Result<RefundRow, RefundPaymentError>>(shard, {
    prepare: async (tx) => {
      reserved = false;
      // Under the payment's lock, so that a concurrent copy of this request that got there
      // first has committed its refund and this one answers it instead of deciding again.
      const locked = await lockPayment(tx, payment.id);
      const [existing] = await refundsByIds(tx, [id]);
      if (existing && existing.status !== 'PROCESSING') return { proceed: false, result: ok(existing) };
      // An unsettled merchant payment still sits in the stripe's pending; once settled it
      // moved to available, so the refund takes it from there.
      const fromPending = locked!.route === 'MERCHANT_STRIPE' && locked!.settlementId === null;
      if (existing) return { proceed: true, spec: specOf(fromPending, (await refundFxById(tx, id))?.buyAmount ?? 0n) };
      const decision = decideRefund(locked!, request.amount);
      if (!decision.ok) return { proceed: false, result: decision };
      await setRefundedAmount(tx, payment.id, decision.value);
      await insertRefund(tx, refundRow(ctx, id, payment, request, 'PROCESSING', now));
      const share = fx ? await reserveFxShare(tx, id, fx, decision.value) : 0n;
      reserved = true;
      return { proceed: true, spec: specOf(fromPending, share) };
    },
    finish: async (tx, outcome) => {
      switch (outcome.status) {
        case 'APPLIED': {
          await finishRefund(tx, id, 'SUCCEEDED', null, now);
          return ok(refundRow(ctx, id, payment, request, 'SUCCEEDED', now));
        }
        case 'DUPLICATE': {
          const [existing] = await refundsByIds(tx, [id]);
          return ok(existing!);
        }
        case 'REJECTED':
          if (reserved) {
            await deleteRefund(tx, id);
            if (fx) await deleteRefundFx(tx, id);
            await addRefundedAmount(tx, payment.id, -request.amount);
          }
          return err(refusalOf(fromRejection(outcome.rejection), refundPaymentErrorKinds));
        default:
          return unreachable(outcome);
      }
    },
  }, { now: () => now });
}

/**
 * The payee's share of an FX payment's buyAmount this refund takes back, decided under the
 * payment's lock by the cumulative rule (domain/fx.ts): what it should have given back once
 * the total refunded includes this refund, less what its refunds that did not fail give back.
 * Counting the shares themselves rather than the rule at the total before makes a refund that
 * failed in between (its share never taken) leave no rounding behind: a full refund still
 * returns buyAmount exactly. Kept with the refund, so that every later step posts the same share.
 */
async function reserveFxShare(tx: Tx, refundId: string, fx: PaymentFxRow, refundedAfter: bigint): Promise<bigint> {
  const owed = buyReturnedAfter(refundedAfter, fx.sellAmount, fx.buyAmount) - (await buyReturnedOf(tx, fx.paymentId));
  const share = owed > 0n ? owed : 0n;
  await insertRefundFx(tx, { refundId, paymentId: fx.paymentId, buyAmount: share, buyCurrency: fx.buyCurrency });
  return share;
}

async function reserveRemoteRefund(
  ctx: ServiceContext, shard: Shard, request: ParsedRefund, id: string, legs: typeof reserveRefundLegs | null, fx: PaymentFxRow | null,
): Promise<Result<RefundRow, RefundPaymentError>> {
  const now = ctx.now();
  return inTransaction(shard, async (tx) => {
    // Lock first, then look: a concurrent copy of this request has committed its row by then.
    const locked = await lockPayment(tx, request.paymentId);
    const [existing] = await refundsByIds(tx, [id]);
    if (existing) return ok(existing);
    const decision = decideRefund(locked!, request.amount);
    if (!decision.ok) return decision;
    const row = refundRow(ctx, id, locked!, request, 'PROCESSING', now);
    await insertRefund(tx, row);
    if (fx) await reserveFxShare(tx, id, fx, decision.value);
    await setRefundedAmount(tx, locked!.id, decision.value);
    if (legs) await legs(tx, locked!, id, decision.value);
    await insertOutbox(tx, id, legs ? 'REFUND_LEGS' : 'REFUND_DEBIT', now, new Date(now.getTime() + inlineGraceMs));
    return ok(row);
  });
}
