import type { PostingRejection } from '@paygraph/shared/ledger/posting-rules';
import { unreachable } from '@paygraph/shared/result';

/** Every business failure a money mutation can answer with; each becomes a UserError type. */
export type MoneyError =
  | { kind: 'InvalidInput'; field: string; message: string }
  | { kind: 'AccountNotFound'; accountId: string }
  | { kind: 'AccountNotActive'; accountId: string; status: string }
  | { kind: 'CurrencyMismatch'; accountId: string; accountCurrency: string; requestCurrency: string }
  | { kind: 'SameAccount'; accountId: string }
  | { kind: 'InsufficientFunds'; accountId: string; available: bigint }
  | { kind: 'BalanceLimit'; accountId: string; bucket: string }
  | { kind: 'IdempotencyKeyReused'; idempotencyKey: string }
  | { kind: 'PaymentNotFound'; paymentId: string }
  | { kind: 'PaymentNotRefundable'; paymentId: string; status: string }
  | { kind: 'RefundExceedsPayment'; paymentId: string; refundable: bigint }
  | { kind: 'HoldNotFound'; holdId: string }
  | { kind: 'HoldNotActive'; holdId: string; status: string }
  | { kind: 'CaptureExceedsHold'; holdId: string; held: bigint };

export function fromRejection(rejection: PostingRejection): MoneyError {
  switch (rejection.code) {
    case 'ACCOUNT_NOT_FOUND':
      return { kind: 'AccountNotFound', accountId: rejection.accountId };
    case 'ACCOUNT_NOT_ACTIVE':
      return { kind: 'AccountNotActive', accountId: rejection.accountId, status: rejection.status };
    case 'CURRENCY_MISMATCH':
      return { kind: 'CurrencyMismatch', accountId: rejection.accountId, accountCurrency: rejection.accountCurrency, requestCurrency: rejection.postingCurrency };
    case 'INSUFFICIENT_FUNDS':
      return { kind: 'InsufficientFunds', accountId: rejection.accountId, available: rejection.available };
    case 'BALANCE_LIMIT':
      return { kind: 'BalanceLimit', accountId: rejection.accountId, bucket: rejection.bucket };
    default:
      return unreachable(rejection);
  }
}

export function invalidInput(field: string, message: string): MoneyError {
  return { kind: 'InvalidInput', field, message };
}
