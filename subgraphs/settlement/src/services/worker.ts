import type { ShardSet } from '@paygraph/shared/shards/pool';
import { dueSettlements } from '@paygraph/transaction/read-model/settlement';
import { runSettlement, settleableThrough, settlementConfigDefault, type SettlementConfig } from './settle';
import { log } from '@paygraph/shared/log';

/**
 * Settles every merchant's closed dates at T+N. Several replicas may run it: a settlement is
 * claimed per (merchant, date) and each stripe's part is written once, under its own key.
 */
export async function settleDue(shards: ShardSet, now: () => Date, delayDays: number, config: SettlementConfig = settlementConfigDefault): Promise<number> {
  const through = settleableThrough(now(), delayDays);
  const due = (await Promise.all(shards.all.map((s) => dueSettlements(s.db, through)))).flat();
  const unique = [...new Map(due.map((d) => [`${d.merchantId}|${d.businessDate}`, d])).values()];
  let settled = 0;
  for (const { merchantId, businessDate } of unique) {
    // One merchant's failure (a broken invariant crashes its run) must not hold up the others.
    try {
      const result = await runSettlement(shards, merchantId, businessDate, now, config);
      if (result.ok) settled += 1;
      else log().error(`settlement worker: ${merchantId} ${businessDate}: ${result.error.kind}`);
    } catch (error) {
      log().error({ err: error }, `settlement worker: ${merchantId} ${businessDate} failed`);
    }
  }
  return settled;
}

export function startSettlementWorker(
  shards: ShardSet,
  options: { intervalMs: number; delayDays: number; config: SettlementConfig },
  now: () => Date = () => new Date(),
): { stop(): void } {
  const { intervalMs, delayDays, config } = options;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      await settleDue(shards, now, delayDays, config).catch((error: unknown) => log().error({ err: error }, 'settlement worker pass failed'));
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  };
  void loop();
  return { stop: () => void (stopped = true) };
}
