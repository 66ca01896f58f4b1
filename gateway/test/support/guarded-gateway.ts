import http from 'node:http';
import { expect } from 'vitest';
import { listen } from '@paygraph/shared/server/http';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/server';
import type { Stack } from '../../../test/support/stack';
import { testSecurityOptions, testTokens, testTrusts } from '../../../test/support/env';

/**
 * A gateway of its own (options as the test needs: production mode, small budgets, an audit
 * file) in front of a stack's subgraphs, each reached through a counting proxy on 127.0.0.1, so
 * that a test can tell whether a request reached any subgraph at all.
 */
export interface CountingProxy {
  url: string;
  requests(): number;
  close(): Promise<void>;
}

export async function countingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface GuardedGateway {
  url: string;
  gateway: Gateway;
  /** Requests the gateway has sent to any subgraph so far. */
  subgraphCalls(): number;
  stop(): Promise<void>;
}

export async function startGuardedGateway(stack: Stack, options: GatewayOptions): Promise<GuardedGateway> {
  const proxies = {
    account: await countingProxy(stack.subgraphUrls.account),
    transaction: await countingProxy(stack.subgraphUrls.transaction),
    settlement: await countingProxy(stack.subgraphUrls.settlement),
  };
  const gateway = await createGateway(
    testTokens(),
    {
      account: proxies.account.url,
      transaction: proxies.transaction.url,
      settlement: proxies.settlement.url,
      webhooks: stack.subgraphUrls.webhooks,
    },
    testTrusts(),
    { ...options, security: testSecurityOptions(options.security) },
  );
  const port = await listen(gateway.http, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    gateway,
    subgraphCalls: () => proxies.account.requests() + proxies.transaction.requests() + proxies.settlement.requests(),
    stop: async () => {
      gateway.http.closeAllConnections();
      gateway.http.close();
      await gateway.stop();
      for (const proxy of Object.values(proxies)) await proxy.close();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, any> | null;
    errors?: Array<{ message: string; extensions?: Record<string, any>; path?: Array<string | number> }>;
  };
}

/** A POST of any JSON body, with the response's headers (gql() in test/support drops them). */
export async function post(
  url: string,
  body: unknown,
  bearer?: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as RawResponse['body']),
  };
}

export function codes(response: RawResponse): unknown[] {
  return (response.body.errors ?? []).map((e) => e.extensions?.code);
}

/** Sends a request and asserts that no subgraph saw anything of it. */
export async function refusedBeforeSubgraphs(
  gateway: GuardedGateway,
  send: () => Promise<RawResponse>,
): Promise<RawResponse> {
  const before = gateway.subgraphCalls();
  const response = await send();
  expect(gateway.subgraphCalls() - before).toBe(0);
  return response;
}
