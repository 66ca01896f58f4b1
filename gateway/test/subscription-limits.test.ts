import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../test/support/stack';
import { defaultStack } from '../../test/support/default-stack';
import { errorsOf, subscribe } from '../../test/support/ws';
import { token } from '../../test/support/env';
import { contractOperation, gql } from '../../test/support/graphql';
import { untilLive } from '../../test/support/balance-events';
import { unique } from '../../test/support/env';
import WebSocket from 'ws';
import { requestBodyBytesMax } from '@paygraph/shared/limits';

/** Subscriptions over graphql-ws meet the same operation limits as queries over HTTP. */
let stack: Stack;
let operator: string;
let accountId: string;

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
  accountId = (
    await gql(
      stack.gatewayUrl,
      contractOperation('OpenAccount'),
      { input: { ownerId: unique('lim'), type: 'PERSONAL', currency: 'USD' } },
      operator,
    )
  ).data!.openAccount.id;
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

  it('measures an operation with its variables as execution coerces them (a defaulted page size), and refuses ones that do not coerce', async () => {
    const query = `query Paged($n: Int = 100) { accounts(ownerId: "nobody-here", first: $n) { edges { ...Row } } }
      fragment Row on AccountEdge { node { id entries(first: $n) { edges { node { id amount } } } } }`;
    for (const [variables, code] of [
      [{}, 'OPERATION_TOO_COSTLY'],
      [{ n: 'many' }, 'BAD_USER_INPUT'],
    ] as const) {
      const sub = subscribe(stack.gatewayWsUrl, { authorization: `Bearer ${operator}`, query, variables });
      try {
        await sub.waitFor(() => sub.error !== null && sub.error !== undefined, 'the refusal');
        expect(
          errorsOf(sub).map((e) => e.extensions?.code),
          JSON.stringify(variables),
        ).toEqual([code]);
        if (code === 'BAD_USER_INPUT') expect(errorsOf(sub)[0]?.message).toMatch(/^Variable "\$n"/);
        expect(sub.events).toHaveLength(0);
      } finally {
        await sub.close();
      }
    }
  });

  it('still accepts the contract subscription', async () => {
    const sub = subscribe(stack.gatewayWsUrl, {
      authorization: `Bearer ${operator}`,
      query: contractOperation('BalanceChanged'),
      variables: { accountId },
    });
    try {
      // A deposit made before the subscription is live is not streamed (it starts from now, with
      // no cursor): deposit until one arrives, as untilLive does, rather than once and hope.
      const live = await untilLive(sub, () =>
        gql(
          stack.gatewayUrl,
          contractOperation('Deposit'),
          {
            input: { idempotencyKey: unique('d'), accountId, amount: '5', currency: 'USD' },
          },
          operator,
        ),
      );
      expect(live.entry.amount).toBe('5');
      expect(sub.events.map((e) => e.entry.amount).every((amount) => amount === '5')).toBe(true);
      expect(sub.error).toBeNull();
    } finally {
      await sub.close();
    }
  });

  it("closes a socket whose message is larger than a request's body may be, before reading who sent it", async () => {
    // The close code of one raw graphql-transport-ws socket that sends `message` first.
    const closeCodeAfter = (message: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(stack.gatewayWsUrl, 'graphql-transport-ws');
        socket.on('open', () => socket.send(message));
        socket.on('close', (code) => resolve(code));
        socket.on('error', (error) => (error.message.includes('1009') ? undefined : reject(error)));
      });
    const init = (authorization: string) => JSON.stringify({ type: 'connection_init', payload: { authorization } });
    // Within the bound, an unknown token is read and refused (4401, unauthorized).
    expect(await closeCodeAfter(init('Bearer not-a-token'))).toBe(4401);
    // Past it, the frame is refused by its size (1009, message too big): neither buffered whole nor parsed.
    expect(await closeCodeAfter(init(`Bearer ${'x'.repeat(requestBodyBytesMax)}`))).toBe(1009);
  });
});
