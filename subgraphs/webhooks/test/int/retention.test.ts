import { describe, expect, it } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import type { MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import { movableClock } from '../../../../test/support/clock';
import { endpointById } from '../../src/db/endpoints';
import { secretRotationOverlapMs } from '../../src/limits';
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
 * A rotated-out secret stays sealed in its endpoint's row for its 24 h overlap, then the erasure
 * worker nulls it (db/endpoints.ts forgetExpiredSecrets, every WEBHOOK_PURGE_INTERVAL_MS).
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

describe('rotated-out webhook secrets', () => {
  it('stay in their row until their 24 h overlap ends, and are erased by the worker after', async () => {
    const partner = unique('p-erase');
    const bearer = await token(partner, 'partner');
    const account = await kit.open(partner);
    const healthy = await receiver();
    const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: healthy.url,
      eventTypes: ['balance.changed'],
      accountIds: [account],
    });
    const shard = stack.shards.of('webhookEndpoint', id);
    const row = async () => (await endpointById(shard.db, id))!;
    expect((await row()).previousSecretSealed).toBeNull();
    const rotatedAt = clock.now().getTime();
    const rotated = await gql(stack.gatewayUrl, webhookDocs.rotate, { input: { endpointId: id } }, bearer);
    expect(rotated.data!.rotateWebhookSecret.__typename).toBe('WebhookEndpoint');
    const sealed = await row();
    expect(sealed.previousSecretSealed).not.toBeNull();
    const until = sealed.previousSecretUntil!.getTime();
    expect(until - rotatedAt).toBeGreaterThanOrEqual(secretRotationOverlapMs - 1_000);
    expect(until - rotatedAt).toBeLessThanOrEqual(secretRotationOverlapMs + 5_000);

    // A minute before its end (the clock moved, not waited for): the erasure leaves it, the overlap still signs with it.
    clock.advanceTo(new Date(until - 60_000));
    await stack.dispatcher!.eraseSecrets();
    expect(await row()).toMatchObject({
      secretSealed: sealed.secretSealed,
      previousSecretSealed: sealed.previousSecretSealed,
      previousSecretUntil: sealed.previousSecretUntil,
    });

    // At its end the erasure worker (not this test) nulls both columns; the current secret stays.
    clock.advanceTo(new Date(until));
    const erased = await waitFor('the erasure', row, (r) => r.previousSecretSealed === null, 15_000);
    expect(erased).toMatchObject({ secretSealed: sealed.secretSealed, previousSecretUntil: null });
  });
});
