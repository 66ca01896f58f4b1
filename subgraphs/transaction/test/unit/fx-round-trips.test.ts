import { describe, expect, it } from 'vitest';
import { buyReturnedAfter, quoteAmounts, type FxRate, type QuoteAmount, type QuoteSide } from '../../src/domain/fx';
import { useSeededRandom, type SeededRandom } from '../../../../test/support/seeded-random';

/**
 * Issue 31: FX never pays a remainder to a party. Random FX payments, priced by the domain's
 * own quote arithmetic, each followed by a random sequence of partial refunds whose payee
 * shares are decided as services/refund.ts reserveShares decides them (domain/refund-rules.ts refundShares) (the rule
 * at the new
 * total, less the shares already taken). After every refund no owner is ahead and the platform's
 * position is not negative in value; a full refund restores both sides exactly.
 */
const random = useSeededRandom();
const sequences = 1_000;
const amountMax = 10n ** 15n;
/** Currencies with exponents 0, 2 and 3. */
const sides: QuoteSide[] = [
  { currency: 'VND', exponent: 0 },
  { currency: 'ISK', exponent: 0 },
  { currency: 'USD', exponent: 2 },
  { currency: 'EUR', exponent: 2 },
  { currency: 'KWD', exponent: 3 },
  { currency: 'BHD', exponent: 3 },
];

/** A rate of 1 to 12 significant digits, its point anywhere from a whole number to well below 1. */
function randomRate(r: SeededRandom): string {
  const digits = r.between(1, 12);
  let text = String(r.between(1, 9));
  for (let i = 1; i < digits; i++) text += String(r.below(10));
  const point = r.between(0, digits + 4);
  if (point === 0) return text;
  if (point >= digits) return `0.${'0'.repeat(point - digits)}${text}`;
  return `${text.slice(0, digits - point)}.${text.slice(digits - point)}`;
}

/** An amount of 1 to 12 digits, small ones as likely as large ones (remainders matter most there). */
function randomAmount(r: SeededRandom): bigint {
  const digits = r.between(1, 12);
  return BigInt(Math.floor(r.next() * 10 ** digits)) + 1n;
}

/** The refunds of one sequence: hostile shapes (one unit at a time, all but one unit, the whole) and random parts. */
function refundSteps(r: SeededRandom, sell: bigint): bigint[] {
  const shape = r.below(4);
  if (shape === 0 && sell > 1n) return [sell - 1n, 1n];
  if (shape === 1) return Array.from({ length: Number(sell < 5n ? sell : 5n) }, () => 1n);
  const steps: bigint[] = [];
  let left = sell;
  for (let n = r.between(1, 6); n > 0 && left > 0n; n--) {
    const part = r.below(3) === 0 ? 1n : BigInt(Math.floor(r.next() * Number(left))) + 1n;
    const step = part > left ? left : part;
    steps.push(step);
    left -= step;
  }
  if (r.below(2) === 0 && left > 0n) steps.push(left);
  return steps;
}

describe('FX round trips (issue 31)', () => {
  it(`leave no owner ahead and the platform's position never negative over ${sequences} random pay/partial-refund sequences`, () => {
    let done = 0;
    let fullRefunds = 0;
    let remainders = 0;
    for (let attempt = 0; done < sequences; attempt++) {
      expect(attempt, `seed ${random.seed}: too few quotes priced`).toBeLessThan(sequences * 20);
      const sell = random.pick(sides);
      const buy = random.pick(sides.filter((s) => s.currency !== sell.currency));
      const rate: FxRate = {
        base: sell.currency,
        quote: buy.currency,
        rate: randomRate(random),
        spreadBps: random.below(3) === 0 ? 0 : random.between(0, 500),
      };
      const given: QuoteAmount =
        random.below(2) === 0
          ? { side: 'sell', amount: randomAmount(random) }
          : { side: 'buy', amount: randomAmount(random) };
      const quoted = quoteAmounts(
        random.below(2) === 0 ? rate : { ...rate, base: buy.currency, quote: sell.currency },
        sell,
        buy,
        given,
        amountMax,
      );
      if (!quoted.ok) continue;
      const { sellAmount, buyAmount } = quoted.value;
      const where = `seed ${random.seed} sequence ${done}: ${sellAmount} ${sell.currency} → ${buyAmount} ${buy.currency}`;
      let refunded = 0n;
      let givenBack = 0n;
      for (const step of refundSteps(random, sellAmount)) {
        refunded += step;
        // As reserveShares: the rule at the new total, less what the refunds so far took back.
        const owed = buyReturnedAfter(refunded, sellAmount, buyAmount) - givenBack;
        expect(owed >= 0n, where).toBe(true);
        givenBack += owed;
        const kept = buyAmount - givenBack;
        // The payer: its net in A is what it got back less what it paid, never above 0.
        expect(refunded - sellAmount <= 0n, where).toBe(true);
        // The payee keeps at most its exact claim (sell − refunded) × buy / sell, compared as
        // rationals; and gives back less than one unit more than that claim asks.
        expect(
          kept * sellAmount <= (sellAmount - refunded) * buyAmount,
          `${where}: payee keeps ${kept} after ${refunded} refunded`,
        ).toBe(true);
        expect(kept * sellAmount > (sellAmount - refunded) * buyAmount - sellAmount, where).toBe(true);
        if (kept * sellAmount !== (sellAmount - refunded) * buyAmount) remainders++;
        // The platform: A received less A paid back is not negative, and its position valued at
        // the quote's own price (A kept × buy / sell, less B paid out net) is not negative either.
        expect(sellAmount - refunded >= 0n, where).toBe(true);
        expect((sellAmount - refunded) * buyAmount - (buyAmount - givenBack) * sellAmount >= 0n, where).toBe(true);
      }
      if (refunded === sellAmount) {
        fullRefunds++;
        // A full refund restores both sides exactly: all of A back to the payer, all of B from the payee.
        expect(givenBack, where).toBe(buyAmount);
      }
      done++;
    }
    // The sequences did reach the cases that matter: full refunds, and partial ones with a remainder.
    expect(fullRefunds, `seed ${random.seed}`).toBeGreaterThan(sequences / 10);
    expect(remainders, `seed ${random.seed}`).toBeGreaterThan(sequences / 10);
  });
});
