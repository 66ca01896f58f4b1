import { formatAmount } from '@paygraph/shared/money';
import { unreachable } from '@paygraph/shared/result';
import type { MoneyError } from '../domain/errors';

/** Maps each business failure to its GraphQL type, code and a sentence for the developer. */
export function toUserError(error: MoneyError) {
  switch (error.kind) {
    case 'InvalidInput':
      return { __typename: 'InvalidInput', code: 'INVALID_INPUT', message: error.message, field: error.field };
    case 'AccountNotFound':
      return { __typename: 'AccountNotFound', code: 'ACCOUNT_NOT_FOUND', message: `no account ${error.accountId}`, accountId: error.accountId };
    case 'AccountNotActive':
      return { __typename: 'AccountNotActive', code: 'ACCOUNT_NOT_ACTIVE', message: `account ${error.accountId} is ${error.status}`, accountId: error.accountId, status: error.status };
    case 'CurrencyMismatch':
      return {
        __typename: 'CurrencyMismatch', code: 'CURRENCY_MISMATCH',
        message: `account ${error.accountId} holds ${error.accountCurrency}, the request is in ${error.requestCurrency}`,
        accountId: error.accountId, accountCurrency: error.accountCurrency, requestCurrency: error.requestCurrency,
      };
    case 'SameAccount':
      return { __typename: 'AccountsMustBeDifferent', code: 'SAME_ACCOUNT', message: 'payer and payee must be different accounts', accountId: error.accountId };
    case 'InsufficientFunds':
      return {
        __typename: 'InsufficientFunds', code: 'INSUFFICIENT_FUNDS',
        message: `account ${error.accountId} has ${formatAmount(error.available)} available`,
        accountId: error.accountId, available: formatAmount(error.available),
      };
    case 'BalanceLimit':
      return {
        __typename: 'BalanceLimit', code: 'BALANCE_LIMIT',
        message: `the movement would take the ${error.bucket} balance of account ${error.accountId} past what the ledger can hold; nothing moved`,
        accountId: error.accountId,
      };
    case 'IdempotencyKeyReused':
      return {
        __typename: 'IdempotencyKeyReused', code: 'IDEMPOTENCY_KEY_REUSED',
        message: `idempotency key "${error.idempotencyKey}" was used before with other parameters; use a new key for a new request`,
        idempotencyKey: error.idempotencyKey,
      };
    case 'PaymentNotFound':
      return { __typename: 'PaymentNotFound', code: 'PAYMENT_NOT_FOUND', message: `no payment ${error.paymentId}`, paymentId: error.paymentId };
    case 'PaymentNotRefundable':
      return {
        __typename: 'PaymentNotRefundable', code: 'PAYMENT_NOT_REFUNDABLE',
        message: `payment ${error.paymentId} is ${error.status}; only a SUCCEEDED payment can be refunded`,
        paymentId: error.paymentId, status: error.status,
      };
    case 'RefundExceedsPayment':
      return {
        __typename: 'RefundExceedsPayment', code: 'REFUND_EXCEEDS_PAYMENT',
        message: `payment ${error.paymentId} has ${formatAmount(error.refundable)} left to refund`,
        paymentId: error.paymentId, refundable: formatAmount(error.refundable),
      };
    case 'HoldNotFound':
      return { __typename: 'HoldNotFound', code: 'HOLD_NOT_FOUND', message: `no hold ${error.holdId}`, holdId: error.holdId };
    case 'HoldNotActive':
      return {
        __typename: 'HoldNotActive', code: 'HOLD_NOT_ACTIVE',
        message: `hold ${error.holdId} is ${error.status}; a hold is captured, voided or expires once`, holdId: error.holdId, status: error.status,
      };
    case 'CaptureExceedsHold':
      return {
        __typename: 'CaptureExceedsHold', code: 'CAPTURE_EXCEEDS_HOLD',
        message: `hold ${error.holdId} holds ${formatAmount(error.held)}; a capture may pay at most that`, holdId: error.holdId, held: formatAmount(error.held),
      };
    default:
      return unreachable(error);
  }
}
