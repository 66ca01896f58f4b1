import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, type Replica, type Stack } from '../../test/support/stack';
import { token, unique } from '../../test/support/env';
import { subscribe } from '../../test/support/ws';
import {
  balanceChanged,
  deposit,
  inParallel,
  openAccount,
  pay,
  untilLive,
  fundedPayers,
} from '../../test/support/balance-events';

/**
 * How the gateway serves a subscription, against the in-process stack and real MySQL: forwarded
 * to the account subgraph when that subgraph alone serves the selection, page by page through
 * the gateway's query execution otherwise; and a forwarded stream whose client falls pageSize
 * events behind is dropped and taken up again after its last event, without a gap or a repeat.
 */
let stack: Stack;
let operator: string;
/** A gateway that holds at most 2 events per subscription, so that a burst overruns it. */
let small: Replica;

beforeAll(async () => {
  stack = await startStack();
  operator = await token(unique('operator'), 'operator');
  small = await stack.addReplica({ subscriptions: { pageSize: 2 } });
});

afterAll(async () => {
  await stack.stop();
});

describe('serving balanceChanged', () => {
  it("forwards a subscription of account fields and reads one with another subgraph's field page by page", async () => {
    const ownerId = unique('modes');
    const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
    const authorization = `Bearer ${await token(ownerId, 'customer')}`;
    const before = small.streams();
    const forwarded = subscribe(small.gatewayWsUrl, {
      authorization,
      query: balanceChanged,
      variables: { accountId: payee },
    });
    await untilLive(forwarded, () => deposit(stack.gatewayUrl, operator, payee, 1n));
    expect(small.streams()).toMatchObject({ forwarded: before.forwarded + 1, paged: before.paged });
    const withPayment =
      'subscription($accountId: ID!) { balanceChanged(accountId: $accountId) { cursor sequence entry { id payment { id } } } }';
    const paged = subscribe(small.gatewayWsUrl, { authorization, query: withPayment, variables: { accountId: payee } });
    await untilLive(paged, () => deposit(stack.gatewayUrl, operator, payee, 1n));
    expect(small.streams()).toMatchObject({ forwarded: before.forwarded + 1, paged: before.paged + 1 });
    await forwarded.close();
    await paged.close();
  });

  it('takes a forwarded stream up again after its last event when the client falls pageSize behind: no gap, no repeat', async () => {
    const ownerId = unique('burst');
    const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
    const payers = await fundedPayers(stack.gatewayUrl, operator, 4);
    const subscription = subscribe(small.gatewayWsUrl, {
      authorization: `Bearer ${await token(ownerId, 'customer')}`,
      query: balanceChanged,
      variables: { accountId: payee },
    });
    const live = await untilLive(subscription, () => deposit(stack.gatewayUrl, operator, payee, 1n));
    const pausesBefore = small.streams().forwardPauses;
    // The client reads nothing for a while: the events wait in the gateway, then in the ledger.
    subscription.socket()!.pause();
    const total = 30;
    await inParallel(total, 8, (i) => pay(stack.gatewayUrl, operator, payers[i % payers.length]!, payee, 1n));
    await subscription.waitFor(
      () => small.streams().forwardPauses > pausesBefore,
      'the gateway to drop the upstream stream',
    );
    subscription.socket()!.resume();
    await subscription.waitFor(
      () => subscription.events.filter((e) => e.sequence > live.sequence).length >= total,
      'every event',
    );
    const sequences = subscription.events.filter((e) => e.sequence > live.sequence).map((e) => e.sequence);
    expect(sequences).toEqual(Array.from({ length: total }, (_, i) => live.sequence + 1 + i));
    expect(subscription.error).toBeNull();
    await subscription.close();
  });
});
