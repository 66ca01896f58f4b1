import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { TokenSettings } from '@paygraph/shared/identity';
import { isProduction } from '@paygraph/shared/config';
import { createGraphQLHttpServer, sendJson } from '@paygraph/shared/server/http';
import { withTimeout } from '@paygraph/shared/server/health';
import { healthProbeTimeoutMs } from '@paygraph/shared/limits';
import { subgraphNames, supergraphPath, type SubgraphName } from './compose';
import { buildContext, type GatewayContext } from './context';
import { Metrics } from './metrics';
import { metricsPlugin, requireIdentity } from './plugins';

export type SubgraphUrls = Record<SubgraphName, string>;

export function subgraphUrlsFromEnv(): SubgraphUrls {
  const urls = {} as SubgraphUrls;
  for (const name of subgraphNames) {
    const port = { account: 4001, transaction: 4002, settlement: 4003 }[name];
    urls[name] = process.env[`${name.toUpperCase()}_URL`] || `http://127.0.0.1:${port}/graphql`;
  }
  return urls;
}

/**
 * Forwards the caller's token to the subgraph, which verifies it again, and where the
 * request came from. The client's own x-client-* headers are never passed through.
 */
class ForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (!('auth' in context)) return;
    const headers = request.http?.headers;
    if (!headers) return;
    if (context.authorization) headers.set('authorization', context.authorization);
    if (context.client.ip) headers.set('x-client-ip', context.client.ip);
    if (context.client.userAgent) headers.set('x-client-user-agent', context.client.userAgent.slice(0, 256));
    if (context.client.deviceId) headers.set('x-device-id', context.client.deviceId.slice(0, 128));
  }
}

export interface Gateway {
  apollo: ApolloServer<GatewayContext>;
  http: http.Server;
  metrics: Metrics;
}

export async function createGateway(tokens: TokenSettings, urls: SubgraphUrls): Promise<Gateway> {
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(supergraphPath, 'utf8'),
    buildService: ({ name }) => new ForwardingDataSource({ url: urls[name.toLowerCase() as SubgraphName] }),
  });
  const metrics = new Metrics();
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    plugins: [requireIdentity, metricsPlugin(metrics)],
    introspection: !isProduction(),
    includeStacktraceInErrorResponses: !isProduction(),
  });
  await apollo.start();
  const http = createGraphQLHttpServer<GatewayContext>({
    apollo,
    context: (req) => buildContext(req, tokens),
    routes: {
      '/health': async (_req, res) => {
        const checks = await probeSubgraphs(urls);
        sendJson(res, checks.every((c) => c.ok) ? 200 : 503, { service: 'gateway', subgraphs: checks });
      },
      '/metrics': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(metrics.render());
      },
    },
  });
  return { apollo, http, metrics };
}

/** Healthy only when every subgraph answers and reports every one of its shards healthy. */
async function probeSubgraphs(urls: SubgraphUrls): Promise<Array<{ subgraph: string; ok: boolean; detail: unknown }>> {
  return Promise.all(
    subgraphNames.map(async (name) => {
      const healthUrl = urls[name].replace(/\/graphql$/, '/health');
      try {
        const response = await withTimeout(fetch(healthUrl), healthProbeTimeoutMs);
        return { subgraph: name, ok: response.status === 200, detail: await response.json() };
      } catch (error) {
        return { subgraph: name, ok: false, detail: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
}
