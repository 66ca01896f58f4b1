import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, type Replica, type Stack } from '../../test/support/stack';
import { testRedisUrl, token, unique } from '../../test/support/env';
import { subscribe, type BalanceEvent, type Subscription } from '../../test/support/ws';
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
 * Several gateways and account subgraphs over one ledger. The stack and one replica take
 * ledger hints from the real Redis and poll only every 20 s, so events that arrive within
 * seconds prove the hints crossed over; a second replica has no Redis and polls the shards.
 */
const redisUrl = testRedisUrl();
/** So slow that only a hint can explain an event arriving within the tests' waits. */
const safetyPollMs = 20_000;
const hintWaitMs = 5_000;

let stack: Stack;
let hinted: Replica;
let polling: Replica;
let operator: string;

beforeAll(async () => {
  stack = await startStack({ hintsRedisUrl: redisUrl, feed: { redisUrl, pollIntervalMs: safetyPollMs } });
  hinted = await stack.addReplica();
  polling = await stack.addReplica({ feed: { redisUrl: null, pollIntervalMs: 50 } });
  operator = await token(unique('operator'), 'operator');
});

afterAll(async () => {
  await stack.stop();
});

function sequences(subscription: Subscription, after: number): number[] {
  return subscription.events.filter((e) => e.sequence > after).map((e) => e.sequence);
}

describe('balanceChanged across replicas', () => {
  it('delivers payments made through one gateway to subscribers on every other', async () => {
    const ownerId = unique('replicated');
    const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
    const payers = await fundedPayers(stack.gatewayUrl, operator, 4);
    const customer = `Bearer ${await token(ownerId, 'customer')}`;
    const subscribers = [stack.gatewayWsUrl, hinted.gatewayWsUrl, polling.gatewayWsUrl].map((url) =>
      subscribe(url, { authorization: customer, query: balanceChanged, variables: { accountId: payee } }),
    );
    for (const subscriber of subscribers)
      await untilLive(subscriber, () => deposit(stack.gatewayUrl, operator, payee, 1n));
    // One marker (the only deposit of 2) every subscriber must see: from here on all are live.
    await deposit(hinted.gatewayUrl, operator, payee, 2n);
    const isMarker = (e: BalanceEvent) => e.entry.amount === '2';
    await Promise.all(subscribers.map((s) => s.waitFor(() => s.events.some(isMarker), 'the marker', hintWaitMs)));
    const marker = subscribers[0]!.events.find(isMarker)!.sequence;
    for (const subscriber of subscribers) expect(subscriber.events.find(isMarker)!.sequence).toBe(marker);

    const total = 40;
    const gateways = [stack.gatewayUrl, hinted.gatewayUrl, polling.gatewayUrl];
    await inParallel(total, 8, (i) =>
      pay(gateways[i % gateways.length]!, operator, payers[i % payers.length]!, payee, 5n),
    );
    await Promise.all(
      subscribers.map((s, i) =>
        s.waitFor(() => sequences(s, marker).length >= total, `subscriber ${i} to see every payment`, hintWaitMs),
      ),
    );
    for (const subscriber of subscribers) {
      expect(sequences(subscriber, marker)).toEqual(Array.from({ length: total }, (_, i) => marker + 1 + i));
      expect(subscriber.error).toBeNull();
    }
    const last = (s: Subscription) => s.events.at(-1)!;
    expect(subscribers.map((s) => last(s).account.balance.total)).toEqual(
      subscribers.map(() => last(subscribers[0]!).entry.balanceAfter),
    );
    await Promise.all(subscribers.map((s) => s.close()));
  });

  it('carries a stream across a restart of the account subgraph without the client noticing', async () => {
    const ownerId = unique('restart');
    const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
    const payers = await fundedPayers(stack.gatewayUrl, operator, 2);
    const subscriber = subscribe(polling.gatewayWsUrl, {
      authorization: `Bearer ${await token(ownerId, 'customer')}`,
      query: balanceChanged,
      variables: { accountId: payee },
    });
    const live = await untilLive(subscriber, () => deposit(stack.gatewayUrl, operator, payee, 1n));

    const total = 60;
    let restarted = false;
    const payments = inParallel(total, 4, async (i) => {
      await pay(stack.gatewayUrl, operator, payers[i % payers.length]!, payee, 7n);
      if (i === 20 && !restarted) {
        restarted = true;
        await polling.restartAccount();
      }
    });
    await payments;
    expect(restarted).toBe(true);
    await subscriber.waitFor(
      () => sequences(subscriber, live.sequence).length >= total,
      'every payment across the restart',
      10_000,
    );
    expect(sequences(subscriber, live.sequence)).toEqual(
      Array.from({ length: total }, (_, i) => live.sequence + 1 + i),
    );
    expect(subscriber.error).toBeNull();
    expect(subscriber.closeCode).toBeNull();
    await subscriber.close();
  });
});
