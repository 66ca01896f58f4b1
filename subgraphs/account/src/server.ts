import { createSubgraph, readSchema, type SubgraphServer } from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { TokenSettings } from '@paygraph/shared/identity';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { extendContext, type AccountContext } from './context';
import { resolvers } from './resolvers/index';

export function createAccountSubgraph(shards: ShardSet, tokens: TokenSettings, now?: () => Date): Promise<SubgraphServer> {
  return createSubgraph<AccountContext>({
    name: 'account',
    typeDefs: readSchema('account'),
    resolvers: resolvers as unknown as GraphQLResolverMap<AccountContext>,
    shards,
    tokens,
    extendContext: (base) => extendContext(base, now),
  });
}
