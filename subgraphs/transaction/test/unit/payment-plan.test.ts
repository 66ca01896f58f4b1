import { describe, expect, it } from 'vitest';
import type { Account } from '@paygraph/shared/ledger/index';
import { newId, shardOf, toLogicalShard } from '@paygraph/shared/ids';
import { requestHash } from '@paygraph/shared/idempotency/index';
import {
  paymentKeyContent,
  planCapture,
  planPayment,
  shapeOf,
  twoLegDebitSpec,
  type PaymentFacts,
} from '../../src/domain/payment-plan';
import { holdCaptureSpec, paymentDebitSpec } from '../../src/domain/legs';
import { fxPaymentDebitSpec } from '../../src/domain/fx-legs';
import type { ParsedPayment } from '../../src/domain/inputs';
import type { Currency } from '@paygraph/shared/money';

/**
 * The payment plan (domain/payment-plan.ts) replaced three services' own planning. A key claimed
 * before that change must still recognise its replay: each shape's key content hashes exactly as
 * its service hashed it (the hashes below are those services' formulas, written out), and a
 * two-leg plan posts exactly the posting the plain and the FX services built.
 */
const payerId = newId('account', toLogicalShard(3));
const payeeId = newId('account', toLogicalShard(5));
const splitId = newId('account', toLogicalShard(7));
const request: ParsedPayment = {
  idempotencyKey: 'k',
  payerAccountId: payerId,
  payeeAccountId: payeeId,
  amount: 1000n,
  currency: 'USD' as Currency,
  description: 'lunch',
  splits: [],
  campaignId: null,
};

function account(id: string, ownerId: string, currency = 'USD'): Account {
  return {
    id,
    ownerId,
    currency,
    status: 'ACTIVE',
    type: 'PERSONAL',
    parentId: null,
    available: 0n,
  } as unknown as Account;
}

const facts = (accounts: Account[], quote?: PaymentFacts['quote']): PaymentFacts => ({
  accounts: new Map(accounts.map((a) => [a.id, a])),
  campaign: null,
  quote,
  callerId: 'alice',
  now: new Date('2026-11-23T00:00:00Z'),
});

describe('payment keys across the change', () => {
  it('hashes a two-leg payment as services/payment.ts did', () => {
    const shape = shapeOf(request, null);
    expect(shape).toEqual({ ok: true, value: { kind: 'TWO_LEGS' } });
    expect(requestHash('PAYMENT', paymentKeyContent(request, { kind: 'TWO_LEGS' }))).toBe(
      requestHash('PAYMENT', {
        payer: payerId,
        payee: payeeId,
        amount: 1000n,
        currency: 'USD',
        description: 'lunch',
      }),
    );
  });

  it('hashes a payment with splits or a campaign as services/leg-payment.ts did', () => {
    const legs = { ...request, splits: [{ accountId: splitId, amount: 300n }], campaignId: 'cmp_x' };
    expect(shapeOf(legs, undefined)).toEqual({ ok: true, value: { kind: 'LEGS' } });
    expect(requestHash('PAYMENT', paymentKeyContent(legs, { kind: 'LEGS' }))).toBe(
      requestHash('PAYMENT', {
        payer: payerId,
        payee: payeeId,
        amount: 1000n,
        currency: 'USD',
        description: 'lunch',
        splits: `${splitId}:300`,
        campaign: 'cmp_x',
      }),
    );
    // Not the two-leg hash: the same key with splits added is another request.
    expect(requestHash('PAYMENT', paymentKeyContent(legs, { kind: 'LEGS' }))).not.toBe(
      requestHash('PAYMENT', paymentKeyContent(legs, { kind: 'TWO_LEGS' })),
    );
  });

  it('hashes an FX payment as services/fx-payment.ts did, and refuses splits or a campaign with a quote', () => {
    const quoteId = newId('fxQuote', toLogicalShard(1));
    expect(requestHash('PAYMENT', paymentKeyContent(request, { kind: 'FX', quoteId }))).toBe(
      requestHash('PAYMENT', {
        payer: payerId,
        payee: payeeId,
        amount: 1000n,
        currency: 'USD',
        description: 'lunch',
        fxQuoteId: quoteId,
      }),
    );
    expect(shapeOf({ ...request, splits: [{ accountId: splitId, amount: 1n }] }, quoteId)).toMatchObject({
      ok: false,
      error: { kind: 'InvalidInput', field: 'splits' },
    });
    expect(shapeOf({ ...request, campaignId: 'cmp_x' }, quoteId)).toMatchObject({
      ok: false,
      error: { kind: 'InvalidInput', field: 'campaignId' },
    });
    expect(shapeOf(request, 'fxq_not-a-quote')).toMatchObject({
      ok: false,
      error: { kind: 'InvalidInput', field: 'fxQuoteId' },
    });
  });
});

describe('plans of two legs', () => {
  const payer = account(payerId, 'alice');
  const payee = account(payeeId, 'bob');

  it('plans PAYER and PAYEE of the whole amount and posts what paymentDebitSpec posts', () => {
    const plan = planPayment(request, { kind: 'TWO_LEGS' }, payer, facts([payer, payee]));
    expect(plan.ok && plan.value.legs.map((l) => [l.role, l.accountId, l.amount, l.currency])).toEqual([
      ['PAYER', payerId, 1000n, 'USD'],
      ['PAYEE', payeeId, 1000n, 'USD'],
    ]);
    const id = newId('payment', shardOf('account', payerId));
    const credit = { accountId: payeeId, bucket: 'AVAILABLE' as const };
    expect(plan.ok && twoLegDebitSpec(plan.value, id, 'pst_1', credit, null)).toEqual(
      paymentDebitSpec({ id, currency: 'USD', amount: 1000n }, 'pst_1', payerId, payeeId, 'AVAILABLE'),
    );
  });

  it("plans a hold's capture as PAYER (from frozen) and PAYEE of the captured amount and posts what holdCaptureSpec posts", () => {
    const hold = {
      id: newId('hold', shardOf('account', payerId)),
      payerAccountId: payerId,
      payeeAccountId: payeeId,
      amount: 1000n,
      currency: 'USD',
      description: 'deposit',
    };
    const plan = planCapture(hold, 600n, payer, payee, 'k');
    expect(plan.legs.map((l) => [l.role, l.accountId, l.amount, l.currency, l.from])).toEqual([
      ['PAYER', payerId, 600n, 'USD', 'FROZEN'],
      ['PAYEE', payeeId, 600n, 'USD', undefined],
    ]);
    expect(plan.request).toMatchObject({
      payerAccountId: payerId,
      payeeAccountId: payeeId,
      amount: 600n,
      currency: 'USD',
      description: 'deposit',
      splits: [],
      campaignId: null,
    });
    const id = newId('payment', shardOf('hold', hold.id));
    const credit = { accountId: payeeId, bucket: 'PENDING' as const };
    // The whole hold leaves frozen, 600 to the credit row, 400 back to available (kind HOLD_CAPTURE).
    expect(twoLegDebitSpec(plan, id, 'pst_1', credit, null)).toEqual(
      holdCaptureSpec(
        { id: hold.id, currency: 'USD', amount: 1000n },
        { id, currency: 'USD', amount: 600n },
        'pst_1',
        payerId,
        payeeId,
        'PENDING',
      ),
    );
  });

  it('plans an FX payment in two currencies and posts what fxPaymentDebitSpec posts', () => {
    const yenPayee = account(payeeId, 'bob', 'JPY');
    const quote = {
      id: newId('fxQuote', toLogicalShard(1)),
      createdBy: 'alice',
      sellCurrency: 'USD',
      sellAmount: 1000n,
      buyCurrency: 'JPY',
      buyAmount: 1502n,
    };
    const plan = planPayment(request, { kind: 'FX', quoteId: quote.id }, payer, facts([payer, yenPayee], quote));
    expect(plan.ok && plan.value.legs.map((l) => [l.role, l.amount, l.currency])).toEqual([
      ['PAYER', 1000n, 'USD'],
      ['PAYEE', 1502n, 'JPY'],
    ]);
    const positions = { sell: 'acc_pos_usd', buy: 'acc_pos_jpy' };
    const credit = { accountId: 'acc_clearing_jpy', bucket: 'AVAILABLE' as const };
    const sides = { sellAmount: 1000n, sellCurrency: 'USD', buyAmount: 1502n, buyCurrency: 'JPY' };
    expect(plan.ok && twoLegDebitSpec(plan.value, 'pay_1', 'pst_1', credit, positions)).toEqual(
      fxPaymentDebitSpec('pay_1', 'pst_1', payerId, credit, sides, positions),
    );
    // Another's quote is no quote of the caller's; the payee in another currency than the quote buys is a mismatch.
    expect(
      planPayment(request, { kind: 'FX', quoteId: quote.id }, payer, {
        ...facts([payer, yenPayee], quote),
        callerId: 'mallory',
      }),
    ).toMatchObject({ ok: false, error: { kind: 'InvalidInput', field: 'fxQuoteId' } });
    expect(planPayment(request, { kind: 'FX', quoteId: quote.id }, payer, facts([payer, payee], quote))).toMatchObject({
      ok: false,
      error: { kind: 'FxQuoteMismatch', field: 'payeeAccountId' },
    });
  });

  it('refuses a payee in another currency without a quote, and one not found', () => {
    const yenPayee = account(payeeId, 'bob', 'JPY');
    expect(planPayment(request, { kind: 'TWO_LEGS' }, payer, facts([payer, yenPayee]))).toMatchObject({
      ok: false,
      error: { kind: 'CurrencyMismatch', accountId: payeeId },
    });
    expect(planPayment(request, { kind: 'TWO_LEGS' }, payer, facts([payer]))).toMatchObject({
      ok: false,
      error: { kind: 'AccountNotFound', accountId: payeeId },
    });
  });
});
