import { createSubgraph, readSchema, type SubgraphResolverMap, type SubgraphServer, type SubgraphServerOptions } from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { clientInfo, defaultTransactionSettings, extendContext, type TransactionContext, type TransactionSettings } from './context';
import { resolvers } from './resolvers/index';

export function createTransactionSubgraph(
  shards: ShardSet,
  trust: SubgraphTrust,
  now?: () => Date,
  settings: TransactionSettings = defaultTransactionSettings,
  server: SubgraphServerOptions = {},
): Promise<SubgraphServer> {
  return createSubgraph<TransactionContext>({
    name: 'transaction',
    typeDefs: readSchema('transaction'),
    resolvers: resolvers as unknown as SubgraphResolverMap<TransactionContext>,
    shards,
    trust,
    ...server,
    extendContext: (base, req) => extendContext(base, clientInfo(req), now, settings),
  });
}
