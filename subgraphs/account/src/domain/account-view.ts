import type { AccountStatus, AccountType } from '@paygraph/shared/ledger/posting-rules';
import { assert } from '@paygraph/shared/result';

/** An account as clients see it: a merchant's balances are the sum of its stripes. */
export interface AccountView {
  id: string;
  ownerId: string;
  type: AccountType;
  status: AccountStatus;
  currency: string;
  version: bigint;
  createdAt: Date;
  available: bigint;
  frozen: bigint;
  pending: bigint;
  stripeIds: string[];
  /**
   * Set when a shard holding one of the merchant's stripes could not be read: the balances
   * above lack that stripe, so the balance is not shown (SHARD_UNAVAILABLE naming the shard).
   */
  unreadStripeShard?: string;
}

export interface AccountRowLike {
  id: string;
  ownerId: string;
  type: AccountType;
  status: AccountStatus;
  currency: string;
  parentId: string | null;
  available: bigint;
  frozen: bigint;
  pending: bigint;
  version: bigint;
  createdAt: Date;
}

/** Folds stripe rows into their parents; stripes whose parent is not among the rows are ignored. */
export function buildViews(rows: readonly AccountRowLike[]): Map<string, AccountView> {
  const views = new Map<string, AccountView>();
  for (const row of rows) {
    if (row.parentId !== null) continue;
    views.set(row.id, { ...row, stripeIds: [] });
  }
  for (const row of rows) {
    if (row.parentId === null) continue;
    const parent = views.get(row.parentId);
    if (!parent) continue;
    assert(parent.currency === row.currency, `stripe ${row.id} has another currency than ${parent.id}`);
    parent.available += row.available;
    parent.frozen += row.frozen;
    parent.pending += row.pending;
    parent.stripeIds.push(row.id);
  }
  return views;
}

export function totalOf(view: AccountView): bigint {
  return view.available + view.frozen + view.pending;
}
