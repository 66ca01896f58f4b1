import type { Forbidden } from '@paygraph/shared/authorization';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { AccountContext } from '../context';
import { loadOwnerPage, type OwnerPage } from '../db/account-views';
import { changeAccountStatus, openAccountRow } from '../db/account-writes';
import type { AccountView } from '../domain/account-view';
import { decideStatusChange, type StatusAction, type StatusRefusal } from '../domain/account-status';
import { decideOpenAccount, type OpenAccountInput, type OpenAccountRefusal } from '../domain/open-account';
import { mayChangeStatus, mayOpen, mayTouchMissing } from './authorization';

/** Opens an account for a caller who may (services/authorization.ts), with input the domain accepts. */
export async function openAccount(ctx: AccountContext, input: OpenAccountInput): Promise<Result<AccountView, OpenAccountRefusal | Forbidden>> {
  const refused = mayOpen(ctx.identity, input);
  if (refused) return err(refused);
  const decision = decideOpenAccount(input);
  if (!decision.ok) return decision;
  return ok(await openAccountRow(ctx.shards, decision.value, ctx.now()));
}

export type StatusChangeRefusal = StatusRefusal | { kind: 'AccountNotFound' } | Forbidden;

/** Freezes, unfreezes or closes an account: the caller and the change are decided against the row under its lock. */
export async function changeStatus(ctx: AccountContext, id: string, action: StatusAction): Promise<Result<AccountView, StatusChangeRefusal>> {
  const outcome = await changeAccountStatus<StatusRefusal | Forbidden>(ctx.shards, id, (view) => {
    const refused = mayChangeStatus(ctx.identity, view, action);
    return refused ? err(refused) : decideStatusChange(view, action);
  }, ctx.now());
  if (outcome !== null) return outcome;
  return err(mayTouchMissing(ctx.identity, id) ?? { kind: 'AccountNotFound' });
}

/** A page of an owner's accounts from every shard; a shard that cannot be reached is named in the page, not thrown. */
export function ownerAccounts(ctx: AccountContext, ownerId: string, afterId: string | null, first: number): Promise<OwnerPage> {
  return loadOwnerPage(ctx.shards, ownerId, afterId, first);
}
