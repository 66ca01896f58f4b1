export function invalidInput(field: string, message: string) {
  return { __typename: 'InvalidInput' as const, code: 'INVALID_INPUT', message, field };
}

export function accountNotFound(accountId: string) {
  return { __typename: 'AccountNotFound' as const, code: 'ACCOUNT_NOT_FOUND', message: `no merchant account ${accountId}`, accountId };
}

export function settlementNotReady(businessDate: string, openDate: string) {
  return {
    __typename: 'SettlementNotReady' as const, code: 'SETTLEMENT_NOT_READY',
    message: `business date ${businessDate} has not closed; ${openDate} is open now`, businessDate, openDate,
  };
}

export function invalidStatement(line: number, message: string) {
  return { __typename: 'InvalidStatement' as const, code: 'INVALID_STATEMENT', message: `line ${line}: ${message}`, line };
}

export function balanceLimit(accountId: string) {
  return {
    __typename: 'BalanceLimit' as const, code: 'BALANCE_LIMIT',
    message: `settling would take account ${accountId} past what the ledger can store; that stripe is not settled yet and the settlement stays PROCESSING`,
    accountId,
  };
}

export function exceptionAlreadyResolved(exceptionId: string, resolution: 'BANK_FEE' | 'TIMING' | 'BANK_DUPLICATE' | 'WRITE_OFF' | null, resolvedBy: string | null) {
  return {
    __typename: 'ExceptionAlreadyResolved' as const, code: 'EXCEPTION_ALREADY_RESOLVED',
    message: `exception ${exceptionId} was resolved already${resolution ? ` as ${resolution}` : ''}${resolvedBy ? ` by ${resolvedBy}` : ''}; nothing was written`,
    exceptionId, resolution, resolvedBy,
  };
}
