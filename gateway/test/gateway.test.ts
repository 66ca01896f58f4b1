import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, type Stack } from '../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../test/support/graphql';
import { testSecurityOptions, testTokens, testTrusts, token, unique } from '../../test/support/env';
import { subgraphTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { createGateway } from '../src/server';
import { depositFromReserve, ownerAccountCount } from '../../test/support/ledger';

/**
 * The gateway as clients meet it: the contract's documents sent verbatim over HTTP, the
 * operational routes beside /graphql, and the refusals that happen before any subgraph runs.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
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

    const opened = await gql(stack.gatewayUrl, contractOperation('OpenAccount'), { input: { ownerId, type: 'PERSONAL', currency: 'EUR' } }, bearer);
    expect(opened.status).toBe(200);
    expect(opened.errors).toBeUndefined();
    const account = opened.data!.openAccount;
    expect(account).toEqual({ __typename: 'Account', id: expect.stringMatching(/^acc_[0-9A-Z]{26}_[0-9a-f]{2}$/), type: 'PERSONAL', ownerId, currency: 'EUR', status: 'ACTIVE' });
    expect((await depositFromReserve(stack.shards, account.id as string, 1_999n, 'EUR')).status).toBe('APPLIED');

    const read = await gql(stack.gatewayUrl, contractOperation('GetAccount'), { id: account.id }, bearer);
    expect(read.errors).toBeUndefined();
    expect(read.data!.account).toMatchObject({ id: account.id, type: 'PERSONAL', ownerId, currency: 'EUR', status: 'ACTIVE' });
    // Amounts are decimal strings, never JSON numbers.
    expect(read.data!.account.balance).toEqual({ available: '1999', frozen: '0', pending: '0', total: '1999' });
    const [edge, ...rest] = read.data!.account.entries.edges;
    expect(rest).toEqual([]);
    expect(edge).toEqual({
      cursor: expect.any(String),
      node: { id: expect.stringMatching(/^ent_/), sequence: 1, amount: '1999', direction: 'CREDIT', balanceAfter: '1999', createdAt: expect.any(String) },
    });
    expect(Number.isNaN(Date.parse(edge.node.createdAt))).toBe(false);
    expect(read.data!.account.entries.pageInfo).toEqual({ hasNextPage: false, endCursor: edge.cursor });

    const listed = await gql(stack.gatewayUrl, contractOperation('AccountsByOwner'), { ownerId }, bearer);
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.accounts).toEqual({
      edges: [{ node: { id: account.id, type: 'PERSONAL', currency: 'EUR', balance: { available: '1999', pending: '0', total: '1999' } } }],
      pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
    });
    for (const value of Object.values(listed.data!.accounts.edges[0].node.balance)) expect(value).toMatch(amountPattern);
  });

  it('reports health 200 with every subgraph ok', async () => {
    const response = await fetch(routeUrl('/health'));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { subgraphs: Array<{ subgraph: string; ok: boolean; detail: unknown }> };
    expect(body.subgraphs.map((s) => s.subgraph).sort()).toEqual(['account', 'settlement', 'transaction']);
    // Listing the unhealthy ones (with their detail) says why when this fails.
    expect(body.subgraphs.filter((s) => !s.ok)).toEqual([]);
  });

  it('counts operations in Prometheus text at /metrics', async () => {
    const ownerId = unique('metrics');
    const opened = await gql(stack.gatewayUrl, contractOperation('OpenAccount'), { input: { ownerId, type: 'PERSONAL', currency: 'USD' } }, await token(ownerId, 'customer'));
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

  it('answers a subgraph\'s HTTP refusal as an error with its status, and keeps serving', async () => {
    // A gateway holding the wrong secret for the account subgraph: that subgraph answers 401.
    const trusts = { ...testTrusts(), account: subgraphTrust('account', 'not-the-account-secret-not-the-account-secret') };
    const misconfigured = await createGateway(testTokens(), stack.subgraphUrls, trusts, { security: testSecurityOptions() });
    const port = await listen(misconfigured.http, 0, '127.0.0.1');
    try {
      const ownerId = unique('refused');
      const answer = await gql(`http://127.0.0.1:${port}/graphql`, contractOperation('AccountsByOwner'), { ownerId }, await token(ownerId, 'customer'));
      expect(answer.status).toBe(200);
      expect(answer.data ?? null).toBeNull();
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', response: { status: 401 } });
      // Clear without naming where the subgraph lives: no URL, host or port in the answer.
      const subgraph = new URL(stack.subgraphUrls.account);
      expect(JSON.stringify(answer)).not.toContain(subgraph.host);
      expect(answer.errors?.[0]?.extensions?.response).toEqual({ status: 401, statusText: expect.any(String) });
      // The same gateway's calls to the other subgraphs still work.
      const payment = await gql(`http://127.0.0.1:${port}/graphql`, 'query { payment(id: "pay_00000000000000000000000000_00") { id } }', {},
        await token(unique('op'), 'operator'));
      expect(payment.errors).toBeUndefined();
      expect(payment.data).toEqual({ payment: null });
    } finally {
      misconfigured.http.closeAllConnections();
      misconfigured.http.close();
      await misconfigured.stop();
    }
  });
});
