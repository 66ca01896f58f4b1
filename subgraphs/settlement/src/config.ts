import * as z from 'zod';
import { evenWithRefusedValues, boolean, integer, intervalMs, parsed, port } from '@paygraph/shared/config/env';
import { subgraphRequirements, subgraphSecret, subgraphShape } from '@paygraph/shared/config/shared';
import {
  feeBpsMax,
  settlementDelayDaysDefault,
  settlementDelayDaysMax,
  settlementFeeBpsDefault,
  settlementWorkerIntervalMsDefault,
} from './limits';

/** Where the settlement subgraph listens unless SETTLEMENT_PORT says otherwise. */
export const settlementPortDefault = 4003;
/**
 * Points where the settlement subgraph kills itself, for crash tests (SETTLEMENT_FAILPOINT): between an advance's
 * pieces.
 */
export const failpoints = ['advance-after-piece'] as const;
export type Failpoint = (typeof failpoints)[number];

function failpointOf(raw: string): Failpoint {
  const found = failpoints.find((f) => f === raw);
  if (found === undefined) throw new Error(`must be one of ${failpoints.join(', ')}, got "${raw}"`);
  return found;
}

/** What settling reads (services/settle.ts, the resolvers' context). */
export const settlementSettingsConfig = z.object({
  /** Merchants' fee rate unless set per merchant (SETTLEMENT_FEE_BPS). */
  feeBpsDefault: integer('SETTLEMENT_FEE_BPS', 'bps', 0, feeBpsMax, settlementFeeBpsDefault, {
    default: `\`${settlementFeeBpsDefault}\``,
    meaning: "merchants' fee rate unless set per merchant (`setMerchantFeeRate`)",
  }),
});

export type SettlementSettings = z.output<typeof settlementSettingsConfig>;

/**
 * The settlement subgraph's configuration: the shared subgraph pieces, its port and secret, its settings and worker.
 */
export const settlementConfig = z
  .object({
    ...subgraphShape,
    port: port('SETTLEMENT_PORT', settlementPortDefault, {
      default: `\`${settlementPortDefault}\``,
      meaning: "the settlement subgraph's port",
    }),
    secret: subgraphSecret('settlement'),
    settings: settlementSettingsConfig,
    worker: z.object({
      delayDays: integer('SETTLEMENT_DELAY_DAYS', 'days', 1, settlementDelayDaysMax, settlementDelayDaysDefault, {
        default: `\`${settlementDelayDaysDefault}\``,
        meaning: 'the worker settles date D on D+N',
      }),
      enabled: boolean('SETTLEMENT_WORKER_ENABLED', true, {
        default: '`true`',
        meaning: 'run the settlement and advance workers in the settlement subgraph',
      }),
      intervalMs: intervalMs('SETTLEMENT_WORKER_INTERVAL_MS', settlementWorkerIntervalMsDefault, {
        default: `\`${settlementWorkerIntervalMsDefault}\``,
        meaning: 'pause between worker passes',
      }),
    }),
    failpoint: parsed('SETTLEMENT_FAILPOINT', failpoints.map((f) => `\`${f}\``).join(', '), failpointOf, undefined, {
      default: 'unset',
      meaning:
        'tests only: a point where the settlement subgraph kills itself; with `NODE_ENV=production` the subgraph refuses to start',
    }),
  })
  .superRefine((config, ctx) => {
    subgraphRequirements('settlement')(config, ctx);
    if (config.production && config.failpoint !== null) {
      ctx.addIssue({
        code: 'custom',
        input: config,
        message: `SETTLEMENT_FAILPOINT is set ("${config.failpoint}") with NODE_ENV=production: failpoints kill the process on purpose and are for tests only; unset SETTLEMENT_FAILPOINT`,
      });
    }
  }, evenWithRefusedValues);

export type SettlementConfig = z.output<typeof settlementConfig>;
