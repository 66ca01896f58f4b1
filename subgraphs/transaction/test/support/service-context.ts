import type { ShardSet } from '@paygraph/shared/shards/pool';
import { amountMinorUnitsMaxDefault } from '@paygraph/shared/limits';
import { log } from '@paygraph/shared/log';
import type { ServiceContext } from '../../src/services/context';
import { fxQuoteTtlSecondsDefault, holdTtlSecondsDefault } from '../../src/limits';

/**
 * A service's context as a request's would be, with the defaults main.ts reads when nothing is configured: for tests
 * that call a service directly. No request's loader (primeLegs) nor endings in flight: every ending is awaited.
 */
export function serviceContext(
  shards: ShardSet,
  identity: ServiceContext['identity'],
  now: () => Date = () => new Date(),
): ServiceContext {
  return {
    shards,
    identity,
    now,
    client: { deviceId: null, ip: null, userAgent: null },
    amountMax: amountMinorUnitsMaxDefault,
    holdTtlSeconds: holdTtlSecondsDefault,
    fxQuoteTtlSeconds: fxQuoteTtlSecondsDefault,
    log: log(),
  };
}
