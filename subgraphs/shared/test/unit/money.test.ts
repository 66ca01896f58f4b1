import { describe, expect, it } from 'vitest';
import { parseAmount, parseCurrency, parsePositiveAmount } from '../../src/money';
import { amountMaxMinorUnitsDefault, balanceMaxMinorUnits } from '../../src/limits';

describe('money', () => {
  it('parses integer minor units exactly, above 2^53 too', () => {
    expect(parseAmount('1999')).toEqual({ ok: true, value: 1999n });
    expect(parseAmount('9007199254740993')).toEqual({ ok: true, value: 9007199254740993n });
    expect(parseAmount('9223372036854775807')).toEqual({ ok: true, value: balanceMaxMinorUnits });
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
    expect(parsePositiveAmount('0', amountMaxMinorUnitsDefault)).toMatchObject({ ok: false, error: { kind: 'AmountNotPositive' } });
    expect(parsePositiveAmount('-5', amountMaxMinorUnitsDefault)).toMatchObject({ ok: false, error: { kind: 'AmountNotPositive' } });
    expect(parsePositiveAmount('1', amountMaxMinorUnitsDefault)).toEqual({ ok: true, value: 1n });
  });

  it('refuses transfer amounts above AMOUNT_MAX, and takes AMOUNT_MAX itself', () => {
    expect(parsePositiveAmount('1000000000000000', amountMaxMinorUnitsDefault)).toEqual({ ok: true, value: 10n ** 15n });
    expect(parsePositiveAmount('1000000000000001', amountMaxMinorUnitsDefault))
      .toEqual({ ok: false, error: { kind: 'AmountAboveMax', input: '1000000000000001', amountMax: 10n ** 15n } });
    expect(parsePositiveAmount('9223372036854775807', amountMaxMinorUnitsDefault)).toMatchObject({ ok: false, error: { kind: 'AmountAboveMax' } });
    expect(parsePositiveAmount('51', 50n)).toMatchObject({ ok: false, error: { kind: 'AmountAboveMax', amountMax: 50n } });
  });

  it('knows ISO currencies and nothing else', () => {
    expect(parseCurrency('USD').ok).toBe(true);
    expect(parseCurrency('JPY').ok).toBe(true);
    for (const input of ['usd', 'XXX', 'US', 'DOGE', '']) expect(parseCurrency(input).ok, input).toBe(false);
  });
});
