import type { AccountBalances, Bucket } from '@paygraph/shared/ledger/index';

/**
 * An account's (or one stripe's) balance per bucket at one point of its ledger. Entries never
 * change once written, so a balance at a sequence is a fact: it can be remembered and stepped
 * forward with later entries without ever going stale.
 */
export type Buckets = AccountBalances;

export const noBuckets: Buckets = { available: 0n, frozen: 0n, pending: 0n };

export interface BucketMove {
  bucket: Bucket;
  amount: bigint;
}

export function applyMoves(start: Buckets, moves: readonly BucketMove[]): Buckets {
  const next = { ...start };
  for (const move of moves) {
    if (move.bucket === 'AVAILABLE') next.available += move.amount;
    else if (move.bucket === 'FROZEN') next.frozen += move.amount;
    else next.pending += move.amount;
  }
  return next;
}

export function addBuckets(a: Buckets, b: Buckets): Buckets {
  return { available: a.available + b.available, frozen: a.frozen + b.frozen, pending: a.pending + b.pending };
}
