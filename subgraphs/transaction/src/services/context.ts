import type { Identity } from '@paygraph/shared/identity';
import type { Logger } from '@paygraph/shared/log';
import type { ShardSet } from '@paygraph/shared/shards/pool';

/** Where a request came from, kept with each payment for risk and audit. */
export interface ClientInfo {
  deviceId: string | null;
  ip: string | null;
  userAgent: string | null;
}

export interface ServiceContext {
  shards: ShardSet;
  identity: Identity;
  now: () => Date;
  client: ClientInfo;
  /** AMOUNT_MAX: the most one money operation may move, in minor units. */
  amountMax: bigint;
  /** How long a hold lives when its request does not say (HOLD_TTL_SECONDS, read in main.ts). */
  holdTtlSeconds: number;
  /** The request's logger (its lines name the request's id). */
  log: Logger;
}
