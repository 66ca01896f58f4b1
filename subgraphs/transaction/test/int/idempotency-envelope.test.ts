import { describe, it, expect } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { type Answer, type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * Every mutation that takes an idempotency key goes through one envelope
 * (services/idempotency.ts withIdempotencyKey): a replay of a request answers exactly what the
 * first answered, and the same key with another body answers IdempotencyKeyReused and moves
 * nothing. One row per mutation (and per shape of payment), each through the gateway.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const reused = '... on IdempotencyKeyReused { code idempotencyKey }';
const paymentFields = '... on Payment { id status amount currency discountAmount route legs { role amount } }';
const docs = {
  deposit: `mutation D($input: DepositInput!) { deposit(input: $input) { __typename ... on Deposit { id status amount } ${reused} } }`,
  withdraw: `mutation W($input: WithdrawInput!) { withdraw(input: $input) { __typename ... on Withdrawal { id status amount } ${reused} } }`,
  pay: `mutation P($input: CreatePaymentInput!) { createPayment(input: $input) { __typename ${paymentFields} ${reused} } }`,
  payMany: `mutation PM($inputs: [CreatePaymentInput!]!) { createPayments(inputs: $inputs) { __typename ${paymentFields} ${reused} } }`,
  refund: `mutation R($input: RefundPaymentInput!) { refundPayment(input: $input) { __typename ... on Refund { id status amount } ${reused} } }`,
  hold: `mutation H($input: CreateHoldInput!) { createHold(input: $input) { __typename ... on Hold { id status amount } ${reused} } }`,
  capture: `mutation C($input: CaptureHoldInput!) { captureHold(input: $input) { __typename ${paymentFields} ${reused} } }`,
  void: `mutation V($input: VoidHoldInput!) { voidHold(input: $input) { __typename ... on Hold { id status amount } ${reused} } }`,
  campaign: `mutation K($input: CreateCampaignInput!) { createCampaign(input: $input) { __typename ... on Campaign { id percentOffBps } ${reused} } }`,
  setRate: contractOperation('SetFxRate'),
  quote: contractOperation('CreateFxQuote'),
};

/** One mutation's request, the same key with another body, and the field its answer is under. */
interface Case {
  name: string;
  /** Builds the accounts it needs; answers who sends it and the two bodies, both with `key`. */
  setup: (key: string) => Promise<{
    bearer: string;
    doc: string;
    field: string;
    first: Record<string, unknown>;
    other: Record<string, unknown>;
  }>;
}

async function funded(prefix: string, amount = '100000', currency = 'USD'): Promise<{ id: string; bearer: string }> {
  const owner = unique(prefix);
  const id = await kit.open(owner, { currency });
  if (amount !== '0') await kit.fund(id, amount, currency);
  return { id, bearer: await token(owner, 'customer') };
}

async function must(
  doc: string,
  variables: Record<string, unknown>,
  bearer: string,
  field: string,
  typename: string,
): Promise<Record<string, any>> {
  const answer = await gql(stack.gatewayUrl, doc, variables, bearer);
  expect(answer.errors).toBeUndefined();
  expect(answer.data![field].__typename).toBe(typename);
  return answer.data![field];
}

const payment = (payer: string, payee: string, amount: string, key: string, extra: Record<string, unknown> = {}) => ({
  input: { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amount, currency: 'USD', ...extra },
});

const cases: Case[] = [
  {
    name: 'deposit',
    setup: async (key) => {
      const { id } = await funded('env-dep', '0');
      const input = { idempotencyKey: key, accountId: id, amount: '500', currency: 'USD' };
      return {
        bearer: kit.operator,
        doc: docs.deposit,
        field: 'deposit',
        first: { input },
        other: { input: { ...input, amount: '501' } },
      };
    },
  },
  {
    name: 'withdraw',
    setup: async (key) => {
      const { id, bearer } = await funded('env-wdr');
      const input = { idempotencyKey: key, accountId: id, amount: '500', currency: 'USD' };
      return {
        bearer,
        doc: docs.withdraw,
        field: 'withdraw',
        first: { input },
        other: { input: { ...input, amount: '501' } },
      };
    },
  },
  {
    name: 'createPayment (two legs)',
    setup: async (key) => {
      const payer = await funded('env-pay');
      const payee = await funded('env-pay-payee', '0');
      return {
        bearer: payer.bearer,
        doc: docs.pay,
        field: 'createPayment',
        first: payment(payer.id, payee.id, '700', key),
        other: payment(payer.id, payee.id, '701', key),
      };
    },
  },
  {
    name: 'createPayment (splits)',
    setup: async (key) => {
      const payer = await funded('env-split');
      const [payee, split] = await Promise.all([funded('env-split-payee', '0'), funded('env-split-to', '0')]);
      const first = payment(payer.id, payee.id, '1000', key, { splits: [{ accountId: split.id, amount: '300' }] });
      const other = payment(payer.id, payee.id, '1000', key, { splits: [{ accountId: split.id, amount: '301' }] });
      return { bearer: payer.bearer, doc: docs.pay, field: 'createPayment', first, other };
    },
  },
  {
    name: 'createPayment (campaign)',
    setup: async (key) => {
      const [payer, payee, funding] = await Promise.all([
        funded('env-cmp-payer'),
        funded('env-cmp-payee', '0'),
        funded('env-cmp-fund'),
      ]);
      const made = await must(
        docs.campaign,
        { input: { idempotencyKey: unique('cmp'), fundingAccountId: funding.id, percentOffBps: 1000 } },
        kit.operator,
        'createCampaign',
        'Campaign',
      );
      const first = payment(payer.id, payee.id, '1000', key, { campaignId: made.id });
      const other = payment(payer.id, payee.id, '1000', key, { campaignId: made.id, description: 'another' });
      return { bearer: payer.bearer, doc: docs.pay, field: 'createPayment', first, other };
    },
  },
  {
    name: 'createPayment (FX quote)',
    setup: async (key) => {
      await must(
        docs.setRate,
        { input: { baseCurrency: 'USD', quoteCurrency: 'EUR', rate: '0.92' } },
        kit.operator,
        'setFxRate',
        'FxRate',
      );
      const payer = await funded('env-fx');
      const payee = await funded('env-fx-payee', '0', 'EUR');
      const quote = await must(
        docs.quote,
        { input: { sellCurrency: 'USD', buyCurrency: 'EUR', sellAmount: '1000' } },
        payer.bearer,
        'createFxQuote',
        'FxQuote',
      );
      const first = payment(payer.id, payee.id, '1000', key, { fxQuoteId: quote.id });
      const other = payment(payer.id, payee.id, '1000', key, { fxQuoteId: quote.id, description: 'another' });
      return { bearer: payer.bearer, doc: docs.pay, field: 'createPayment', first, other };
    },
  },
  {
    name: 'refundPayment',
    setup: async (key) => {
      const payer = await funded('env-ref');
      const payee = await funded('env-ref-payee', '0');
      const paid = await must(
        docs.pay,
        payment(payer.id, payee.id, '1000', unique('p')),
        payer.bearer,
        'createPayment',
        'Payment',
      );
      const input = { idempotencyKey: key, paymentId: paid.id, amount: '100' };
      return {
        bearer: payee.bearer,
        doc: docs.refund,
        field: 'refundPayment',
        first: { input },
        other: { input: { ...input, amount: '101' } },
      };
    },
  },
  {
    name: 'createHold',
    setup: async (key) => {
      const payer = await funded('env-hold');
      const payee = await funded('env-hold-payee', '0');
      const input = {
        idempotencyKey: key,
        payerAccountId: payer.id,
        payeeAccountId: payee.id,
        amount: '400',
        currency: 'USD',
      };
      return {
        bearer: payer.bearer,
        doc: docs.hold,
        field: 'createHold',
        first: { input },
        other: { input: { ...input, amount: '401' } },
      };
    },
  },
  {
    name: 'captureHold',
    setup: async (key) => {
      const payer = await funded('env-cap');
      const payee = await funded('env-cap-payee', '0');
      const hold = await must(
        docs.hold,
        {
          input: {
            idempotencyKey: unique('h'),
            payerAccountId: payer.id,
            payeeAccountId: payee.id,
            amount: '400',
            currency: 'USD',
          },
        },
        payer.bearer,
        'createHold',
        'Hold',
      );
      const input = { idempotencyKey: key, holdId: hold.id, amount: '300' };
      return {
        bearer: payer.bearer,
        doc: docs.capture,
        field: 'captureHold',
        first: { input },
        other: { input: { ...input, amount: '299' } },
      };
    },
  },
  {
    name: 'voidHold',
    setup: async (key) => {
      const payer = await funded('env-void');
      const payee = await funded('env-void-payee', '0');
      const hold = await must(
        docs.hold,
        {
          input: {
            idempotencyKey: unique('h'),
            payerAccountId: payer.id,
            payeeAccountId: payee.id,
            amount: '400',
            currency: 'USD',
          },
        },
        payer.bearer,
        'createHold',
        'Hold',
      );
      // A void's only field names the hold its key lives with: another body is another request on that hold.
      return {
        bearer: payer.bearer,
        doc: docs.void,
        field: 'voidHold',
        first: { input: { idempotencyKey: key, holdId: hold.id } },
        other: { input: { idempotencyKey: key, holdId: hold.id, amount: '1' }, capture: true },
      };
    },
  },
  {
    name: 'createCampaign',
    setup: async (key) => {
      const funding = await funded('env-camp');
      const input = { idempotencyKey: key, fundingAccountId: funding.id, percentOffBps: 500 };
      return {
        bearer: funding.bearer,
        doc: docs.campaign,
        field: 'createCampaign',
        first: { input },
        other: { input: { ...input, percentOffBps: 501 } },
      };
    },
  },
];

describe('the idempotency envelope', () => {
  for (const c of cases) {
    it(`${c.name}: a replay answers the first result, another body with the key answers IdempotencyKeyReused`, async () => {
      const key = unique('envelope');
      const { bearer, doc, field, first, other } = await c.setup(key);
      const answer = await gql(stack.gatewayUrl, doc, first, bearer);
      expect(answer.errors).toBeUndefined();
      expect(answer.data![field].__typename).not.toBe('IdempotencyKeyReused');
      expect(answer.data![field].id).toEqual(expect.any(String));
      const replay = await gql(stack.gatewayUrl, doc, first, bearer);
      expect(replay).toEqual(answer);
      // voidHold's other body is a capture of the same hold under the void's key.
      const { capture, ...variables } = other as { capture?: boolean; input: unknown };
      const refused: Answer = capture
        ? await gql(stack.gatewayUrl, docs.capture, variables, bearer)
        : await gql(stack.gatewayUrl, doc, variables, bearer);
      expect(refused.errors).toBeUndefined();
      expect(refused.data![capture ? 'captureHold' : field]).toEqual({
        __typename: 'IdempotencyKeyReused',
        code: 'IDEMPOTENCY_KEY_REUSED',
        idempotencyKey: key,
      });
      // The first request's answer still stands for its body.
      expect(await gql(stack.gatewayUrl, doc, first, bearer)).toEqual(answer);
    });
  }

  it('createPayments: each item replays its own first answer, and an item reusing a key with another body answers IdempotencyKeyReused', async () => {
    const payer = await funded('env-bulk');
    const payee = await funded('env-bulk-payee', '0');
    const [k1, k2] = [unique('bulk-a'), unique('bulk-b')];
    const inputs = [payment(payer.id, payee.id, '100', k1).input, payment(payer.id, payee.id, '200', k2).input];
    const first = await gql(stack.gatewayUrl, docs.payMany, { inputs }, payer.bearer);
    expect(first.errors).toBeUndefined();
    expect(first.data!.createPayments.map((r: { __typename: string }) => r.__typename)).toEqual(['Payment', 'Payment']);
    expect(await gql(stack.gatewayUrl, docs.payMany, { inputs }, payer.bearer)).toEqual(first);
    const again = await gql(
      stack.gatewayUrl,
      docs.payMany,
      { inputs: [inputs[0], { ...inputs[1], amount: '201' }] },
      payer.bearer,
    );
    expect(again.errors).toBeUndefined();
    expect(again.data!.createPayments).toEqual([
      first.data!.createPayments[0],
      { __typename: 'IdempotencyKeyReused', code: 'IDEMPOTENCY_KEY_REUSED', idempotencyKey: k2 },
    ]);
    expect(await kit.balance(payee.id)).toMatchObject({ available: '300' });
  });
});
