import { type Result, err, ok } from './result';
import { balanceMaxMinorUnits, balanceMinMinorUnits } from './limits';

/**
 * Money is an integer number of minor units (cents) held as bigint, with its currency.
 * It crosses the API as a decimal string (scalar Amount) and is stored as BIGINT.
 */

/** ISO-4217 codes we accept, with their minor-unit exponent (documentation for clients). */
export const currencyMinorUnits: Readonly<Record<string, number>> = {
  USD: 2, EUR: 2, GBP: 2, CHF: 2, CAD: 2, AUD: 2, CNY: 2, HKD: 2, SGD: 2, SEK: 2,
  NOK: 2, DKK: 2, PLN: 2, CZK: 2, INR: 2, BRL: 2, MXN: 2, ZAR: 2, NZD: 2, JPY: 0, KRW: 0,
};

export type Currency = string & { readonly brand: 'Currency' };

export type MoneyInputError =
  | { kind: 'AmountMalformed'; input: string }
  | { kind: 'AmountNotPositive'; input: string }
  | { kind: 'AmountTooLarge'; input: string }
  | { kind: 'AmountAboveMax'; input: string; amountMax: bigint }
  | { kind: 'CurrencyUnknown'; input: string };

const integerPattern = /^-?(0|[1-9][0-9]*)$/;

/** Parses a signed integer amount as sent by a client; no fractions, exponents or spaces. */
export function parseAmount(input: string): Result<bigint, MoneyInputError> {
  if (input.length > 25 || !integerPattern.test(input)) return err({ kind: 'AmountMalformed', input });
  const value = BigInt(input);
  if (value > balanceMaxMinorUnits || value < balanceMinMinorUnits) return err({ kind: 'AmountTooLarge', input });
  return ok(value);
}

/**
 * The amount of one money movement (deposit, withdrawal, payment, refund, hold, capture):
 * strictly positive and at most amountMax, the AMOUNT_MAX the process was started with. Every
 * money operation checks its amounts here, so that no single request can bring a balance,
 * the shard's reserve included, near the BIGINT bound.
 */
export function parsePositiveAmount(input: string, amountMax: bigint): Result<bigint, MoneyInputError> {
  const parsed = parseAmount(input);
  if (!parsed.ok) return parsed;
  if (parsed.value <= 0n) return err({ kind: 'AmountNotPositive', input });
  if (parsed.value > amountMax) return err({ kind: 'AmountAboveMax', input, amountMax });
  return parsed;
}

export function parseCurrency(input: string): Result<Currency, MoneyInputError> {
  if (!Object.hasOwn(currencyMinorUnits, input)) return err({ kind: 'CurrencyUnknown', input });
  return ok(input as Currency);
}

export function formatAmount(value: bigint): string {
  return value.toString(10);
}

export function describeMoneyError(error: MoneyInputError): string {
  switch (error.kind) {
    case 'AmountMalformed':
      return `amount "${error.input}" is not an integer number of minor units (for example "1999" for 19.99)`;
    case 'AmountNotPositive':
      return `amount "${error.input}" must be greater than zero`;
    case 'AmountTooLarge':
      return `amount "${error.input}" is larger than ${balanceMaxMinorUnits} minor units`;
    case 'AmountAboveMax':
      return `amount "${error.input}" is above ${error.amountMax} minor units, the most one operation may move`;
    case 'CurrencyUnknown':
      return `currency "${error.input}" is not a supported ISO-4217 code`;
  }
}
