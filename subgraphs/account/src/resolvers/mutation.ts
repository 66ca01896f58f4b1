import { authorized } from '@paygraph/shared/graphql/errors';
import { parseId } from '@paygraph/shared/ids';
import { unreachable } from '@paygraph/shared/result';
import type { AccountContext } from '../context';
import type { OpenAccountInput } from '../domain/open-account';
import type { StatusAction } from '../domain/account-status';
import { changeStatus as changeAccountStatus, openAccount } from '../services/accounts';
import { setCreditLimit, type SetCreditLimitInput } from '../services/credit-lines';
import { asAccount } from './account';
import { assetMutationResolvers } from './assets';
import { booksMutationResolvers } from './books';
import {
  accountBalanceNotZero,
  accountNotActive,
  accountNotFound,
  entityNotFound,
  invalidInput,
  unsupportedCurrency,
} from './user-errors';
import type { MutationResolvers } from '../generated/resolvers-types';

export const mutationResolvers = {
  ...booksMutationResolvers,
  ...assetMutationResolvers,
  openAccount: async (_: unknown, args: { input: OpenAccountInput }, ctx: AccountContext) => {
    const opened = authorized(await openAccount(ctx, args.input));
    if (opened.ok) return asAccount(opened.value);
    switch (opened.error.kind) {
      case 'InvalidInput':
        return invalidInput(opened.error.field, opened.error.message);
      case 'UnsupportedCurrency':
        return unsupportedCurrency(opened.error.currency);
      case 'EntityNotFound':
        return entityNotFound(opened.error.entity);
      default:
        return unreachable(opened.error);
    }
  },
  freezeAccount: (_: unknown, args: { id: string }, ctx: AccountContext) => changeStatus(ctx, args.id, 'freeze'),
  unfreezeAccount: (_: unknown, args: { id: string }, ctx: AccountContext) => changeStatus(ctx, args.id, 'unfreeze'),
  closeAccount: (_: unknown, args: { id: string }, ctx: AccountContext) => changeStatus(ctx, args.id, 'close'),
  setCreditLimit: async (_: unknown, args: { input: SetCreditLimitInput }, ctx: AccountContext) => {
    const outcome = authorized(await setCreditLimit(ctx, args.input));
    if (outcome.ok) return asAccount(outcome.value);
    switch (outcome.error.kind) {
      case 'InvalidInput':
        return invalidInput(outcome.error.field, outcome.error.message);
      case 'AccountNotFound':
        return accountNotFound(args.input.accountId);
      case 'AccountNotActive':
        return accountNotActive(args.input.accountId, outcome.error.status);
      default:
        return unreachable(outcome.error);
    }
  },
} satisfies MutationResolvers;

async function changeStatus(ctx: AccountContext, id: string, action: StatusAction) {
  if (!parseId('account', id)) return invalidInput('id', `"${id}" is not an account id`);
  const outcome = authorized(await changeAccountStatus(ctx, id, action));
  if (outcome.ok) return asAccount(outcome.value);
  switch (outcome.error.kind) {
    case 'AccountNotFound':
      return accountNotFound(id);
    case 'AccountNotActive':
      return accountNotActive(id, outcome.error.status);
    case 'AccountBalanceNotZero':
      return accountBalanceNotZero(id, outcome.error.total);
    default:
      return unreachable(outcome.error);
  }
}
