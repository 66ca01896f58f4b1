import { describe, expect, it } from 'vitest';
import { deriveEvents, eventBody, type Facts, type StreamEntry } from '../../src/domain/events';

const none: Facts = {
  payments: new Map(),
  refunds: new Map(),
  holds: new Map(),
  holdsByPayment: new Map(),
  advances: new Map(),
  payouts: new Map(),
};
const at = new Date('2026-11-22T10:00:00Z');

function entry(
  sequence: number,
  amount: bigint,
  postingKind = 'DEPOSIT',
  refId: string | null = 'dep_x',
  firstOfPosting = true,
): StreamEntry {
  return {
    stripeId: 'acc_A',
    sequence: BigInt(sequence),
    id: `ent_${sequence}`,
    postingId: `pst_${sequence}`,
    bucket: 'AVAILABLE',
    amount,
    direction: amount < 0n ? 'DEBIT' : 'CREDIT',
    balanceAfter: 0n,
    createdAt: at,
    postingKind,
    refId,
    firstOfPosting,
  };
}

describe('events from ledger entries', () => {
  it('give one balance.changed per entry, in order, with the balance right after it, and stop at a gap', () => {
    const derived = deriveEvents(
      'acc_A',
      { lastSequence: 4n, buckets: { available: 100n, frozen: 0n, pending: 0n } },
      [entry(5, 50n), entry(6, -30n), entry(8, 1n)],
      none,
    );
    expect(derived.lastSequence).toBe(6n);
    expect(derived.buckets).toEqual({ available: 120n, frozen: 0n, pending: 0n });
    expect(
      derived.events.map((e) => [e.type, e.sequence, (e.data.balance as { available: string }).available]),
    ).toEqual([
      ['balance.changed', 5n, '150'],
      ['balance.changed', 6n, '120'],
    ]);
    expect(JSON.parse(eventBody(derived.events[0]!))).toMatchObject({
      type: 'balance.changed',
      timestamp: at.toISOString(),
      data: { accountId: 'acc_A', sequence: '5' },
    });
  });

  it('say payment.succeeded once per posting, and wait at a payment still PROCESSING', () => {
    const payment = {
      id: 'pay_1',
      status: 'SUCCEEDED' as const,
      amount: 30n,
      currency: 'USD',
      payerAccountId: 'acc_A',
      payeeAccountId: 'acc_B',
      creditAccountId: 'acc_B',
    };
    const facts = { ...none, payments: new Map([['pay_1', payment]]) };
    const done = deriveEvents(
      'acc_A',
      { lastSequence: 0n, buckets: { available: 100n, frozen: 0n, pending: 0n } },
      [entry(1, -30n, 'PAYMENT', 'pay_1')],
      facts,
    );
    expect(done.events.map((e) => e.type)).toEqual(['balance.changed', 'payment.succeeded']);
    expect(done.events[1]!.data).toEqual({
      id: 'pay_1',
      amount: '30',
      currency: 'USD',
      payerAccountId: 'acc_A',
      payeeAccountId: 'acc_B',
    });
    const processing = { ...none, payments: new Map([['pay_1', { ...payment, status: 'PROCESSING' as const }]]) };
    const waiting = deriveEvents(
      'acc_A',
      { lastSequence: 0n, buckets: { available: 100n, frozen: 0n, pending: 0n } },
      [entry(1, -30n, 'PAYMENT', 'pay_1'), entry(2, 5n)],
      processing,
    );
    expect(waiting.events).toEqual([]);
    expect(waiting.lastSequence).toBe(0n);
    const failed = { ...none, payments: new Map([['pay_1', { ...payment, status: 'FAILED' as const }]]) };
    expect(
      deriveEvents(
        'acc_A',
        { lastSequence: 0n, buckets: { available: 100n, frozen: 0n, pending: 0n } },
        [entry(1, -30n, 'PAYMENT', 'pay_1')],
        failed,
      ).events.map((e) => e.type),
    ).toEqual(['balance.changed', 'payment.failed']);
  });

  it("tell a payment's and its refunds' events to the streams of its payer, payee and credited row alone", () => {
    // A payment of legs posted on the payer's shard: acc_S received a split, acc_F funded a campaign's discount.
    const payment = {
      id: 'pay_1',
      status: 'SUCCEEDED' as const,
      amount: 100_000n,
      currency: 'USD',
      payerAccountId: 'acc_P',
      payeeAccountId: 'acc_M',
      creditAccountId: 'acc_MS',
    };
    const parties = { payerAccountId: 'acc_P', payeeAccountId: 'acc_M', creditAccountId: 'acc_MS' };
    const refund = { id: 'ref_1', paymentId: 'pay_1', status: 'SUCCEEDED' as const, amount: 500n, ...parties };
    const facts = { ...none, payments: new Map([['pay_1', payment]]), refunds: new Map([['ref_1', refund]]) };
    const start = { lastSequence: 0n, buckets: { available: 1_000n, frozen: 0n, pending: 0n } };
    const heard = (stripeId: string, amount: bigint, kind: string, refId: string) =>
      deriveEvents(stripeId, start, [{ ...entry(1, amount, kind, refId), stripeId }], facts).events.map((e) => e.type);
    expect(heard('acc_S', 1n, 'PAYMENT', 'pay_1')).toEqual(['balance.changed']);
    expect(heard('acc_F', -700n, 'PAYMENT', 'pay_1')).toEqual(['balance.changed']);
    expect(heard('acc_S', -1n, 'REFUND', 'ref_1')).toEqual(['balance.changed']);
    expect(heard('acc_S', 1n, 'PAYMENT_CREDIT', 'pay_1')).toEqual(['balance.changed']);
    // The payer, the payee and the row credited (the merchant's stripe) hear them.
    expect(heard('acc_P', -99_300n, 'PAYMENT', 'pay_1')).toEqual(['balance.changed', 'payment.succeeded']);
    expect(heard('acc_MS', 85_000n, 'PAYMENT', 'pay_1')).toEqual(['balance.changed', 'payment.succeeded']);
    expect(heard('acc_M', 85_000n, 'PAYMENT_CREDIT', 'pay_1')).toEqual(['balance.changed', 'payment.succeeded']);
    expect(heard('acc_P', 500n, 'REFUND_CREDIT', 'ref_1')).toEqual(['balance.changed', 'refund.succeeded']);
    expect(heard('acc_MS', -500n, 'REFUND', 'ref_1')).toEqual(['balance.changed', 'refund.succeeded']);
    // A split's stream does not wait for a payment still PROCESSING: it tells its balance change at once.
    const processing = { ...facts, payments: new Map([['pay_1', { ...payment, status: 'PROCESSING' as const }]]) };
    const split = deriveEvents(
      'acc_S',
      start,
      [{ ...entry(1, 1n, 'PAYMENT', 'pay_1'), stripeId: 'acc_S' }],
      processing,
    );
    expect(split.events.map((e) => e.type)).toEqual(['balance.changed']);
  });

  it("tell a payment of legs to its payee's stream where its leg posts on a shard of its own, and a failed refund as no success", () => {
    // The payer on one shard; the merchant's stripe (credited, acc_MS) and a split (acc_S) each on another: their legs
    // are PAYMENT_LEG postings there, a refund's are REFUND_LEG.
    const payment = {
      id: 'pay_1',
      status: 'SUCCEEDED' as const,
      amount: 100_000n,
      currency: 'USD',
      payerAccountId: 'acc_P',
      payeeAccountId: 'acc_M',
      creditAccountId: 'acc_MS',
    };
    const parties = { payerAccountId: 'acc_P', payeeAccountId: 'acc_M', creditAccountId: 'acc_MS' };
    const refund = { id: 'ref_1', paymentId: 'pay_1', status: 'SUCCEEDED' as const, amount: 500n, ...parties };
    const start = { lastSequence: 0n, buckets: { available: 1_000n, frozen: 0n, pending: 0n } };
    const heard = (facts: Facts, stripeId: string, amount: bigint, kind: string, refId: string) =>
      deriveEvents(stripeId, start, [{ ...entry(1, amount, kind, refId), stripeId }], facts).events.map((e) => e.type);
    const settled = (p: typeof payment, r: typeof refund | { status: 'PROCESSING' | 'FAILED' }) => ({
      ...none,
      payments: new Map([['pay_1', p]]),
      refunds: new Map([['ref_1', { ...refund, ...r }]]),
    });
    const done = settled(payment, refund);
    expect(heard(done, 'acc_MS', 85_000n, 'PAYMENT_LEG', 'pay_1')).toEqual(['balance.changed', 'payment.succeeded']);
    expect(heard(done, 'acc_S', 10_000n, 'PAYMENT_LEG', 'pay_1')).toEqual(['balance.changed']);
    expect(heard(done, 'acc_MS', -500n, 'REFUND_LEG', 'ref_1')).toEqual(['balance.changed', 'refund.succeeded']);
    expect(heard(done, 'acc_S', -50n, 'REFUND_LEG', 'ref_1')).toEqual(['balance.changed']);
    // The payee funding the campaign from the row credited: its discount's leg there (a debit, and its refund's
    // credit) says its balance change alone, so the payment and the refund are told once.
    expect(heard(done, 'acc_MS', -700n, 'PAYMENT_LEG', 'pay_1')).toEqual(['balance.changed']);
    expect(heard(done, 'acc_MS', 7n, 'REFUND_LEG', 'ref_1')).toEqual(['balance.changed']);
    // The leg may yet be reversed: the payee's stream waits while the payment or the refund is PROCESSING.
    const processing = settled({ ...payment, status: 'PROCESSING' as never }, { status: 'PROCESSING' });
    expect(heard(processing, 'acc_MS', 85_000n, 'PAYMENT_LEG', 'pay_1')).toEqual([]);
    expect(heard(processing, 'acc_MS', -500n, 'REFUND_LEG', 'ref_1')).toEqual([]);
    const failed = settled({ ...payment, status: 'FAILED' as never }, { status: 'FAILED' });
    expect(heard(failed, 'acc_MS', 85_000n, 'PAYMENT_LEG', 'pay_1')).toEqual(['balance.changed', 'payment.failed']);
    // A refund undone leg by leg is told by refund.failed from its row, never as succeeded by the entries it undid.
    expect(heard(failed, 'acc_MS', -500n, 'REFUND_LEG', 'ref_1')).toEqual(['balance.changed']);
    expect(heard(failed, 'acc_MS', -500n, 'REFUND', 'ref_1')).toEqual(['balance.changed']);
  });

  it('say hold.voided or hold.expired by the hold as released', () => {
    const hold = { id: 'hld_1', status: 'EXPIRED', amount: 40n, capturedAmount: 0n, endedBy: 'pst_1' };
    const facts = { ...none, holds: new Map([['hld_1', hold]]) };
    const derived = deriveEvents(
      'acc_A',
      { lastSequence: 0n, buckets: { available: 0n, frozen: 40n, pending: 0n } },
      [
        { ...entry(1, -40n, 'HOLD_RELEASE', 'hld_1'), bucket: 'FROZEN' },
        { ...entry(2, 40n, 'HOLD_RELEASE', 'hld_1', false) },
      ],
      facts,
    );
    expect(derived.events.map((e) => e.type)).toEqual(['balance.changed', 'hold.expired', 'balance.changed']);
    expect(derived.events[1]!.data).toEqual({ id: 'hld_1', amount: '40', capturedAmount: '0' });
  });

  it('say advance.paid once per advance, on the stripe of its first piece, waiting while it is PENDING and silent when REVERSED', () => {
    const advance = {
      id: 'adv_1',
      merchantAccountId: 'acc_M',
      status: 'PAID' as const,
      amount: 1_000n,
      feeAmount: 10n,
      firstStripeId: 'acc_A',
    };
    const start = { lastSequence: 0n, buckets: { available: 0n, frozen: 0n, pending: 1_000n } };
    const piece = [
      { ...entry(1, -600n, 'ADVANCE', 'adv_1'), bucket: 'PENDING' as const },
      entry(2, 594n, 'ADVANCE', 'adv_1', false),
    ];
    const paid = deriveEvents('acc_M', start, piece, { ...none, advances: new Map([['adv_1', advance]]) });
    expect(paid.events.map((e) => e.type)).toEqual(['balance.changed', 'advance.paid', 'balance.changed']);
    expect(paid.events[1]!.data).toEqual({ id: 'adv_1', merchantAccountId: 'acc_M', amount: '1000', feeAmount: '10' });
    // Another stripe's piece of the same advance: balance changes only.
    const other = deriveEvents('acc_M', start, piece, {
      ...none,
      advances: new Map([['adv_1', { ...advance, firstStripeId: 'acc_B' }]]),
    });
    expect(other.events.map((e) => e.type)).toEqual(['balance.changed', 'balance.changed']);
    const pending = deriveEvents('acc_M', start, piece, {
      ...none,
      advances: new Map([['adv_1', { ...advance, status: 'PENDING' as const }]]),
    });
    expect(pending.events).toEqual([]);
    const reversed = deriveEvents('acc_M', start, piece, {
      ...none,
      advances: new Map([['adv_1', { ...advance, status: 'REVERSED' as const }]]),
    });
    expect(reversed.events.map((e) => e.type)).toEqual(['balance.changed', 'balance.changed']);
  });
});

describe('payout.succeeded', () => {
  const payout = {
    id: 'wdr_1',
    accountId: 'acc_A',
    amount: 300n,
    currency: 'EUR',
    channel: 'bank-1',
    externalAccountId: 'ext_1',
  };
  const start = { lastSequence: 0n, buckets: { available: 1000n, frozen: 0n, pending: 0n } };

  it("follows the balance.changed of a withdrawal's entry that paid out to a link, naming the link by id", () => {
    const derived = deriveEvents('acc_A', start, [entry(1, -300n, 'WITHDRAWAL', 'wdr_1')], {
      ...none,
      payouts: new Map([['wdr_1', payout]]),
    });
    expect(derived.events.map((e) => e.type)).toEqual(['balance.changed', 'payout.succeeded']);
    expect(derived.events[1]!.data).toEqual({
      id: 'wdr_1',
      accountId: 'acc_A',
      amount: '300',
      currency: 'EUR',
      channel: 'bank-1',
      externalAccountId: 'ext_1',
    });
  });

  it('says nothing beyond the balance change for a withdrawal that named no link', () => {
    const derived = deriveEvents('acc_A', start, [entry(1, -300n, 'WITHDRAWAL', 'wdr_2')], none);
    expect(derived.events.map((e) => e.type)).toEqual(['balance.changed']);
  });
});
