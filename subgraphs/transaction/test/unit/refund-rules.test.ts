import { describe, expect, it } from 'vitest';
import { decideRefund, type RefundablePayment } from '../../src/domain/refund-rules';

/** What a refund may take back, decided without a database. */
const payment: RefundablePayment = { id: 'pay_1', status: 'SUCCEEDED', amount: 1_000n, refundedAmount: 300n };

describe('refund rules', () => {
  it('take back at most what is left of a succeeded payment, counting refunds in flight', () => {
    expect(decideRefund(payment, 700n)).toEqual({ ok: true, value: 1_000n });
    expect(decideRefund(payment, 1n)).toEqual({ ok: true, value: 301n });
    expect(decideRefund(payment, 701n)).toEqual({ ok: false, error: { kind: 'RefundExceedsPayment', paymentId: 'pay_1', refundable: 700n } });
    expect(decideRefund({ ...payment, refundedAmount: 1_000n }, 1n)).toEqual({ ok: false, error: { kind: 'RefundExceedsPayment', paymentId: 'pay_1', refundable: 0n } });
  });

  it('refuse a payment that has not succeeded', () => {
    for (const status of ['PROCESSING', 'FAILED'] as const) {
      expect(decideRefund({ ...payment, status }, 1n)).toEqual({ ok: false, error: { kind: 'PaymentNotRefundable', paymentId: 'pay_1', status } });
    }
  });
});
