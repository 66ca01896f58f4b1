import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Stack } from '../../test/support/stack';
import { defaultStack } from '../../test/support/default-stack';
import { contractOperation, errorCodes, gql } from '../../test/support/graphql';
import { testSecurityOptions, testTokens, testTrusts, token, unique } from '../../test/support/env';
import {
  gatewayIdentityHeader,
  gatewaySecretHeader,
  subgraphTrust,
  verifyIdentityToken,
} from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniformModes } from '../src/security/trusted-documents';
import { documentHash } from '../src/security/trusted-manifests';
import { createGateway, type Gateway } from '../src/server';
import { startStubSubgraph, type StubAnswer, type StubSubgraph } from './support/stub-subgraph';
import { depositFromReserve, ownerAccountCount } from '../../test/support/ledger';

/**
 * The gateway as clients meet it: the contract's documents sent verbatim over HTTP, the
 * operational routes beside /graphql, and the refusals that happen before any subgraph runs.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await defaultStack();
});

afterAll(async () => {
  await stack.stop();
});

function routeUrl(path: string): string {
  return stack.gatewayUrl.replace(/\/graphql$/, path);
}

const amountPattern = /^-?(0|[1-9][0-9]*)$/;

describe('gateway', () => {
  it('answers the contract operations OpenAccount, GetAccount and AccountsByOwner with the selected types', async () => {
    const ownerId = unique('contract');
    const bearer = await token(ownerId, 'customer');

    const opened = await gql(
      stack.gatewayUrl,
      contractOperation('OpenAccount'),
      { input: { ownerId, type: 'PERSONAL', currency: 'EUR' } },
      bearer,
    );
    expect(opened.status).toBe(200);
    expect(opened.errors).toBeUndefined();
    const account = opened.data!.openAccount;
    expect(account).toEqual({
      __typename: 'Account',
      id: expect.stringMatching(/^acc_[0-9A-Z]{26}_[0-9a-f]{2}$/),
      type: 'PERSONAL',
      ownerId,
      currency: 'EUR',
      status: 'ACTIVE',
    });
    expect((await depositFromReserve(stack.shards, account.id as string, 1_999n, 'EUR')).status).toBe('APPLIED');

    const read = await gql(stack.gatewayUrl, contractOperation('GetAccount'), { id: account.id }, bearer);
    expect(read.errors).toBeUndefined();
    expect(read.data!.account).toMatchObject({
      id: account.id,
      type: 'PERSONAL',
      ownerId,
      currency: 'EUR',
      status: 'ACTIVE',
    });
    // Amounts are decimal strings, never JSON numbers.
    expect(read.data!.account.balance).toEqual({ available: '1999', frozen: '0', pending: '0', total: '1999' });
    const [edge, ...rest] = read.data!.account.entries.edges;
    expect(rest).toEqual([]);
    expect(edge).toEqual({
      cursor: expect.any(String),
      node: {
        id: expect.stringMatching(/^ent_/),
        sequence: 1,
        amount: '1999',
        direction: 'CREDIT',
        balanceAfter: '1999',
        createdAt: expect.any(String),
      },
    });
    expect(Number.isNaN(Date.parse(edge.node.createdAt))).toBe(false);
    expect(read.data!.account.entries.pageInfo).toEqual({ hasNextPage: false, endCursor: edge.cursor });

    const listed = await gql(stack.gatewayUrl, contractOperation('AccountsByOwner'), { ownerId }, bearer);
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.accounts).toEqual({
      edges: [
        {
          node: {
            id: account.id,
            type: 'PERSONAL',
            currency: 'EUR',
            balance: { available: '1999', pending: '0', total: '1999' },
          },
        },
      ],
      pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
    });
    for (const value of Object.values(listed.data!.accounts.edges[0].node.balance))
      expect(value).toMatch(amountPattern);
  });

  it('reports health 200 with every subgraph ok', async () => {
    const response = await fetch(routeUrl('/health'));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { subgraphs: Array<{ subgraph: string; ok: boolean; detail: unknown }> };
    expect(body.subgraphs.map((s) => s.subgraph).sort()).toEqual(['account', 'settlement', 'transaction', 'webhooks']);
    // Listing the unhealthy ones (with their detail) says why when this fails.
    expect(body.subgraphs.filter((s) => !s.ok)).toEqual([]);
  });

  it('counts operations in Prometheus text at /metrics', async () => {
    const ownerId = unique('metrics');
    const opened = await gql(
      stack.gatewayUrl,
      contractOperation('OpenAccount'),
      { input: { ownerId, type: 'PERSONAL', currency: 'USD' } },
      await token(ownerId, 'customer'),
    );
    expect(opened.data?.openAccount.__typename).toBe('Account');

    const response = await fetch(routeUrl('/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain('# TYPE paygraph_graphql_requests_total counter');
    expect(text).toMatch(/^paygraph_graphql_requests_total\{operation="OpenAccount",outcome="ok"\} [1-9][0-9]*$/m);
  });

  it('serves introspection without a token but nothing else', async () => {
    const introspection = await gql(stack.gatewayUrl, '{ __schema { queryType { name } } }');
    expect(introspection.status).toBe(200);
    expect(introspection.errors).toBeUndefined();
    expect(introspection.data).toEqual({ __schema: { queryType: { name: 'Query' } } });

    const data = await gql(stack.gatewayUrl, '{ accounts(ownerId:"x"){ edges { cursor } } }');
    expect(data.status).toBe(401);
    expect(errorCodes(data)).toEqual(['UNAUTHENTICATED']);
    expect(data.data ?? null).toBeNull();
  });

  it('refuses a mutation sent as a GET without a CSRF header, writing nothing', async () => {
    const ownerId = unique('csrf');
    const query = `mutation { openAccount(input: { ownerId: "${ownerId}", type: PERSONAL, currency: "USD" }) { __typename } }`;
    const response = await fetch(`${stack.gatewayUrl}?${new URLSearchParams({ query })}`, {
      headers: { authorization: `Bearer ${await token(ownerId, 'customer')}` },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { data?: unknown; errors?: Array<{ message: string }> };
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(/Cross-Site Request Forgery/);
    expect(await ownerAccountCount(stack.shards, ownerId)).toBe(0);
  });

  it("answers a subgraph's HTTP refusal as an error with its status, and keeps serving", async () => {
    // A gateway holding the wrong secret for the account subgraph: that subgraph answers 401.
    const trusts = {
      ...testTrusts(),
      account: subgraphTrust('account', 'not-the-account-secret-not-the-account-secret'),
    };
    const misconfigured = await createGateway(testTokens(), stack.subgraphUrls, trusts, {
      security: testSecurityOptions(),
    });
    const port = await listen(misconfigured.http, 0, '127.0.0.1');
    try {
      const ownerId = unique('refused');
      const answer = await gql(
        `http://127.0.0.1:${port}/graphql`,
        contractOperation('AccountsByOwner'),
        { ownerId },
        await token(ownerId, 'customer'),
      );
      expect(answer.status).toBe(200);
      expect(answer.data ?? null).toBeNull();
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', response: { status: 401 } });
      // Clear without naming where the subgraph lives: no URL, host or port in the answer.
      const subgraph = new URL(stack.subgraphUrls.account);
      expect(JSON.stringify(answer)).not.toContain(subgraph.host);
      expect(answer.errors?.[0]?.extensions?.response).toEqual({ status: 401, statusText: 'Unauthorized' });
      expect(answer.errors?.[0]?.message).toBe('401: Unauthorized');
      // The same gateway's calls to the other subgraphs still work.
      const payment = await gql(
        `http://127.0.0.1:${port}/graphql`,
        'query { payment(id: "pay_00000000000000000000000000_00") { id } }',
        {},
        await token(unique('op'), 'operator'),
      );
      expect(payment.errors).toBeUndefined();
      expect(payment.data).toEqual({ payment: null });
    } finally {
      misconfigured.http.closeAllConnections();
      misconfigured.http.close();
      await misconfigured.stop();
    }
  });
});

/** A query the transaction subgraph alone answers. */
const paymentQuery = 'query { payment(id: "pay_00000000000000000000000000_00") { id } }';

/**
 * A gateway whose transaction subgraph is a stub answering `answer`, and the stub, for one test. paymentQuery is a
 * trusted document of its manifest, so the express lane answers it unless `expressLane` is false.
 */
async function withStubbedTransaction(
  answer: StubAnswer,
  test: (gatewayUrl: string, stub: StubSubgraph, gateway: Gateway) => Promise<void>,
  expressLane = true,
): Promise<void> {
  const stub = await startStubSubgraph(answer);
  const manifestDir = mkdtempSync(join(tmpdir(), 'paygraph-stubbed-'));
  const manifest = join(manifestDir, 'tests.json');
  writeFileSync(manifest, JSON.stringify({ [`sha256:${documentHash(paymentQuery)}`]: paymentQuery }));
  let gateway: Gateway | undefined;
  try {
    gateway = await createGateway(testTokens(), { ...stack.subgraphUrls, transaction: stub.url }, testTrusts(), {
      security: { auditShards: null, redisUrl: null },
      trustedDocuments: {
        manifests: [{ client: 'tests', path: manifest }],
        modes: uniformModes('off'),
        reloadMs: null,
      },
      expressLane,
    });
    const port = await listen(gateway.http, 0, '127.0.0.1');
    await test(`http://127.0.0.1:${port}/graphql`, stub, gateway);
  } finally {
    gateway?.http.closeAllConnections();
    gateway?.http.close();
    await gateway?.stop();
    await stub.close();
    rmSync(manifestDir, { recursive: true, force: true });
  }
}

/** The gateway's cache-control header on its answer to paymentQuery, which must be the stub's `{ payment: null }`. */
async function paymentCachePolicy(gatewayUrl: string): Promise<string | null> {
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await token(unique('cache'), 'operator')}`,
    },
    body: JSON.stringify({ query: paymentQuery }),
  });
  expect(await response.json()).toEqual({ data: { payment: null } });
  return response.headers.get('cache-control');
}

const noPayment: StubAnswer = {
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: '{"data":{"payment":null}}',
};

describe('a call to a subgraph', () => {
  it("carries the subgraph's secret, an identity signed for it, the request id and the client's address, user agent and device, never the client's token; the same through the express lane or not", async () => {
    const seen: Array<{ headers: Record<string, unknown>; body: string }> = [];
    for (const expressLane of [true, false]) {
      await withStubbedTransaction(
        noPayment,
        async (gatewayUrl, stub, gateway) => {
          const sub = unique('headers');
          const bearer = await token(sub, 'operator');
          const lanesBefore = gateway.metrics.expressAnswers();
          const answer = await gql(gatewayUrl, paymentQuery, {}, bearer, {
            'x-request-id': 'req-headers.1',
            'user-agent': 'PayApp/3.1 (iOS 18)',
            'x-device-id': 'device-abc-123',
            'x-client-ip': '10.0.0.9',
          });
          expect(answer.errors).toBeUndefined();
          expect(answer.data).toEqual({ payment: null });
          expect(gateway.metrics.expressAnswers() - lanesBefore).toBe(expressLane ? 1 : 0);
          expect(stub.requests).toHaveLength(1);
          const sent = stub.requests[0]!;
          const trust = testTrusts().transaction;
          expect(sent[gatewaySecretHeader]).toBe(trust.secret);
          expect(await verifyIdentityToken(sent[gatewayIdentityHeader], trust)).toMatchObject({
            sub,
            role: 'operator',
          });
          expect(sent).toMatchObject({
            'content-type': 'application/json',
            'x-request-id': 'req-headers.1',
            'x-client-user-agent': 'PayApp/3.1 (iOS 18)',
            'x-device-id': 'device-abc-123',
          });
          // The address the gateway saw, not the one the client claims.
          expect(sent['x-client-ip']).toMatch(/127\.0\.0\.1$/);
          expect(sent.authorization).toBeUndefined();
          expect(JSON.stringify(sent)).not.toContain(bearer);
          // The identity is signed per call (its own subject and time): compared above, not below.
          const { [gatewayIdentityHeader]: _identity, host: _host, ...rest } = sent;
          seen.push({ headers: rest, body: stub.bodies[0]! });
        },
        expressLane,
      );
    }
    // The express lane makes its call by laneCall, not by @apollo/gateway's process: the subgraph cannot tell.
    expect(seen[0]).toEqual(seen[1]);
    expect(JSON.parse(seen[0]!.body)).toEqual({ query: paymentQuery, variables: {} });
  });

  it("lets the subgraph's cache-control header bound the response's cache policy, through the express lane or not", async () => {
    const withHeader = (header: string): StubAnswer => ({
      ...noPayment,
      headers: { ...noPayment.headers, 'cache-control': header },
    });
    // The subgraph's header → the response's, as Apollo Server's data source and cache-control plugin make it.
    const cases: Array<[StubAnswer, string]> = [
      [withHeader('max-age=30, private'), 'max-age=30, private'],
      [withHeader('public, max-age=60'), 'max-age=60, public'],
      [withHeader('max-age=45'), 'max-age=45, public'],
      // No max-age from the subgraph, or none that reads: its answer, and so the response, may not be cached.
      [noPayment, 'no-store'],
      [withHeader('no-store'), 'no-store'],
      [withHeader('max-age=0, public'), 'no-store'],
      [withHeader('max-age=soon'), 'no-store'],
    ];
    for (const expressLane of [true, false]) {
      for (const [answer, expected] of cases) {
        await withStubbedTransaction(
          answer,
          async (gatewayUrl, _stub, gateway) => {
            const before = gateway.metrics.expressAnswers();
            expect(await paymentCachePolicy(gatewayUrl), `${expected}, lane ${expressLane}`).toBe(expected);
            expect(gateway.metrics.expressAnswers() - before).toBe(expressLane ? 1 : 0);
          },
          expressLane,
        );
      }
    }
  });
});
