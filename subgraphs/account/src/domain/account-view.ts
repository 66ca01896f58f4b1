import type { Account } from '@paygraph/shared/ledger/index';
import { assert } from '@paygraph/shared/result';

/** The fields of an Account that clients see of it (schema/account.graphql's Account). */
export type AccountViewField =
  | 'id'
  | 'ownerId'
  | 'type'
  | 'status'
  | 'currency'
  | 'entity'
  | 'version'
  | 'createdAt'
  | 'available'
  | 'frozen'
  | 'pending'
  | 'creditLimit'
  | 'lastSequence';

/**
 * An account as clients see it: a merchant's balances are the sum of its stripes; its credit
 * limit is its home row's (stripes have none).
 */
export interface AccountView extends Pick<Account, AccountViewField> {
  stripeIds: string[];
  /**
   * Set when a shard holding one of the merchant's stripes could not be read: the balances
   * above lack that stripe, so the balance is not shown (SHARD_UNAVAILABLE naming the shard).
   */
  unreadStripeShard?: string;
}

/** Folds stripes into their merchants' views; stripes whose merchant is not among the accounts are ignored. */
export function buildViews(
  rows: ReadonlyArray<Pick<Account, AccountViewField | 'parentId'>>,
): Map<string, AccountView> {
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
