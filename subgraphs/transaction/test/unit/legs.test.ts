import { describe, expect, it } from 'vitest';
import { applyPosting, assertBalanced, type PostingAccount } from '@paygraph/shared/ledger/rules/posting-rules';
import { type PostingSpec, dedupeKeys } from '@paygraph/shared/ledger/index';
import {
  depositSpec,
  holdCaptureSpec,
  holdReleaseSpec,
  holdSpec,
  homeLegsSpec,
  localRefundSpec,
  paymentCreditSpec,
  paymentDebitSpec,
  paymentReversalSpec,
  refundCreditSpec,
  refundDebitSpec,
  sweepCreditSpec,
  sweepDebitSpec,
  withdrawalSpec,
} from '../../src/domain/legs';
import { planSweeps } from '../../src/domain/sweep-plan';

/** Every movement's postings, as pure data: each sums to zero, and carries the key that makes it apply once. */
const m = { id: 'pay_1', currency: 'EUR', amount: 250n };

function sum(spec: PostingSpec): bigint {
  return spec.legs.reduce((total, leg) => total + leg.amount, 0n);
}

describe('legs', () => {
  const specs: Array<[string, PostingSpec, string]> = [
    ['deposit', depositSpec(m, 'pst_1', 'acc_reserve', 'acc_a'), dedupeKeys.firstHalf(m.id)],
    ['withdrawal', withdrawalSpec(m, 'pst_1', 'acc_a', 'acc_reserve'), dedupeKeys.firstHalf(m.id)],
    [
      'payment debit',
      paymentDebitSpec(m, 'pst_1', 'acc_payer', 'acc_clearing', 'AVAILABLE'),
      dedupeKeys.firstHalf(m.id),
    ],
    ['payment credit', paymentCreditSpec(m, 'pst_1', 'acc_clearing', 'acc_payee'), dedupeKeys.paymentCredit(m.id)],
    [
      'payment reversal',
      paymentReversalSpec(m, 'pst_1', 'acc_clearing', 'acc_payer'),
      dedupeKeys.paymentReversal(m.id),
    ],
    ['local refund', localRefundSpec(m, 'pst_1', 'acc_stripe', true, 'acc_payer'), dedupeKeys.firstHalf(m.id)],
    ['refund debit', refundDebitSpec(m, 'pst_1', 'acc_payee', 'acc_clearing'), dedupeKeys.refundDebit(m.id)],
    ['refund credit', refundCreditSpec(m, 'pst_1', 'acc_clearing', 'acc_payer'), dedupeKeys.refundCredit(m.id)],
    ['hold', holdSpec(m, 'pst_1', 'acc_payer'), dedupeKeys.hold(m.id)],
    ['hold release', holdReleaseSpec(m, 'pst_1', 'acc_payer'), dedupeKeys.holdRelease(m.id)],
    [
      'sweep debit',
      sweepDebitSpec(m, 'pst_1', 'wdr_1', 'acc_stripe', 'acc_clearing'),
      dedupeKeys.sweepDebit('wdr_1', 'acc_stripe'),
    ],
    ['sweep credit', sweepCreditSpec(m, 'pst_1', 'acc_clearing', 'acc_home'), dedupeKeys.sweepCredit(m.id)],
  ];

  for (const [name, spec, key] of specs) {
    it(`${name}: nets to zero in two legs of the amount, keyed ${key}`, () => {
      expect(sum(spec)).toBe(0n);
      expect(() => assertBalanced(spec)).not.toThrow();
      expect(spec.legs.map((leg) => (leg.amount < 0n ? -leg.amount : leg.amount))).toEqual([250n, 250n]);
      expect(spec.dedupeKey).toBe(key);
      expect(spec.currency).toBe('EUR');
    });
  }

  it('second halves that return money are completions: they must land even on an account frozen meanwhile', () => {
    for (const spec of [
      paymentReversalSpec(m, 'p', 'c', 'a'),
      refundCreditSpec(m, 'p', 'c', 'a'),
      holdReleaseSpec(m, 'p', 'a'),
      sweepCreditSpec(m, 'p', 'c', 'h'),
    ]) {
      expect(spec.completion, spec.kind).toBe(true);
    }
    expect(paymentCreditSpec(m, 'p', 'c', 'a').completion).toBeUndefined();
  });

  it("a local refund takes from a stripe's pending first, then its available", () => {
    expect(localRefundSpec(m, 'p', 'acc_stripe', true, 'acc_payer').legs[0]).toEqual({
      accountId: 'acc_stripe',
      bucket: 'PENDING',
      amount: -250n,
      fallbackBucket: 'AVAILABLE',
    });
    expect(localRefundSpec(m, 'p', 'acc_stripe', false, 'acc_payer').legs[0]).toEqual({
      accountId: 'acc_stripe',
      bucket: 'AVAILABLE',
      amount: -250n,
    });
  });

  it("a refund's home posting debits before it credits: a funder that is also the payee cannot give back from its campaign's share (simulator seed 3401617778)", () => {
    // Refunding 4106 of 13154 (PAYER 3956, CAMPAIGN 9198 and PAYEE 3892 of one funder, SPLIT 9262): the payer gets 1234,
    // the campaign 2872; the payee gives back 1215, the split 2891 (elsewhere: into clearing).
    const effects = [
      { index: 0, accountId: 'acc_payer', bucket: 'AVAILABLE' as const, amount: 1234n },
      { index: 1, accountId: 'acc_funder', bucket: 'AVAILABLE' as const, amount: 2872n },
      { index: 2, accountId: 'acc_funder', bucket: 'AVAILABLE' as const, amount: -1215n },
    ];
    const spec = homeLegsSpec('REFUND', { id: 'ref_1', currency: 'USD' }, 'p', effects, 'acc_clearing')!;
    expect(spec.legs.map((l) => [l.accountId, l.amount])).toEqual([
      ['acc_funder', -1215n],
      ['acc_payer', 1234n],
      ['acc_funder', 2872n],
      ['acc_clearing', -2891n],
    ]);
    const account = (id: string, available: bigint): PostingAccount => ({
      id,
      type: id === 'acc_clearing' ? 'SYSTEM' : 'PERSONAL',
      status: 'ACTIVE',
      currency: 'USD',
      available,
      frozen: 0n,
      pending: 0n,
      lastSequence: 0n,
      creditLimit: null,
    });
    const states = new Map(
      [account('acc_payer', 0n), account('acc_funder', 0n), account('acc_clearing', 2891n)].map((a) => [a.id, a]),
    );
    // As on a shard of its own, where the payee's leg posts alone before the campaign's: refused, nothing moved.
    expect(applyPosting(states, spec)).toMatchObject({ ok: false, error: { code: 'INSUFFICIENT_FUNDS' } });
    expect(states.get('acc_funder')!.available).toBe(0n);
    // A payment's legs keep their order: the paying legs debit first already.
    const paid = homeLegsSpec(
      'PAYMENT',
      { id: 'pay_1', currency: 'USD' },
      'p',
      effects.map((e) => ({ ...e, amount: -e.amount })),
      'acc_clearing',
    )!;
    expect(paid.legs.map((l) => l.amount)).toEqual([-1234n, -2872n, 1215n, 2891n]);
  });

  it('a capture moves the whole hold out of frozen: the captured part to the credit row, the rest back to available', () => {
    const captured = holdCaptureSpec(
      { id: 'hld_1', currency: 'EUR', amount: 1_000n },
      { id: 'pay_2', currency: 'EUR', amount: 600n },
      'p',
      'acc_payer',
      'acc_payee',
      'AVAILABLE',
    );
    expect(sum(captured)).toBe(0n);
    expect(captured.dedupeKey).toBe(dedupeKeys.holdCapture('pay_2'));
    expect(captured.legs).toEqual([
      { accountId: 'acc_payer', bucket: 'FROZEN', amount: -1_000n },
      { accountId: 'acc_payee', bucket: 'AVAILABLE', amount: 600n },
      { accountId: 'acc_payer', bucket: 'AVAILABLE', amount: 400n },
    ]);
    const whole = holdCaptureSpec(
      { id: 'hld_1', currency: 'EUR', amount: 1_000n },
      { id: 'pay_2', currency: 'EUR', amount: 1_000n },
      'p',
      'acc_payer',
      'acc_payee',
      'PENDING',
    );
    expect(whole.legs).toHaveLength(2);
  });

  it('a sweep plan takes stripes in id order until the amount is reached, skipping empty ones', () => {
    const stripes = [
      { id: 'acc_c', available: 50n },
      { id: 'acc_a', available: 30n },
      { id: 'acc_b', available: 0n },
    ];
    expect(planSweeps(stripes, 60n)).toEqual([
      { stripeId: 'acc_a', amount: 30n },
      { stripeId: 'acc_c', amount: 30n },
    ]);
    expect(planSweeps(stripes, 500n)).toEqual([
      { stripeId: 'acc_a', amount: 30n },
      { stripeId: 'acc_c', amount: 50n },
    ]);
    expect(planSweeps(stripes, 0n)).toEqual([]);
  });
});
