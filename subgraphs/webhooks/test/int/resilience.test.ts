import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import type { MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import {
  fastDispatch,
  gapFree,
  madeEndpoint,
  sequencesOf,
  waitFor,
  webhookDocs,
  useWebhookStack,
  partnerWithAccounts,
  type WebhookStack,
} from '../support/webhooks';

/**
 * Receivers that go away or never answer: nothing is lost, order holds, and one endpoint's
 * trouble costs no other endpoint anything.
 */
/**
 * Failed attempts of one delivery that take its retry delay up to fastDispatch.retry.delayMsMax (200 → 400 → 800 →
 * 1,000 ms) and once more.
 */
const backOffAttempts = 5;

let stack: Stack;
let kit: MoneyKit;
let receiver: WebhookStack['receiver'];
useWebhookStack(
  { webhooks: { dispatcher: true, settings: fastDispatch } },
  (started) => ({ stack, kit, receiver } = started),
);

describe('webhook delivery when receivers misbehave', () => {
  it('loses nothing while a receiver is down through retries up to the longest back-off, and delivers in order once it is back', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-res');
    const first = await receiver();
    const place = { port: first.port, path: first.path };
    const { secret, id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: first.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer, payee],
    });
    await first.close();
    for (let i = 0; i < 10; i++) await kit.paid(kit.operator, { payer, payee, amount: String(i + 1) });
    // Down until every event waits as a delivery and a stream's head has failed past the back-off's
    // cap (200, 400, 800, then 1,000 ms: fastDispatch.retry), not for a fixed time.
    await waitFor(
      '20 deliveries, one failed through the back-off',
      async () =>
        (await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer)).data?.webhookEndpoint.deliveries.edges,
      (edges: Array<{ node: { attempts: number } }> | undefined) =>
        edges !== undefined && edges.length >= 20 && edges.some((e) => e.node.attempts >= backOffAttempts),
      30_000,
    );
    const back = await receiver(() => 200, place);
    back.verifyWith(secret);
    await waitFor(
      '20 events',
      () => back.received.length,
      (n) => n >= 20,
      30_000,
    );
    expect(back.received).toHaveLength(20);
    expect(sequencesOf(back.received, payer)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const payeeSequences = sequencesOf(back.received, payee);
    expect(payeeSequences).toHaveLength(10);
    expect(gapFree(payeeSequences)).toBe(true);
  });

  it('keeps a healthy endpoint fast beside one that never answers', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-res');
    const dead = await receiver(() => 'hang');
    const healthy = await receiver();
    const stuck = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: dead.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer, payee],
    });
    await madeEndpoint(stack.gatewayUrl, bearer, {
      url: healthy.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer, payee],
    });
    for (let i = 0; i < 10; i++) await kit.paid(kit.operator, { payer, payee, amount: '3' });
    await waitFor(
      '20 healthy events',
      () => healthy.received.length,
      (n) => n >= 20,
    );
    // Commit (the event's timestamp) to receipt, for the healthy receiver, while the other hangs.
    const latencies = healthy.received.map((r) => r.at - Date.parse(r.event.timestamp)).sort((a, b) => a - b);
    expect(latencies.at(-1)!, `latencies ${latencies.join(',')} ms`).toBeLessThan(fastDispatch.attemptTimeoutMs);
    expect(gapFree(sequencesOf(healthy.received, payer))).toBe(true);
    // The hung receiver got its first events (one per stream at a time) and they wait for their retries.
    await waitFor(
      'the stuck attempts to time out',
      async () =>
        (await gql(stack.gatewayUrl, webhookDocs.detail, { id: stuck.id }, bearer)).data?.webhookEndpoint.deliveries
          .edges,
      (edges: Array<{ node: { attempts: number; lastError: string | null } }>) =>
        edges.some((e) => e.node.attempts > 0 && e.node.lastError !== null),
      15_000,
    ).then((edges) => {
      const tried = edges.filter((e) => e.node.attempts > 0);
      expect(tried.length).toBeLessThanOrEqual(2);
      expect(tried[0]!.node.lastError).toMatch(/timeout|Timeout|aborted/i);
    });
    expect(dead.received).toHaveLength(0);
  });

  it('keeps a healthy endpoint fast beside a hung one on the same origin: the hung one holds only its own slots', async () => {
    const partner = unique('p-origin');
    const bearer = await token(partner, 'partner');
    // Five accounts of the hung endpoint: more streams than its bound of requests in flight (endpointConcurrencyMax,
    // 4).
    const stuckAccounts = await Promise.all(Array.from({ length: 5 }, () => kit.open(partner)));
    const [payer, payee] = [await kit.open(partner), await kit.open(partner)];
    await kit.fund(payer, '1000');
    const stuckSet = new Set(stuckAccounts);
    // One receiver, one origin: it hangs on events of the stuck accounts and answers the others.
    const hungAt: number[] = [];
    const shared = await receiver(({ body }) => {
      if (!stuckSet.has(JSON.parse(body).data.accountId as string)) return 200;
      hungAt.push(Date.now());
      return 'hang';
    });
    await madeEndpoint(stack.gatewayUrl, bearer, {
      url: `${shared.url}/stuck`,
      eventTypes: ['balance.changed'],
      accountIds: stuckAccounts,
    });
    await madeEndpoint(stack.gatewayUrl, bearer, {
      url: `${shared.url}/healthy`,
      eventTypes: ['balance.changed'],
      accountIds: [payee],
    });
    for (const account of stuckAccounts) await kit.fund(account, '1');
    await waitFor(
      'the hung endpoint at its bound',
      () => hungAt.length,
      (n) => n >= 4,
    );
    await kit.paid(kit.operator, { payer, payee, amount: '1' });
    const [healthy] = await waitFor(
      'the healthy event',
      () => shared.received,
      (received) => received.length >= 1,
    );
    // Before any hung attempt could end (each waits attemptTimeoutMs): with sockets per origin
    // bounded by the endpoint's bound (4, as once), the hung endpoint held them all and this
    // event waited for the first of its timeouts.
    expect(healthy!.at - hungAt[0]!, `hung at ${hungAt.map((t) => t - hungAt[0]!).join(',')} ms`).toBeLessThan(
      fastDispatch.attemptTimeoutMs,
    );
    expect(healthy!.event.data.accountId).toBe(payee);
  });

  it('does not follow a redirect: a 3xx is a failed attempt, retried, and the target never hears of it', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-res');
    const target = await receiver();
    const redirecting = await receiver(() => 307);
    redirecting.redirectTo = target.url;
    const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: redirecting.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    await kit.paid(kit.operator, { payer, payee, amount: '1' });
    const [delivery] = await waitFor(
      'a retried attempt',
      async () =>
        (await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer)).data?.webhookEndpoint.deliveries.edges,
      (edges: Array<{ node: { attempts: number } }>) => (edges[0]?.node.attempts ?? 0) >= 2,
      15_000,
    );
    expect(delivery!.node).toMatchObject({ status: 'PENDING', lastStatusCode: 307 });
    expect(redirecting.requests).toBeGreaterThanOrEqual(2);
    expect(target.requests).toBe(0);
  });

  it('reads an answer only up to its bound: a receiver answering 2xx with an endless body is cut off, the delivery SUCCEEDED', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-res');
    const chunk = Buffer.alloc(1 << 20, 120);
    const answerBytesMax = 256 * chunk.length;
    const flood = { written: 0, closedEarly: false };
    // A path of its own, as every receiver here has (support/webhooks.ts startReceiver): an earlier file's endpoint on
    // this port is not flooded.
    const path = `/hooks/${randomUUID()}`;
    const server = http.createServer((req, res) => {
      req.resume();
      if (req.url !== path) return void res.writeHead(404).end();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        // Writes as fast as the reader takes it, until the reader goes or 256 MiB are out.
        const pump = () => {
          while (flood.written < answerBytesMax) {
            flood.written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => {
          if (flood.written < answerBytesMax) flood.closedEarly = true;
        });
        pump();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
      const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
        url,
        eventTypes: ['balance.changed'],
        accountIds: [payer],
      });
      await kit.paid(kit.operator, { payer, payee, amount: '1' });
      const [delivery] = await waitFor(
        'the attempt recorded',
        async () =>
          (await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer)).data?.webhookEndpoint.deliveries.edges,
        (edges: Array<{ node: { attempts: number } }>) => (edges[0]?.node.attempts ?? 0) >= 1,
        15_000,
      );
      expect(delivery!.node).toMatchObject({ status: 'SUCCEEDED', attempts: 1, lastStatusCode: 200 });
      await waitFor(
        'the answer cut off',
        () => flood.closedEarly,
        (closed) => closed,
        5_000,
      );
      // What the socket buffers took before the dispatcher went, far below what the receiver would have sent.
      expect(flood.written).toBeLessThan(answerBytesMax / 4);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
