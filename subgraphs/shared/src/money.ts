import { data as isoCurrencies, type CurrencyCodeRecord } from 'currency-codes';
import { type Result, assert, err, ok } from './result';
import { amountCharsMax, balanceMinorUnitsMax, balanceMinorUnitsMin } from './limits';

/**
 * Money is an integer number of minor units (cents) held as bigint, with its currency.
 * It crosses the API as a decimal string (scalar Amount) and is stored as BIGINT.
 */

/**
 * The currencies an account may hold: every active ISO 4217 currency, as the `currency-codes`
 * package (ISO's list one) gives them, with ISO's minor-unit exponent (JPY 0, USD 2, KWD 3,
 * CLF 4). Two kinds of list-one entries are not money an account can hold: the units ISO files
 * under "ZZ" entities rather than a country (gold, silver, bond units, the testing code XTS, XXX
 * "no currency"), and the three whose minor unit ISO gives as "N.A.", which currency-codes
 * reports as 0 and which would otherwise get an exponent ISO never assigned.
 */
const minorUnitNotApplicable = new Set(['XDR', 'XSU', 'XUA']);

function isAccountCurrency(record: CurrencyCodeRecord): boolean {
  if (minorUnitNotApplicable.has(record.code)) return false;
  return record.countries.some((entity) => !entity.startsWith('Zz'));
}

export const currencyMinorUnits: ReadonlyMap<string, number> = new Map(
  isoCurrencies.filter(isAccountCurrency).map((record) => [record.code, record.digits]),
);

/** The minor-unit exponent of a supported currency (10^exponent minor units make one major unit). */
export function minorUnitExponent(currency: Currency): number {
  const exponent = currencyMinorUnits.get(currency);
  assert(exponent !== undefined, `currency ${currency} is not supported`);
  return exponent;
}

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
  if (input.length > amountCharsMax || !integerPattern.test(input)) return err({ kind: 'AmountMalformed', input });
  const value = BigInt(input);
  if (value > balanceMinorUnitsMax || value < balanceMinorUnitsMin) return err({ kind: 'AmountTooLarge', input });
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
  if (!currencyMinorUnits.has(input)) return err({ kind: 'CurrencyUnknown', input });
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
      return `amount "${error.input}" is larger than ${balanceMinorUnitsMax} minor units`;
    case 'AmountAboveMax':
      return `amount "${error.input}" is above ${error.amountMax} minor units, the most one operation may move`;
    case 'CurrencyUnknown':
      return `currency "${error.input}" is not a supported ISO-4217 code`;
  }
}
