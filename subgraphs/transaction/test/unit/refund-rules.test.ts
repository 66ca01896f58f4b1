import { describe, expect, it } from 'vitest';
import { decideRefund, refundShares, stripeShortfall, type RefundablePayment } from '../../src/domain/refund-rules';
import { refundLegChanges } from '../../src/domain/payment-legs';

/** What a refund may take back, decided without a database. */
const payment: RefundablePayment = { id: 'pay_1', status: 'SUCCEEDED', amount: 1_000n, refundedAmount: 300n };

describe('refund rules', () => {
  it('take back at most what is left of a succeeded payment, counting refunds in flight', () => {
    expect(decideRefund(payment, 700n)).toEqual({ ok: true, value: 1_000n });
    expect(decideRefund(payment, 1n)).toEqual({ ok: true, value: 301n });
    expect(decideRefund(payment, 701n)).toEqual({
      ok: false,
      error: { kind: 'RefundExceedsPayment', paymentId: 'pay_1', refundable: 700n },
    });
    expect(decideRefund({ ...payment, refundedAmount: 1_000n }, 1n)).toEqual({
      ok: false,
      error: { kind: 'RefundExceedsPayment', paymentId: 'pay_1', refundable: 0n },
    });
  });

  it('refuse a payment that has not succeeded', () => {
    for (const status of ['PROCESSING', 'FAILED'] as const) {
      expect(decideRefund({ ...payment, status }, 1n)).toEqual({
        ok: false,
        error: { kind: 'PaymentNotRefundable', paymentId: 'pay_1', status },
      });
    }
  });

  it('share a refund among the legs of every plan by one rule', () => {
    // A plain payment's two legs each move the refund itself.
    const plain = [
      { role: 'PAYER' as const, amount: 1_000n, currency: 'USD', refunded: 300n },
      { role: 'PAYEE' as const, amount: 1_000n, currency: 'USD', refunded: 300n },
    ];
    expect(refundShares(plain, 1_000n, 550n)).toEqual([250n, 250n]);
    // An FX payment's PAYEE gives back its cumulative share of buy, rounded up: 1 of 3 sold for 1000 is 334 of 1000
    // bought.
    const fx = [
      { role: 'PAYER' as const, amount: 3n, currency: 'USD', refunded: 0n },
      { role: 'PAYEE' as const, amount: 1_000n, currency: 'JPY', refunded: 0n },
    ];
    expect(refundShares(fx, 3n, 1n)).toEqual([1n, 334n]);
    expect(
      refundShares(
        fx.map((l) => ({ ...l, refunded: l.role === 'PAYER' ? 1n : 334n })),
        3n,
        3n,
      ),
    ).toEqual([2n, 666n]);
    // Never below zero: a share already given beyond the rule (by a refund since failed and counted) is not taken back.
    expect(
      refundShares(
        fx.map((l) => ({ ...l, refunded: l.role === 'PAYER' ? 1n : 700n })),
        3n,
        2n,
      ),
    ).toEqual([1n, 0n]);
    // A payment of legs: the legs' own rule.
    const legs = [
      { role: 'PAYER' as const, amount: 11_444n, currency: 'USD', refunded: 0n },
      { role: 'PAYEE' as const, amount: 3_794n, currency: 'USD', refunded: 0n },
      { role: 'SPLIT' as const, amount: 2_837n, currency: 'USD', refunded: 0n },
      { role: 'SPLIT' as const, amount: 7_650n, currency: 'USD', refunded: 0n },
      { role: 'CAMPAIGN' as const, amount: 2_837n, currency: 'USD', refunded: 0n },
    ];
    expect(refundShares(legs, 14_281n, 14_280n)).toEqual(refundLegChanges(legs, 14_281n, 14_280n));
  });
});

describe('stripeShortfall', () => {
  const stripe = (pending: bigint, available: bigint) => ({ pending, available });
  it("is zero when pending and available cover the give-back, in the posting rules' order", () => {
    expect(stripeShortfall([{ amount: 100n, fromPending: true }], stripe(100n, 0n))).toBe(0n);
    expect(stripeShortfall([{ amount: 100n, fromPending: true }], stripe(40n, 60n))).toBe(0n);
    expect(stripeShortfall([{ amount: 100n, fromPending: false }], stripe(0n, 100n))).toBe(0n);
  });
  it('lacks what pending and available do not hold; a settled share never takes pending', () => {
    expect(stripeShortfall([{ amount: 100n, fromPending: true }], stripe(30n, 20n))).toBe(50n);
    expect(stripeShortfall([{ amount: 100n, fromPending: false }], stripe(1_000n, 20n))).toBe(80n);
    // Two legs on one stripe (a payee splitting to itself): the unsettled one spills past pending into the same
    // available.
    expect(
      stripeShortfall(
        [
          { amount: 70n, fromPending: true },
          { amount: 50n, fromPending: false },
        ],
        stripe(40n, 60n),
      ),
    ).toBe(20n);
  });
  it('never asks more than the give-backs, whatever the stripe holds (a negative bucket counts as empty)', () => {
    for (const [p, a] of [
      [0n, 0n],
      [-5n, -5n],
      [0n, 10n],
      [10n, 0n],
    ] as const) {
      const lacking = stripeShortfall(
        [
          { amount: 30n, fromPending: true },
          { amount: 20n, fromPending: false },
        ],
        stripe(p, a),
      );
      expect(lacking).toBeGreaterThanOrEqual(0n);
      expect(lacking).toBeLessThanOrEqual(50n);
    }
    expect(
      stripeShortfall(
        [
          { amount: 30n, fromPending: true },
          { amount: 20n, fromPending: false },
        ],
        stripe(-5n, -5n),
      ),
    ).toBe(50n);
  });
});
