import { createSubgraph, readSchema, type SubgraphResolverMap, type SubgraphServer, type SubgraphServerOptions } from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { extendContext, type SettlementContext } from './context';
import { resolvers } from './resolvers/index';
import { settlementConfigDefault, type SettlementConfig } from './services/settle';

export function createSettlementSubgraph(
  shards: ShardSet,
  trust: SubgraphTrust,
  now?: () => Date,
  config: SettlementConfig = settlementConfigDefault,
  server: SubgraphServerOptions = {},
): Promise<SubgraphServer> {
  return createSubgraph<SettlementContext>({
    name: 'settlement',
    typeDefs: readSchema('settlement'),
    resolvers: resolvers as unknown as SubgraphResolverMap<SettlementContext>,
    shards,
    trust,
    ...server,
    extendContext: (base) => extendContext(base, config, now),
  });
}
