import { openShards } from '@paygraph/shared/shards/pool';
import { tokenSettingsFromEnv } from '@paygraph/shared/identity';
import { envInt, envString } from '@paygraph/shared/config';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { createTransactionSubgraph } from './server';

await runSubgraphMain('transaction', async () => {
  const shards = openShards();
  const server = await createTransactionSubgraph(shards, tokenSettingsFromEnv());
  const port = await listen(server.http, envInt('TRANSACTION_PORT', 4002), envString('HOST', '127.0.0.1'));
  return { port, shards, server };
});
