import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { listen } from '@paygraph/shared/server/http';
import { createGateway, type Gateway } from '../gateway/src/server';
import type { Stack } from './support/stack';
import { defaultStack } from './support/default-stack';
import { testSecurityOptions, testTokens, testTrusts, token, unique } from './support/env';
import { contractOperation, gql } from './support/graphql';
import { openAccount } from './support/balance-events';
import { spawnTransactionSubgraph, type ChildService } from './support/processes';
import { eventually } from './support/bank';

/**
 * A request's id travels: the client's x-request-id (or one the gateway makes) is echoed, sent on
 * the gateway's subgraph call, and written in the subgraph's JSON log lines for that request. The
 * transaction subgraph runs as its own process so that its stdout can be read.
 */
let stack: Stack;
let child: ChildService;
let gateway: Gateway;
let gatewayUrl: string;

beforeAll(async () => {
  stack = await defaultStack();
  child = await spawnTransactionSubgraph({ RELAY_ENABLED: 'false', LOG_LEVEL: 'debug' });
  gateway = await createGateway(testTokens(), { ...stack.subgraphUrls, transaction: child.graphqlUrl }, testTrusts(), {
    security: testSecurityOptions({ auditShards: null, redisUrl: null }),
  });
  gatewayUrl = `http://127.0.0.1:${await listen(gateway.http, 0, '127.0.0.1')}/graphql`;
});

afterAll(async () => {
  gateway?.http.close();
  await gateway?.stop();
  await child?.kill();
  await stack?.stop();
});

interface LogLine {
  requestId?: string;
  service?: string;
  msg?: string;
}

function logLines(output: string): LogLine[] {
  return output.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

describe('x-request-id', () => {
  it('reaches the subgraph process and is in its log line of the request', async () => {
    const operator = await token(unique('rid-operator'), 'operator');
    const accountId = await openAccount(stack.gatewayUrl, operator, unique('rid-owner'));
    const requestId = `abc-123.${Date.now()}`;
    const response = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}`, 'x-request-id': requestId },
      body: JSON.stringify({
        query: contractOperation('Deposit'),
        variables: { input: { idempotencyKey: unique('dep'), accountId, amount: '7', currency: 'USD' } },
      }),
    });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    expect(((await response.json()) as { data: { deposit: { __typename: string } } }).data.deposit.__typename).toBe(
      'Deposit',
    );
    const line = await eventually("the subgraph's log line", 5_000, async () =>
      logLines(child.output()).find((l) => l.requestId === requestId),
    );
    expect(line).toMatchObject({ service: 'transaction', requestId, msg: 'graphql request served' });
  });

  it('is made by the gateway when the client sends none', async () => {
    const answer = await gql(gatewayUrl, '{ __typename }');
    expect(answer.status).toBe(200);
    const response = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
