import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { moneyKit, type MoneyKit } from '../../../../test/support/money';
import { startStack, type Stack } from '../../../../test/support/stack';
import { createEndpoint, fastDispatch, madeEndpoint, waitFor, webhookDocs } from '../support/webhooks';

/**
 * Destinations in production mode: https only, never loopback, private, link-local or the
 * metadata service — refused at registration, and again on the address a name resolves to at
 * connection time. A stubbed resolver answers a partner's name with a private address (as a
 * rebinding DNS would after registration): the dispatcher refuses to connect, so a listener at
 * that address sees no connection at all.
 */
let stack: Stack;
let kit: MoneyKit;
let listener: net.Server;
let listenerPort = 0;
let connections = 0;
const lookups: string[] = [];

beforeAll(async () => {
  listener = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  listenerPort = (listener.address() as net.AddressInfo).port;
  const resolver = async (hostname: string) => {
    lookups.push(hostname);
    if (hostname === 'hooks.rebinding.example') return [{ address: '127.0.0.1', family: 4 }];
    if (hostname === 'hooks.private.example') return [{ address: '10.20.30.40', family: 4 }];
    if (hostname === 'hooks.mixed.example')
      return [
        { address: '93.184.216.34', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  };
  stack = await startStack({
    webhooks: {
      dispatcher: true,
      production: true,
      allowLocalDestinations: false,
      resolver,
      settings: { ...fastDispatch, retry: { ...fastDispatch.retry, firstDelayMs: 5_000 } },
    },
  });
  kit = await moneyKit(stack);
});
afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

describe('webhook destinations in production', () => {
  it('refuses loopback, private, link-local and metadata URLs and plain http at registration, writing nothing', async () => {
    const partner = unique('p-ssrf');
    const bearer = await token(partner, 'partner');
    const account = await kit.open(partner);
    const refused: Array<[string, RegExp]> = [
      [`http://hooks.example.com/`, /must be https/],
      [`https://127.0.0.1:${listenerPort}/`, /loopback/],
      ['https://[::1]/', /loopback/],
      ['https://localhost/', /inside the platform/],
      ['https://169.254.169.254/latest/meta-data/', /link-local|metadata/],
      ['https://[::ffff:169.254.169.254]/', /link-local|metadata/],
      ['https://10.0.0.8/', /private/],
      ['https://192.168.1.1/', /private/],
      ['https://[fd00:ec2::254]/', /private/],
      ['https://metadata.google.internal/', /inside the platform/],
    ];
    for (const [url, reason] of refused) {
      const answer = await createEndpoint(stack.gatewayUrl, bearer, {
        url,
        eventTypes: ['balance.changed'],
        accountIds: [account],
      });
      expect(answer.data?.createWebhookEndpoint, url).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
      });
      expect(answer.data?.createWebhookEndpoint.message, url).toMatch(reason);
    }
    expect(
      (await gql(stack.gatewayUrl, 'query { webhookEndpoints { id } }', {}, bearer)).data?.webhookEndpoints,
    ).toEqual([]);
  });

  it('never connects to a name that resolves to a private or loopback address: nothing is sent', async () => {
    const partner = unique('p-ssrf');
    const bearer = await token(partner, 'partner');
    const payer = await kit.open(partner);
    const payee = await kit.open(partner);
    await kit.fund(payer, '1000');
    const endpoints = [];
    for (const host of ['hooks.rebinding.example', 'hooks.private.example', 'hooks.mixed.example']) {
      endpoints.push(
        await madeEndpoint(stack.gatewayUrl, bearer, {
          url: `https://${host}:${listenerPort}/hooks`,
          eventTypes: ['balance.changed'],
          accountIds: [payer],
        }),
      );
    }
    await kit.paid(kit.operator, { payer, payee, amount: '5' });
    for (const { id } of endpoints) {
      const edges = await waitFor(
        'a refused attempt',
        async () =>
          (await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer)).data?.webhookEndpoint.deliveries.edges,
        (e: Array<{ node: { attempts: number } }> | undefined) => (e ?? []).some((edge) => edge.node.attempts > 0),
      );
      const node = (
        edges as Array<{
          node: { attempts: number; status: string; lastStatusCode: number | null; lastError: string | null };
        }>
      ).find((e) => e.node.attempts > 0)!.node;
      expect(node.status).toBe('PENDING');
      expect(node.lastStatusCode).toBeNull();
      expect(node.lastError).toMatch(/resolves to .*(loopback|private|link-local)/);
      // The rule that refused, never the address the name resolved to: that is the platform's inside.
      expect(node.lastError).toMatch(
        /^DestinationRefused: destination resolves to an? [a-z -]+ address \(rule: (loopback|private|link-local)-ipv4\)$/,
      );
      for (const internal of ['127.0.0.1', '10.20.30.40', '169.254.169.254'])
        expect(node.lastError).not.toContain(internal);
    }
    expect(lookups).toEqual(
      expect.arrayContaining(['hooks.rebinding.example', 'hooks.private.example', 'hooks.mixed.example']),
    );
    expect(connections).toBe(0);
  });
});
