import { forbiddenBecause, type Forbidden, type Readable } from '@paygraph/shared/authorization';
import { mayRead, mayReadBalance, type Identity } from '@paygraph/shared/identity';
import type { Account } from '@paygraph/shared/ledger/account';
import type { EntryRow } from '@paygraph/shared/db/schema/ledger';
import { err, ok } from '@paygraph/shared/result';
import type { AccountContext } from '../context';
import type { AccountView } from '../domain/account-view';
import type { StatusAction } from '../domain/account-status';
import type { OpenAccountInput } from '../domain/open-account';

/**
 * Who may do what with accounts, decided here and returned as a value (Forbidden); resolvers
 * answer a refusal as the top-level FORBIDDEN error. Identity fields are visible to whoever holds
 * a reference; money and history only to readers (identity.ts).
 */

/**
 * Who may open what: customers open PERSONAL accounts for themselves, merchants MERCHANT or
 * PERSONAL for themselves, operators anything (SYSTEM is then refused as input: the platform
 * opens those itself), partners nothing. Decided before the input is validated, so that a
 * caller learns nothing from an account it may not open.
 */
export function mayOpen(identity: Identity, input: OpenAccountInput): Forbidden | null {
  switch (identity.role) {
    case 'operator':
      return null;
    case 'partner':
      return forbiddenBecause('partners may read accounts but not open them');
    case 'channel':
      return forbiddenBecause('channels record deposits; they do not open accounts');
    case 'customer':
      if (input.type === 'MERCHANT') return forbiddenBecause('customers open PERSONAL accounts; a merchant token opens MERCHANT accounts');
      return input.ownerId === identity.sub ? null : forbiddenBecause('ownerId must be your own (the token subject)');
    case 'merchant':
      return input.ownerId === identity.sub ? null : forbiddenBecause('ownerId must be your own (the token subject)');
  }
}

/** Freezing and unfreezing are operators' tools; an owner (not a partner) may close their own account; nobody a SYSTEM one. */
export function mayChangeStatus(identity: Identity, view: AccountView, action: StatusAction): Forbidden | null {
  const isOwner = identity.sub === view.ownerId && (identity.role === 'customer' || identity.role === 'merchant');
  if (view.type === 'SYSTEM') return forbiddenBecause('system accounts are managed by the platform');
  if (action !== 'close' && identity.role !== 'operator') return forbiddenBecause(`only operators may ${action} accounts`);
  if (action === 'close' && identity.role !== 'operator' && !isOwner) return forbiddenBecause('only the owner or an operator may close an account');
  return null;
}

/** An account that does not exist is refused like someone else's, except to operators: a refusal tells nothing about other people's accounts. */
export function mayTouchMissing(identity: Identity, accountId: string): Forbidden | null {
  return identity.role === 'operator' ? null : forbiddenBecause(`account ${accountId} is not yours`);
}

/** An account by id, for its readers; null when there is none. */
export async function readableAccount(ctx: AccountContext, id: string): Promise<Readable<AccountView>> {
  const view = await ctx.accounts.load(id);
  if (!view) return ok(null);
  if (!mayRead(ctx.identity, view.ownerId)) return err(forbiddenBecause(`account ${id} is not yours`));
  return ok(view);
}

/** Customers, merchants and partners list their own accounts; operators anyone's. */
export function mayListAccountsOf(identity: Identity, ownerId: string): Forbidden | null {
  return mayRead(identity, ownerId) ? null : forbiddenBecause('you may list only your own accounts');
}

/** A channel sees the balance its own deposit answers with (identity.ts mayReadBalance). */
export function mayReadBalanceOf(identity: Identity, view: AccountView): Forbidden | null {
  return mayReadBalance(identity, view.ownerId) ? null : forbiddenBecause(`you may not read the balance of account ${view.id}`);
}

/** The entries, statement and past balances: the owner and operators. */
export function mayReadHistoryOf(identity: Identity, view: AccountView, what: string): Forbidden | null {
  return mayRead(identity, view.ownerId) ? null : forbiddenBecause(`you may not read the ${what} of account ${view.id}`);
}

/** An entry is readable like its account; null when there is none. */
export async function readableEntry(ctx: AccountContext, id: string): Promise<Readable<EntryRow>> {
  const found = await ctx.balances.reader.entryWithOwner(id);
  if (!found) return ok(null);
  if (!mayRead(ctx.identity, found.ownerId)) return err(forbiddenBecause(`entry ${id} is not yours`));
  return ok(found.entry);
}

/** Who may follow an account's balance: its owner and operators (an account that does not exist: see mayTouchMissing). */
export function mayFollow(identity: Identity, accountId: string, home: Account | null): Forbidden | null {
  if (!home) return mayTouchMissing(identity, accountId);
  return mayRead(identity, home.ownerId) ? null : forbiddenBecause(`account ${accountId} is not yours`);
}

/** An account's owner, as a reader of it sees it; null for whoever merely holds a reference (a payment's counterparty, a leg's account). */
export function ownerIdSeenBy(identity: Identity, view: Pick<AccountView, 'ownerId'>): string | null {
  return mayRead(identity, view.ownerId) ? view.ownerId : null;
}
