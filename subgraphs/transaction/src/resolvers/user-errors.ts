import { formatAmount } from '@paygraph/shared/money';
import type { MoneyError, MoneyErrorKind, MoneyErrorOf } from '../domain/errors';

/**
 * Each business failure as its GraphQL type, code and a sentence for the developer. The answer's
 * type follows the error's kind, so a mutation whose errors are exactly its union's members
 * (domain/errors.ts) answers only members of that union: the generated resolver types check it.
 */
const userErrors = {
  InvalidInput: (error: MoneyErrorOf<'InvalidInput'>) => ({
    __typename: 'InvalidInput' as const,
    code: 'INVALID_INPUT',
    message: error.message,
    field: error.field,
  }),
  AccountNotFound: (error: MoneyErrorOf<'AccountNotFound'>) => ({
    __typename: 'AccountNotFound' as const,
    code: 'ACCOUNT_NOT_FOUND',
    message: `no account ${error.accountId}`,
    accountId: error.accountId,
  }),
  AccountNotActive: (error: MoneyErrorOf<'AccountNotActive'>) => ({
    __typename: 'AccountNotActive' as const,
    code: 'ACCOUNT_NOT_ACTIVE',
    message: `account ${error.accountId} is ${error.status}`,
    accountId: error.accountId,
    status: error.status,
  }),
  CurrencyMismatch: (error: MoneyErrorOf<'CurrencyMismatch'>) => ({
    __typename: 'CurrencyMismatch' as const,
    code: 'CURRENCY_MISMATCH',
    message: `account ${error.accountId} holds ${error.accountCurrency}, the request is in ${error.requestCurrency}`,
    accountId: error.accountId,
    accountCurrency: error.accountCurrency,
    requestCurrency: error.requestCurrency,
  }),
  AccountsMustBeDifferent: (error: MoneyErrorOf<'AccountsMustBeDifferent'>) => ({
    __typename: 'AccountsMustBeDifferent' as const,
    code: 'SAME_ACCOUNT',
    message: 'payer and payee must be different accounts',
    accountId: error.accountId,
  }),
  InsufficientFunds: (error: MoneyErrorOf<'InsufficientFunds'>) => ({
    __typename: 'InsufficientFunds' as const,
    code: 'INSUFFICIENT_FUNDS',
    message: error.merchant
      ? `the payee holds ${formatAmount(error.merchant.pending)} pending and ${formatAmount(error.available)} available, with a credit line of ${formatAmount(error.merchant.creditLimit)}: not enough to give this refund back`
      : `account ${error.accountId} has ${formatAmount(error.available)} available`,
    accountId: error.accountId,
    available: formatAmount(error.available),
  }),
  BalanceLimit: (error: MoneyErrorOf<'BalanceLimit'>) => ({
    __typename: 'BalanceLimit' as const,
    code: 'BALANCE_LIMIT',
    message: `the movement would take the ${error.bucket} balance of account ${error.accountId} past what the ledger can hold; nothing moved`,
    accountId: error.accountId,
  }),
  IdempotencyKeyReused: (error: MoneyErrorOf<'IdempotencyKeyReused'>) => ({
    __typename: 'IdempotencyKeyReused' as const,
    code: 'IDEMPOTENCY_KEY_REUSED',
    message: `idempotency key "${error.idempotencyKey}" was used before with other parameters; use a new key for a new request`,
    idempotencyKey: error.idempotencyKey,
  }),
  PaymentNotFound: (error: MoneyErrorOf<'PaymentNotFound'>) => ({
    __typename: 'PaymentNotFound' as const,
    code: 'PAYMENT_NOT_FOUND',
    message: `no payment ${error.paymentId}`,
    paymentId: error.paymentId,
  }),
  PaymentNotRefundable: (error: MoneyErrorOf<'PaymentNotRefundable'>) => ({
    __typename: 'PaymentNotRefundable' as const,
    code: 'PAYMENT_NOT_REFUNDABLE',
    message: `payment ${error.paymentId} is ${error.status}; only a SUCCEEDED payment can be refunded`,
    paymentId: error.paymentId,
    status: error.status,
  }),
  RefundExceedsPayment: (error: MoneyErrorOf<'RefundExceedsPayment'>) => ({
    __typename: 'RefundExceedsPayment' as const,
    code: 'REFUND_EXCEEDS_PAYMENT',
    message: `payment ${error.paymentId} has ${formatAmount(error.refundable)} left to refund`,
    paymentId: error.paymentId,
    refundable: formatAmount(error.refundable),
  }),
  HoldNotFound: (error: MoneyErrorOf<'HoldNotFound'>) => ({
    __typename: 'HoldNotFound' as const,
    code: 'HOLD_NOT_FOUND',
    message: `no hold ${error.holdId}`,
    holdId: error.holdId,
  }),
  HoldNotActive: (error: MoneyErrorOf<'HoldNotActive'>) => ({
    __typename: 'HoldNotActive' as const,
    code: 'HOLD_NOT_ACTIVE',
    message: `hold ${error.holdId} is ${error.status}; a hold is captured, voided or expires once`,
    holdId: error.holdId,
    status: error.status,
  }),
  CaptureExceedsHold: (error: MoneyErrorOf<'CaptureExceedsHold'>) => ({
    __typename: 'CaptureExceedsHold' as const,
    code: 'CAPTURE_EXCEEDS_HOLD',
    message: `hold ${error.holdId} holds ${formatAmount(error.held)}; a capture may pay at most that`,
    holdId: error.holdId,
    held: formatAmount(error.held),
  }),
  ExternalAccountNotFound: (error: MoneyErrorOf<'ExternalAccountNotFound'>) => ({
    __typename: 'ExternalAccountNotFound' as const,
    code: 'EXTERNAL_ACCOUNT_NOT_FOUND',
    message: `no linked account ${error.externalAccountId} of this owner`,
    externalAccountId: error.externalAccountId,
  }),
  ExternalAccountNotVerified: (error: MoneyErrorOf<'ExternalAccountNotVerified'>) => ({
    __typename: 'ExternalAccountNotVerified' as const,
    code: 'EXTERNAL_ACCOUNT_NOT_VERIFIED',
    message: `linked account ${error.externalAccountId} is ${error.status}; money moves only to or from a link its channel verified and the owner keeps`,
    externalAccountId: error.externalAccountId,
    status: error.status,
  }),
  ExternalAccountInUse: (error: MoneyErrorOf<'ExternalAccountInUse'>) => ({
    __typename: 'ExternalAccountInUse' as const,
    code: 'EXTERNAL_ACCOUNT_IN_USE',
    message: `the ${error.field} is linked by another owner`,
    field: error.field,
  }),
  UnsupportedCurrency: (error: MoneyErrorOf<'UnsupportedCurrency'>) => ({
    __typename: 'UnsupportedCurrency' as const,
    code: 'UNSUPPORTED_CURRENCY',
    message: `currency "${error.currency}" is not an active ISO 4217 currency`,
    currency: error.currency,
  }),
  FxRateUnavailable: (error: MoneyErrorOf<'FxRateUnavailable'>) => ({
    __typename: 'FxRateUnavailable' as const,
    code: 'FX_RATE_UNAVAILABLE',
    message: `no rate is set between ${error.sellCurrency} and ${error.buyCurrency}`,
    sellCurrency: error.sellCurrency,
    buyCurrency: error.buyCurrency,
  }),
  FxQuoteExpired: (error: MoneyErrorOf<'FxQuoteExpired'>) => ({
    __typename: 'FxQuoteExpired' as const,
    code: 'FX_QUOTE_EXPIRED',
    message: `quote ${error.quoteId} expired at ${error.expiresAt.toISOString()}; ask for a new one`,
    quoteId: error.quoteId,
    expiresAt: error.expiresAt,
  }),
  FxQuoteUsed: (error: MoneyErrorOf<'FxQuoteUsed'>) => ({
    __typename: 'FxQuoteUsed' as const,
    code: 'FX_QUOTE_USED',
    message: `quote ${error.quoteId} has paid a payment already; a quote pays one`,
    quoteId: error.quoteId,
  }),
  FxQuoteMismatch: (error: MoneyErrorOf<'FxQuoteMismatch'>) => ({
    __typename: 'FxQuoteMismatch' as const,
    code: 'FX_QUOTE_MISMATCH',
    message: error.message,
    quoteId: error.quoteId,
    field: error.field,
  }),
  AmountExceededBySplits: (error: MoneyErrorOf<'AmountExceededBySplits'>) => ({
    __typename: 'AmountExceededBySplits' as const,
    code: 'SPLITS_EXCEED_AMOUNT',
    message: `the splits add up to ${formatAmount(error.splitsTotal)}, more than the payment's ${formatAmount(error.amount)}`,
    amount: formatAmount(error.amount),
    splitsTotal: formatAmount(error.splitsTotal),
  }),
  CampaignNotFound: (error: MoneyErrorOf<'CampaignNotFound'>) => ({
    __typename: 'CampaignNotFound' as const,
    code: 'CAMPAIGN_NOT_FOUND',
    message: `no campaign ${error.campaignId}`,
    campaignId: error.campaignId,
  }),
  CampaignNotApplicable: (error: MoneyErrorOf<'CampaignNotApplicable'>) => ({
    __typename: 'CampaignNotApplicable' as const,
    code: 'CAMPAIGN_NOT_APPLICABLE',
    message: error.reason,
    campaignId: error.campaignId,
  }),
  CampaignExhausted: (error: MoneyErrorOf<'CampaignExhausted'>) => ({
    __typename: 'CampaignExhausted' as const,
    code: 'CAMPAIGN_EXHAUSTED',
    message: `campaign ${error.campaignId} cannot pay this payment's discount; the payment was refused and nothing was charged`,
    campaignId: error.campaignId,
  }),
} satisfies {
  // Each kind is its member's name (one name from schema to domain); the code is the schema's, as the contract has it.
  [K in MoneyErrorKind]: (error: MoneyErrorOf<K>) => { __typename: K; code: string; message: string };
};

/** The GraphQL member each of E's kinds becomes. */
export type UserErrorOf<E extends MoneyError> = E extends MoneyError
  ? ReturnType<(typeof userErrors)[E['kind']]>
  : never;

export function toUserError<E extends MoneyError>(error: E): UserErrorOf<E> {
  // TypeScript cannot relate the formatter picked by error.kind to E; the table's type (satisfies above) does.
  const format = userErrors[error.kind] as unknown as (error: E) => UserErrorOf<E>;
  return format(error);
}
