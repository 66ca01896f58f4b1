import { definePart } from '@paygraph/shared/part';
import { gatewayConfig, gatewayPortDefault } from './config';
import { auditPoolConnectionsMax } from './limits';
import { gatewayMigrations } from './migrations';

/**
 * The gateway: the one public endpoint, composing the subgraphs it learns from the supergraph it
 * serves (compose.ts). It writes audit rows to the control shard only, from a pool of its own
 * size, and owns audit_events, whose set applies after transaction's (docs/GATEWAY.md, "Configuration and processes").
 */
export const gatewayPart = definePart({
  name: 'gateway',
  kind: 'gateway',
  config: gatewayConfig,
  portDefault: gatewayPortDefault,
  poolSizeDefault: null,
  connectionsMax: auditPoolConnectionsMax,
  migrations: gatewayMigrations,
  workers: ['audit writer'],
  reads: [],
});
