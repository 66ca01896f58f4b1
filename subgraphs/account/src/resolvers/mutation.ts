import { badUserInput, forbidden } from '@paygraph/shared/graphql/errors';
import { parseId } from '@paygraph/shared/ids';
import { unreachable } from '@paygraph/shared/result';
import type { AccountContext } from '../context';
import { openAccountRow, changeAccountStatus } from '../db/account-writes';
import { decideOpenAccount, type OpenAccountInput } from '../domain/open-account';
import { decideStatusChange, type StatusAction, type StatusRefusal } from '../domain/account-status';
import { asAccount } from './account';
import { accountBalanceNotZero, accountNotActive, accountNotFound, invalidInput } from './user-errors';

export const mutationResolvers = {
  openAccount: async (_: unknown, args: { input: OpenAccountInput }, ctx: AccountContext) => {
    const decision = decideOpenAccount(ctx.identity, args.input);
    if (!decision.ok) {
      switch (decision.error.kind) {
        case 'Forbidden':
          throw forbidden(decision.error.message);
        case 'InvalidInput':
          return invalidInput(decision.error.field, decision.error.message);
        default:
          return unreachable(decision.error);
      }
    }
    return asAccount(await openAccountRow(ctx.shards, decision.value, ctx.now()));
  },
  freezeAccount: (_: unknown, args: { id: string }, ctx: AccountContext) => changeStatus(ctx, args.id, 'freeze'),
  unfreezeAccount: (_: unknown, args: { id: string }, ctx: AccountContext) => changeStatus(ctx, args.id, 'unfreeze'),
  closeAccount: (_: unknown, args: { id: string }, ctx: AccountContext) => changeStatus(ctx, args.id, 'close'),
};

async function changeStatus(ctx: AccountContext, id: string, action: StatusAction) {
  if (!parseId('account', id)) return invalidInput('id', `"${id}" is not an account id`);
  const outcome = await changeAccountStatus(ctx.shards, id, (view) => decideStatusChange(ctx.identity, view, action), ctx.now());
  if (outcome === null) {
    if (ctx.identity.role !== 'operator') throw forbidden(`account ${id} is not yours`);
    return accountNotFound(id);
  }
  if (outcome.ok) return asAccount(outcome.value);
  return statusRefusal(id, outcome.error);
}

function statusRefusal(id: string, refusal: StatusRefusal) {
  switch (refusal.kind) {
    case 'Forbidden':
      throw forbidden(refusal.message);
    case 'AccountNotActive':
      return accountNotActive(id, refusal.status);
    case 'AccountBalanceNotZero':
      return accountBalanceNotZero(id, refusal.total);
    default:
      return unreachable(refusal);
  }
}
