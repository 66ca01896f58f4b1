import { forbiddenBecause, mayRead, mayWrite, readsEveryAccount, type Forbidden } from '@paygraph/shared/authorization';
import type { Identity } from '@paygraph/shared/identity';

/**
 * Who may do what with settlements: the settlement part's one module of predicates, built on the
 * shared rules (shared/src/authorization.ts). Each answers a refusal (Forbidden) or null; the
 * services ask them first and return a refusal as a value, which the resolvers answer as the
 * top-level FORBIDDEN error.
 */

/**
 * Settling, reconciliation, statements, fee rates and ledger health are operators' tools (SECURITY.md); `what` names
 * the tool in the refusal.
 */
export function mayOperate(identity: Identity, what: string): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause(`only operators may ${what}`);
}

/**
 * A settlement: operators and the owner of its merchant account (when that account is not there, nobody: its owner is
 * unknown).
 */
export function mayReadSettlement(
  identity: Identity,
  settlementId: string,
  merchantOwnerId: string | null,
): Forbidden | null {
  if (merchantOwnerId !== null && mayRead(identity, merchantOwnerId)) return null;
  return forbiddenBecause(`settlement ${settlementId} is not yours`);
}

/** A merchant account's settlements: its owner and operators. */
export function mayReadSettlementsOf(identity: Identity, accountId: string, ownerId: string): Forbidden | null {
  return mayRead(identity, ownerId)
    ? null
    : forbiddenBecause(`you may not read the settlements of account ${accountId}`);
}

/** A merchant's advance terms and offer: its owner and operators. */
export function mayReadAdvances(identity: Identity, accountId: string, ownerId: string): Forbidden | null {
  return mayRead(identity, ownerId) ? null : forbiddenBecause(`you may not read the advances of account ${accountId}`);
}

/** An advance moves the merchant's own money early: its owner and operators, never a partner or a channel. */
export function mayAskAdvance(identity: Identity, accountId: string, ownerId: string): Forbidden | null {
  return mayWrite(identity, ownerId)
    ? null
    : forbiddenBecause(`you may not ask for an advance on account ${accountId}`);
}
