import type http from 'node:http';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode } from 'graphql-ws';
import type { GraphQLSchema } from 'graphql';
import type { Identity } from '../identity';
import { gatewayIdentityParam, presentsGatewaySecret, verifyIdentityToken, type SubgraphTrust } from '../gateway-trust';
import { formatStreamErrors } from './subgraph';

/**
 * A subgraph's own graphql-ws endpoint, on its HTTP port and path /graphql: the account
 * subgraph's (balance streams) and the transaction subgraph's (linked accounts' events). The
 * gateway streams each subscriber's events from here. Like every request to a subgraph, the
 * upgrade must carry the subgraph's secret (HTTP 401 before any WebSocket exists otherwise),
 * and the subscriber's identity comes only from the gateway's signed token in
 * connectionParams (see gateway-trust.ts).
 */
export interface SubscriptionServerOptions<C> {
  trust: SubgraphTrust;
  context: (identity: Identity) => C;
  keepAliveMs: number;
  /** As the subgraph's HTTP answers: no stack traces, and an unexpected error's text kept vague. */
  production: boolean;
}

export function serveSubscriptions<C>(
  server: http.Server,
  schema: GraphQLSchema,
  options: SubscriptionServerOptions<C>,
): () => Promise<void> {
  const sockets = new WebSocketServer({
    server,
    path: '/graphql',
    verifyClient: (info: { req: http.IncomingMessage }) => presentsGatewaySecret(info.req.headers, options.trust),
  });
  const identities = new WeakMap<object, Identity>();
  const handle = useServer<Record<string, unknown>>(
    {
      schema,
      onConnect: async (ctx) => {
        const identity = await verifyIdentityToken(ctx.connectionParams?.[gatewayIdentityParam], options.trust);
        if (!identity) {
          // Returning false would close with 4403; a missing or bad token is 4401.
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
          return false;
        }
        identities.set(ctx, identity);
        return true;
      },
      context: (ctx) => options.context(identities.get(ctx)!),
      // Errors leave as the subgraph's HTTP answers do (formatSubgraphError, which logs the
      // unexpected ones): SHARD_UNAVAILABLE retryable, never a database error's SQL or address.
      onError: (_ctx, _id, _payload, errors) => formatStreamErrors(errors, options.production),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors
          ? {
              ...(result.data === undefined ? {} : { data: result.data }),
              ...(result.extensions === undefined ? {} : { extensions: result.extensions }),
              errors: formatStreamErrors(result.errors, options.production),
            }
          : undefined,
    },
    sockets,
    options.keepAliveMs,
  );
  return async () => {
    await handle.dispose();
  };
}
