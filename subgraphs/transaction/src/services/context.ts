import type { Identity } from '@paygraph/shared/identity';
import type { Logger } from '@paygraph/shared/log';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { PaymentLegRow } from '../db/schema/transactions';
import type { EndingsInFlight } from './endings-in-flight';

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
  /** How long an FX quote may pay a payment (FX_QUOTE_TTL_SECONDS, read in main.ts). */
  fxQuoteTtlSeconds: number;
  /** The request's logger (its lines name the request's id). */
  log: Logger;
  /**
   * Hands the legs a service has just written to the request's loader, so that the answer does
   * not read them back: one SELECT fewer per marketplace payment. Absent outside a GraphQL request.
   */
  primeLegs?: (paymentId: string, legs: readonly PaymentLegRow[]) => void;
  /**
   * The process's cross-shard payments answered before their endings committed (endings-in-flight.ts). Absent outside
   * the subgraph's requests (workers, tests that drive a service alone): there every ending is awaited before answering.
   */
  endings?: EndingsInFlight;
}
