import { settlementPart } from './part';
import {
  createSubgraph,
  readSchema,
  type SubgraphServer,
  type SubgraphServerOptions,
} from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { extendContext, type SettlementContext } from './context';
import { resolvers } from './resolvers/index';
import type { SettlementSettings } from './config';
import { statementUploadsPath } from '@paygraph/shared/server/http';
import { statementUploads } from './services/statement-uploads';
import { statementUploadRoute } from './routes/statement-uploads';

export function createSettlementSubgraph(
  shards: ShardSet,
  trust: SubgraphTrust,
  now: (() => Date) | undefined,
  settings: SettlementSettings,
  server: SubgraphServerOptions = {},
): Promise<SubgraphServer> {
  return createSubgraph<SettlementContext>({
    name: settlementPart.name,
    typeDefs: readSchema(settlementPart.name),
    resolvers,
    expressLane: {},
    shards,
    trust,
    ...server,
    extendContext: (base) => extendContext(base, settings, now),
    routes: { [statementUploadsPath]: statementUploadRoute(statementUploads(shards, now ?? (() => new Date()))) },
  });
}
