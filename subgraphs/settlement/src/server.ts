import { createSubgraph, readSchema, type BaseSubgraphContext, type SubgraphServer } from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { TokenSettings } from '@paygraph/shared/identity';

export function createSettlementSubgraph(shards: ShardSet, tokens: TokenSettings): Promise<SubgraphServer> {
  return createSubgraph<BaseSubgraphContext>({
    name: 'settlement',
    typeDefs: readSchema('settlement'),
    resolvers: { Query: { settlementSubgraphVersion: () => '0.1.0' } },
    shards,
    tokens,
    extendContext: (base) => base,
  });
}
