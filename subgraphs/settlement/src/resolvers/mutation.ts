import { unreachable } from '@paygraph/shared/result';
import type { MutationResolvers } from '../generated/resolvers-types';
import { runSettlementFor } from '../services/settle';
import { setMerchantFeeRate } from '../services/settlements';
import { importStatementFor } from '../services/statements';
import { authorized } from '@paygraph/shared/graphql/errors';
import {
  accountNotFound,
  balanceLimit,
  exceptionAlreadyResolved,
  invalidInput,
  invalidStatement,
  paymentsInFlight,
  settlementNotReady,
} from './user-errors';
import { importBankStatementFor } from '../services/bank-statements';
import { registerChannelAccountFor } from '../services/channel-accounts';
import { setMatchingRulesFor } from '../services/matching-rules';
import { resolveExceptionFor } from '../services/exceptions';
import { advanceSettlementFor, setAdvanceTermsFor } from '../services/advances';
import { advanceExceedsAllowed, advancesDisabled, idempotencyKeyReused } from './user-errors';

/** An import's refusal, the same for a CSV statement and a bank's file: a field, or the statement's line. */
function statementRefused(
  error:
    | { kind: 'InvalidInput'; field: string; message: string }
    | { kind: 'InvalidStatement'; line: number; message: string },
) {
  return error.kind === 'InvalidInput'
    ? invalidInput(error.field, error.message)
    : invalidStatement(error.line, error.message);
}

/**
 * Thin: each service authorizes first (services/access.ts; a refusal is FORBIDDEN here), then parses and acts; its
 * result union is mapped.
 */
export const mutationResolvers = {
  runSettlement: async (_, args, ctx) => {
    const result = authorized(await runSettlementFor(ctx, args.input));
    if (result.ok) return { __typename: 'Settlement', ...result.value };
    switch (result.error.kind) {
      case 'InvalidInput':
        return invalidInput(result.error.field, result.error.message);
      case 'AccountNotFound':
        return accountNotFound(result.error.accountId);
      case 'NotAMerchant':
        return invalidInput('merchantAccountId', `account ${result.error.accountId} is not a MERCHANT account`);
      case 'SettlementNotReady':
        return settlementNotReady(result.error.businessDate, result.error.openDate);
      case 'BalanceLimit':
        return balanceLimit(result.error.accountId);
      case 'PaymentsInFlight':
        return paymentsInFlight(result.error.businessDate, result.error.openDate, result.error.inFlightId);
      default:
        return unreachable(result.error);
    }
  },
  importStatement: async (_, args, ctx) => {
    const result = authorized(await importStatementFor(ctx, args.input));
    if (result.ok) return { __typename: 'Statement', ...result.value };
    return statementRefused(result.error);
  },
  importBankStatement: async (_, args, ctx) => {
    const result = authorized(await importBankStatementFor(ctx, args.input));
    if (result.ok) return { __typename: 'StatementImport', ...result.value };
    return statementRefused(result.error);
  },
  registerChannelAccount: async (_, args, ctx) => {
    const result = authorized(await registerChannelAccountFor(ctx, args.input));
    if (result.ok) return { __typename: 'ChannelAccount', ...result.value };
    return invalidInput(result.error.field, result.error.message);
  },
  setMatchingRules: async (_, args, ctx) => {
    const result = authorized(await setMatchingRulesFor(ctx, args.input));
    if (result.ok) return { __typename: 'MatchingRules', ...result.value };
    return invalidInput(result.error.field, result.error.message);
  },
  resolveException: async (_, args, ctx) => {
    const result = authorized(await resolveExceptionFor(ctx, args.input));
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
    const result = authorized(await setMerchantFeeRate(ctx, args.input.merchantAccountId, args.input.feeBps));
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
  setAdvanceTerms: async (_, args, ctx) => {
    const result = authorized(await setAdvanceTermsFor(ctx, args.input));
    if (result.ok) return { __typename: 'AdvanceTerms', ...result.value };
    return result.error.kind === 'InvalidInput'
      ? invalidInput(result.error.field, result.error.message)
      : accountNotFound(result.error.accountId);
  },
  advanceSettlement: async (_, args, ctx) => {
    const result = authorized(await advanceSettlementFor(ctx, args.input));
    if (result.ok) return { __typename: 'Advance', ...result.value };
    switch (result.error.kind) {
      case 'InvalidInput':
        return invalidInput(result.error.field, result.error.message);
      case 'AccountNotFound':
        return accountNotFound(result.error.accountId);
      case 'AdvancesDisabled':
        return advancesDisabled(result.error.merchantAccountId);
      case 'AdvanceExceedsAllowed':
        return advanceExceedsAllowed(result.error.requested, result.error.allowed);
      case 'IdempotencyKeyReused':
        return idempotencyKeyReused(result.error.idempotencyKey);
      default:
        return unreachable(result.error);
    }
  },
} satisfies MutationResolvers;
