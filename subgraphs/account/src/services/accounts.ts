import type { Forbidden, Readable } from '@paygraph/shared/authorization';
import type { EntryRow, Account } from '@paygraph/shared/ledger/index';
import { ensureAssetKnown } from '@paygraph/shared/ledger/index';
import { accountsPerOwnerMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { AccountContext } from '../context';
import type { BooksRefusal } from '../domain/books';
import { entityToOpenIn } from './books';
import { loadOwnerPage, type OwnerPage } from '../db/account-views';
import { changeAccountStatus, openAccountRow, type StatusDecision } from '../db/account-writes';
import { closeAccountRows } from '../db/account-close';
import type { AccountView } from '../domain/account-view';
import { decideStatusChange, type StatusAction, type StatusRefusal } from '../domain/account-status';
import { decideOpenAccount, type OpenAccountInput, type OpenAccountRefusal } from '../domain/open-account';
import {
  mayChangeStatus,
  mayFollow,
  mayListAccountsOf,
  mayOpen,
  mayReadAccount,
  mayReadBalanceOf,
  mayReadEntry,
  mayReadHistoryOf,
  mayTouchMissing,
  ownerIdSeenBy,
  statusActorOf,
} from './access';

/**
 * The account operations behind the resolvers. Each asks services/access.ts who may, and returns
 * a refusal as a value (Forbidden), which the resolvers answer as the top-level FORBIDDEN error.
 */

/** Opens an account for a caller who may (services/access.ts), with input the domain accepts. */
export async function openAccount(
  ctx: AccountContext,
  input: OpenAccountInput,
): Promise<Result<AccountView, OpenAccountRefusal | BooksRefusal | Forbidden>> {
  const refused = mayOpen(ctx.identity, input);
  if (refused) return err(refused);
  await ensureAssetKnown(ctx.shards, input.currency);
  const decision = decideOpenAccount(input);
  if (!decision.ok) return decision;
  // Checked after the input's shape, so a bad currency is told before an unknown entity is asked for.
  const entity = await entityToOpenIn(ctx, input.entity);
  if (!entity.ok) return entity;
  const opened = await openAccountRow(ctx.shards, decision.value, ctx.now());
  // OpenAccountResult has no error of a limit: the bound is the owner id's, told as its INVALID_INPUT.
  if (!opened)
    return err({
      kind: 'InvalidInput',
      field: 'ownerId',
      message: `an owner may open at most ${accountsPerOwnerMax} accounts (closed ones count)`,
    });
  return ok(opened);
}

export type StatusChangeRefusal = StatusRefusal | { kind: 'AccountNotFound' } | Forbidden;

/**
 * Freezes, unfreezes or closes an account: the caller and the change are decided against the row under its lock (an
 * owner, the only other caller mayChangeStatus lets through, closes only an ACTIVE account). A close holds every row of
 * the account and weighs what is in flight toward it (db/account-close.ts); a freeze or an unfreeze, the home row.
 */
export async function changeStatus(
  ctx: AccountContext,
  id: string,
  action: StatusAction,
): Promise<Result<AccountView, StatusChangeRefusal>> {
  if (action === 'close') {
    // Who may close never changes (owner, type): one who may not is refused before the close locks every row.
    const seen = await ctx.accounts.load(id);
    const refused = seen ? mayChangeStatus(ctx.identity, seen, action) : null;
    if (refused) return err(refused);
  }
  const decide: StatusDecision<StatusRefusal | Forbidden> = (view, rows, inFlight) => {
    const refused = mayChangeStatus(ctx.identity, view, action);
    if (refused) return err(refused);
    return decideStatusChange(view, action, { rows, inFlight }, statusActorOf(ctx.identity));
  };
  const outcome =
    action === 'close'
      ? await closeAccountRows(ctx.shards, id, decide, ctx.now())
      : await changeAccountStatus(ctx.shards, id, decide, ctx.now());
  if (outcome !== null) return outcome;
  return err(mayTouchMissing(ctx.identity, id) ?? { kind: 'AccountNotFound' });
}

/** An account by id, for its readers; null when there is none. */
export async function readableAccount(ctx: AccountContext, id: string): Promise<Readable<AccountView>> {
  const view = await ctx.accounts.load(id);
  if (!view) return ok(null);
  const refused = mayReadAccount(ctx.identity, { id, ownerId: view.ownerId });
  return refused ? err(refused) : ok(view);
}

/** An entry is readable like its account; null when there is none. */
export async function readableEntry(ctx: AccountContext, id: string): Promise<Readable<EntryRow>> {
  const found = await ctx.balances.reader.entryWithOwner(id);
  if (!found) return ok(null);
  const refused = mayReadEntry(ctx.identity, id, found.ownerId);
  return refused ? err(refused) : ok(found.entry);
}

/** An account's owner as the caller sees it: null for whoever merely holds a reference to the account. */
export function ownerIdFor(ctx: AccountContext, view: AccountView): string | null {
  return ownerIdSeenBy(ctx.identity, view);
}

/** The account whose balance the caller may read (a channel: the one its deposit credited). */
export function readableBalance(ctx: AccountContext, view: AccountView): Result<AccountView, Forbidden> {
  const refused = mayReadBalanceOf(ctx.identity, view);
  return refused ? err(refused) : ok(view);
}

/** The account whose history (`what`: its entries, statement, past balances) the caller may read. */
export function readableHistory(ctx: AccountContext, view: AccountView, what: string): Result<AccountView, Forbidden> {
  const refused = mayReadHistoryOf(ctx.identity, view, what);
  return refused ? err(refused) : ok(view);
}

/**
 * The account to follow (its home row as read), for a caller who may; null when there is none (operators only: anyone
 * else is refused).
 */
export function followable(ctx: AccountContext, accountId: string, home: Account | null): Readable<Account> {
  const refused = mayFollow(ctx.identity, accountId, home);
  return refused ? err(refused) : ok(home);
}

/** The owner whose accounts the caller may list, before its page is read (ownerAccounts). */
export function listableOwner(ctx: AccountContext, ownerId: string): Result<string, Forbidden> {
  const refused = mayListAccountsOf(ctx.identity, ownerId);
  return refused ? err(refused) : ok(ownerId);
}

/**
 * A page of an owner's accounts from every shard (listableOwner first); a shard that cannot be reached is named in the
 * page, not thrown.
 */
export function ownerAccounts(
  ctx: AccountContext,
  ownerId: string,
  afterId: string | null,
  first: number,
): Promise<OwnerPage> {
  return loadOwnerPage(ctx.shards, ownerId, afterId, first);
}
