import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import type { DestinationPolicy } from './services/destination';

/**
 * What every request of the webhooks subgraph needs beside its identity: the clock, the destination rules and the
 * secrets' key.
 */
export interface WebhooksServices {
  now: () => Date;
  policy: DestinationPolicy;
  secretKey: Buffer;
}

export interface WebhooksContext extends BaseSubgraphContext {
  services: WebhooksServices;
}

export function extendContext(base: BaseSubgraphContext, services: WebhooksServices): WebhooksContext {
  return { ...base, services };
}
