import { describe, it, expect } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * What a party to a payment sees of the other parties' accounts (issue 23, item 6): their id,
 * type, currency and status, never their owner or money. Tried as new users would, with two
 * customer tokens: each pays the other, then reads the payment and every leg, field by field.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const identity = 'id type currency ownerId status';
const fieldDocs: Record<string, string> = {
  identity: `query P($id: ID!) { payment(id: $id) { payer { ${identity} } payee { ${identity} } legs { role account { ${identity} } } } }`,
  balance:
    'query P($id: ID!) { payment(id: $id) { payer { id balance { available } } payee { id balance { available } } legs { account { id balance { available } } } } }',
  entries:
    'query P($id: ID!) { payment(id: $id) { payer { id entries(first: 1) { edges { cursor } } } payee { id entries(first: 1) { edges { cursor } } } } }',
  balanceAt:
    'query P($id: ID!, $at: DateTime!) { payment(id: $id) { payer { id balanceAt(at: $at) { total } } payee { id balanceAt(at: $at) { total } } } }',
  statement:
    'query P($id: ID!, $d: Date!) { payment(id: $id) { payer { id statement(from: $d, to: $d) { closing } } payee { id statement(from: $d, to: $d) { closing } } } }',
};

describe("a counterparty's account, as a party to a payment sees it", () => {
  it('shows id, type, currency and status of the other legs and never their owner, balance or history', async () => {
    const alice = unique('alice');
    const bob = unique('bob');
    const [aliceToken, bobToken] = await Promise.all([token(alice, 'customer'), token(bob, 'customer')]);
    const aliceAccount = await kit.open(alice);
    const bobAccount = await kit.open(bob);
    const carol = await kit.open(unique('carol'));
    await kit.fund(aliceAccount, '1000');
    const paid = await gql(
      stack.gatewayUrl,
      `mutation Pay($input: CreatePaymentInput!) { createPayment(input: $input) { __typename ... on Payment { id status } } }`,
      {
        input: {
          idempotencyKey: unique('cp'),
          payerAccountId: aliceAccount,
          payeeAccountId: bobAccount,
          amount: '300',
          currency: 'USD',
          splits: [{ accountId: carol, amount: '100' }],
        },
      },
      aliceToken,
    );
    expect(paid.data!.createPayment.status).toBe('SUCCEEDED');
    const id = paid.data!.createPayment.id as string;
    const vars = { id, at: new Date().toISOString(), d: new Date().toISOString().slice(0, 10) };

    for (const [reader, mine] of [
      [aliceToken, aliceAccount],
      [bobToken, bobAccount],
    ] as const) {
      const seen = await gql(stack.gatewayUrl, fieldDocs.identity!, vars, reader);
      expect(seen.errors).toBeUndefined();
      const accounts = [
        seen.data!.payment.payer,
        seen.data!.payment.payee,
        ...seen.data!.payment.legs.map((l: { account: unknown }) => l.account),
      ];
      for (const account of accounts) {
        expect(account).toMatchObject({ type: 'PERSONAL', currency: 'USD', status: 'ACTIVE' });
        if (account.id !== mine)
          expect(account, `${account.id} read by the owner of ${mine}`).toMatchObject({ ownerId: null });
      }
      expect(accounts.find((a) => a.id === mine).ownerId).toBe(reader === aliceToken ? alice : bob);
      expect(seen.data!.payment.legs.map((l: { account: { id: string } }) => l.account.id)).toEqual([
        aliceAccount,
        bobAccount,
        carol,
      ]);

      for (const field of ['balance', 'entries', 'balanceAt', 'statement']) {
        const answer = await gql(stack.gatewayUrl, fieldDocs[field]!, vars, reader);
        const forbidden = (answer.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN');
        // The reader's own account answers; every other account's field is FORBIDDEN and null.
        expect(forbidden.length, `${field} as the owner of ${mine}`).toBe(field === 'balance' ? 3 : 1);
        const payment = answer.data!.payment;
        const own = payment.payer.id === mine ? payment.payer : payment.payee;
        const other = payment.payer.id === mine ? payment.payee : payment.payer;
        expect(own[field], field).not.toBeNull();
        expect(other[field], field).toBeNull();
        if (field === 'balance') {
          for (const leg of payment.legs) expect(leg.account.balance === null).toBe(leg.account.id !== mine);
        }
      }
    }
    // An operator sees everything.
    const operatorView = await gql(stack.gatewayUrl, fieldDocs.identity!, vars, kit.operator);
    expect(operatorView.data!.payment.payee).toMatchObject({ ownerId: bob, status: 'ACTIVE' });
  });
});
