import { definePart } from '@paygraph/shared/part';
import { webhooksConfig, webhooksPortDefault } from './config';
import { webhooksMigrations } from './migrations';

/** The webhooks subgraph: endpoints and the dispatcher that delivers ledger events to them. */
export const webhooksPart = definePart({
  name: 'webhooks',
  kind: 'subgraph',
  config: webhooksConfig,
  portDefault: webhooksPortDefault,
  /**
   * Its dispatcher runs one pass per shard at a time (claims, cursors, delivery records are short
   * statements), and endpoint requests are rare; one connection per shard keeps two stacks and
   * npm test inside MariaDB's default max_connections.
   */
  poolSizeDefault: 1,
  migrations: webhooksMigrations,
  workers: ['webhook endpoints refresh', 'webhook queue metrics', 'webhook delivery purge'],
  reads: ['ledger/read-model/tables', 'transaction/read-model/webhooks', 'settlement/read-model/webhooks'],
  // A local stack's receivers are on this machine over http: allowed there, explicitly (never by NODE_ENV).
  localStackEnv: { WEBHOOK_ALLOW_LOCAL_DESTINATIONS: 'true' },
});
