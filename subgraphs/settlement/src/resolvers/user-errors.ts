import { formatAmount } from '@paygraph/shared/money';
export function invalidInput(field: string, message: string) {
  return { __typename: 'InvalidInput' as const, code: 'INVALID_INPUT', message, field };
}

export function accountNotFound(accountId: string) {
  return {
    __typename: 'AccountNotFound' as const,
    code: 'ACCOUNT_NOT_FOUND',
    message: `no merchant account ${accountId}`,
    accountId,
  };
}

export function settlementNotReady(businessDate: string, openDate: string) {
  return {
    __typename: 'SettlementNotReady' as const,
    code: 'SETTLEMENT_NOT_READY',
    message: `business date ${businessDate} has not closed; ${openDate} is open now`,
    businessDate,
    openDate,
  };
}

/**
 * SettlementNotReady's type (the schema's union for runSettlement): the date has closed, a payment of it (or a refund
 * of one) has not ended. `inFlightId` is its id.
 */
export function paymentsInFlight(businessDate: string, openDate: string, inFlightId: string) {
  return {
    __typename: 'SettlementNotReady' as const,
    code: 'SETTLEMENT_NOT_READY',
    message: `${inFlightId} of ${businessDate} is still in flight; the settlement stays PROCESSING and settles the rest once it ends (retry later)`,
    businessDate,
    openDate,
  };
}

export function invalidStatement(line: number, message: string) {
  return {
    __typename: 'InvalidStatement' as const,
    code: 'INVALID_STATEMENT',
    message: `line ${line}: ${message}`,
    line,
  };
}

export function balanceLimit(accountId: string) {
  return {
    __typename: 'BalanceLimit' as const,
    code: 'BALANCE_LIMIT',
    message: `settling would take account ${accountId} past what the ledger can store; that stripe is not settled yet and the settlement stays PROCESSING`,
    accountId,
  };
}

export function exceptionAlreadyResolved(
  exceptionId: string,
  resolution: 'BANK_FEE' | 'TIMING' | 'BANK_DUPLICATE' | 'WRITE_OFF' | null,
  resolvedBy: string | null,
) {
  return {
    __typename: 'ExceptionAlreadyResolved' as const,
    code: 'EXCEPTION_ALREADY_RESOLVED',
    message: `exception ${exceptionId} was resolved already${resolution ? ` as ${resolution}` : ''}${resolvedBy ? ` by ${resolvedBy}` : ''}; nothing was written`,
    exceptionId,
    resolution,
    resolvedBy,
  };
}

export function advancesDisabled(merchantAccountId: string) {
  return {
    __typename: 'AdvancesDisabled' as const,
    code: 'ADVANCES_DISABLED',
    message: `account ${merchantAccountId} has no advance terms (or maxAdvanceBps 0); nothing was written`,
    merchantAccountId,
  };
}

export function advanceExceedsAllowed(requested: bigint, allowed: bigint) {
  // allowedAmount goes out as the Amount scalar's string.
  return {
    __typename: 'AdvanceExceedsAllowed' as const,
    code: 'ADVANCE_EXCEEDS_ALLOWED',
    message: `an advance of ${requested} is beyond the ${allowed} that may be advanced now; nothing was written`,
    allowedAmount: formatAmount(allowed),
  };
}

export function idempotencyKeyReused(idempotencyKey: string) {
  return {
    __typename: 'IdempotencyKeyReused' as const,
    code: 'IDEMPOTENCY_KEY_REUSED',
    message: `idempotency key "${idempotencyKey}" was used before with other parameters; use a new key for a new request`,
    idempotencyKey,
  };
}
