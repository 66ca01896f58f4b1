import { transactionPart } from './part';
import {
  createSubgraph,
  readSchema,
  type SubgraphServer,
  type SubgraphServerOptions,
} from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import type { TransactionSettings } from './config';
import { clientInfo, extendContext, type TransactionContext } from './context';
import { resolvers } from './resolvers/index';

export function createTransactionSubgraph(
  shards: ShardSet,
  trust: SubgraphTrust,
  now: (() => Date) | undefined,
  settings: TransactionSettings,
  server: SubgraphServerOptions = {},
): Promise<SubgraphServer> {
  return createSubgraph<TransactionContext>({
    name: transactionPart.name,
    typeDefs: readSchema(transactionPart.name),
    resolvers,
    shards,
    trust,
    ...server,
    extendContext: (base, req) => extendContext(base, clientInfo(req), now, settings),
  });
}
