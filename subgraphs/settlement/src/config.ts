import * as z from 'zod';
import { evenWithRefusedValues, boolean, integer, intervalMs, port } from '@paygraph/shared/config/env';
import { subgraphRequirements, subgraphSecret, subgraphShape } from '@paygraph/shared/config/shared';
import { feeBpsMax, settlementDelayDaysDefault, settlementDelayDaysMax, settlementFeeBpsDefault, settlementWorkerIntervalMsDefault } from '@paygraph/shared/limits';


/** Where the settlement subgraph listens unless SETTLEMENT_PORT says otherwise. */
export const settlementPortDefault = 4003;
/** What settling reads (services/settle.ts, the resolvers' context). */
export const settlementSettingsConfig = z.object({
  /** Merchants' fee rate unless set per merchant (SETTLEMENT_FEE_BPS). */
  feeBpsDefault: integer('SETTLEMENT_FEE_BPS', 'bps', 0, feeBpsMax, settlementFeeBpsDefault, {
    default: `\`${settlementFeeBpsDefault}\``,
    meaning: "merchants' fee rate unless set per merchant (`setMerchantFeeRate`)",
  }),
});

export type SettlementSettings = z.output<typeof settlementSettingsConfig>;

/** The settlement subgraph's configuration: the shared subgraph pieces, its port and secret, its settings and worker. */
export const settlementConfig = z.object({
  ...subgraphShape,
  port: port('SETTLEMENT_PORT', settlementPortDefault, { default: `\`${settlementPortDefault}\``, meaning: "the settlement subgraph's port" }),
  secret: subgraphSecret('settlement'),
  settings: settlementSettingsConfig,
  worker: z.object({
    delayDays: integer('SETTLEMENT_DELAY_DAYS', 'days', 1, settlementDelayDaysMax, settlementDelayDaysDefault, {
      default: `\`${settlementDelayDaysDefault}\``,
      meaning: 'the worker settles date D on D+N',
    }),
    enabled: boolean('SETTLEMENT_WORKER_ENABLED', true, { default: '`true`', meaning: 'run the settlement worker in the settlement subgraph' }),
    intervalMs: intervalMs('SETTLEMENT_WORKER_INTERVAL_MS', settlementWorkerIntervalMsDefault, {
      default: `\`${settlementWorkerIntervalMsDefault}\``,
      meaning: 'pause between worker passes',
    }),
  }),
}).superRefine(subgraphRequirements('settlement'), evenWithRefusedValues);

export type SettlementConfig = z.output<typeof settlementConfig>;
