import { err, ok, type Result } from '@paygraph/shared/result';
import type { MoneyErrorOf } from './errors';

export interface RefundablePayment {
  id: string;
  status: 'PROCESSING' | 'SUCCEEDED' | 'FAILED';
  amount: bigint;
  refundedAmount: bigint;
}

/**
 * A refund may take back at most what is left of a succeeded payment. refundedAmount counts
 * refunds in flight too, so concurrent refunds (serialised on the payment row) never add up
 * to more than the payment.
 */
export function decideRefund(payment: RefundablePayment, amount: bigint): Result<bigint, MoneyErrorOf<'PaymentNotRefundable' | 'RefundExceedsPayment'>> {
  if (payment.status !== 'SUCCEEDED') return err({ kind: 'PaymentNotRefundable', paymentId: payment.id, status: payment.status });
  const refundable = payment.amount - payment.refundedAmount;
  if (amount > refundable) return err({ kind: 'RefundExceedsPayment', paymentId: payment.id, refundable });
  return ok(payment.refundedAmount + amount);
}
