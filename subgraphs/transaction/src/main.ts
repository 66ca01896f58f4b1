import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { configuredTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { createTransactionSubgraph } from './server';
import { startRelay } from './services/relay';
import { startKeyPurge } from './services/key-retention';
import { startHoldExpiry } from './services/hold-expiry';
import { armFailpoint } from './services/failpoints';

await runSubgraphMain('transaction', async (config) => {
  const { transaction } = config;
  armFailpoint(transaction.failpoint);
  const shards = openShards({ ...config.shards, poolSize: subgraphPoolSize('transaction', config.shardPoolSize), posting: config.posting });
  const server = await createTransactionSubgraph(
    shards,
    configuredTrust(config.subgraphSecrets, 'transaction'),
    undefined,
    { amountMax: transaction.amountMax, holdTtlSeconds: transaction.holdTtlSeconds },
    { production: config.production },
  );
  const port = await listen(server.http, config.subgraphs.ports.transaction, config.subgraphs.host);
  // The relay completes cross-shard movements cut off by a crash; every replica may run one.
  if (transaction.relayEnabled) {
    const relay = startRelay(shards, transaction.relayIntervalMs);
    server.disposers.push(() => relay.stop());
  }
  // Keys older than the retention are purged in bounded batches; every replica may run it.
  const purge = startKeyPurge(shards, transaction.idempotencyRetentionDays);
  server.disposers.push(() => purge.stop());
  // Releases expired holds' money; every replica may run it (SKIP LOCKED, decided under the hold's lock).
  if (transaction.holdExpiryEnabled) {
    const expiry = startHoldExpiry(shards, transaction.holdExpiryIntervalMs);
    server.disposers.push(() => expiry.stop());
  }
  return { port, shards, server };
});
