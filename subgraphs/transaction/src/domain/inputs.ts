import { parseId } from '@paygraph/shared/ids';
import {
  describeMoneyError,
  parseCurrency,
  parsePaymentCurrency,
  parsePositiveAmount,
  type Currency,
  type MoneyInputError,
} from '@paygraph/shared/money';
import {
  descriptionLengthMax,
  externalRefLengthMax,
  idempotencyKeyLengthMax,
  channelLengthMax,
} from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import { isChannel } from '@paygraph/shared/channels';
import { invalidInput, type MoneyErrorOf } from './errors';
import { campaignPayeesMax, holdTtlSecondsMax, splitsMax, campaignPercentOffBpsMax } from '../limits';

/** A request that does not parse; a payment's or hold's also when payer and payee are one account. */
type InputError = MoneyErrorOf<'InvalidInput'>;

/**
 * Client input, checked before anything is read or written. Every refusal names its field,
 * and a request that fails here writes nothing, not even its idempotency key. amountMax is
 * the process's AMOUNT_MAX: the most one operation may move.
 */
const idempotencyKeyPattern = /^[\x21-\x7e]+$/;
// Control characters are what this pattern is about.
// eslint-disable-next-line no-control-regex
const textPattern = /^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$/;

export interface ExternalTransferInput {
  idempotencyKey: string;
  accountId: string;
  amount: string;
  currency: string;
  externalRef?: string | null;
  /** The channel the money moved through (shared/channels.ts); a channel's own token names itself. */
  channel?: string | null;
  /** The owner's linked account the money came from or goes to (services/external-accounts.ts linkedEnd). */
  externalAccountId?: string | null;
}

export interface ParsedExternalTransfer {
  idempotencyKey: string;
  accountId: string;
  amount: bigint;
  currency: Currency;
  externalRef: string | null;
  channel: string | null;
}

export interface CreatePaymentInput {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amount: string;
  currency: string;
  description?: string | null;
  clientContext?: { deviceId?: string | null; ip?: string | null; userAgent?: string | null } | null;
  splits?: ReadonlyArray<{ accountId: string; amount: string }> | null;
  campaignId?: string | null;
  /** An FX quote (domain/payment-plan.ts, shape FX): amount and currency are then the quote's sell side. */
  fxQuoteId?: string | null;
}

export interface ParsedPayment {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amount: bigint;
  currency: Currency;
  description: string | null;
  /** Empty for a payment without splits. */
  splits: Array<{ accountId: string; amount: bigint }>;
  campaignId: string | null;
}

/** A payment of more than two legs: it has splits or names a campaign. */
export function hasExtraLegs(p: Pick<ParsedPayment, 'splits' | 'campaignId'>): boolean {
  return p.splits.length > 0 || p.campaignId !== null;
}

export interface CreateCampaignInput {
  idempotencyKey: string;
  fundingAccountId: string;
  payeeAccountIds?: readonly string[] | null;
  percentOffBps?: number | null;
  amountOff?: string | null;
  maxDiscountPerPayment?: string | null;
  endsAt?: string | Date | null;
}

export interface ParsedCampaign {
  idempotencyKey: string;
  fundingAccountId: string;
  payeeAccountIds: string[] | null;
  percentOffBps: number | null;
  amountOff: bigint | null;
  maxDiscountPerPayment: bigint | null;
  endsAt: Date | null;
}

export interface RefundPaymentInput {
  idempotencyKey: string;
  paymentId: string;
  amount: string;
  reason?: string | null;
}

export interface ParsedRefund {
  idempotencyKey: string;
  paymentId: string;
  amount: bigint;
  reason: string | null;
}

export interface CreateHoldInput {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amount: string;
  currency: string;
  expiresInSeconds?: number | null;
  description?: string | null;
}

export interface ParsedHold extends ParsedPayment {
  /** Null: the configured default (HOLD_TTL_SECONDS). */
  expiresInSeconds: number | null;
}

export interface CaptureHoldInput {
  idempotencyKey: string;
  holdId: string;
  amount?: string | null;
}

export interface ParsedCapture {
  idempotencyKey: string;
  holdId: string;
  /** Null: the whole hold. */
  amount: bigint | null;
}

export interface VoidHoldInput {
  idempotencyKey: string;
  holdId: string;
}

export interface ParsedVoid {
  idempotencyKey: string;
  holdId: string;
}

export function parseExternalTransfer(
  input: ExternalTransferInput,
  amountMax: bigint,
): Result<ParsedExternalTransfer, InputError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('account', input.accountId))
    return err(invalidInput('accountId', `"${input.accountId}" is not an account id`));
  // ISO 4217 only: no channel holds a platform asset, so none is deposited or withdrawn.
  const money = parseMoney(input.amount, input.currency, amountMax, parseCurrency);
  if (!money.ok) return money;
  const externalRef = checkText('externalRef', input.externalRef, externalRefLengthMax);
  if (!externalRef.ok) return externalRef;
  const channel = input.channel ?? null;
  if (channel !== null && !isChannel(channel))
    return err(invalidInput('channel', `channel must be 1-${channelLengthMax} characters of [A-Za-z0-9_.-]`));
  return ok({
    idempotencyKey: input.idempotencyKey,
    accountId: input.accountId,
    ...money.value,
    externalRef: externalRef.value,
    channel,
  });
}

export function parseCreatePayment(
  input: CreatePaymentInput,
  amountMax: bigint,
): Result<ParsedPayment, InputError | MoneyErrorOf<'AccountsMustBeDifferent'>> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('account', input.payerAccountId))
    return err(invalidInput('payerAccountId', `"${input.payerAccountId}" is not an account id`));
  if (!parseId('account', input.payeeAccountId))
    return err(invalidInput('payeeAccountId', `"${input.payeeAccountId}" is not an account id`));
  const money = parseMoney(input.amount, input.currency, amountMax, parsePaymentCurrency);
  if (!money.ok) return money;
  if (input.payerAccountId === input.payeeAccountId)
    return err({ kind: 'AccountsMustBeDifferent', accountId: input.payerAccountId });
  const description = checkText('description', input.description, descriptionLengthMax);
  if (!description.ok) return description;
  const splits = parseSplits(input, amountMax);
  if (!splits.ok) return splits;
  const campaignId = input.campaignId ?? null;
  if (campaignId !== null && !parseId('campaign', campaignId))
    return err(invalidInput('campaignId', `"${campaignId}" is not a campaign id`));
  return ok({
    idempotencyKey: input.idempotencyKey,
    payerAccountId: input.payerAccountId,
    payeeAccountId: input.payeeAccountId,
    ...money.value,
    description: description.value,
    splits: splits.value,
    campaignId,
  });
}

/** At most splitsMax, each a positive amount to a distinct account that is neither payer nor payee. */
function parseSplits(
  input: CreatePaymentInput,
  amountMax: bigint,
): Result<Array<{ accountId: string; amount: bigint }>, InputError> {
  const given = input.splits ?? [];
  if (given.length > splitsMax) return err(invalidInput('splits', `a payment takes at most ${splitsMax} splits`));
  const seen = new Set<string>([input.payerAccountId, input.payeeAccountId]);
  const splits: Array<{ accountId: string; amount: bigint }> = [];
  for (const [i, split] of given.entries()) {
    if (!parseId('account', split.accountId))
      return err(invalidInput(`splits.${i}.accountId`, `"${split.accountId}" is not an account id`));
    if (split.accountId === input.payerAccountId)
      return err(invalidInput(`splits.${i}.accountId`, 'a split cannot pay the payer'));
    if (seen.has(split.accountId))
      return err(
        invalidInput(
          `splits.${i}.accountId`,
          `account ${split.accountId} is named twice (the payee receives the rest without a split)`,
        ),
      );
    seen.add(split.accountId);
    const amount = parsePositiveAmount(split.amount, amountMax);
    if (!amount.ok) return err(invalidInput(`splits.${i}.amount`, describeMoneyError(amount.error)));
    splits.push({ accountId: split.accountId, amount: amount.value });
  }
  return ok(splits);
}

export function parseCreateCampaign(input: CreateCampaignInput, amountMax: bigint): Result<ParsedCampaign, InputError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('account', input.fundingAccountId))
    return err(invalidInput('fundingAccountId', `"${input.fundingAccountId}" is not an account id`));
  const bps = input.percentOffBps ?? null;
  const off = input.amountOff ?? null;
  if ((bps === null) === (off === null))
    return err(invalidInput('percentOffBps', 'give exactly one of percentOffBps and amountOff'));
  if (bps !== null && (!Number.isInteger(bps) || bps < 1 || bps > campaignPercentOffBpsMax))
    return err(
      invalidInput('percentOffBps', `percentOffBps must be a whole number from 1 to ${campaignPercentOffBpsMax}`),
    );
  const amountOff = off === null ? ok(null) : parsePositiveAmount(off, amountMax);
  if (!amountOff.ok) return err(invalidInput('amountOff', describeMoneyError(amountOff.error)));
  const cap = input.maxDiscountPerPayment ?? null;
  const discountMax = cap === null ? ok(null) : parsePositiveAmount(cap, amountMax);
  if (!discountMax.ok) return err(invalidInput('maxDiscountPerPayment', describeMoneyError(discountMax.error)));
  const payees = input.payeeAccountIds ?? null;
  if (payees !== null) {
    if (payees.length === 0 || payees.length > campaignPayeesMax)
      return err(invalidInput('payeeAccountIds', `name 1 to ${campaignPayeesMax} payees, or none for any payee`));
    const bad = payees.find((id) => !parseId('account', id));
    if (bad !== undefined) return err(invalidInput('payeeAccountIds', `"${bad}" is not an account id`));
  }
  const endsAt = input.endsAt === null || input.endsAt === undefined ? null : new Date(input.endsAt);
  if (endsAt !== null && Number.isNaN(endsAt.getTime()))
    return err(invalidInput('endsAt', 'endsAt must be an instant'));
  return ok({
    idempotencyKey: input.idempotencyKey,
    fundingAccountId: input.fundingAccountId,
    payeeAccountIds: payees === null ? null : [...new Set(payees)],
    percentOffBps: bps,
    amountOff: amountOff.value,
    maxDiscountPerPayment: discountMax.value,
    endsAt,
  });
}

export function parseRefundPayment(input: RefundPaymentInput, amountMax: bigint): Result<ParsedRefund, InputError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('payment', input.paymentId))
    return err(invalidInput('paymentId', `"${input.paymentId}" is not a payment id`));
  const amount = parsePositiveAmount(input.amount, amountMax);
  if (!amount.ok) return err(invalidInput('amount', describeMoneyError(amount.error)));
  const reason = checkText('reason', input.reason, descriptionLengthMax);
  if (!reason.ok) return reason;
  return ok({
    idempotencyKey: input.idempotencyKey,
    paymentId: input.paymentId,
    amount: amount.value,
    reason: reason.value,
  });
}

/** A hold is checked as a payment is, and its lifetime must lie within 1 s..holdTtlSecondsMax. */
export function parseCreateHold(
  input: CreateHoldInput,
  amountMax: bigint,
): Result<ParsedHold, InputError | MoneyErrorOf<'AccountsMustBeDifferent'>> {
  const payment = parseCreatePayment(input, amountMax);
  if (!payment.ok) return payment;
  const ttl = input.expiresInSeconds ?? null;
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > holdTtlSecondsMax)) {
    return err(
      invalidInput(
        'expiresInSeconds',
        `expiresInSeconds must be a whole number of seconds from 1 to ${holdTtlSecondsMax} (30 days)`,
      ),
    );
  }
  return ok({ ...payment.value, expiresInSeconds: ttl });
}

export function parseCaptureHold(input: CaptureHoldInput, amountMax: bigint): Result<ParsedCapture, InputError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('hold', input.holdId)) return err(invalidInput('holdId', `"${input.holdId}" is not a hold id`));
  if (input.amount === null || input.amount === undefined)
    return ok({ idempotencyKey: input.idempotencyKey, holdId: input.holdId, amount: null });
  const amount = parsePositiveAmount(input.amount, amountMax);
  if (!amount.ok) return err(invalidInput('amount', describeMoneyError(amount.error)));
  return ok({ idempotencyKey: input.idempotencyKey, holdId: input.holdId, amount: amount.value });
}

export function parseVoidHold(input: VoidHoldInput): Result<ParsedVoid, InputError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('hold', input.holdId)) return err(invalidInput('holdId', `"${input.holdId}" is not a hold id`));
  return ok({ idempotencyKey: input.idempotencyKey, holdId: input.holdId });
}

export function checkKey(key: string): InputError | null {
  if (key.length === 0 || key.length > idempotencyKeyLengthMax || !idempotencyKeyPattern.test(key)) {
    return invalidInput(
      'idempotencyKey',
      `idempotencyKey must be 1-${idempotencyKeyLengthMax} printable ASCII characters without spaces`,
    );
  }
  return null;
}

function parseMoney(
  amount: string,
  currency: string,
  amountMax: bigint,
  currencyOf: (input: string) => Result<Currency, MoneyInputError>,
): Result<{ amount: bigint; currency: Currency }, InputError> {
  const parsedAmount = parsePositiveAmount(amount, amountMax);
  if (!parsedAmount.ok) return err(invalidInput('amount', describeMoneyError(parsedAmount.error)));
  const parsedCurrency = currencyOf(currency);
  if (!parsedCurrency.ok) return err(invalidInput('currency', describeMoneyError(parsedCurrency.error)));
  return ok({ amount: parsedAmount.value, currency: parsedCurrency.value });
}

export function checkText(
  field: string,
  value: string | null | undefined,
  lengthMax: number,
): Result<string | null, InputError> {
  if (value === null || value === undefined || value === '') return ok(null);
  if (value.length > lengthMax || !textPattern.test(value)) {
    return err(invalidInput(field, `${field} must be at most ${lengthMax} characters without control characters`));
  }
  return ok(value);
}
