import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphTrustFromEnv } from '@paygraph/shared/gateway-trust';
import { envBool, envInt, envString } from '@paygraph/shared/config';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { createTransactionSubgraph } from './server';
import { relayIntervalMsDefault, startRelay } from './services/relay';
import { parseRetentionDays, startKeyPurge } from './services/key-retention';
import { idempotencyRetentionDaysDefault } from '@paygraph/shared/limits';

await runSubgraphMain('transaction', async () => {
  // Read first: a bad value stops the process before it opens a connection.
  const retentionDays = parseRetentionDays(envInt('IDEMPOTENCY_RETENTION_DAYS', idempotencyRetentionDaysDefault));
  const shards = openShards();
  const server = await createTransactionSubgraph(shards, subgraphTrustFromEnv('transaction'));
  const port = await listen(server.http, envInt('TRANSACTION_PORT', 4002), envString('HOST', '127.0.0.1'));
  // The relay completes cross-shard movements cut off by a crash; every replica may run one.
  if (envBool('RELAY_ENABLED', true)) {
    const relay = startRelay(shards, envInt('RELAY_INTERVAL_MS', relayIntervalMsDefault));
    server.disposers.push(() => relay.stop());
  }
  // Keys older than the retention are purged in bounded batches; every replica may run it.
  const purge = startKeyPurge(shards, retentionDays);
  server.disposers.push(() => purge.stop());
  return { port, shards, server };
});
