import type { Shard } from '../../shards/pool';
import { postBatch, type PostBatchOptions, type PostingItem } from './batch';
import { submitMerged } from './batcher';
import { postNaive } from './naive';

/**
 * The ledger's entry point: postOne picks the engine. The batch core (batch.ts) is what the
 * engines share; the ledger's index (../index.ts) exports its names beside postOne.
 *
 * Posts one item with the engine the shard was opened with (config.posting: POSTING_ENGINE,
 * which main.ts gives openShards). In the default engine mode ("merged") it shares a
 * transaction with the other postings submitted for the shard at the same moment
 * (engine/batcher.ts); "single" gives it a transaction of its own; "naive" is the textbook
 * baseline kept for the benchmark: one transaction per posting with a statement per row.
 */
export async function postOne<R>(shard: Shard, item: PostingItem<R>, options: PostBatchOptions = {}): Promise<R> {
  const timed = { ...item, at: item.at ?? (options.now ?? (() => new Date()))() };
  switch (shard.posting.engine) {
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
