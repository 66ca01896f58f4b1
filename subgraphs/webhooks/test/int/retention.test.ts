import { describe, expect, it } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import type { MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import { movableClock } from '../../../../test/support/clock';
import {
  fastDispatch,
  madeEndpoint,
  storedOf,
  waitFor,
  webhookDocs,
  useWebhookStack,
  type WebhookStack,
} from '../support/webhooks';

/**
 * Retention: finished deliveries (SUCCEEDED, FAILED) are purged once their event is older than
 * the retention (WEBHOOK_DELIVERY_RETENTION_MS, shortened here); a PENDING one stays however old.
 */
let stack: Stack;
let kit: MoneyKit;
let receiver: WebhookStack['receiver'];
const retentionMs = 3_000;
const purgeIntervalMs = 200;
/** The dispatcher's clock: real until the test moves it past a pending delivery's retention. */
const clock = movableClock();
useWebhookStack(
  { webhooks: { dispatcher: true, now: clock.now, settings: { ...fastDispatch, retentionMs, purgeIntervalMs } } },
  (started) => ({ stack, kit, receiver } = started),
);

describe('webhook delivery retention', () => {
  it('purges delivered and failed deliveries past the retention and keeps pending ones', async () => {
    const partner = unique('p-keep');
    const bearer = await token(partner, 'partner');
    const [healthyPayer, retriedPayer, payee] = [
      await kit.open(partner),
      await kit.open(partner),
      await kit.open(partner),
    ];
    await kit.fund(healthyPayer, '100');
    await kit.fund(retriedPayer, '100');
    const healthy = await receiver();
    const failing = await receiver(() => 500);
    const delivered = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: healthy.url,
      eventTypes: ['balance.changed'],
      accountIds: [healthyPayer],
    });
    const retried = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: failing.url,
      eventTypes: ['balance.changed'],
      accountIds: [retriedPayer],
    });
    await kit.paid(kit.operator, { payer: healthyPayer, payee, amount: '1' });
    await kit.paid(kit.operator, { payer: retriedPayer, payee, amount: '1' });
    const started = Date.now();
    const [succeeded] = await waitFor(
      'SUCCEEDED',
      async () => (await storedOf(stack.shards, delivered.id)).deliveries,
      (rows) => rows[0]?.status === 'SUCCEEDED',
    );
    const [pending] = await waitFor(
      'a retried attempt',
      async () => (await storedOf(stack.shards, retried.id)).deliveries,
      (rows) => (rows[0]?.attempts ?? 0) >= 1,
    );
    expect(pending!.status).toBe('PENDING');
    // Still within the retention: listed.
    expect(Date.now() - succeeded!.createdAt.getTime()).toBeLessThan(retentionMs);
    const listed = await gql(stack.gatewayUrl, webhookDocs.read, { id: delivered.id }, bearer);
    expect(listed.data!.webhookEndpoint.deliveries.edges).toHaveLength(1);

    await waitFor(
      'the purge',
      async () => (await storedOf(stack.shards, delivered.id)).deliveries,
      (rows) => rows.length === 0,
      15_000,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(retentionMs - 1_000);
    const after = await gql(stack.gatewayUrl, webhookDocs.read, { id: delivered.id }, bearer);
    expect(after.data!.webhookEndpoint.deliveries.edges).toEqual([]);
    // Older than the retention too, by a few purges, but still being retried: kept.
    clock.advanceTo(new Date(pending!.createdAt.getTime() + retentionMs + 5 * purgeIntervalMs));
    await stack.dispatcher!.purge();
    const kept = (await storedOf(stack.shards, retried.id)).deliveries;
    expect(kept.map((d) => [d.id, d.status])).toEqual([[pending!.id, 'PENDING']]);

    // Once it ends FAILED (the endpoint disabled here), it goes at the next purge.
    await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: retried.id } }, bearer);
    await waitFor(
      'the failed one purged',
      async () => (await storedOf(stack.shards, retried.id)).deliveries,
      (rows) => rows.length === 0,
      15_000,
    );
  });
});
