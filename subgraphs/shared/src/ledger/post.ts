import type { Shard } from '../shards/pool';
import { envString } from '../config';
import { postBatch, type PostBatchOptions, type PostingItem } from './batch';
import { submitMerged } from './batcher';
import { postNaive } from './naive';

/**
 * The ledger's entry point: postOne picks the engine. The batch core (batch.ts) is what the
 * engines share; its names are exported from here too, so callers import from one place.
 */
export {
  inGroup, postBatch, prepareAlone,
  type GroupedPrepare, type PostBatchOptions, type PostingItem, type PostingOutcome, type PrepareDecision, type PrepareGroup,
} from './batch';

/**
 * Posts one item. In the default engine mode ("merged") it shares a transaction with the
 * other postings submitted for the shard at the same moment (ledger/batcher.ts); "single"
 * gives it a transaction of its own; "naive" is the textbook baseline kept for the benchmark:
 * one transaction per posting with a statement per row.
 */
export async function postOne<R>(shard: Shard, item: PostingItem<R>, options: PostBatchOptions = {}): Promise<R> {
  const timed = { ...item, at: item.at ?? (options.now ?? (() => new Date()))() };
  switch (engineMode()) {
    case 'merged':
      return submitMerged(shard, timed);
    case 'single': {
      const [result] = await postBatch(shard, [timed], options);
      return result as R;
    }
    case 'naive':
      return postNaive(shard, timed);
  }
}

export type EngineMode = 'merged' | 'single' | 'naive';
let mode: EngineMode | undefined;

export function engineMode(): EngineMode {
  if (mode) return mode;
  const raw = envString('POSTING_ENGINE', 'merged');
  if (raw !== 'merged' && raw !== 'single' && raw !== 'naive') throw new Error(`POSTING_ENGINE must be merged, single or naive, got "${raw}"`);
  mode = raw;
  return mode;
}

/** Tests and the benchmark switch engines within one process. */
export function setEngineMode(next: EngineMode): void {
  mode = next;
}

