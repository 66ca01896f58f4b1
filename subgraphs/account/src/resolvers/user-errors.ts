import { formatAmount } from '@paygraph/shared/money';
import type { AccountView } from '../domain/account-view';

/** GraphQL union members for business failures; __typename picks the member. */
export function invalidInput(field: string, message: string) {
  return { __typename: 'InvalidInput' as const, code: 'INVALID_INPUT', message, field };
}

export function unsupportedCurrency(currency: string) {
  return {
    __typename: 'UnsupportedCurrency' as const,
    code: 'UNSUPPORTED_CURRENCY',
    message: `currency "${currency}" is not an active ISO 4217 currency an account can hold`,
    currency,
  };
}

export function accountNotFound(accountId: string) {
  return {
    __typename: 'AccountNotFound' as const,
    code: 'ACCOUNT_NOT_FOUND',
    message: `no account ${accountId}`,
    accountId,
  };
}

export function accountNotActive(accountId: string, status: AccountView['status']) {
  return {
    __typename: 'AccountNotActive' as const,
    code: 'ACCOUNT_NOT_ACTIVE',
    message: `account ${accountId} is ${status}`,
    accountId,
    status,
  };
}

export function accountBalanceNotZero(accountId: string, total: bigint) {
  return {
    __typename: 'AccountBalanceNotZero' as const,
    code: 'ACCOUNT_BALANCE_NOT_ZERO',
    message: `account ${accountId} still holds ${formatAmount(total)}; move it out before closing`,
    accountId,
    total: formatAmount(total),
  };
}

export function entityNotFound(entity: string) {
  return {
    __typename: 'EntityNotFound' as const,
    code: 'ENTITY_NOT_FOUND',
    message: `no entity ${entity}; operators create entities (createEntity)`,
    entity,
  };
}
