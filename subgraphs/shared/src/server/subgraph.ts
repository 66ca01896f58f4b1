import type http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { ShardSet } from '../shards/pool';
import { LockTimeout } from '../shards/transaction';
import { verifyAuthorization, describeIdentityFailure, type Identity, type TokenSettings } from '../identity';
import { unauthenticated } from '../graphql/errors';
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
  tokens: TokenSettings;
  extendContext: (base: BaseSubgraphContext, req: http.IncomingMessage) => C;
}

export interface SubgraphServer {
  apollo: ApolloServer<BaseSubgraphContext>;
  http: http.Server;
}

export async function createSubgraph<C extends BaseSubgraphContext>(options: SubgraphOptions<C>): Promise<SubgraphServer> {
  const schema = buildSubgraphSchema({ typeDefs: parse(options.typeDefs), resolvers: options.resolvers as GraphQLResolverMap<unknown> });
  const apollo = new ApolloServer<BaseSubgraphContext>({
    schema,
    formatError: formatSubgraphError,
    includeStacktraceInErrorResponses: !isProduction(),
  });
  await apollo.start();
  const http = createGraphQLHttpServer<BaseSubgraphContext>({
    apollo,
    context: async (req) => {
      const verified = await verifyAuthorization(req.headers.authorization, options.tokens);
      if (!verified.ok) throw unauthenticated(describeIdentityFailure(verified.failure));
      return options.extendContext({ identity: verified.identity, shards: options.shards }, req);
    },
    routes: {
      '/health': async (_req, res) => {
        const shards = await probeShards(options.shards);
        sendJson(res, shards.every((s) => s.ok) ? 200 : 503, { service: options.name, shards });
      },
    },
  });
  return { apollo, http };
}

/** A lock timeout is the client's to retry; anything unexpected is logged and kept vague. */
export function formatSubgraphError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
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
