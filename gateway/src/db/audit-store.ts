import { auditEvents, type AuditEventRow } from './schema/audit';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { toLogicalShard } from '@paygraph/shared/ids';
import { insertRows } from '@paygraph/shared/db/raw';
import { auditBatchRowsMax, auditCloseTimeoutMs, auditFlushIntervalMs, auditQueueRowsMax } from '../limits';
import { log } from '@paygraph/shared/log';

/**
 * Audit rows for money mutations, written to the control shard (the one holding logical shard
 * 0) off the request path: a request only appends to a queue, and a timer writes the queue in
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

export function createAuditStore(shards: ShardSet, options: AuditStoreOptions): AuditStore {
  const batchRowsMax = options.batchRowsMax ?? auditBatchRowsMax;
  const queueRowsMax = options.queueRowsMax ?? auditQueueRowsMax;
  const shard = shards.byLogical(controlLogicalShard);
  let queue: AuditEventRow[] = [];
  let writing: Promise<void> | null = null;
  let written = 0;
  let dropped = 0;
  let failing = false;
  let closed = false;

  const writeQueued = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchRowsMax);
      try {
        await insertRows(shard.db, auditEvents, batch);
      } catch (error) {
        // Kept at the head of the queue and tried again on the next tick.
        if (!failing) log().error({ detail: error instanceof Error ? error.message : error }, `audit: rows could not be written to ${shard.name}; retrying`);
        failing = true;
        return;
      }
      if (failing) log().error(`audit: writing rows to ${shard.name} again`);
      failing = false;
      queue = queue.slice(batch.length);
      written += batch.length;
    }
  };

  const flush = (): Promise<void> => {
    writing ??= writeQueued().finally(() => {
      writing = null;
    });
    return writing;
  };

  const timer = setInterval(() => {
    if (queue.length > 0 && !writing) void flush();
  }, options.flushIntervalMs ?? auditFlushIntervalMs);
  timer.unref();

  return {
    enqueue(rows) {
      if (closed) throw new Error('audit rows enqueued after the store was closed');
      const room = Math.max(0, queueRowsMax - queue.length);
      if (rows.length > room) {
        if (dropped === 0) log().error(`audit: more than ${queueRowsMax} rows waiting for the database; dropping new rows (the audit log keeps them)`);
        dropped += rows.length - room;
      }
      queue.push(...rows.slice(0, room));
      if (queue.length >= batchRowsMax && !writing) void flush();
    },
    async flush() {
      // A write in progress may have started before the latest rows came.
      if (writing) await writing;
      await flush();
    },
    stats: () => ({ written, dropped, queued: queue.length }),
    async close() {
      closed = true;
      clearInterval(timer);
      const deadline = Date.now() + auditCloseTimeoutMs;
      while (queue.length > 0 && Date.now() < deadline) {
        await flush();
        if (failing) break;
      }
      if (queue.length > 0) log().error(`audit: ${queue.length} rows were not written before the gateway stopped (the audit log has them)`);
      if (options.ownsShards) await shards.close();
    },
  };
}
