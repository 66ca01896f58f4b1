import { openShards } from '@paygraph/shared/shards/pool';
import { tokenSettingsFromEnv } from '@paygraph/shared/identity';
import { envInt, envString } from '@paygraph/shared/config';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { createSettlementSubgraph } from './server';

await runSubgraphMain('settlement', async () => {
  const shards = openShards();
  const server = await createSettlementSubgraph(shards, tokenSettingsFromEnv());
  const port = await listen(server.http, envInt('SETTLEMENT_PORT', 4003), envString('HOST', '127.0.0.1'));
  return { port, shards, server };
});
