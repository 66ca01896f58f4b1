import { describe, expect, it } from 'vitest';
import { decideRefund, refundShares, type RefundablePayment } from '../../src/domain/refund-rules';
import { planRefundCover, type MerchantRow } from '../../src/domain/refund-cover';
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

describe('planRefundCover', () => {
  /** A merchant's rows: the home row h (database 0) and stripes a, b, c (databases 1, 2, 3). */
  /** Each row as advanced as can be (its outstanding advance beyond anything asked), unless said otherwise. */
  const row = (
    id: string,
    pending: bigint,
    available: bigint,
    creditLimit = 0n,
    advanced = 10n ** 9n,
  ): MerchantRow => ({
    id,
    order: { h: 0, a: 1, b: 2, c: 3 }[id] ?? 9,
    home: id === 'h',
    pending,
    available,
    creditLimit,
    advanced,
  });
  const unsettled = (amount: bigint) => ({ amount, fromPending: true });
  const settled = (amount: bigint) => ({ amount, fromPending: false });

  it('moves nothing when the row holds its shares, pending for the unsettled, available for the settled', () => {
    expect(
      planRefundCover([{ rowId: 'a', giveBacks: [unsettled(100n)] }], [row('h', 0n, 0n), row('a', 100n, 0n)]),
    ).toEqual({ covered: true, moves: [] });
    expect(
      planRefundCover([{ rowId: 'a', giveBacks: [settled(100n)] }], [row('h', 0n, 0n), row('a', 0n, 100n)]),
    ).toEqual({ covered: true, moves: [] });
  });

  it("takes the merchant's pending on any stripe first, largest first, before any available (issue 45's case)", () => {
    // X (a) was advanced 8,000 of its 10,000: 2,000 pending, 7,920 available; Y (h) holds 10,000 pending.
    const rows = [row('h', 10_000n, 0n, 10_000n), row('a', 2_000n, 7_920n)];
    expect(planRefundCover([{ rowId: 'a', giveBacks: [unsettled(10_000n)] }], rows)).toEqual({
      covered: true,
      moves: [{ fromId: 'h', toId: 'a', bucket: 'PENDING', amount: 8_000n }],
    });
    // Several stripes: the largest pending first, ties to the lower database; all of it before the row's own available.
    const more = [row('h', 300n, 0n), row('a', 0n, 50n), row('b', 500n, 0n), row('c', 500n, 0n)];
    expect(planRefundCover([{ rowId: 'a', giveBacks: [unsettled(1_200n)] }], more)).toEqual({
      covered: true,
      moves: [
        { fromId: 'b', toId: 'a', bucket: 'PENDING', amount: 500n },
        { fromId: 'c', toId: 'a', bucket: 'PENDING', amount: 500n },
        { fromId: 'h', toId: 'a', bucket: 'PENDING', amount: 200n },
      ],
    });
  });

  it('then available on other stripes, then the home row (its available, then its line); a settled share takes no pending', () => {
    const rows = [row('h', 0n, 100n, 1_000n), row('a', 900n, 20n), row('b', 0n, 300n)];
    expect(planRefundCover([{ rowId: 'a', giveBacks: [settled(1_000n)] }], rows)).toEqual({
      covered: true,
      moves: [
        { fromId: 'b', toId: 'a', bucket: 'AVAILABLE', amount: 300n },
        { fromId: 'h', toId: 'a', bucket: 'AVAILABLE', amount: 680n },
      ],
    });
    // The home row gives back itself, its line included: other stripes' available comes to it before its line.
    expect(
      planRefundCover([{ rowId: 'h', giveBacks: [unsettled(500n)] }], [row('h', 100n, 0n, 1_000n), row('b', 0n, 300n)]),
    ).toEqual({ covered: true, moves: [{ fromId: 'b', toId: 'h', bucket: 'AVAILABLE', amount: 300n }] });
  });

  it('moves nothing when pending, available and the line together fall short, by a single unit', () => {
    const rows = [row('h', 1_000n, 500n, 499n), row('a', 0n, 0n)];
    expect(planRefundCover([{ rowId: 'a', giveBacks: [unsettled(2_000n)] }], rows)).toEqual({ covered: false });
    expect(planRefundCover([{ rowId: 'a', giveBacks: [unsettled(1_999n)] }], rows)).toEqual({
      covered: true,
      moves: [
        { fromId: 'h', toId: 'a', bucket: 'PENDING', amount: 1_000n },
        { fromId: 'h', toId: 'a', bucket: 'AVAILABLE', amount: 999n },
      ],
    });
    // A home row already in debt: its line's room only.
    expect(planRefundCover([{ rowId: 'h', giveBacks: [settled(100n)] }], [row('h', 0n, -950n, 1_000n)])).toEqual({
      covered: false,
    });
  });

  it("takes other stripes' pending only as far as an advance moved the row's own out: beyond, its available", () => {
    // 2,000 advanced of the row's 10,000; 3,000 more left pending by a posting that was no advance.
    const rows = [row('h', 10_000n, 0n), row('a', 5_000n, 5_000n, 0n, 2_000n)];
    expect(planRefundCover([{ rowId: 'a', giveBacks: [unsettled(10_000n)] }], rows)).toEqual({
      covered: true,
      moves: [{ fromId: 'h', toId: 'a', bucket: 'PENDING', amount: 2_000n }],
    });
    expect(
      planRefundCover(
        [{ rowId: 'a', giveBacks: [unsettled(10_000n)] }],
        [row('h', 10_000n, 0n), row('a', 5_000n, 2_999n, 0n, 2_000n)],
      ),
    ).toEqual({
      covered: false,
    });
  });

  it('never lets two rows of one refund take what the other gives back', () => {
    // A payee paid on a and on b by one payment (its legs): each row keeps its own share.
    const rows = [row('h', 0n, 0n), row('a', 100n, 0n), row('b', 100n, 0n)];
    const targets = [
      { rowId: 'a', giveBacks: [unsettled(150n)] },
      { rowId: 'b', giveBacks: [unsettled(100n)] },
    ];
    expect(planRefundCover(targets, rows)).toEqual({ covered: false });
    expect(planRefundCover(targets, [...rows.slice(0, 2), row('b', 160n, 0n)])).toEqual({
      covered: true,
      moves: [{ fromId: 'b', toId: 'a', bucket: 'PENDING', amount: 50n }],
    });
  });
});
