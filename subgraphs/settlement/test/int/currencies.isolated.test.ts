import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '@paygraph/shared/ids';
import { addDays } from '@paygraph/shared/business-date';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { captureHold, createHold, voidHold } from '../../../../test/support/holds';
import { feeOf } from '../../src/domain/fees';
import { systemKindTotal } from '../../../../test/support/ledger';

/**
 * Accounts in currencies other than USD, end to end (issue 24, "Currencies"): each currency's
 * amounts are integer minor units of that currency with ISO's exponent, and deposits,
 * withdrawals, holds, payments, statements, settlement (a EUR merchant settles in EUR, its fee
 * in EUR) and reconciliation work per currency. Own far-future dates, so no other run mixes in.
 */
const runDay = (Math.floor(Date.now() / 1000) % 1_500_000) + 7;
const dayD = addDays('2200-01-01', runDay);
const dayNext = addDays(dayD, 1);
let clock = new Date(`${dayD}T12:00:00Z`);

let stack: Stack;
let operator: string;
const q = (doc: string, variables: Record<string, unknown> = {}, as = operator) =>
  gql(stack.gatewayUrl, doc, variables, as);

async function open(type: 'PERSONAL' | 'MERCHANT', currency: string): Promise<string> {
  const r = await q(contractOperation('OpenAccount'), { input: { ownerId: unique('cur'), type, currency } });
  expect(r.data!.openAccount, JSON.stringify(r)).toMatchObject({ __typename: 'Account', currency, type });
  return r.data!.openAccount.id as string;
}

async function balance(id: string): Promise<{ available: string; frozen: string; pending: string; total: string }> {
  return (await q(contractOperation('GetAccount'), { id })).data!.account.balance;
}

function input(accountId: string, amount: string, currency: string) {
  return { input: { idempotencyKey: unique('k'), accountId, amount, currency } };
}

async function pay(payer: string, payee: string, amount: string, currency: string): Promise<string> {
  const r = await q(contractOperation('CreatePayment'), {
    input: { idempotencyKey: unique('pay'), payerAccountId: payer, payeeAccountId: payee, amount, currency },
  });
  expect(r.data!.createPayment, JSON.stringify(r)).toMatchObject({
    __typename: 'Payment',
    status: 'SUCCEEDED',
    amount,
    currency,
  });
  return r.data!.createPayment.id as string;
}

function feeIncome(currency: string): Promise<bigint> {
  return systemKindTotal(stack.shards, 'FEE_INCOME', currency);
}

beforeAll(async () => {
  stack = await startStack({ now: () => clock });
  operator = await token('operator', 'operator');
});

afterAll(async () => {
  await stack?.stop();
});

describe('accounts in any ISO 4217 currency', () => {
  it('opens JPY, KWD, CLF and EUR accounts and moves whole minor units of each', async () => {
    for (const [currency, amount] of [
      ['JPY', '15025'],
      ['KWD', '1234'],
      ['CLF', '98765'],
      ['EUR', '1999'],
    ] as const) {
      const id = await open('PERSONAL', currency);
      const dep = await q(contractOperation('Deposit'), input(id, amount, currency));
      expect(dep.data!.deposit).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED', amount, currency });
      // A deposit in another currency than the account's is still refused.
      const other = await q(contractOperation('Deposit'), input(id, amount, currency === 'EUR' ? 'USD' : 'EUR'));
      expect(other.data!.deposit.code).toBe('CURRENCY_MISMATCH');
      const wdr = await q(contractOperation('Withdraw'), input(id, '1', currency));
      expect(wdr.data!.withdraw).toMatchObject({
        __typename: 'Withdrawal',
        status: 'SUCCEEDED',
        amount: '1',
        currency,
      });
      expect((await balance(id)).available).toBe(`${BigInt(amount) - 1n}`);
    }
  });

  it('holds, captures and voids in yen, and a yen statement adds up', async () => {
    const payer = await open('PERSONAL', 'JPY');
    const payee = await open('PERSONAL', 'JPY');
    await q(contractOperation('Deposit'), input(payer, '10000', 'JPY'));
    const held = await createHold(stack.gatewayUrl, operator, {
      payer,
      payee,
      amount: '3000',
      key: unique('h'),
      currency: 'JPY',
    });
    expect(held.data!.createHold).toMatchObject({ __typename: 'Hold', status: 'HELD', currency: 'JPY' });
    expect(await balance(payer)).toMatchObject({ available: '7000', frozen: '3000' });
    const captured = await captureHold(stack.gatewayUrl, operator, held.data!.createHold.id, unique('c'), '2500');
    expect(captured.data!.captureHold).toMatchObject({ __typename: 'Payment', amount: '2500' });
    const second = await createHold(stack.gatewayUrl, operator, {
      payer,
      payee,
      amount: '1000',
      key: unique('h'),
      currency: 'JPY',
    });
    expect(
      (await voidHold(stack.gatewayUrl, operator, second.data!.createHold.id, unique('v'))).data!.voidHold.status,
    ).toBe('VOIDED');
    expect(await balance(payer)).toMatchObject({ available: '7500', frozen: '0' });
    expect((await balance(payee)).available).toBe('2500');
    const statement = await q(contractOperation('AccountStatement'), { id: payer, from: dayD, to: dayD });
    const [line] = statement.data!.account.statement;
    expect(line).toMatchObject({ businessDate: dayD, opening: '0', closing: '7500' });
    expect(BigInt(line.credits) - BigInt(line.debits)).toBe(7500n);
  });

  it('settles a EUR merchant in EUR with its fee in EUR; reconciliation and ledgerHealth balance per currency', async () => {
    const merchant = await open('MERCHANT', 'EUR');
    const rate = await q(
      `mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename ... on FeeRate { feeBps } } }`,
      { input: { merchantAccountId: merchant, feeBps: 290 } },
    );
    expect(rate.data!.setMerchantFeeRate.feeBps).toBe(290);
    const amounts = ['1001', '4567', '333'];
    for (const amount of amounts) {
      const payer = await open('PERSONAL', 'EUR');
      await q(contractOperation('Deposit'), input(payer, '10000', 'EUR'));
      await pay(payer, merchant, amount, 'EUR');
    }
    const usdFees = await feeIncome('USD');
    const eurFees = await feeIncome('EUR');
    clock = new Date(`${dayNext}T12:00:00Z`);
    const settled = (
      await q(contractOperation('RunSettlement'), { input: { merchantAccountId: merchant, businessDate: dayD } })
    ).data!.runSettlement;
    const gross = amounts.reduce((a, b) => a + BigInt(b), 0n);
    // Fees are per stripe: the payers landed on random shards, so group the amounts by their stripe.
    const byStripe = new Map<number, bigint>();
    const merchantPayments = (await q(contractOperation('AccountPayments'), { id: merchant })).data!.account.payments
      .edges as Array<{ node: { id: string; amount: string } }>;
    for (const { node } of merchantPayments) {
      const physical = stack.shards.topology.physicalOf[shardOf('payment', node.id)]!;
      byStripe.set(physical, (byStripe.get(physical) ?? 0n) + BigInt(node.amount));
    }
    const fee = [...byStripe.values()].reduce((a, moved) => a + feeOf(moved, 290), 0n);
    expect(settled).toMatchObject({
      __typename: 'Settlement',
      status: 'SETTLED',
      grossAmount: `${gross}`,
      feeAmount: `${fee}`,
      netAmount: `${gross - fee}`,
    });
    expect(settled.merchantAccount.balance).toEqual({ available: `${gross - fee}`, pending: '0' });
    expect(await feeIncome('EUR')).toBe(eurFees + fee);
    expect(await feeIncome('USD')).toBe(usdFees);

    const reconciled = (await q(contractOperation('Reconciliation'), { businessDate: dayD })).data!.reconciliation;
    expect(reconciled).toEqual({ businessDate: dayD, balanced: true, discrepancies: [] });
    const health = (await q(contractOperation('LedgerHealth'))).data!.ledgerHealth;
    expect(health.balanced).toBe(true);
    const currencies = new Set((health.shards as Array<{ currency: string }>).map((s) => s.currency));
    for (const currency of ['EUR', 'JPY', 'KWD', 'CLF']) expect(currencies.has(currency), currency).toBe(true);
  });
});

describe('FX payments to a merchant in another currency', () => {
  const dayF = addDays(dayD, 10);

  it("settle in the merchant's currency what it received, less refunds by the cumulative rule; reconciliation balances", async () => {
    clock = new Date(`${dayF}T12:00:00Z`);
    const set = await q(contractOperation('SetFxRate'), {
      input: { baseCurrency: 'USD', quoteCurrency: 'EUR', rate: '0.92' },
    });
    expect(set.data!.setFxRate.__typename).toBe('FxRate');
    const merchant = await open('MERCHANT', 'EUR');
    await q(`mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename } }`, {
      input: { merchantAccountId: merchant, feeBps: 100 },
    });
    const payer = await open('PERSONAL', 'USD');
    await q(contractOperation('Deposit'), input(payer, '100000', 'USD'));
    const payments: string[] = [];
    for (const [sell, buy] of [
      ['10000', '9200'],
      ['333', '306'],
    ] as const) {
      const made = (
        await q(contractOperation('CreateFxQuote'), {
          input: { sellCurrency: 'USD', buyCurrency: 'EUR', sellAmount: sell },
        })
      ).data!.createFxQuote;
      expect(made).toMatchObject({ __typename: 'FxQuote', sellAmount: sell, buyAmount: buy });
      const paid = await q(contractOperation('CreatePayment'), {
        input: {
          idempotencyKey: unique('fx'),
          payerAccountId: payer,
          payeeAccountId: merchant,
          amount: sell,
          currency: 'USD',
          fxQuoteId: made.id,
        },
      });
      expect(paid.data!.createPayment).toMatchObject({
        __typename: 'Payment',
        status: 'SUCCEEDED',
        amount: sell,
        currency: 'USD',
      });
      payments.push(paid.data!.createPayment.id);
    }
    expect(await balance(merchant)).toMatchObject({ pending: '9506', available: '0' });
    // Refund 100 of the 333 before settlement: the merchant gives back ceil(100 × 306 / 333) = 92 EUR cents
    // (rounded up, in the platform's favour: issue 31).
    const early = await q(contractOperation('RefundPayment'), {
      input: { idempotencyKey: unique('r'), paymentId: payments[1], amount: '100' },
    });
    expect(early.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await balance(merchant)).toMatchObject({ pending: `${9506 - 92}` });

    clock = new Date(`${addDays(dayF, 1)}T12:00:00Z`);
    const settled = (
      await q(contractOperation('RunSettlement'), { input: { merchantAccountId: merchant, businessDate: dayF } })
    ).data!.runSettlement;
    const fee = feeOf(9506n - 92n, 100);
    expect(settled).toMatchObject({
      status: 'SETTLED',
      grossAmount: '9506',
      refundedAmount: '92',
      feeAmount: `${fee}`,
      netAmount: `${9506n - 92n - fee}`,
    });
    expect(await balance(merchant)).toMatchObject({ pending: '0', available: `${9506n - 92n - fee}` });
    // The rest of the 333 after settlement: the merchant gives back 306 − 92 = 214 from available, the payer gets 233
    // USD cents.
    const late = await q(contractOperation('RefundPayment'), {
      input: { idempotencyKey: unique('r'), paymentId: payments[1], amount: '233' },
    });
    expect(late.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await balance(merchant)).toMatchObject({ available: `${9506n - 92n - fee - 214n}` });
    expect((await balance(payer)).available).toBe(`${100000 - 10000}`);
    for (const date of [dayF, addDays(dayF, 1)]) {
      expect((await q(contractOperation('Reconciliation'), { businessDate: date })).data!.reconciliation).toEqual({
        businessDate: date,
        balanced: true,
        discrepancies: [],
      });
    }
    clock = new Date(`${addDays(dayF, 2)}T12:00:00Z`);
    const next = (
      await q(contractOperation('RunSettlement'), {
        input: { merchantAccountId: merchant, businessDate: addDays(dayF, 1) },
      })
    ).data!.runSettlement;
    expect(next).toMatchObject({ grossAmount: '0', refundedAmount: '214' });
    expect((await q(contractOperation('LedgerHealth'))).data!.ledgerHealth.balanced).toBe(true);
  });
});
