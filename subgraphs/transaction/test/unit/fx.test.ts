import { describe, expect, it } from 'vitest';
import {
  buyReturnedAfter,
  checkRate,
  pairKey,
  parseRate,
  quoteAmounts,
  type FxRate,
  type QuoteSide,
} from '../../src/domain/fx';
import { useSeededRandom, type SeededRandom } from '../../../../test/support/seeded-random';

const random = useSeededRandom();
const amountMax = 10n ** 15n;

/**
 * The reference: the same definition computed another way, with fractions reduced by their
 * gcd and rounding found by search from a float-free estimate, so that a slip in the domain's
 * arithmetic (an exponent on the wrong side, the inverse upside down, a ceiling off by one)
 * shows as a difference. Definition: buy (major) = sell (major) × rate in the direction sold ×
 * (1 − spread/10000); buy rounds down, sell rounds up.
 */
class Ratio {
  readonly n: bigint;
  readonly d: bigint;
  constructor(n: bigint, d: bigint) {
    if (d === 0n) throw new Error('zero denominator');
    const sign = d < 0n ? -1n : 1n;
    const g = gcd(n < 0n ? -n : n, d < 0n ? -d : d) || 1n;
    this.n = (sign * n) / g;
    this.d = (sign * d) / g;
  }
  static decimal(text: string): Ratio {
    const [whole, fraction = ''] = text.split('.');
    return new Ratio(BigInt(`${whole}${fraction}`), 10n ** BigInt(fraction.length));
  }
  times(o: Ratio): Ratio {
    return new Ratio(this.n * o.n, this.d * o.d);
  }
  over(o: Ratio): Ratio {
    return new Ratio(this.n * o.d, this.d * o.n);
  }
  /** The greatest integer k with k ≤ this. */
  floor(): bigint {
    let k = this.n / this.d;
    while (k * this.d > this.n) k -= 1n;
    while ((k + 1n) * this.d <= this.n) k += 1n;
    return k;
  }
  /** The least integer k with k ≥ this. */
  ceil(): bigint {
    let k = this.n / this.d;
    while (k * this.d < this.n) k += 1n;
    while ((k - 1n) * this.d >= this.n) k -= 1n;
    return k;
  }
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function referenceRate(rate: FxRate, sell: QuoteSide, buy: QuoteSide): Ratio {
  const stored = Ratio.decimal(rate.rate);
  const direction = sell.currency === rate.base ? stored : new Ratio(1n, 1n).over(stored);
  const keep = new Ratio(BigInt(10_000 - rate.spreadBps), 10_000n);
  // minor(buy) / minor(sell) = major rate × 10^eb / 10^es
  return direction.times(keep).times(new Ratio(10n ** BigInt(buy.exponent), 10n ** BigInt(sell.exponent)));
}

function randomRate(r: SeededRandom): string {
  const digits = r.between(1, 12);
  let text = String(r.between(1, 9));
  for (let i = 1; i < digits; i++) text += String(r.below(10));
  const point = r.between(0, digits + 3);
  if (point === 0) return text;
  if (point >= digits) return `0.${'0'.repeat(point - digits)}${text}`;
  return `${text.slice(0, digits - point)}.${text.slice(digits - point)}`;
}

const currencies: QuoteSide[] = [
  { currency: 'JPY', exponent: 0 },
  { currency: 'USD', exponent: 2 },
  { currency: 'EUR', exponent: 2 },
  { currency: 'KWD', exponent: 3 },
  { currency: 'CLF', exponent: 4 },
];

describe('rates', () => {
  it('parses decimal rates exactly and refuses zero, negative, non-decimal and too precise ones', () => {
    expect(parseRate('150.25')).toEqual({ ok: true, value: { num: 15025n, den: 100n } });
    expect(parseRate('0.0066556')).toEqual({ ok: true, value: { num: 66556n, den: 10000000n } });
    expect(parseRate('1000')).toEqual({ ok: true, value: { num: 1000n, den: 1n } });
    expect(parseRate('123456789.012').ok).toBe(true);
    for (const bad of [
      '0',
      '0.000',
      '-1',
      '+1',
      '1e3',
      '1,5',
      ' 1',
      '1.',
      '.5',
      '01.5',
      'abc',
      '',
      'NaN',
      '1234567890.123',
      '0.1234567890123',
    ]) {
      expect(parseRate(bad).ok, bad).toBe(false);
    }
    expect(parseRate(`0.${'0'.repeat(40)}1`).ok).toBe(false);
  });

  it('takes spreads of 0..10000 bps and pairs of two currencies only', () => {
    const rate = { base: 'USD', quote: 'JPY', rate: '150.25', spreadBps: 0 };
    for (const spreadBps of [0, 1, 9999, 10_000]) expect(checkRate({ ...rate, spreadBps }).ok).toBe(true);
    for (const spreadBps of [-1, 10_001, 1.5])
      expect(checkRate({ ...rate, spreadBps })).toMatchObject({ ok: false, error: { field: 'spreadBps' } });
    expect(checkRate({ ...rate, quote: 'USD' })).toMatchObject({ ok: false, error: { field: 'quoteCurrency' } });
    expect(pairKey('USD', 'JPY')).toBe(pairKey('JPY', 'USD'));
  });
});

describe('quotes', () => {
  const usdJpy: FxRate = { base: 'USD', quote: 'JPY', rate: '150.25', spreadBps: 0 };
  const [jpy, usd, , kwd] = currencies as [QuoteSide, QuoteSide, QuoteSide, QuoteSide];

  it('applies both exponents, the direction and the spread, rounding for the platform', () => {
    // 3.33 USD at 150.25 = 500.3325 JPY → 500 (down).
    expect(quoteAmounts(usdJpy, usd, jpy, { side: 'sell', amount: 333n }, amountMax)).toEqual({
      ok: true,
      value: { sellAmount: 333n, buyAmount: 500n },
    });
    // 500 JPY bought costs 500 / 150.25 USD = 3.3277… → 333 cents (up).
    expect(quoteAmounts(usdJpy, usd, jpy, { side: 'buy', amount: 500n }, amountMax)).toEqual({
      ok: true,
      value: { sellAmount: 333n, buyAmount: 500n },
    });
    // The inverse from the same rate: 1000 JPY sold = 6.6555… USD → 665 cents.
    expect(quoteAmounts(usdJpy, jpy, usd, { side: 'sell', amount: 1000n }, amountMax)).toEqual({
      ok: true,
      value: { sellAmount: 1000n, buyAmount: 665n },
    });
    // 1% spread: 100 USD → 15025 × 0.99 = 14874.75 → 14874 JPY.
    expect(
      quoteAmounts({ ...usdJpy, spreadBps: 100 }, usd, jpy, { side: 'sell', amount: 10000n }, amountMax),
    ).toMatchObject({ value: { buyAmount: 14874n } });
    // KWD has three decimals: 1 KWD = 3.25 USD → 1.000 KWD (1000 fils) → 325 cents.
    expect(
      quoteAmounts(
        { base: 'KWD', quote: 'USD', rate: '3.25', spreadBps: 0 },
        kwd,
        usd,
        { side: 'sell', amount: 1000n },
        amountMax,
      ),
    ).toMatchObject({ value: { buyAmount: 325n } });
  });

  it('refuses an amount that rounds to zero on the other side, and one beyond AMOUNT_MAX', () => {
    expect(quoteAmounts(usdJpy, jpy, usd, { side: 'sell', amount: 1n }, amountMax)).toEqual({
      ok: false,
      error: { kind: 'RoundsToZero', field: 'buyAmount' },
    });
    expect(quoteAmounts({ ...usdJpy, spreadBps: 10_000 }, usd, jpy, { side: 'buy', amount: 5n }, amountMax)).toEqual({
      ok: false,
      error: { kind: 'RoundsToZero', field: 'sellAmount' },
    });
    expect(quoteAmounts(usdJpy, usd, jpy, { side: 'sell', amount: amountMax }, amountMax)).toEqual({
      ok: false,
      error: { kind: 'AboveMax', field: 'buyAmount' },
    });
  });

  it('agrees with an independent bigint-fraction reference on 10,000 seeded cases, both directions, with spreads', () => {
    let checked = 0;
    for (let i = 0; i < 10_000; i++) {
      const base = random.pick(currencies);
      let quote = random.pick(currencies);
      while (quote.currency === base.currency) quote = random.pick(currencies);
      const rate: FxRate = {
        base: base.currency,
        quote: quote.currency,
        rate: randomRate(random),
        spreadBps: random.pick([0, 0, 1, 25, 150, 999, random.between(0, 10_000)]),
      };
      const [sell, buy] = random.below(2) === 0 ? [base, quote] : [quote, base];
      const side = random.below(2) === 0 ? ('sell' as const) : ('buy' as const);
      const amount = BigInt(random.between(1, 1_000_000_000)) * BigInt(random.pick([1, 1, 1000, 1_000_000]));
      const result = quoteAmounts(rate, sell, buy, { side, amount }, amountMax);
      const perSell = referenceRate(rate, sell, buy);
      const context = `case ${i}: ${rate.base}/${rate.quote} ${rate.rate} ${rate.spreadBps}bps, ${side} ${amount} ${sell.currency}→${buy.currency}`;
      let expected: { sellAmount: bigint; buyAmount: bigint } | 'zero' | 'max';
      if (side === 'sell') {
        const bought = new Ratio(amount, 1n).times(perSell).floor();
        expected = bought === 0n ? 'zero' : { sellAmount: amount, buyAmount: bought };
      } else {
        expected =
          perSell.n === 0n ? 'zero' : { sellAmount: new Ratio(amount, 1n).over(perSell).ceil(), buyAmount: amount };
      }
      if (typeof expected === 'object' && (expected.sellAmount > amountMax || expected.buyAmount > amountMax))
        expected = 'max';
      if (expected === 'zero') expect(result, context).toMatchObject({ ok: false, error: { kind: 'RoundsToZero' } });
      else if (expected === 'max') expect(result, context).toMatchObject({ ok: false, error: { kind: 'AboveMax' } });
      else {
        expect(result, context).toEqual({ ok: true, value: expected });
        // In the platform's favour: what is bought is worth at most what is sold.
        expect(expected.buyAmount * perSell.d <= expected.sellAmount * perSell.n, context).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(5_000);
  });
});

describe('refunds of an FX payment', () => {
  it('returns ceil(R × buy / sell) cumulatively: any partition of a full refund returns buyAmount exactly', () => {
    // 333 cents at 150.25 bought 500 yen; the give-back rounds up, in the platform's favour (issue 31).
    const parts = [100n, 100n, 133n];
    let refunded = 0n;
    const returned: bigint[] = [];
    for (const part of parts) {
      const before = buyReturnedAfter(refunded, 333n, 500n);
      refunded += part;
      returned.push(buyReturnedAfter(refunded, 333n, 500n) - before);
    }
    expect(returned).toEqual([151n, 150n, 199n]);
    for (let trial = 0; trial < 200; trial++) {
      const sell = BigInt(random.between(1, 100_000));
      const buy = BigInt(random.between(1, 10_000_000));
      let left = sell;
      let total = 0n;
      let given = 0n;
      while (left > 0n) {
        const part = BigInt(random.between(1, Number(left)));
        const before = buyReturnedAfter(total, sell, buy);
        total += part;
        left -= part;
        const share = buyReturnedAfter(total, sell, buy) - before;
        expect(share >= 0n).toBe(true);
        given += share;
      }
      expect(given, `sell ${sell} buy ${buy}`).toBe(buy);
    }
  });
});
