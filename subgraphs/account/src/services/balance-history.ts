import { LRUCache } from 'lru-cache';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { bucketsAfterSequence, entriesBetween } from '@paygraph/shared/ledger/index';
import { applyMoves, noBuckets, type Buckets } from '../domain/balance-snapshot';
import { balanceSnapshotCacheStripesMax, balanceSnapshotStepEntriesMax } from '../limits';

/**
 * Balances as of a point in a stripe's ledger, which is what a balance event shows: the
 * account right after its entry, not the account now (which may have moved on by the time the
 * event is read). A stripe's balance after sequence N is read once as "balances now minus
 * every entry after N" and remembered; readers that step through later entries remember where
 * they got to, so a stream costs no extra read per event however long it replays.
 *
 * What is remembered cannot go stale: a balance at a sequence is a fact of an append-only ledger.
 */
export class BalanceHistory {
  /** Bounded to balanceSnapshotCacheStripesMax stripes, the least recently used forgotten first. */
  private readonly snapshots = new LRUCache<string, { sequence: bigint; buckets: Buckets }>({
    max: balanceSnapshotCacheStripesMax,
  });

  constructor(private readonly shards: ShardSet) {}

  /** One stripe's balance right after `sequence`; null when its ledger does not reach that far. */
  async stripeBucketsAt(stripeId: string, sequence: bigint): Promise<Buckets | null> {
    if (sequence === 0n) return noBuckets;
    const remembered = this.snapshots.get(stripeId);
    let buckets: Buckets | null;
    if (remembered && remembered.sequence === sequence) {
      buckets = remembered.buckets;
    } else if (
      remembered &&
      remembered.sequence < sequence &&
      sequence - remembered.sequence <= BigInt(balanceSnapshotStepEntriesMax)
    ) {
      const steps = await entriesBetween(
        this.shards.of('account', stripeId).db,
        stripeId,
        remembered.sequence,
        sequence,
      );
      buckets = steps.length === Number(sequence - remembered.sequence) ? applyMoves(remembered.buckets, steps) : null;
    } else {
      const read = await bucketsAfterSequence(this.shards.of('account', stripeId).db, stripeId, sequence);
      buckets = read && read.lastSequence >= sequence ? read.buckets : null;
    }
    if (buckets) this.remember(stripeId, sequence, buckets);
    return buckets;
  }

  /** A stripe's balance after `sequence`, worked out by a caller that stepped through its entries. */
  remember(stripeId: string, sequence: bigint, buckets: Buckets): void {
    this.snapshots.set(stripeId, { sequence, buckets });
  }
}
