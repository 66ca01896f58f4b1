import { parseId } from '@paygraph/shared/ids';
import { unreachable } from '@paygraph/shared/result';
import type { MutationResolvers } from '../generated/resolvers-types';
import { runSettlement } from '../services/settle';
import { setMerchantFeeRate } from '../services/settlements';
import { importStatement } from '../services/statements';
import { permitted } from '@paygraph/shared/graphql/errors';
import { operatorOnly } from '../services/authorization';
import { accountNotFound, balanceLimit, exceptionAlreadyResolved, invalidInput, invalidStatement, settlementNotReady } from './user-errors';
import { importBankStatement } from '../services/bank-statements';
import { setMatchingRules } from '../services/matching-rules';
import { resolveException } from '../services/exceptions';

export const mutationResolvers = {
  runSettlement: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'run settlements'));
    const { merchantAccountId, businessDate } = args.input;
    if (!parseId('account', merchantAccountId)) return invalidInput('merchantAccountId', `"${merchantAccountId}" is not an account id`);
    const result = await runSettlement(ctx.shards, merchantAccountId, businessDate, ctx.now, ctx.config);
    if (result.ok) return { __typename: 'Settlement', ...result.value };
    switch (result.error.kind) {
      case 'AccountNotFound':
        return accountNotFound(result.error.accountId);
      case 'NotAMerchant':
        return invalidInput('merchantAccountId', `account ${result.error.accountId} is not a MERCHANT account`);
      case 'SettlementNotReady':
        return settlementNotReady(result.error.businessDate, result.error.openDate);
      case 'BalanceLimit':
        return balanceLimit(result.error.accountId);
      default:
        return unreachable(result.error);
    }
  },
  importStatement: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'import statements'));
    const result = await importStatement(ctx.shards, args.input, ctx.identity.sub, ctx.now());
    if (result.ok) return { __typename: 'Statement', ...result.value };
    switch (result.error.kind) {
      case 'InvalidInput':
        return invalidInput(result.error.field, result.error.message);
      case 'InvalidStatement':
        return invalidStatement(result.error.line, result.error.message);
      default:
        return unreachable(result.error);
    }
  },
  importBankStatement: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'import statements'));
    const result = await importBankStatement(ctx.shards, args.input, ctx.identity.sub, ctx.now());
    if (result.ok) return { __typename: 'StatementImport', ...result.value };
    switch (result.error.kind) {
      case 'InvalidInput':
        return invalidInput(result.error.field, result.error.message);
      case 'InvalidStatement':
        return invalidStatement(result.error.line, result.error.message);
      default:
        return unreachable(result.error);
    }
  },
  setMatchingRules: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'set matching rules'));
    const result = await setMatchingRules(ctx.shards, args.input, ctx.identity.sub, ctx.now());
    if (result.ok) return { __typename: 'MatchingRules', ...result.value };
    return invalidInput(result.error.field, result.error.message);
  },
  resolveException: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'resolve reconciliation exceptions (write-offs and bank fees move the platform\'s money)'));
    const result = await resolveException(ctx.shards, args.input, ctx.identity.sub, ctx.now());
    if (result.ok) return { __typename: 'ReconciliationException', ...result.value };
    switch (result.error.kind) {
      case 'InvalidInput':
        return invalidInput(result.error.field, result.error.message);
      case 'ExceptionAlreadyResolved':
        return exceptionAlreadyResolved(result.error.exceptionId, result.error.resolution, result.error.resolvedBy);
      case 'BalanceLimit':
        return balanceLimit(result.error.accountId);
      default:
        return unreachable(result.error);
    }
  },
  setMerchantFeeRate: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'set fee rates'));
    const result = await setMerchantFeeRate(ctx, args.input.merchantAccountId, args.input.feeBps);
    if (result.ok) return { __typename: 'FeeRate', ...result.value };
    switch (result.error.kind) {
      case 'FeeRateOutOfRange':
        return invalidInput('feeBps', `feeBps must be between 0 and ${result.error.feeBpsMax}`);
      case 'AccountNotFound':
        return accountNotFound(result.error.accountId);
      default:
        return unreachable(result.error);
    }
  },
} satisfies MutationResolvers;
