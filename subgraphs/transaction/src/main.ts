import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { configuredTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { transactionPart } from './part';
import { createTransactionSubgraph } from './server';
import { startRelay } from './services/relay';
import { startKeyPurge } from './services/key-retention';
import { startHoldExpiry } from './services/hold-expiry';
import { startQuotePurge } from './services/fx-quote-purge';
import { armFailpoint } from './services/failpoints';

await runSubgraphMain(transactionPart, async (config) => {
  armFailpoint(config.failpoint);
  const shards = openShards({
    ...config.shards,
    poolSize: subgraphPoolSize(transactionPart, config.shardPoolSize),
    posting: config.posting,
  });
  const server = await createTransactionSubgraph(
    shards,
    configuredTrust(transactionPart.name, config.secret),
    undefined,
    config.settings,
    { production: config.production, keepAliveMs: config.subscriptionKeepAliveMs },
  );
  const port = await listen(server.http, config.port, config.host);
  // The relay completes cross-shard movements cut off by a crash; every replica may run one.
  if (config.relay.enabled) {
    const relay = startRelay(shards, config.relay.intervalMs);
    server.disposers.push(() => relay.stop());
  }
  // Keys older than the retention are purged in bounded batches; every replica may run it.
  const purge = startKeyPurge(shards, config.idempotencyRetentionDays);
  server.disposers.push(() => purge.stop());
  // Expired FX quotes go once nothing reads them (a day, or the key retention for a used one); every replica may run
  // it.
  const quotePurge = startQuotePurge(shards, { idempotencyRetentionDays: config.idempotencyRetentionDays });
  server.disposers.push(() => quotePurge.stop());
  // Releases expired holds' money; every replica may run it (SKIP LOCKED, decided under the hold's lock).
  if (config.holdExpiry.enabled) {
    const expiry = startHoldExpiry(shards, config.holdExpiry.intervalMs);
    server.disposers.push(() => expiry.stop());
  }
  return { port, shards, server };
});
