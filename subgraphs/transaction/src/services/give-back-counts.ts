import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { DataStep } from '@paygraph/shared/db/migrate';
import { pushTo } from '@paygraph/shared/collections';
import { countGiveBacksIfMissing, receivingLegsInFlight, type LegInFlight } from '../db/give-backs';
import { giveBackStepPageRowsMax } from '../limits';

/**
 * give_back_counts came after refunds of legs: a refund still PROCESSING when it came may have taken a receiver's share
 * back uncounted, and a close would not see it (read-model/account.ts givenBackInFlight). This step counts the row of
 * every receiving leg of a refund still PROCESSING (given back or not yet: a count only makes a close look), where it
 * is not counted. Every migrate runs it, and it writes only missing rows (INSERT IGNORE): a run cut short is finished
 * by the next, and a row it writes under a shard move's fence the next run writes where the row lives.
 */
export const giveBacksInFlightStep: DataStep = {
  name: 'count the rows refunds of legs in flight give back from',
  run: async (shards) => {
    for (const source of shards.all) await countLegsOn(shards, source);
  },
};

async function countLegsOn(shards: ShardSet, source: Shard): Promise<void> {
  let after: LegInFlight | null = null;
  for (;;) {
    const page = await receivingLegsInFlight(source.db, after, giveBackStepPageRowsMax);
    const byShard = new Map<Shard, string[]>();
    for (const leg of page) pushTo(byShard, shards.of('account', leg.postedAccountId), leg.postedAccountId);
    for (const [shard, rowIds] of byShard) await countGiveBacksIfMissing(shard.db, [...new Set(rowIds)]);
    if (page.length < giveBackStepPageRowsMax) return;
    after = page[page.length - 1]!;
  }
}
