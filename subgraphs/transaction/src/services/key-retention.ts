import { startWorker, type Worker } from '@paygraph/shared/worker';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { idempotencyPurgeBatchSizeMax, idempotencyPurgeIntervalMs } from '@paygraph/shared/limits';
import { purgeExpiredKeys } from '@paygraph/shared/idempotency/index';
import { purgeExpiredRejections } from '@paygraph/shared/ledger/index';

/**
 * The transaction subgraph runs the idempotency keys' purge (the shared idempotency module's
 * retention.ts) for every part that claims keys: they share one table on each shard. Each pass
 * then purges the ledger's refusals at the same cut-off (ledger/rejections.ts): past it no
 * replay can meet them.
 */
export type KeyPurge = Worker;

/** Runs a pass every idempotencyPurgeIntervalMs until stopped. */
export function startKeyPurge(shards: ShardSet, retentionDays: number, now: () => Date = () => new Date()): KeyPurge {
  return startWorker({
    name: 'idempotency key purge',
    intervalMs: idempotencyPurgeIntervalMs,
    pass: async () => {
      const retention = { retentionDays, batchSize: idempotencyPurgeBatchSizeMax };
      const at = now();
      return (await purgeExpiredKeys(shards, retention, at)) + (await purgeExpiredRejections(shards, retention, at));
    },
  });
}
