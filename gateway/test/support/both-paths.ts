import { listen } from '@paygraph/shared/server/http';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/server';
import type { SubgraphUrls } from '../../src/server';
import type { TokenSettings } from '@paygraph/shared/identity';
import { testSecurityOptions, testTokens, testTrusts } from '../../../test/support/env';

/**
 * Two gateways in front of the same subgraphs, alike in every option but one: `forwarded` sends
 * an operation that one subgraph serves alone straight to it (the default), `planned` runs every
 * operation through @apollo/gateway's query plan. A test asks both the same thing and compares.
 */
export interface GatewayPair {
  forwarded: PairedGateway;
  planned: PairedGateway;
  stop(): Promise<void>;
}

export interface PairedGateway {
  url: string;
  gateway: Gateway;
}

export type GatewayPath = 'forwarded' | 'planned';
export const gatewayPaths: readonly GatewayPath[] = ['forwarded', 'planned'];

export async function startGatewayPair(urls: SubgraphUrls, options: GatewayOptions = {}): Promise<GatewayPair> {
  const forwarded = await startPathGateway(urls, 'forwarded', options);
  const planned = await startPathGateway(urls, 'planned', options);
  return {
    forwarded,
    planned,
    stop: async () => {
      await stopPathGateway(forwarded);
      await stopPathGateway(planned);
    },
  };
}

/** One gateway taking one path, with the test configuration's security settings under `options`. */
export async function startPathGateway(
  urls: SubgraphUrls,
  path: GatewayPath,
  options: GatewayOptions = {},
  tokens: TokenSettings = testTokens(),
): Promise<PairedGateway> {
  const gateway = await createGateway(tokens, urls, testTrusts(), {
    ...options,
    passThrough: path === 'forwarded',
    security: testSecurityOptions(options.security),
  });
  const port = await listen(gateway.http, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}/graphql`, gateway };
}

export async function stopPathGateway({ gateway }: PairedGateway): Promise<void> {
  gateway.http.closeAllConnections();
  gateway.http.close();
  await gateway.stop();
}

/** An answer as the client receives it: status, content type and the body's bytes. */
export interface RawAnswer {
  status: number;
  contentType: string | null;
  body: string;
}

export async function postRaw(url: string, body: unknown, bearer?: string): Promise<RawAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
}

/**
 * The answer with each error's `extensions.stacktrace` taken out: outside production the gateway
 * writes the stack of the error object it made, whose frames differ by construction between the
 * two paths (the rest of the bytes must not). Field order is kept, so equal texts mean equal bytes
 * but for the stacks.
 */
export function withoutStacks(body: string): string {
  const parsed = JSON.parse(body) as { errors?: Array<{ extensions?: Record<string, unknown> }> };
  for (const error of parsed.errors ?? []) delete error.extensions?.stacktrace;
  return JSON.stringify(parsed);
}
