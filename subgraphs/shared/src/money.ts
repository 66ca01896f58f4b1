import { data as isoCurrencies, type CurrencyCodeRecord } from 'currency-codes';
import { assert, err, invariantBroken, ok, type Result } from './result';
import { amountCharsMax, assetExponentMax, balanceMinorUnitsMax, balanceMinorUnitsMin } from './limits';

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

/** Every code on ISO's list one, those no account may hold included: none of them may name a platform asset. */
const isoCodes: ReadonlySet<string> = new Set(isoCurrencies.map((record) => record.code));

/**
 * A platform asset's code (points, coins: issue 48): 3-8 capital letters (the contract) that are
 * not an ISO 4217 code, so an asset can never be read as a currency or a currency as an asset.
 */
export const assetCodePattern = /^[A-Z]{3,8}$/;

/** Whether the code is on ISO 4217's list one (an account currency or not: XAU, XTS, XXX are). */
export function isIsoCode(code: string): boolean {
  return isoCodes.has(code);
}

export function isAssetCode(code: string): boolean {
  return assetCodePattern.test(code) && !isoCodes.has(code);
}

/**
 * The platform assets this process knows, code → exponent. Filled where a subgraph starts (the
 * ledger's `loadAssets`, from the control shard's `assets` table) and by `knowAsset` when a
 * definition or a later reload brings one in. An asset's exponent never changes once defined
 * (DefineAsset refuses another) and an asset is never removed, so what this map holds is never
 * stale: the only thing it can lack is an asset defined since it was filled, which a service
 * asks the ledger to reload on a miss (`ensureAssetKnown`).
 */
const assetExponents = new Map<string, number>();

/** Adds an asset to this process's registry; the same code again must come with the same exponent. */
export function knowAsset(code: string, exponent: number): void {
  assert(isAssetCode(code), `asset code ${code} is not 3-8 capital letters outside ISO 4217`);
  assert(Number.isInteger(exponent) && exponent >= 0 && exponent <= assetExponentMax, `asset exponent ${exponent}`);
  const known = assetExponents.get(code);
  assert(known === undefined || known === exponent, `asset ${code} known with exponent ${known}, not ${exponent}`);
  assetExponents.set(code, exponent);
}

/** Whether this process knows the asset (for the ledger's reload on a miss). */
export function isKnownAsset(code: string): boolean {
  return assetExponents.has(code);
}

/**
 * The minor-unit exponent of a supported currency or a known asset (10^exponent minor units make
 * one major unit).
 */
export function minorUnitExponent(currency: Currency): number {
  const exponent = currencyMinorUnits.get(currency) ?? assetExponents.get(currency);
  if (exponent === undefined) invariantBroken(`currency ${currency} is not supported`);
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

/** An ISO 4217 currency an account can hold: what deposits, withdrawals, links, entities and settlement take. */
export function parseCurrency(input: string): Result<Currency, MoneyInputError> {
  if (!currencyMinorUnits.has(input)) return err({ kind: 'CurrencyUnknown', input });
  return ok(input as Currency);
}

/**
 * An ISO 4217 currency or a platform asset this process knows: what an account opens in and what
 * rates and quotes are set between. A service that parses one asks the ledger first to reload
 * the registry if the code is shaped like an asset it does not know (`ensureAssetKnown`).
 */
export function parseCurrencyOrAsset(input: string): Result<Currency, MoneyInputError> {
  if (!currencyMinorUnits.has(input) && !assetExponents.has(input)) return err({ kind: 'CurrencyUnknown', input });
  return ok(input as Currency);
}

/**
 * A payment's currency as its input names it: an ISO 4217 currency or anything shaped like an
 * asset code. No registry is asked: the payment's accounts were opened in a known currency or
 * asset, and a payment whose currency is not its accounts' is refused by its plan.
 */
export function parsePaymentCurrency(input: string): Result<Currency, MoneyInputError> {
  if (!currencyMinorUnits.has(input) && !isAssetCode(input)) return err({ kind: 'CurrencyUnknown', input });
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
      return `currency "${error.input}" is not a supported ISO-4217 code or platform asset`;
  }
}
