import { fromEveryReachable, startWorker, type Worker } from '@paygraph/shared/worker';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { parseId } from '@paygraph/shared/ids';
import { dueSettlements } from '@paygraph/transaction/read-model/settlement';
import type { SettlementSettings } from '../config';
import { runSettlement, settleableThrough } from './settle';
import { log } from '@paygraph/shared/log';
import { merchantsWithAdvancesLeft } from '../db/advance-store';
import { finishAdvancesLeft } from './advances';
import { processingSettlements, settlementStates, type SettlementState } from '../db/settlement-store';
import {
  oldestFirst,
  pairKey,
  planSettlementRuns,
  type DuePair,
  type SettlementRunPlan,
} from '../domain/settlement-runs';
import { advancesLeftPerPassMax, settlementsPerPassMax, settlementsResumedPerPassMax } from '../limits';

/**
 * Settles merchants' closed dates at T+N, at most settlementsPerPassMax per pass, oldest date
 * first; resumes settlements left PROCESSING; what is left unsettled of a date already SETTLED
 * goes to the merchant's next settlement (domain/settlement-runs.ts). Several replicas may run it:
 * a settlement is claimed per (merchant, date) and each stripe's part is written once, under its own key.
 */
export async function settleDue(
  shards: ShardSet,
  now: () => Date,
  delayDays: number,
  settings: SettlementSettings,
): Promise<number> {
  const through = settleableThrough(now(), delayDays);
  // One database away leaves out only what it holds (a merchant found elsewhere with a stripe there stops its run at
  // that stripe and is resumed like any partial run; one found only there waits for the pass after it returns).
  const due = (await fromEveryReachable('settlement worker', shards.all, (s) => dueSettlements(s.db, through))).flat();
  const unique = oldestFirst([...new Map(due.map((d) => [pairKey(d), d])).values()]);
  let settled = 0;
  for (const run of (await settlementRuns(shards, unique, through)).slice(0, settlementsPerPassMax)) {
    const { merchantId, businessDate, stragglers, stragglersOnly } = run;
    // One merchant's failure (a broken invariant crashes its run) must not hold up the others.
    try {
      const result = await runSettlement(shards, merchantId, businessDate, now, settings, {
        stragglers,
        stragglersOnly,
      });
      if (result.ok) settled += 1;
      // A payment of the date still in flight: expected, and the next pass runs the settlement again.
      else if (result.error.kind === 'PaymentsInFlight')
        log().info(`settlement worker: ${merchantId} ${businessDate} waits for ${result.error.inFlightId}`);
      else log().error(`settlement worker: ${merchantId} ${businessDate}: ${result.error.kind}`);
    } catch (error) {
      log().error({ err: error }, `settlement worker: ${merchantId} ${businessDate} failed`);
    }
  }
  return settled;
}

/**
 * The pass's runs (domain/settlement-runs.ts): every due pair is planned, so that pairs which wait take no run's
 * slot; the settlements they name are read from the merchants' home databases, settlementsPerPassMax pairs a
 * query, with the settlements left PROCESSING. A merchant whose home database is away waits for the next pass; one
 * whose id names no database runs as before (runSettlement answers AccountNotFound, which the pass logs).
 */
async function settlementRuns(
  shards: ShardSet,
  due: readonly DuePair[],
  through: string,
): Promise<SettlementRunPlan[]> {
  const homeOf = (merchantId: string): Shard | undefined => {
    const parsed = parseId('account', merchantId);
    return parsed ? shards.byLogical(parsed.shard) : undefined;
  };
  const homes = [...new Set(due.flatMap((d) => homeOf(d.merchantId) ?? []))];
  const answers = await fromEveryReachable('settlement worker', homes, async (home) => {
    const pairs = due.filter((d) => homeOf(d.merchantId) === home);
    const asked = [...pairs, ...pairs.map((d) => ({ merchantId: d.merchantId, businessDate: through }))];
    const states: SettlementState[] = [];
    for (let i = 0; i < asked.length; i += settlementsPerPassMax)
      states.push(...(await settlementStates(home.db, asked.slice(i, i + settlementsPerPassMax))));
    return { home, states };
  });
  const answered = new Set(answers.map((a) => a.home));
  const reachable = due.filter((d) => {
    const home = homeOf(d.merchantId);
    return !home || answered.has(home);
  });
  const settled = new Set(answers.flatMap((a) => a.states.filter((s) => s.status === 'SETTLED').map(pairKey)));
  const processing = (
    await fromEveryReachable('settlement worker', shards.all, (s) =>
      processingSettlements(s.db, through, settlementsResumedPerPassMax),
    )
  ).flat();
  return planSettlementRuns(reachable, settled, processing, through);
}

export function startSettlementWorker(
  shards: ShardSet,
  options: { intervalMs: number; delayDays: number; settings: SettlementSettings },
  now: () => Date = () => new Date(),
): Worker {
  const { intervalMs, delayDays, settings } = options;
  return startWorker({
    name: 'settlement worker',
    intervalMs,
    pass: () => settleDue(shards, now, delayDays, settings),
  });
}

/**
 * Finishes advances a crash left PENDING between their pieces (each all or nothing: every piece
 * posted and PAID, or every posted piece taken back and REVERSED), merchant by merchant, under
 * the merchant's advance lock. Without it such an advance waited for the merchant's next advance
 * request, its posted pieces counted as advanced while the rest of its plan stayed pending.
 */
export async function finishAdvancesLeftDue(shards: ShardSet, now: () => Date): Promise<number> {
  const merchants = new Set(
    (
      await fromEveryReachable('advance worker', shards.all, (s) =>
        merchantsWithAdvancesLeft(s.db, advancesLeftPerPassMax),
      )
    ).flat(),
  );
  let finished = 0;
  for (const merchantId of merchants) {
    // One merchant's failure (a reversal that finds its piece settled crashes) must not hold up the others.
    try {
      finished += await finishAdvancesLeft(shards, merchantId, now);
    } catch (error) {
      log().error({ err: error }, `advance worker: ${merchantId} failed`);
    }
  }
  return finished;
}

export function startAdvanceWorker(
  shards: ShardSet,
  options: { intervalMs: number },
  now: () => Date = () => new Date(),
): Worker {
  return startWorker({
    name: 'advance worker',
    intervalMs: options.intervalMs,
    pass: () => finishAdvancesLeftDue(shards, now),
  });
}
