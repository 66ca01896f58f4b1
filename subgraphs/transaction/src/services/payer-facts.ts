import type { Account } from '@paygraph/shared/ledger/index';
import { FairShareCache } from '@paygraph/shared/fair-share-cache';
import type { PayerFacts } from '../domain/payment-plan';
import { payerFactsCachedMax } from '../limits';

/**
 * The facts of the accounts a caller has paid from (domain/payment-plan.ts PayerFacts: owner, type, currency,
 * entity), kept by the caller who paid, so that its next payment from the same account reads nothing of it before the
 * posting. A cross-shard payment read its payer's row on the payer's shard and its payee's on the payee's, one
 * round trip on each; now the payee's alone (docs/PERFORMANCE.md, "The payer read once per caller"). The posting locks and
 * reads the payer's row as it always did, and decides on its status and balances there (posting-rules.ts): nothing
 * this keeps can change. An entry is kept only once the caller was found allowed to pay from the account
 * (mayPayFrom), under that caller: another caller never finds it, reads the row and is refused as before.
 */
const payers = new FairShareCache<PayerFacts>(payerFactsCachedMax);

/** The facts of `accountId` if this caller has paid from it before. */
export function payerPaidFromBefore(callerId: string, accountId: string): PayerFacts | undefined {
  return payers.get(callerId, accountId);
}

/** Keeps what never changes of a payer the caller may pay from; a copy, so nothing mutable of the row is kept. */
export function rememberPayer(callerId: string, payer: PayerFacts | Account): void {
  if (payers.get(callerId, payer.id)) return;
  const { id, ownerId, type, parentId, currency, entity } = payer;
  payers.set(callerId, id, { id, ownerId, type, parentId, currency, entity });
}

/** Entries kept, in all or by one caller, and evictions: for tests and metrics. */
export function payerFactsCached(callerId?: string): { entries: number; callers: number; evictions: number } {
  return { entries: payers.size(callerId), callers: payers.callers(), evictions: payers.evictions() };
}
