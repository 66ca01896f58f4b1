import { describe, expect, it } from 'vitest';
import { amountMax, parseAmount, parseCurrency, parsePositiveAmount } from '../../src/money';

describe('money', () => {
  it('parses integer minor units exactly, above 2^53 too', () => {
    expect(parseAmount('1999')).toEqual({ ok: true, value: 1999n });
    expect(parseAmount('9007199254740993')).toEqual({ ok: true, value: 9007199254740993n });
    expect(parseAmount('9223372036854775807')).toEqual({ ok: true, value: amountMax });
    expect(parseAmount('-42')).toEqual({ ok: true, value: -42n });
  });

  it('refuses fractions, exponents, spaces, signs and leading zeros', () => {
    for (const input of ['12.5', '1e3', ' 1', '1 ', '+1', '01', '', 'abc', '0x10', '１２', '1_000']) {
      expect(parseAmount(input), input).toMatchObject({ ok: false, error: { kind: 'AmountMalformed' } });
    }
  });

  it('refuses what BIGINT cannot hold', () => {
    expect(parseAmount('9223372036854775808')).toMatchObject({ ok: false, error: { kind: 'AmountTooLarge' } });
    expect(parseAmount('-9223372036854775809')).toMatchObject({ ok: false, error: { kind: 'AmountTooLarge' } });
    expect(parseAmount('1'.repeat(40))).toMatchObject({ ok: false, error: { kind: 'AmountMalformed' } });
  });

  it('requires transfer amounts above zero', () => {
    expect(parsePositiveAmount('0')).toMatchObject({ ok: false, error: { kind: 'AmountNotPositive' } });
    expect(parsePositiveAmount('-5')).toMatchObject({ ok: false, error: { kind: 'AmountNotPositive' } });
    expect(parsePositiveAmount('1')).toEqual({ ok: true, value: 1n });
  });

  it('knows ISO currencies and nothing else', () => {
    expect(parseCurrency('USD').ok).toBe(true);
    expect(parseCurrency('JPY').ok).toBe(true);
    for (const input of ['usd', 'XXX', 'US', 'DOGE', '']) expect(parseCurrency(input).ok, input).toBe(false);
  });
});
