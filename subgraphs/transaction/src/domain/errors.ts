import type { AccountStatus, PostingRejection } from '@paygraph/shared/ledger/index';
import { assert, InvariantViolation, unreachable } from '@paygraph/shared/result';

/** Every business failure a money mutation can answer with; each becomes a UserError type. */
export type MoneyError =
  | { kind: 'InvalidInput'; field: string; message: string }
  | { kind: 'AccountNotFound'; accountId: string }
  | { kind: 'AccountNotActive'; accountId: string; status: AccountStatus }
  | { kind: 'CurrencyMismatch'; accountId: string; accountCurrency: string; requestCurrency: string }
  | { kind: 'AccountsMustBeDifferent'; accountId: string }
  /**
   * `merchant`: a refund refused for a merchant's money, as the merchant holds it over all its rows (its pending, its
   * available and its home row's credit line), never as the stripe the ledger refused (refund.ts).
   */
  | {
      kind: 'InsufficientFunds';
      accountId: string;
      available: bigint;
      merchant?: { pending: bigint; creditLimit: bigint };
    }
  | { kind: 'BalanceLimit'; accountId: string; bucket: string }
  | { kind: 'IdempotencyKeyReused'; idempotencyKey: string }
  | { kind: 'PaymentNotFound'; paymentId: string }
  | { kind: 'PaymentNotRefundable'; paymentId: string; status: 'PROCESSING' | 'SUCCEEDED' | 'FAILED' }
  | { kind: 'RefundExceedsPayment'; paymentId: string; refundable: bigint }
  | { kind: 'HoldNotFound'; holdId: string }
  | { kind: 'HoldNotActive'; holdId: string; status: 'HELD' | 'CAPTURED' | 'VOIDED' | 'EXPIRED' }
  | { kind: 'CaptureExceedsHold'; holdId: string; held: bigint }
  | { kind: 'UnsupportedCurrency'; currency: string }
  | { kind: 'FxRateUnavailable'; sellCurrency: string; buyCurrency: string }
  | { kind: 'FxQuoteExpired'; quoteId: string; expiresAt: Date }
  | { kind: 'FxQuoteUsed'; quoteId: string }
  | { kind: 'FxQuoteMismatch'; quoteId: string; field: string; message: string }
  | { kind: 'AmountExceededBySplits'; amount: bigint; splitsTotal: bigint }
  | { kind: 'CampaignNotFound'; campaignId: string }
  | { kind: 'CampaignNotApplicable'; campaignId: string; reason: string }
  | { kind: 'CampaignExhausted'; campaignId: string }
  /** A linked account that is not there, or not the caller's or the account's owner's to name (never told apart). */
  | { kind: 'ExternalAccountNotFound'; externalAccountId: string }
  /** A linked account money may not leave to (or arrive from) in its status: PENDING, REJECTED, UNLINKED. */
  | {
      kind: 'ExternalAccountNotVerified';
      externalAccountId: string;
      status: 'PENDING' | 'VERIFIED' | 'REJECTED' | 'UNLINKED';
    }
  /** The card (by its fingerprint) is another owner's link. */
  | { kind: 'ExternalAccountInUse'; field: string };

export type MoneyErrorKind = MoneyError['kind'];
export type MoneyErrorOf<K extends MoneyErrorKind> = Extract<MoneyError, { kind: K }>;

/** What the ledger refuses a posting for (fromRejection). */
export type PostingRefusal = MoneyErrorOf<
  'AccountNotFound' | 'AccountNotActive' | 'CurrencyMismatch' | 'InsufficientFunds' | 'BalanceLimit'
>;

/*
 * Each money mutation's refusals: exactly the error members of its result union in
 * schema/transaction.graphql, each kind named as its member. A service that
 * returns a refusal its union lacks does not compile; resolvers/user-errors.ts maps each kind to
 * its member, and the generated resolver types check the answer against the union.
 */
const movementErrorKinds = [
  'InvalidInput',
  'AccountNotFound',
  'AccountNotActive',
  'CurrencyMismatch',
  'BalanceLimit',
  'IdempotencyKeyReused',
] as const;
/** A deposit or withdrawal naming a linked account (externalAccountId) adds the link's refusals. */
const linkedErrorKinds = ['ExternalAccountNotFound', 'ExternalAccountNotVerified'] as const;
export const depositErrorKinds = [...movementErrorKinds, ...linkedErrorKinds] as const;
export const withdrawErrorKinds = [...depositErrorKinds, 'InsufficientFunds'] as const;
/** A two-leg payment's refusals; a payment of many legs adds those of its splits and campaign. */
const twoLegPaymentErrorKinds = [...movementErrorKinds, 'InsufficientFunds', 'AccountsMustBeDifferent'] as const;
export const createPaymentErrorKinds = [
  ...twoLegPaymentErrorKinds,
  'AmountExceededBySplits',
  'CampaignNotFound',
  'CampaignNotApplicable',
  'CampaignExhausted',
  'FxQuoteExpired',
  'FxQuoteUsed',
  'FxQuoteMismatch',
] as const;
export const refundPaymentErrorKinds = [
  'InvalidInput',
  'PaymentNotFound',
  'PaymentNotRefundable',
  'RefundExceedsPayment',
  'InsufficientFunds',
  'AccountNotActive',
  'BalanceLimit',
  'IdempotencyKeyReused',
] as const;
export const createHoldErrorKinds = twoLegPaymentErrorKinds;
export const createCampaignErrorKinds = [
  'InvalidInput',
  'AccountNotFound',
  'AccountNotActive',
  'IdempotencyKeyReused',
] as const;
export const captureHoldErrorKinds = [
  'InvalidInput',
  'HoldNotFound',
  'HoldNotActive',
  'CaptureExceedsHold',
  'AccountNotFound',
  'AccountNotActive',
  'CurrencyMismatch',
  'BalanceLimit',
  'IdempotencyKeyReused',
] as const;
export const voidHoldErrorKinds = ['InvalidInput', 'HoldNotFound', 'HoldNotActive', 'IdempotencyKeyReused'] as const;
export const setFxRateErrorKinds = ['InvalidInput', 'UnsupportedCurrency'] as const;
export const createFxQuoteErrorKinds = ['InvalidInput', 'UnsupportedCurrency', 'FxRateUnavailable'] as const;
export const linkExternalAccountErrorKinds = ['InvalidInput', 'ExternalAccountInUse', 'IdempotencyKeyReused'] as const;
export const verifyExternalAccountErrorKinds = ['InvalidInput', 'ExternalAccountNotFound'] as const;
export const unlinkExternalAccountErrorKinds = ['InvalidInput', 'ExternalAccountNotFound'] as const;
export const reportExternalBalanceErrorKinds = ['InvalidInput', 'ExternalAccountNotFound'] as const;

export type DepositError = MoneyErrorOf<(typeof depositErrorKinds)[number]>;
export type WithdrawError = MoneyErrorOf<(typeof withdrawErrorKinds)[number]>;
export type CreatePaymentError = MoneyErrorOf<(typeof createPaymentErrorKinds)[number]>;
export type RefundPaymentError = MoneyErrorOf<(typeof refundPaymentErrorKinds)[number]>;
export type CreateHoldError = MoneyErrorOf<(typeof createHoldErrorKinds)[number]>;
export type CaptureHoldError = MoneyErrorOf<(typeof captureHoldErrorKinds)[number]>;
export type VoidHoldError = MoneyErrorOf<(typeof voidHoldErrorKinds)[number]>;
export type SetFxRateError = MoneyErrorOf<(typeof setFxRateErrorKinds)[number]>;
export type CreateFxQuoteError = MoneyErrorOf<(typeof createFxQuoteErrorKinds)[number]>;
export type CreateCampaignError = MoneyErrorOf<(typeof createCampaignErrorKinds)[number]>;
export type LinkExternalAccountError = MoneyErrorOf<(typeof linkExternalAccountErrorKinds)[number]>;
export type VerifyExternalAccountError = MoneyErrorOf<(typeof verifyExternalAccountErrorKinds)[number]>;
export type UnlinkExternalAccountError = MoneyErrorOf<(typeof unlinkExternalAccountErrorKinds)[number]>;
export type ReportExternalBalanceError = MoneyErrorOf<(typeof reportExternalBalanceErrorKinds)[number]>;

/**
 * A refusal as one operation's error, where the types cannot tell: the ledger's refusals are not
 * typed by posting (a deposit's posting credits the client from the bank reserve, which may go
 * negative, so it is never refused for funds). One the operation's union lacks is a bug, and
 * crashes here rather than reaching GraphQL as a member the union cannot hold.
 */
export function refusalOf<K extends MoneyErrorKind>(refusal: MoneyError, kinds: readonly K[]): MoneyErrorOf<K> {
  assert(isOneOf(refusal, kinds), `refused with ${refusal.kind}, which this operation's answer cannot carry`);
  return refusal;
}

function isOneOf<K extends MoneyErrorKind>(error: MoneyError, kinds: readonly K[]): error is MoneyErrorOf<K> {
  return (kinds as readonly MoneyErrorKind[]).includes(error.kind);
}

export function fromRejection(rejection: PostingRejection): PostingRefusal {
  switch (rejection.code) {
    case 'ACCOUNT_NOT_FOUND':
      return { kind: 'AccountNotFound', accountId: rejection.accountId };
    case 'ACCOUNT_NOT_ACTIVE':
      return { kind: 'AccountNotActive', accountId: rejection.accountId, status: rejection.status };
    case 'CURRENCY_MISMATCH':
      return {
        kind: 'CurrencyMismatch',
        accountId: rejection.accountId,
        accountCurrency: rejection.accountCurrency,
        requestCurrency: rejection.postingCurrency,
      };
    case 'INSUFFICIENT_FUNDS':
      return { kind: 'InsufficientFunds', accountId: rejection.accountId, available: rejection.available };
    case 'BALANCE_LIMIT':
      return { kind: 'BalanceLimit', accountId: rejection.accountId, bucket: rejection.bucket };
    case 'TERMS_LAPSED':
      // Only an FX payment's debit is posted lapsed (services/post-payment.ts), and it reads its refusals with
      // fromDebitRejection: a lapse anywhere else is a bug.
      throw new InvariantViolation(`a posting of ${rejection.termsId} was refused as lapsed outside an FX payment`);
    default:
      return unreachable(rejection);
  }
}

/**
 * A two-leg payment's debit refused: as fromRejection, and FX_QUOTE_EXPIRED for the lapse kept under its key when a
 * replay came after its quote's deadline with no debit made (services/fx-quotes.ts claimQuote).
 */
export function fromDebitRejection(rejection: PostingRejection): PostingRefusal | MoneyErrorOf<'FxQuoteExpired'> {
  if (rejection.code !== 'TERMS_LAPSED') return fromRejection(rejection);
  return { kind: 'FxQuoteExpired', quoteId: rejection.termsId, expiresAt: new Date(rejection.lapsedAt) };
}

export function invalidInput(field: string, message: string): MoneyErrorOf<'InvalidInput'> {
  return { kind: 'InvalidInput', field, message };
}
