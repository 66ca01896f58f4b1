import { auditEvents, type AuditEventRow } from './schema/audit';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { toLogicalShard } from '@paygraph/shared/ids';
import { insertRows } from '@paygraph/shared/db/raw';
import { auditBatchRowsMax, auditCloseTimeoutMs, auditFlushIntervalMs, auditQueueRowsMax } from '../limits';
import { log } from '@paygraph/shared/log';
import { startWorker } from '@paygraph/shared/worker';

/**
 * Audit rows for money mutations, written to the control shard (the one holding logical shard
 * 0) off the request path: a request only appends to a queue, and a worker writes the queue in
 * multi-row INSERTs, one at a time. When the database is slow or away, rows wait (up to
 * auditQueueRowsMax, past which new ones are dropped and counted) and the JSON audit log,
 * written at once, still has every record.
 */
export interface AuditStore {
  enqueue(rows: readonly AuditEventRow[]): void;
  /** Writes everything queued now; resolves when it is written or the write failed. */
  flush(): Promise<void>;
  /** Rows written, dropped because the queue was full, and waiting. */
  stats(): { written: number; dropped: number; queued: number };
  close(): Promise<void>;
}

/** Platform-wide records live with logical shard 0, the control shard. */
const controlLogicalShard = toLogicalShard(0);

export interface AuditStoreOptions {
  batchRowsMax?: number;
  flushIntervalMs?: number;
  queueRowsMax?: number;
  /** Close the shard pools on close(): true when the store opened them itself. */
  ownsShards: boolean;
}

/** The rows waiting for the database and what became of the others. */
interface AuditQueue {
  rows: AuditEventRow[];
  written: number;
  dropped: number;
  /** The last write failed: logged once until a write succeeds again. */
  failing: boolean;
}

/**
 * Writes the queue in batches of batchRowsMax, in order; a failed batch stays at the head for the next pass. Answers
 * rows written.
 */
async function writeQueued(shard: Shard, queue: AuditQueue, batchRowsMax: number): Promise<number> {
  let written = 0;
  while (queue.rows.length > 0) {
    const batch = queue.rows.slice(0, batchRowsMax);
    try {
      await insertRows(shard.db, auditEvents, batch);
    } catch (error) {
      if (!queue.failing)
        log().error(
          { detail: error instanceof Error ? error.message : error },
          `audit: rows could not be written to ${shard.name}; retrying`,
        );
      queue.failing = true;
      return written;
    }
    if (queue.failing) log().error(`audit: writing rows to ${shard.name} again`);
    queue.failing = false;
    queue.rows = queue.rows.slice(batch.length);
    queue.written += batch.length;
    written += batch.length;
  }
  return written;
}

/**
 * The queue is written by a worker (shared/worker.ts): a pass every flushIntervalMs, or at once
 * when a batch's worth is waiting, one at a time; close() waits for the running pass, then
 * writes what is left for at most auditCloseTimeoutMs.
 */
export function createAuditStore(shards: ShardSet, options: AuditStoreOptions): AuditStore {
  const batchRowsMax = options.batchRowsMax ?? auditBatchRowsMax;
  const queueRowsMax = options.queueRowsMax ?? auditQueueRowsMax;
  const shard = shards.byLogical(controlLogicalShard);
  const queue: AuditQueue = { rows: [], written: 0, dropped: 0, failing: false };
  let closed = false;
  const writer = startWorker({
    name: 'audit writer',
    intervalMs: options.flushIntervalMs ?? auditFlushIntervalMs,
    pass: () => writeQueued(shard, queue, batchRowsMax),
  });
  return {
    enqueue(rows) {
      if (closed) throw new Error('audit rows enqueued after the store was closed');
      const room = Math.max(0, queueRowsMax - queue.rows.length);
      if (rows.length > room) {
        if (queue.dropped === 0)
          log().error(
            `audit: more than ${queueRowsMax} rows waiting for the database; dropping new rows (the audit log keeps them)`,
          );
        queue.dropped += rows.length - room;
      }
      queue.rows.push(...rows.slice(0, room));
      if (queue.rows.length >= batchRowsMax) writer.wake();
    },
    // After the running pass, which may have started before the latest rows came.
    flush: async () => void (await writer.drain()),
    stats: () => ({ written: queue.written, dropped: queue.dropped, queued: queue.rows.length }),
    async close() {
      closed = true;
      await writer.stop();
      const deadline = Date.now() + auditCloseTimeoutMs;
      while (queue.rows.length > 0 && Date.now() < deadline) {
        await writeQueued(shard, queue, batchRowsMax);
        if (queue.failing) break;
      }
      if (queue.rows.length > 0)
        log().error(
          `audit: ${queue.rows.length} rows were not written before the gateway stopped (the audit log has them)`,
        );
      if (options.ownsShards) await shards.close();
    },
  };
}
