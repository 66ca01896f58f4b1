import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayWrite } from '@paygraph/shared/identity';
import { newId, parseId } from '@paygraph/shared/ids';
import { postOne } from '@paygraph/shared/ledger/post';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { err, ok, unreachable, type Result } from '@paygraph/shared/result';
import type { Shard } from '@paygraph/shared/shards/pool';
import { addRefundedAmount, deleteRefund, finishRefund, insertRefund, lockPayment, paymentsByIds, refundsByIds, setRefundedAmount } from '../db/payments';
import { insertOutbox } from '../db/outbox';
import type { PaymentRow, RefundRow } from '../db/schema/transactions';
import { localRefundSpec } from '../domain/legs';
import { decideRefund } from '../domain/refund-rules';
import { fromRejection, type MoneyError } from '../domain/errors';
import { parseRefundPayment, type ParsedRefund, type RefundPaymentInput } from '../domain/inputs';
import { requestHash } from '../domain/request-hash';
import { businessDateOf } from '@paygraph/shared/business-date';
import { readAccounts } from './accounts';
import { claimKey } from './idempotency';
import { CompletionWaits, runOutboxStep } from './relay';
import { inlineGraceMs } from './payment';
import { hitFailpoint } from './failpoints';
import type { ServiceContext } from './context';

/**
 * A refund reverses (part of) a payment's legs. It serialises on the payment row: the cap
 * check and the increase of refunded_amount happen under that lock, so concurrent refunds
 * never add up to more than the payment. Payments that never left the payer's shard
 * (same-shard, merchant stripe) refund in one local transaction; a cross-shard payment's
 * refund reserves its amount here, debits the payee on the other shard, then credits the
 * payer — or, when the payee cannot pay it back, fails and releases the reservation.
 */
export async function refundPayment(ctx: ServiceContext, input: RefundPaymentInput): Promise<Result<RefundRow, MoneyError>> {
  const parsed = parseRefundPayment(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const shard = ctx.shards.byLogical(parseId('payment', request.paymentId)!.shard);
  const [payment] = await paymentsByIds(shard.db, [request.paymentId]);
  if (!payment) return err({ kind: 'PaymentNotFound', paymentId: request.paymentId });
  const payee = (await readAccounts(ctx.shards, [payment.payeeAccountId])).get(payment.payeeAccountId);
  if (!payee || !mayWrite(ctx.identity, payee.ownerId)) throw forbidden('only the payee or an operator may refund a payment');
  const hash = requestHash('REFUND', { payment: request.paymentId, amount: request.amount, reason: request.reason });
  // Anchored on the payment refunded: the refund's record and the key live on its shard.
  const claim = await claimKey(ctx.shards, {
    callerId: ctx.identity.sub, anchor: { kind: 'payment', id: payment.id }, key: request.idempotencyKey, operation: 'REFUND', hash,
    newResourceId: () => newId('refund', parseId('payment', payment.id)!.shard),
  }, ctx.now());
  if (claim.kind === 'reused') return err({ kind: 'IdempotencyKeyReused', idempotencyKey: request.idempotencyKey });
  if (payment.route !== 'CROSS_SHARD') return refundLocally(ctx, shard, payment, request, claim.resourceId);
  const reserved = await reserveRemoteRefund(ctx, shard, request, claim.resourceId);
  if (!reserved.ok || reserved.value.status !== 'PROCESSING') return reserved;
  hitFailpoint('refund-after-reserve');
  try {
    await runOutboxStep(ctx.shards, shard, claim.resourceId, ctx.now);
  } catch (error) {
    // The reservation has committed, so the refund exists: answer it PROCESSING (the relay
    // finishes it) rather than an error that tells the client nothing was written.
    if (error instanceof CompletionWaits) ctx.log.warn(error.message);
    else ctx.log.error({ err: error }, `refund ${claim.resourceId}: inline step failed, the relay will finish it`);
  }
  const [final] = await refundsByIds(shard.db, [claim.resourceId]);
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
async function refundLocally(ctx: ServiceContext, shard: Shard, payment: PaymentRow, request: ParsedRefund, id: string) {
  const movement = { id, currency: payment.currency, amount: request.amount };
  const postingId = newId('posting', parseId('refund', id)!.shard);
  const now = ctx.now();
  let reserved = false;
  return postOne<Result<RefundRow, MoneyError>>(shard, {
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
      const spec = localRefundSpec(movement, postingId, payment.creditAccountId, fromPending, payment.payerAccountId);
      if (existing) return { proceed: true, spec };
      const decision = decideRefund(locked!, request.amount);
      if (!decision.ok) return { proceed: false, result: decision };
      await setRefundedAmount(tx, payment.id, decision.value);
      await insertRefund(tx, refundRow(ctx, id, payment, request, 'PROCESSING', now));
      reserved = true;
      return { proceed: true, spec };
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
            await addRefundedAmount(tx, payment.id, -request.amount);
          }
          return err(fromRejection(outcome.rejection));
        default:
          return unreachable(outcome);
      }
    },
  }, { now: () => now });
}

async function reserveRemoteRefund(ctx: ServiceContext, shard: Shard, request: ParsedRefund, id: string): Promise<Result<RefundRow, MoneyError>> {
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
    await setRefundedAmount(tx, locked!.id, decision.value);
    await insertOutbox(tx, id, 'REFUND_DEBIT', now, new Date(now.getTime() + inlineGraceMs));
    return ok(row);
  });
}
