import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { parseSamples, scrape, total, type Sample } from '../../../../test/support/prometheus';
import { token, unique } from '../../../../test/support/env';
import type { MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import {
  fastDispatch,
  madeEndpoint,
  waitFor,
  webhookDocs,
  type Receiver,
  useWebhookStack,
  type WebhookStack,
} from '../support/webhooks';

/**
 * An endpoint's life with short windows: a delivery FAILED once its retry window ends, an
 * endpoint failing for the whole disable window disabled with its reason, a rotated secret
 * signing beside the old one; and the subgraph's health and metrics.
 */
let stack: Stack;
let kit: MoneyKit;
let newReceiver: WebhookStack['receiver'];
const windowMs = 1_000;
const disableAfterFailingMs = 3_000;
useWebhookStack(
  {
    webhooks: {
      dispatcher: true,
      settings: { ...fastDispatch, retry: { ...fastDispatch.retry, windowMs }, disableAfterFailingMs },
    },
  },
  (started) => ({ stack, kit, receiver: newReceiver } = started),
);

/**
 * The attempts counters are the process's (its metrics registry), and files before this one in the
 * same process (the shared project) have counted into them: the test reads what this file added.
 */
const attemptsSeries = 'paygraph_webhook_attempts_total';
const attemptOutcomes = ['succeeded', 'retrying'] as const;
let samplesBefore: Sample[];

beforeAll(async () => {
  samplesBefore = await scrape(stack.subgraphUrls.webhooks.replace(/\/graphql$/, '/metrics'));
});

async function setUp(answer?: Receiver['answer']) {
  const partner = unique('p-life');
  const payer = await kit.open(partner);
  const payee = await kit.open(partner);
  await kit.fund(payer, '10000');
  const receiver = await newReceiver(answer);
  return { bearer: await token(partner, 'partner'), payer, payee, receiver };
}

describe('webhook endpoints over time', () => {
  it('fail a delivery after its retry window, and disable an endpoint failing all along, with a readable reason', async () => {
    const { bearer, payer, payee, receiver } = await setUp(() => 500);
    const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: receiver.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    await kit.paid(kit.operator, { payer, payee, amount: '1' });
    const endpoint = await waitFor(
      'DISABLED',
      async () => (await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer)).data?.webhookEndpoint,
      (e) => e?.status === 'DISABLED',
      20_000,
    );
    expect(endpoint.disabledReason).toMatch(/^every attempt failed since \d{4}-\d\d-\d\dT\S+Z/);
    const [delivery] = endpoint.deliveries.edges.map((e: { node: Record<string, unknown> }) => e.node);
    expect(delivery).toMatchObject({ status: 'FAILED', lastStatusCode: 500, nextAttemptAt: null });
    expect(delivery.attempts).toBeGreaterThan(1);
  });

  it('sign with the new and the old secret for the overlap after a rotation', async () => {
    const { bearer, payer, payee, receiver } = await setUp();
    const { id, secret: old } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: receiver.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    const rotated = await gql(stack.gatewayUrl, webhookDocs.rotate, { input: { endpointId: id } }, bearer);
    const fresh = rotated.data!.rotateWebhookSecret.secret as string;
    // The dispatcher picks the new secret up at its next refresh.
    await stack.dispatcher!.refreshed();
    await kit.paid(kit.operator, { payer, payee, amount: '1' });
    await waitFor(
      'an event',
      () => receiver.received.length,
      (n) => n >= 1,
    );
    const [event] = receiver.received;
    const headers = {
      'webhook-id': event!.id,
      'webhook-timestamp': event!.timestamp,
      'webhook-signature': event!.signature,
    };
    expect(event!.signature.split(' ')).toHaveLength(2);
    expect(new Webhook(old).verify(event!.body, headers)).toMatchObject({ type: 'balance.changed' });
    expect(new Webhook(fresh).verify(event!.body, headers)).toMatchObject({ type: 'balance.changed' });
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(event!.body, headers)).toThrow();
  });

  it('answers health and serves its metrics: attempts by outcome, queue depth, age of the oldest pending event', async () => {
    const base = stack.subgraphUrls.webhooks.replace(/\/graphql$/, '');
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ service: 'webhooks', status: 'ready' });
    const metrics = await waitFor(
      'queue metrics',
      async () => (await fetch(`${base}/metrics`)).text(),
      (text) => text.includes('paygraph_webhook_queue_depth{'),
    );
    for (const series of [
      'paygraph_webhook_oldest_pending_seconds{',
      'paygraph_webhook_commit_to_delivery_seconds_bucket',
    ]) {
      expect(metrics, series).toContain(series);
    }
    // This file's deliveries: the failing endpoint's retries and the rotated endpoint's successes.
    const samples = parseSamples(metrics);
    for (const outcome of attemptOutcomes) {
      expect(total(samples, attemptsSeries, { outcome }), outcome).toBeGreaterThan(
        total(samplesBefore, attemptsSeries, { outcome }),
      );
    }
  });
});
