import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../test/support/stack';
import { errorsOf, subscribe } from '../../test/support/ws';
import { token } from '../../test/support/env';
import { contractOperation, gql } from '../../test/support/graphql';
import { unique } from '../../test/support/env';

/** Subscriptions over graphql-ws meet the same operation limits as queries over HTTP. */
let stack: Stack;
let operator: string;
let accountId: string;

beforeAll(async () => {
  stack = await startStack();
  operator = await token('operator', 'operator');
  accountId = (await gql(stack.gatewayUrl, contractOperation('OpenAccount'), { input: { ownerId: unique('lim'), type: 'PERSONAL', currency: 'USD' } }, operator)).data!.openAccount.id;
});
afterAll(async () => stack?.stop());

describe('subscription limits', () => {
  it('refuses a subscription with too many aliases before it starts', async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `c${i}: cursor`).join(' ');
    const sub = subscribe(stack.gatewayWsUrl, {
      authorization: `Bearer ${operator}`,
      query: `subscription($id: ID!) { balanceChanged(accountId: $id) { ${aliases} } }`,
      variables: { id: accountId },
    });
    try {
      await sub.waitFor(() => sub.error !== null && sub.error !== undefined, 'the refusal');
      expect(errorsOf(sub).map((e) => e.extensions?.code)).toEqual(['TOO_MANY_ALIASES']);
      expect(sub.events).toHaveLength(0);
    } finally {
      await sub.close();
    }
  });

  it('still accepts the contract subscription', async () => {
    const sub = subscribe(stack.gatewayWsUrl, { authorization: `Bearer ${operator}`, query: contractOperation('BalanceChanged'), variables: { accountId } });
    try {
      await gql(stack.gatewayUrl, contractOperation('Deposit'), { input: { idempotencyKey: unique('d'), accountId, amount: '5', currency: 'USD' } }, operator);
      await sub.waitFor(() => sub.events.length === 1, 'the deposit event');
      expect(sub.events[0]!.entry.amount).toBe('5');
    } finally {
      await sub.close();
    }
  });
});
