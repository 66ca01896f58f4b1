import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../../../../test/support/env';
import { moneyKit, type MoneyKit } from '../../../../test/support/money';
import { startStack, type Stack } from '../../../../test/support/stack';
import {
  fastDispatch,
  gapFree,
  madeEndpoint,
  sequencesOf,
  startReceiver,
  waitFor,
  type Receiver,
  partnerWithAccounts,
} from '../support/webhooks';

/**
 * With Redis the dispatcher is woken by ledger hints and polls only slowly: here the safety poll
 * is a minute, so an event that arrives within seconds was sent because a hint (or a hand-back)
 * woke its shard — and one whose hint is never published still arrives, by the safety poll.
 * The payer's event of a cross-shard payment waits for the payment's record to finish, which no
 * hint announces: its shard passes again at intervalMs while a stream is behind.
 */
const hintWaitMs = 10_000;

describe('webhook dispatcher woken by ledger hints', () => {
  let stack: Stack;
  let kit: MoneyKit;
  let hooks: Receiver;
  beforeAll(async () => {
    const redisUrl = testRedisUrl();
    stack = await startStack({
      hintsRedisUrl: redisUrl,
      webhooks: { dispatcher: true, redisUrl, settings: { ...fastDispatch, safetyIntervalMs: 60_000 } },
    });
    kit = await moneyKit(stack);
    hooks = await startReceiver();
  });
  afterAll(async () => {
    await hooks?.close();
    await stack?.stop();
  });

  it('delivers each payment within seconds though the shards are polled once a minute, in order, the payer of a cross-shard one too', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hints');
    const { secret } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hooks.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer, payee],
    });
    hooks.verifyWith(secret);
    // The refresh learns of the endpoint; the shards' passes are then a minute apart, and hints
    // flow once the stack publishes and the dispatcher listens.
    await Promise.all([stack.dispatcher!.refreshed(), stack.dispatcher!.subscribed, stack.hintsReady()]);
    for (let i = 1; i <= 5; i++) {
      const started = Date.now();
      await kit.paid(kit.operator, { payer, payee, amount: String(100 + i) });
      await waitFor(
        `payment ${i}'s events`,
        () => hooks.received.length,
        (n) => n >= 2 * i,
        hintWaitMs,
      );
      expect(Date.now() - started).toBeLessThan(hintWaitMs);
    }
    expect(sequencesOf(hooks.received, payee)).toEqual([1, 2, 3, 4, 5]);
    // The deposit came before the registration.
    expect(sequencesOf(hooks.received, payer)).toEqual([2, 3, 4, 5, 6]);
  });
});

describe('webhook dispatcher whose hints are lost', () => {
  let stack: Stack;
  let kit: MoneyKit;
  let hooks: Receiver;
  const safetyIntervalMs = 500;
  beforeAll(async () => {
    // Subscribed to Redis, but nothing publishes: every hint is lost.
    stack = await startStack({
      webhooks: { dispatcher: true, redisUrl: testRedisUrl(), settings: { ...fastDispatch, safetyIntervalMs } },
    });
    kit = await moneyKit(stack);
    hooks = await startReceiver();
  });
  afterAll(async () => {
    await hooks?.close();
    await stack?.stop();
  });

  it('still delivers every event, by the safety poll', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hints');
    const { secret } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hooks.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer, payee],
    });
    hooks.verifyWith(secret);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => kit.paid(kit.operator, { payer, payee, amount: String(100 + i) })),
    );
    await waitFor(
      '10 events',
      () => hooks.received.length,
      (n) => n >= 10,
    );
    for (const account of [payer, payee]) expect(gapFree(sequencesOf(hooks.received, account)), account).toBe(true);
    expect(hooks.received).toHaveLength(10);
  });
});
