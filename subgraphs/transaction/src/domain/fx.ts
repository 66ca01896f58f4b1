import { err, ok, type Result } from '@paygraph/shared/result';
import { fxRateSignificantDigitsMax, fxRateCharsMax, fxSpreadBpsMax } from '../limits';

/**
 * Exchange rates and quotes, pure: no I/O, no clock. A rate is an exact decimal, held as the
 * fraction numerator/denominator of bigints; every amount is computed with bigint arithmetic
 * and rounded once, in the platform's favour. Nothing here touches `number` but exponents
 * (0..4) and basis points (0..10000), which are small integers.
 */

const bpsPerUnit = 10_000n;

export interface Fraction {
  num: bigint;
  /** Always > 0. */
  den: bigint;
}

/** A rate as stored: `rate` major units of `quote` per one major unit of `base`. */
export interface FxRate {
  base: string;
  quote: string;
  rate: string;
  spreadBps: number;
}

export type FxRateRefusal = { field: 'rate' | 'spreadBps' | 'quoteCurrency'; message: string };

const decimalPattern = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/** "150.25" → 15025/100. Decimal digits only: no sign, exponent, spaces or leading zeros. */
export function parseRate(text: string): Result<Fraction, FxRateRefusal> {
  const refuse = (message: string) =>
    err<FxRateRefusal>({ field: 'rate', message: `rate "${text.slice(0, fxRateCharsMax)}" ${message}` });
  if (text.length > fxRateCharsMax) return refuse(`is longer than ${fxRateCharsMax} characters`);
  const match = decimalPattern.exec(text);
  if (!match) return refuse('is not a decimal number such as "150.25"');
  const fraction = match[2] ?? '';
  const digits = (match[1]! + fraction).replace(/^0+/, '');
  if (digits === '') return refuse('must be greater than zero');
  const significant = fraction === '' ? digits.replace(/0+$/, '') : digits;
  if (significant.length > fxRateSignificantDigitsMax)
    return refuse(`has more than ${fxRateSignificantDigitsMax} significant digits`);
  return ok({ num: BigInt(match[1]! + fraction), den: 10n ** BigInt(fraction.length) });
}

/** Checks what setFxRate stores: a pair of two currencies, a rate, a spread in 0..10000 bps. */
export function checkRate(input: FxRate): Result<FxRate, FxRateRefusal> {
  if (input.base === input.quote)
    return err({ field: 'quoteCurrency', message: 'a rate needs two different currencies' });
  const rate = parseRate(input.rate);
  if (!rate.ok) return rate;
  if (!Number.isInteger(input.spreadBps) || input.spreadBps < 0 || input.spreadBps > fxSpreadBpsMax) {
    return err({ field: 'spreadBps', message: `spreadBps must be an integer from 0 to ${fxSpreadBpsMax}` });
  }
  return ok(input);
}

/** The key both directions of a pair share, so the inverse is priced from the same rate. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}/${b}` : `${b}/${a}`;
}

export interface QuoteSide {
  currency: string;
  /** ISO 4217 minor-unit exponent. */
  exponent: number;
}

export type QuoteAmount = { side: 'sell'; amount: bigint } | { side: 'buy'; amount: bigint };

export type QuoteRefusal =
  { kind: 'RoundsToZero'; field: 'sellAmount' | 'buyAmount' } | { kind: 'AboveMax'; field: 'sellAmount' | 'buyAmount' };

export interface QuotedAmounts {
  sellAmount: bigint;
  buyAmount: bigint;
}

/**
 * Minor units of `buy` received per minor unit of `sell` sold, spread taken: the rate in the
 * direction sold (the stored rate, or its inverse), scaled by both exponents, times
 * (10000 − spreadBps) / 10000.
 */
export function buyPerSell(rate: FxRate, sell: QuoteSide, buy: QuoteSide): Fraction {
  const parsed = parseRate(rate.rate);
  if (!parsed.ok) throw new Error(`stored rate ${rate.base}/${rate.quote} "${rate.rate}" does not parse`);
  const direct = sell.currency === rate.base && buy.currency === rate.quote;
  if (!direct && !(sell.currency === rate.quote && buy.currency === rate.base)) {
    throw new Error(`rate ${rate.base}/${rate.quote} does not price ${sell.currency} → ${buy.currency}`);
  }
  const { num, den } = direct ? parsed.value : { num: parsed.value.den, den: parsed.value.num };
  return {
    num: num * 10n ** BigInt(buy.exponent) * (bpsPerUnit - BigInt(rate.spreadBps)),
    den: den * 10n ** BigInt(sell.exponent) * bpsPerUnit,
  };
}

function floorDiv(a: bigint, b: bigint): bigint {
  return a / b;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/**
 * The other amount of a quote, exact: given what is sold, what is bought rounds down; given
 * what is bought, what is sold rounds up — both in the platform's favour. An amount that rounds
 * to zero on the other side, or exceeds amountMax, is refused.
 */
export function quoteAmounts(
  rate: FxRate,
  sell: QuoteSide,
  buy: QuoteSide,
  given: QuoteAmount,
  amountMax: bigint,
): Result<QuotedAmounts, QuoteRefusal> {
  const factor = buyPerSell(rate, sell, buy);
  let amounts: QuotedAmounts;
  if (given.side === 'sell') {
    amounts = { sellAmount: given.amount, buyAmount: floorDiv(given.amount * factor.num, factor.den) };
    if (amounts.buyAmount === 0n) return err({ kind: 'RoundsToZero', field: 'buyAmount' });
  } else {
    // A spread of 10000 bps buys nothing for any amount sold.
    if (factor.num === 0n) return err({ kind: 'RoundsToZero', field: 'sellAmount' });
    amounts = { sellAmount: ceilDiv(given.amount * factor.den, factor.num), buyAmount: given.amount };
  }
  if (amounts.sellAmount > amountMax) return err({ kind: 'AboveMax', field: 'sellAmount' });
  if (amounts.buyAmount > amountMax) return err({ kind: 'AboveMax', field: 'buyAmount' });
  return ok(amounts);
}

/**
 * What the payee gives back of buyAmount once `refunded` of sellAmount has been refunded in
 * all: ceil(refunded × buy / sell), the cumulative pro-rata rule rounded UP — in the platform's
 * favour, as quotes are: the payee keeps at most its exact pro-rata claim on what was not
 * refunded, never a remainder, so the platform's FX position never ends negative from a round
 * trip. Cumulative, so refunds in any number of parts add up, and a full refund returns
 * buyAmount exactly. A refund's own share is the difference of this before and after it.
 */
export function buyReturnedAfter(refunded: bigint, sellAmount: bigint, buyAmount: bigint): bigint {
  if (refunded >= sellAmount) return buyAmount;
  return ceilDiv(refunded * buyAmount, sellAmount);
}
