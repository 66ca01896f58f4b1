import { describe, expect, it } from 'vitest';
import {
  currencyMinorUnits,
  isAssetCode,
  isKnownAsset,
  knowAsset,
  minorUnitExponent,
  parseCurrencyOrAsset,
  parsePaymentCurrency,
  parseAmount,
  parseCurrency,
  parsePositiveAmount,
  type Currency,
} from '../../src/money';
import { amountMinorUnitsMaxDefault, balanceMinorUnitsMax } from '../../src/limits';

describe('money', () => {
  it('parses integer minor units exactly, above 2^53 too', () => {
    expect(parseAmount('1999')).toEqual({ ok: true, value: 1999n });
    expect(parseAmount('9007199254740993')).toEqual({ ok: true, value: 9007199254740993n });
    expect(parseAmount('9223372036854775807')).toEqual({ ok: true, value: balanceMinorUnitsMax });
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
    expect(parsePositiveAmount('0', amountMinorUnitsMaxDefault)).toMatchObject({
      ok: false,
      error: { kind: 'AmountNotPositive' },
    });
    expect(parsePositiveAmount('-5', amountMinorUnitsMaxDefault)).toMatchObject({
      ok: false,
      error: { kind: 'AmountNotPositive' },
    });
    expect(parsePositiveAmount('1', amountMinorUnitsMaxDefault)).toEqual({ ok: true, value: 1n });
  });

  it('refuses transfer amounts above AMOUNT_MAX, and takes AMOUNT_MAX itself', () => {
    expect(parsePositiveAmount('1000000000000000', amountMinorUnitsMaxDefault)).toEqual({
      ok: true,
      value: 10n ** 15n,
    });
    expect(parsePositiveAmount('1000000000000001', amountMinorUnitsMaxDefault)).toEqual({
      ok: false,
      error: { kind: 'AmountAboveMax', input: '1000000000000001', amountMax: 10n ** 15n },
    });
    expect(parsePositiveAmount('9223372036854775807', amountMinorUnitsMaxDefault)).toMatchObject({
      ok: false,
      error: { kind: 'AmountAboveMax' },
    });
    expect(parsePositiveAmount('51', 50n)).toMatchObject({
      ok: false,
      error: { kind: 'AmountAboveMax', amountMax: 50n },
    });
  });

  it('knows ISO currencies and nothing else', () => {
    expect(parseCurrency('USD').ok).toBe(true);
    expect(parseCurrency('JPY').ok).toBe(true);
    for (const input of ['usd', 'XXX', 'US', 'DOGE', '']) expect(parseCurrency(input).ok, input).toBe(false);
  });

  it('takes every active ISO 4217 currency from currency-codes, with its minor-unit exponent', () => {
    const spots: Array<[string, number]> = [
      ['JPY', 0],
      ['KRW', 0],
      ['USD', 2],
      ['EUR', 2],
      ['KWD', 3],
      ['BHD', 3],
      ['TND', 3],
      ['CLF', 4],
      ['UYW', 4],
      ['XOF', 0],
      ['XCD', 2],
    ];
    for (const [code, exponent] of spots) {
      const parsed = parseCurrency(code);
      expect(parsed.ok, code).toBe(true);
      expect(minorUnitExponent(code as Currency), code).toBe(exponent);
    }
    // Not money an account holds: metals, bond units, testing, "no currency", and ISO's N.A. minor units.
    for (const code of ['XAU', 'XAG', 'XPT', 'XPD', 'XBA', 'XTS', 'XXX', 'XDR', 'XSU', 'XUA'])
      expect(parseCurrency(code).ok, code).toBe(false);
    expect(currencyMinorUnits.size).toBeGreaterThan(150);
    for (const [code, exponent] of currencyMinorUnits) {
      expect(code, code).toMatch(/^[A-Z]{3}$/);
      expect([0, 2, 3, 4], code).toContain(exponent);
    }
  });

  it('knows a platform asset beside ISO 4217: its exponent from the registry, never an ISO code, never changed', () => {
    for (const code of ['USD', 'XAU', 'XTS', 'XXX', 'pts', 'P1S', 'AB', 'ABCDEFGHI'])
      expect(isAssetCode(code), code).toBe(false);
    for (const code of ['PTS', 'GEMS', 'ABCDEFGH']) expect(isAssetCode(code), code).toBe(true);
    const code = 'UNITQPTS';
    expect(parseCurrencyOrAsset(code).ok).toBe(false);
    // A payment's input takes the shape alone (its accounts decide); deposits' ISO-only parse never does.
    expect(parsePaymentCurrency(code).ok).toBe(true);
    expect(parsePaymentCurrency('XAU').ok).toBe(false);
    expect(parseCurrency(code).ok).toBe(false);
    knowAsset(code, 6);
    expect(isKnownAsset(code)).toBe(true);
    expect(parseCurrencyOrAsset(code)).toEqual({ ok: true, value: code });
    expect(minorUnitExponent(code as Currency)).toBe(6);
    expect(parseCurrency(code).ok).toBe(false);
    knowAsset(code, 6);
    expect(() => knowAsset(code, 2)).toThrow(/exponent 6, not 2/);
    expect(() => knowAsset('USD', 2)).toThrow();
    expect(() => knowAsset('UNITQBAD', 7)).toThrow();
  });
});
