import type { Shard } from '../../shards/pool';
import type { PostingSettings } from '../../config/shared';
import { postBatch, type PostingItem } from './batch';
import { LockTimeout } from '../../shards/transaction';
import { ShardUnavailable } from '../../shards/unavailable';
import { lockRetryWaitSeconds, mergeInFlightPerShardMax, mergeSecondBatchAfterMs } from '../../limits';
import { mergedBatchSeconds, mergedBatchSize, postingQueueSeconds } from '../../metrics';
import { callerContext, inBatchSpan, type TracedCaller } from '../../tracing';

/**
 * Merged posting: postings submitted for the same shard within a short window go into one
 * database transaction (one lock statement, multi-row writes, one commit). A lone posting
 * waits at most mergeWaitMs; a full batch (mergeBatchSize) goes at once. Both come with the
 * shard (its posting settings: MERGE_WAIT_MS, MERGE_BATCH_SIZE). While a batch commits, the
 * next one fills, so the wait costs nothing under load. A batch that fails as a whole (not a refused
 * posting, which fails alone inside it) is retried one posting at a time, so one bad item
 * never fails its neighbours. At most mergeQueueSize postings wait per shard (MERGE_QUEUE_SIZE):
 * one more is refused at once (PostingQueueFull), before anything of it runs.
 */

/**
 * A shard's merge queue is full: its database does not keep up with the postings submitted, and
 * one more would only wait behind them past what its client waits for. The posting is refused
 * before anything of it ran (no prepare, no lock, no write), as an unavailable shard is: the
 * client is answered SHARD_UNAVAILABLE, retryable, and retries with the same idempotency key; a
 * worker's pass leaves the work to its next pass. The detail (the log's) says why.
 */
export class PostingQueueFull extends ShardUnavailable {
  constructor(shard: string, waiting: number) {
    super(shard, `the merged-posting queue is full: ${waiting} postings wait for a batch (MERGE_QUEUE_SIZE)`);
    this.name = 'PostingQueueFull';
  }
}

interface Waiting extends TracedCaller {
  item: PostingItem<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** When it was submitted (performance.now()): its wait for a batch is measured from here. */
  submittedAt: number;
}

interface ShardQueue {
  waiting: Waiting[];
  timer: NodeJS.Timeout | null;
  inFlight: number;
  /** When each batch in flight started (performance.now()), and the timer that opens the next slot. */
  started: number[];
  slotTimer: NodeJS.Timeout | null;
  batches: number;
  items: number;
  /** The shard's children of the stage histograms, looked up once: an observation then hashes no labels. */
  queueSeconds: Observer;
  batchSeconds: Observer;
}

interface Observer {
  observe(value: number): void;
}

const queues = new WeakMap<Shard, ShardQueue>();

function queueOf(shard: Shard): ShardQueue {
  let queue = queues.get(shard);
  if (!queue) {
    queue = {
      waiting: [],
      timer: null,
      inFlight: 0,
      started: [],
      slotTimer: null,
      batches: 0,
      items: 0,
      queueSeconds: postingQueueSeconds.labels({ shard: shard.name }),
      batchSeconds: mergedBatchSeconds.labels({ shard: shard.name }),
    };
    queues.set(shard, queue);
  }
  return queue;
}

export function submitMerged<R>(shard: Shard, item: PostingItem<R>): Promise<R> {
  const queue = queueOf(shard);
  if (queue.waiting.length >= shard.posting.mergeQueueSize)
    return Promise.reject(new PostingQueueFull(shard.name, queue.waiting.length));
  return new Promise<R>((resolve, reject) => {
    queue.waiting.push({
      item: item as PostingItem<unknown>,
      resolve: resolve as (v: unknown) => void,
      reject,
      context: callerContext(),
      submittedAt: performance.now(),
    });
    schedule(shard, queue, shard.posting);
  });
}

/**
 * A batch starts when a slot is free. The second slot opens only once the batch in flight has run
 * for mergeSecondBatchAfterMs: a batch that long is waiting for a lock held elsewhere, and the
 * others must not wait behind it; a batch that works is soon done, and what arrived meanwhile goes
 * in one larger batch after it (two batches at once mostly wait for each other's hot system rows,
 * at twice the statements and commits: docs/PERFORMANCE.md).
 */
function schedule(shard: Shard, queue: ShardQueue, s: PostingSettings): void {
  if (queue.inFlight >= mergeInFlightPerShardMax) return;
  const busyFor = queue.inFlight > 0 ? performance.now() - Math.min(...queue.started) : Infinity;
  if (busyFor < mergeSecondBatchAfterMs) {
    queue.slotTimer ??= setTimeout(
      () => {
        queue.slotTimer = null;
        if (queue.waiting.length > 0) schedule(shard, queue, s);
      },
      Math.ceil(mergeSecondBatchAfterMs - busyFor),
    );
    return;
  }
  if (queue.waiting.length >= s.mergeBatchSize || s.mergeWaitMs === 0) {
    flush(shard, queue, s);
  } else if (!queue.timer) {
    queue.timer = setTimeout(() => flush(shard, queue, s), s.mergeWaitMs);
  }
}

function flush(shard: Shard, queue: ShardQueue, s: PostingSettings): void {
  if (queue.timer) clearTimeout(queue.timer);
  queue.timer = null;
  const batch = queue.waiting.splice(0, s.mergeBatchSize);
  if (batch.length === 0) return;
  const started = performance.now();
  queue.inFlight += 1;
  queue.started.push(started);
  queue.batches += 1;
  queue.items += batch.length;
  mergedBatchSize.observe({ shard: shard.name }, batch.length);
  for (const w of batch) queue.queueSeconds.observe((started - w.submittedAt) / 1000);
  // A batch serves several requests: its statements go in a span of its own (tracing.ts).
  void inBatchSpan('posting batch', shard.name, batch, () => run(shard, batch)).finally(() => {
    queue.batchSeconds.observe((performance.now() - started) / 1000);
    queue.inFlight -= 1;
    queue.started.splice(queue.started.indexOf(started), 1);
    if (queue.waiting.length > 0) schedule(shard, queue, s);
  });
}

async function run(shard: Shard, batch: Waiting[]): Promise<void> {
  try {
    // Loops, not callbacks: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
    const items: Array<PostingItem<unknown>> = [];
    for (const w of batch) items.push(w.item);
    const results = await postBatch(shard, items);
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]);
  } catch (error) {
    if (batch.length === 1) {
      batch[0]!.reject(error);
      return;
    }
    // After a lock timeout the batch has waited lockWaitSeconds already: alone, the posting
    // whose row is held gives up sooner, and the others rarely wait at all.
    const retry = error instanceof LockTimeout ? { lockWaitSeconds: lockRetryWaitSeconds } : {};
    await Promise.all(
      batch.map(async (w) => {
        try {
          const [result] = await postBatch(shard, [w.item], retry);
          w.resolve(result);
        } catch (single) {
          w.reject(single);
        }
      }),
    );
  }
}

/** Batches and postings committed through the merger on a shard, for tests and metrics. */
export function mergeStats(shard: Shard): { batches: number; items: number } {
  const queue = queueOf(shard);
  return { batches: queue.batches, items: queue.items };
}
