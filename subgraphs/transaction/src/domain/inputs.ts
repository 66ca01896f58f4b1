import { parseId } from '@paygraph/shared/ids';
import { describeMoneyError, parseCurrency, parsePositiveAmount, type Currency } from '@paygraph/shared/money';
import { descriptionLengthMax, externalRefLengthMax, holdTtlSecondsMax, idempotencyKeyLengthMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import { invalidInput, type MoneyError } from './errors';

/**
 * Client input, checked before anything is read or written. Every refusal names its field,
 * and a request that fails here writes nothing, not even its idempotency key. amountMax is
 * the process's AMOUNT_MAX: the most one operation may move.
 */
const idempotencyKeyPattern = /^[\x21-\x7e]+$/;
const textPattern = /^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$/;

export interface ExternalTransferInput {
  idempotencyKey: string;
  accountId: string;
  amount: string;
  currency: string;
  externalRef?: string | null;
}

export interface ParsedExternalTransfer {
  idempotencyKey: string;
  accountId: string;
  amount: bigint;
  currency: Currency;
  externalRef: string | null;
}

export interface CreatePaymentInput {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amount: string;
  currency: string;
  description?: string | null;
  clientContext?: { deviceId?: string | null; ip?: string | null; userAgent?: string | null } | null;
}

export interface ParsedPayment {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amount: bigint;
  currency: Currency;
  description: string | null;
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

export function parseExternalTransfer(input: ExternalTransferInput, amountMax: bigint): Result<ParsedExternalTransfer, MoneyError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('account', input.accountId)) return err(invalidInput('accountId', `"${input.accountId}" is not an account id`));
  const money = parseMoney(input.amount, input.currency, amountMax);
  if (!money.ok) return money;
  const externalRef = checkText('externalRef', input.externalRef, externalRefLengthMax);
  if (!externalRef.ok) return externalRef;
  return ok({ idempotencyKey: input.idempotencyKey, accountId: input.accountId, ...money.value, externalRef: externalRef.value });
}

export function parseCreatePayment(input: CreatePaymentInput, amountMax: bigint): Result<ParsedPayment, MoneyError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('account', input.payerAccountId)) return err(invalidInput('payerAccountId', `"${input.payerAccountId}" is not an account id`));
  if (!parseId('account', input.payeeAccountId)) return err(invalidInput('payeeAccountId', `"${input.payeeAccountId}" is not an account id`));
  const money = parseMoney(input.amount, input.currency, amountMax);
  if (!money.ok) return money;
  if (input.payerAccountId === input.payeeAccountId) return err({ kind: 'SameAccount', accountId: input.payerAccountId });
  const description = checkText('description', input.description, descriptionLengthMax);
  if (!description.ok) return description;
  return ok({
    idempotencyKey: input.idempotencyKey, payerAccountId: input.payerAccountId, payeeAccountId: input.payeeAccountId,
    ...money.value, description: description.value,
  });
}

export function parseRefundPayment(input: RefundPaymentInput, amountMax: bigint): Result<ParsedRefund, MoneyError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('payment', input.paymentId)) return err(invalidInput('paymentId', `"${input.paymentId}" is not a payment id`));
  const amount = parsePositiveAmount(input.amount, amountMax);
  if (!amount.ok) return err(invalidInput('amount', describeMoneyError(amount.error)));
  const reason = checkText('reason', input.reason, descriptionLengthMax);
  if (!reason.ok) return reason;
  return ok({ idempotencyKey: input.idempotencyKey, paymentId: input.paymentId, amount: amount.value, reason: reason.value });
}

/** A hold is checked as a payment is, and its lifetime must lie within 1 s..holdTtlSecondsMax. */
export function parseCreateHold(input: CreateHoldInput, amountMax: bigint): Result<ParsedHold, MoneyError> {
  const payment = parseCreatePayment(input, amountMax);
  if (!payment.ok) return payment;
  const ttl = input.expiresInSeconds ?? null;
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > holdTtlSecondsMax)) {
    return err(invalidInput('expiresInSeconds', `expiresInSeconds must be a whole number of seconds from 1 to ${holdTtlSecondsMax} (30 days)`));
  }
  return ok({ ...payment.value, expiresInSeconds: ttl });
}

export function parseCaptureHold(input: CaptureHoldInput, amountMax: bigint): Result<ParsedCapture, MoneyError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('hold', input.holdId)) return err(invalidInput('holdId', `"${input.holdId}" is not a hold id`));
  if (input.amount === null || input.amount === undefined) return ok({ idempotencyKey: input.idempotencyKey, holdId: input.holdId, amount: null });
  const amount = parsePositiveAmount(input.amount, amountMax);
  if (!amount.ok) return err(invalidInput('amount', describeMoneyError(amount.error)));
  return ok({ idempotencyKey: input.idempotencyKey, holdId: input.holdId, amount: amount.value });
}

export function parseVoidHold(input: VoidHoldInput): Result<ParsedVoid, MoneyError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!parseId('hold', input.holdId)) return err(invalidInput('holdId', `"${input.holdId}" is not a hold id`));
  return ok({ idempotencyKey: input.idempotencyKey, holdId: input.holdId });
}

function checkKey(key: string): MoneyError | null {
  if (key.length === 0 || key.length > idempotencyKeyLengthMax || !idempotencyKeyPattern.test(key)) {
    return invalidInput('idempotencyKey', `idempotencyKey must be 1-${idempotencyKeyLengthMax} printable ASCII characters without spaces`);
  }
  return null;
}

function parseMoney(amount: string, currency: string, amountMax: bigint): Result<{ amount: bigint; currency: Currency }, MoneyError> {
  const parsedAmount = parsePositiveAmount(amount, amountMax);
  if (!parsedAmount.ok) return err(invalidInput('amount', describeMoneyError(parsedAmount.error)));
  const parsedCurrency = parseCurrency(currency);
  if (!parsedCurrency.ok) return err(invalidInput('currency', describeMoneyError(parsedCurrency.error)));
  return ok({ amount: parsedAmount.value, currency: parsedCurrency.value });
}

function checkText(field: string, value: string | null | undefined, lengthMax: number): Result<string | null, MoneyError> {
  if (value === null || value === undefined || value === '') return ok(null);
  if (value.length > lengthMax || !textPattern.test(value)) {
    return err(invalidInput(field, `${field} must be at most ${lengthMax} characters without control characters`));
  }
  return ok(value);
}
