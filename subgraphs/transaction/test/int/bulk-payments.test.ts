import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { mergeStats } from '@paygraph/shared/ledger/engine/batcher';

/** createPayments: many payments per request, one result per input, each idempotent on its own key. */
const bulkDoc = `mutation Bulk($inputs: [CreatePaymentInput!]!) {
  createPayments(inputs: $inputs) {
    __typename
    ... on Payment { id status amount payer { id } payee { id } }
    ... on UserError { code message }
  }
}`;

let stack: Stack;
let operator: string;
const q = (doc: string, variables: Record<string, unknown>, as = operator) => gql(stack.gatewayUrl, doc, variables, as);

async function funded(owner: string, amount: string): Promise<string> {
  const id = (
    await q(contractOperation('OpenAccount'), { input: { ownerId: owner, type: 'PERSONAL', currency: 'USD' } })
  ).data!.openAccount.id;
  if (amount === '0') return id;
  const d = await q(contractOperation('Deposit'), {
    input: { idempotencyKey: unique('dep'), accountId: id, amount, currency: 'USD' },
  });
  expect(d.data!.deposit.__typename).toBe('Deposit');
  return id;
}

async function available(id: string): Promise<bigint> {
  return BigInt((await q(contractOperation('GetAccount'), { id })).data!.account.balance.available);
}

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
});
afterAll(async () => stack?.stop());

describe('createPayments', () => {
  it('answers 1000 payments in order, in few transactions, each exactly once', async () => {
    const payers = await Promise.all(Array.from({ length: 20 }, () => funded(unique('bulk'), '100000')));
    const payees = await Promise.all(Array.from({ length: 20 }, () => funded(unique('bulk'), '0')));
    const inputs = Array.from({ length: 1000 }, (_, i) => ({
      idempotencyKey: unique(`bulk-${i}`),
      payerAccountId: payers[i % 20],
      payeeAccountId: payees[(i * 7) % 20],
      amount: String(1 + (i % 50)),
      currency: 'USD',
    }));
    const before = stack.shards.all.map((s) => mergeStats(s).batches);
    const first = await q(bulkDoc, { inputs });
    const batches = stack.shards.all.reduce((n, s, i) => n + mergeStats(s).batches - before[i]!, 0);
    const results = first.data!.createPayments as Array<{ __typename: string; id: string; amount: string }>;
    expect(results).toHaveLength(1000);
    expect(results.every((r) => r.__typename === 'Payment')).toBe(true);
    expect(results.map((r) => r.amount)).toEqual(inputs.map((i) => i.amount));
    expect(batches).toBeLessThan(1000 / 5);
    const total = inputs.reduce((a, i) => a + BigInt(i.amount), 0n);
    const payerTotal = (await Promise.all(payers.map(available))).reduce((a, b) => a + b, 0n);
    expect(payerTotal).toBe(20n * 100_000n - total);
    // The same request again is a replay of every item: same ids, no money moves.
    const again = await q(bulkDoc, { inputs });
    expect((again.data!.createPayments as Array<{ id: string }>).map((r) => r.id)).toEqual(results.map((r) => r.id));
    expect((await Promise.all(payers.map(available))).reduce((a, b) => a + b, 0n)).toBe(payerTotal);
  });

  it('answers each item on its own: refusals, reused keys and successes side by side', async () => {
    const payer = await funded(unique('bulk'), '1000');
    const payee = await funded(unique('bulk'), '0');
    const key = unique('dup');
    const results = (
      await q(bulkDoc, {
        inputs: [
          { idempotencyKey: unique('a'), payerAccountId: payer, payeeAccountId: payee, amount: '100', currency: 'USD' },
          {
            idempotencyKey: unique('b'),
            payerAccountId: payer,
            payeeAccountId: payee,
            amount: '5000',
            currency: 'USD',
          },
          { idempotencyKey: unique('c'), payerAccountId: payer, payeeAccountId: payer, amount: '1', currency: 'USD' },
          {
            idempotencyKey: unique('d'),
            payerAccountId: payer,
            payeeAccountId: payee,
            amount: '1000000000000001',
            currency: 'USD',
          },
          { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amount: '10', currency: 'USD' },
          { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amount: '11', currency: 'USD' },
        ],
      })
    ).data!.createPayments as Array<{ __typename: string; code?: string }>;
    expect(results.map((r) => r.code ?? r.__typename)).toEqual([
      'Payment',
      'INSUFFICIENT_FUNDS',
      'SAME_ACCOUNT',
      'INVALID_INPUT',
      'Payment',
      'IDEMPOTENCY_KEY_REUSED',
    ]);
    expect(await available(payee)).toBe(110n);
    // An item whose amount is not an Amount at all (a fraction) makes the request malformed: nothing is paid.
    const malformed = await q(bulkDoc, {
      inputs: [
        { idempotencyKey: unique('e'), payerAccountId: payer, payeeAccountId: payee, amount: '100', currency: 'USD' },
        { idempotencyKey: unique('f'), payerAccountId: payer, payeeAccountId: payee, amount: '1.5', currency: 'USD' },
      ],
    });
    expect(errorCodes(malformed)).toEqual(['BAD_USER_INPUT']);
    expect(await available(payee)).toBe(110n);
  });

  it("refuses the whole request, writing nothing, when one payer is not the caller's", async () => {
    const owner = unique('bulk');
    const mine = await funded(owner, '1000');
    const theirs = await funded(unique('bulk'), '1000');
    const payee = await funded(unique('bulk'), '0');
    const customer = await token(owner, 'customer');
    const r = await q(
      bulkDoc,
      {
        inputs: [
          { idempotencyKey: unique('m'), payerAccountId: mine, payeeAccountId: payee, amount: '1', currency: 'USD' },
          { idempotencyKey: unique('t'), payerAccountId: theirs, payeeAccountId: payee, amount: '1', currency: 'USD' },
        ],
      },
      customer,
    );
    expect(errorCodes(r)).toContain('FORBIDDEN');
    expect(await available(payee)).toBe(0n);
    const tooMany = await q(bulkDoc, {
      inputs: Array.from({ length: 1001 }, () => ({
        idempotencyKey: unique('x'),
        payerAccountId: mine,
        payeeAccountId: payee,
        amount: '1',
        currency: 'USD',
      })),
    });
    expect(errorCodes(tooMany)).toContain('BAD_USER_INPUT');
    expect(await available(mine)).toBe(1000n);
  });
});
