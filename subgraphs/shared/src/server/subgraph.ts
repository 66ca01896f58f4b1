import type http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { ShardSet } from '../shards/pool';
import { LockTimeout } from '../shards/transaction';
import { ShardUnavailable } from '../shards/unavailable';
import { shardUnavailable } from '../graphql/errors';
import { TamperDetected } from '../ledger/tamper';
import type { Identity } from '../identity';
import { authenticateGatewayRequest, type SubgraphTrust } from '../gateway-trust';
import { isProduction } from '../config';
import { createGraphQLHttpServer, sendJson } from './http';
import { probeShards } from './health';

/** What every subgraph's context starts from: who is calling and where the data lives. */
export interface BaseSubgraphContext extends BaseContext {
  identity: Identity;
  shards: ShardSet;
}

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export function readSchema(name: 'account' | 'transaction' | 'settlement'): string {
  return readFileSync(`${repoRoot}schema/${name}.graphql`, 'utf8');
}

export interface SubgraphOptions<C extends BaseSubgraphContext> {
  name: string;
  typeDefs: string;
  resolvers: GraphQLResolverMap<C>;
  shards: ShardSet;
  /** The secret only this subgraph and the gateway share: see gateway-trust.ts. */
  trust: SubgraphTrust;
  extendContext: (base: BaseSubgraphContext, req: http.IncomingMessage) => C;
}

export interface SubgraphServer {
  apollo: ApolloServer<BaseSubgraphContext>;
  http: http.Server;
  /** The executable subgraph schema, for transports beside HTTP (graphql-ws). */
  schema: GraphQLSchema;
  /** Run on shutdown before the shard pools close: WebSocket servers, feeds, Redis connections. */
  disposers: Array<() => Promise<void>>;
}

export async function createSubgraph<C extends BaseSubgraphContext>(options: SubgraphOptions<C>): Promise<SubgraphServer> {
  const schema = buildSubgraphSchema({ typeDefs: parse(options.typeDefs), resolvers: options.resolvers as GraphQLResolverMap<unknown> });
  const apollo = new ApolloServer<BaseSubgraphContext>({
    schema,
    formatError: formatSubgraphError,
    includeStacktraceInErrorResponses: !isProduction(),
    // The process handles SIGTERM itself (server/main.ts); Apollo's own handler raced it and
    // left apollo.stop() waiting until the shutdown grace ran out.
    stopOnTerminationSignals: false,
  });
  await apollo.start();
  // Who the gateway said is calling, per request: set by authenticate, read by context.
  const identities = new WeakMap<http.IncomingMessage, Identity>();
  const http = createGraphQLHttpServer<BaseSubgraphContext>({
    apollo,
    authenticate: async (req) => {
      const identity = await authenticateGatewayRequest(req, options.trust);
      if (identity) identities.set(req, identity);
      return identity !== null;
    },
    context: async (req) => {
      const identity = identities.get(req);
      if (!identity) throw new Error('a GraphQL request reached the context without passing authenticate');
      return options.extendContext({ identity, shards: options.shards }, req);
    },
    routes: {
      // Open to anyone who can reach the port: up or down per shard and nothing else (the
      // errors behind a failed probe go to the log, since they name hosts and users).
      '/health': async (_req, res) => {
        const shards = await probeShards(options.shards);
        for (const failed of shards.filter((s) => !s.ok)) console.error(`health probe of ${failed.shard} failed`, failed.error);
        sendJson(res, shards.every((s) => s.ok) ? 200 : 503, { service: options.name, shards: shards.map(({ shard, ok }) => ({ shard, ok })) });
      },
    },
  });
  return { apollo, http, schema, disposers: [] };
}

/** A lock timeout or an unreachable shard is the client's to retry; anything unexpected is logged and kept vague. */
export function formatSubgraphError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof TamperDetected) {
    console.error('integrity check failed', original.message);
    return { message: original.message, extensions: { code: 'TAMPER_DETECTED', accountId: original.accountId } };
  }
  if (original instanceof ShardUnavailable) {
    console.error(`shard ${original.shard} unavailable`, original.detail);
    const answer = shardUnavailable(original.shard);
    return { ...formatted, message: answer.message, extensions: answer.extensions };
  }
  if (original instanceof LockTimeout) {
    return { ...formatted, message: original.message, extensions: { ...formatted.extensions, code: 'LOCK_TIMEOUT', retryable: true } };
  }
  const code = formatted.extensions?.code;
  if (code === 'INTERNAL_SERVER_ERROR') {
    console.error('resolver failed', original);
    if (isProduction()) return { message: 'internal error', extensions: { code } };
  }
  return formatted;
}
