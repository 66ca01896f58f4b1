import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { holdExpiryBatchSizeMax, holdExpiryIntervalMsDefault } from '@paygraph/shared/limits';
import { newId, parseId } from '@paygraph/shared/ids';
import { dueHolds } from '../db/holds';
import { releaseHold } from './hold';
import { log } from '@paygraph/shared/log';

/**
 * Releases holds past their deadline: each becomes EXPIRED and its money available again, at
 * most holdExpiryBatchSizeMax per shard per pass. Safe in any number of replicas and against
 * captures and voids: due holds are found with SKIP LOCKED, and each release decides again
 * under the hold's lock, so a hold ended meanwhile is left alone. Answers how many it released.
 */
export async function expireDueHolds(shard: Shard, now: () => Date): Promise<number> {
  const due = await inTransaction(shard, (tx) => dueHolds(tx, now(), holdExpiryBatchSizeMax));
  const at = now();
  // Submitted together, so merged posting releases them in a transaction or two.
  const released = await Promise.all(due.map((hold) =>
    releaseHold(shard, hold, 'EXPIRED', { releaseId: newId('posting', parseId('hold', hold.id)!.shard) }, at)));
  return released.filter((r) => r.ok).length;
}

export interface HoldExpiry {
  stop(): Promise<void>;
  /** Runs one pass over every shard now; tests use it instead of waiting for the timer. */
  drain(): Promise<number>;
}

export function startHoldExpiry(shards: ShardSet, intervalMs: number = holdExpiryIntervalMsDefault, now: () => Date = () => new Date()): HoldExpiry {
  let stopped = false;
  let running: Promise<number> = Promise.resolve(0);
  let timer: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  const pass = async () => (await Promise.all(shards.all.map((s) => expireDueHolds(s, now)))).reduce((a, b) => a + b, 0);
  const loop = async () => {
    while (!stopped) {
      running = pass().catch((error: unknown) => {
        log().error({ err: error }, 'hold expiry pass failed');
        return 0;
      });
      await running;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, intervalMs);
      });
    }
  };
  void loop();
  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await running;
    },
    drain: async () => {
      await running;
      return pass();
    },
  };
}
