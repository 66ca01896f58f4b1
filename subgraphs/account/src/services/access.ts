import {
  forbiddenBecause,
  mayRead,
  mayReadBalance,
  readsAccounts,
  readsEveryAccount,
  type Forbidden,
} from '@paygraph/shared/authorization';
import type { Identity } from '@paygraph/shared/identity';
import type { Account } from '@paygraph/shared/ledger/index';
import type { AccountView } from '../domain/account-view';
import type { StatusAction, StatusActor } from '../domain/account-status';
import type { OpenAccountInput } from '../domain/open-account';

/**
 * Who may do what with accounts: the account part's one module of predicates, built on the
 * shared rules (shared/src/authorization.ts). Each answers a refusal (Forbidden) or null; the
 * services ask them and return a refusal as a value, which the resolvers answer as the top-level
 * FORBIDDEN error. Identity fields are visible to whoever holds a reference; money and history
 * only to readers.
 */

/**
 * Who may open what: customers open PERSONAL accounts for themselves, merchants MERCHANT or
 * PERSONAL for themselves, operators anything (SYSTEM is then refused as input: the platform
 * opens those itself), partners and channels nothing. Decided before the input is validated, so
 * that a caller learns nothing from an account it may not open.
 */
export function mayOpen(identity: Identity, input: OpenAccountInput): Forbidden | null {
  if (readsEveryAccount(identity)) return null;
  if (!readsAccounts(identity)) return forbiddenBecause('channels record deposits; they do not open accounts');
  if (identity.role === 'partner') return forbiddenBecause('partners may read accounts but not open them');
  if (identity.role === 'customer' && input.type === 'MERCHANT')
    return forbiddenBecause('customers open PERSONAL accounts; a merchant token opens MERCHANT accounts');
  return input.ownerId === identity.sub ? null : forbiddenBecause('ownerId must be your own (the token subject)');
}

/**
 * Freezing and unfreezing are operators' tools; an owner (not a partner) may close their own account — while it is
 * ACTIVE, which the domain decides under the row's lock (domain/account-status.ts); nobody a SYSTEM one.
 */
export function mayChangeStatus(identity: Identity, view: AccountView, action: StatusAction): Forbidden | null {
  const isOwner = identity.sub === view.ownerId && (identity.role === 'customer' || identity.role === 'merchant');
  if (view.type === 'SYSTEM') return forbiddenBecause('system accounts are managed by the platform');
  if (action !== 'close' && identity.role !== 'operator')
    return forbiddenBecause(`only operators may ${action} accounts`);
  if (action === 'close' && identity.role !== 'operator' && !isOwner)
    return forbiddenBecause('only the owner or an operator may close an account');
  return null;
}

/** Who changes a status, as the domain weighs it (an owner closes only an ACTIVE account): an operator, else the owner. */
export function statusActorOf(identity: Identity): StatusActor {
  return readsEveryAccount(identity) ? 'operator' : 'owner';
}

/**
 * Credit lines are the platform's risk: operators set limits and read the exposure; owners read
 * their own limit in their balance (mayReadBalanceOf), and customers, merchants and partners set
 * nothing. Asked before the input is read, so a refusal tells nothing about the account.
 */
export function mayManageCredit(identity: Identity, what: string): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause(`only operators may ${what}`);
}

/**
 * An account that does not exist is refused like someone else's, except to operators: a refusal tells nothing about
 * other people's accounts.
 */
export function mayTouchMissing(identity: Identity, accountId: string): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause(`account ${accountId} is not yours`);
}

/** An account (its owner, money and history): its owner and operators. */
export function mayReadAccount(identity: Identity, view: Pick<AccountView, 'id' | 'ownerId'>): Forbidden | null {
  return mayRead(identity, view.ownerId) ? null : forbiddenBecause(`account ${view.id} is not yours`);
}

/** Customers, merchants and partners list their own accounts; operators anyone's. */
export function mayListAccountsOf(identity: Identity, ownerId: string): Forbidden | null {
  return mayRead(identity, ownerId) ? null : forbiddenBecause('you may list only your own accounts');
}

/** A channel sees the balance its own deposit answers with (shared mayReadBalance). */
export function mayReadBalanceOf(identity: Identity, view: AccountView): Forbidden | null {
  return mayReadBalance(identity, view.ownerId)
    ? null
    : forbiddenBecause(`you may not read the balance of account ${view.id}`);
}

/** The entries, statement and past balances: the owner and operators. */
export function mayReadHistoryOf(identity: Identity, view: AccountView, what: string): Forbidden | null {
  return mayRead(identity, view.ownerId)
    ? null
    : forbiddenBecause(`you may not read the ${what} of account ${view.id}`);
}

/** An entry is readable like its account. */
export function mayReadEntry(identity: Identity, entryId: string, ownerId: string): Forbidden | null {
  return mayRead(identity, ownerId) ? null : forbiddenBecause(`entry ${entryId} is not yours`);
}

/**
 * Who may follow an account's balance: its owner and operators (an account that does not exist: see mayTouchMissing).
 */
export function mayFollow(identity: Identity, accountId: string, home: Account | null): Forbidden | null {
  if (!home) return mayTouchMissing(identity, accountId);
  return mayRead(identity, home.ownerId) ? null : forbiddenBecause(`account ${accountId} is not yours`);
}

/**
 * An account's owner, as a reader of it sees it; null for whoever merely holds a reference (a payment's counterparty, a
 * leg's account).
 */
export function ownerIdSeenBy(identity: Identity, view: Pick<AccountView, 'ownerId'>): string | null {
  return mayRead(identity, view.ownerId) ? view.ownerId : null;
}

/**
 * Who reads, as far as any predicate above can tell: each decides from the caller's subject and
 * role and the account alone. Two requests with the same reader, document, variables and account
 * state are answered alike, which is what lets a rendered answer be served again to its reader
 * and to no one else (services/rendered-answers.ts).
 */
export function readerOf(identity: Identity): string {
  return `${identity.role}\u0000${identity.sub}`;
}

/** Entities, GL codes and the books (trial balance, journal, intercompany) are operators' alone. */
export function mayKeepBooks(identity: Identity, what: string): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause(`only operators may ${what}`);
}

/** Platform assets are defined by operators alone (issue 48): a customer defining one is FORBIDDEN. */
export function mayDefineAssets(identity: Identity): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause('only operators may define assets');
}
