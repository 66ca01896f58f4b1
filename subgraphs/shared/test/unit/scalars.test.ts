import { Kind, parseValue as parseAst } from 'graphql';
import { describe, expect, it } from 'vitest';
import { AmountScalar, DateScalar, DateTimeScalar } from '../../src/graphql/scalars';

/** The Amount scalar as the subgraphs and the gateway parse it: decimal strings of minor units only. */
describe('Amount scalar', () => {
  it('takes signed decimal strings within BIGINT, as a variable and as a literal', () => {
    for (const text of ['0', '1999', '-5', '9007199254740993', '9223372036854775807', '-9223372036854775808']) {
      expect(AmountScalar.parseValue(text)).toBe(text);
      expect(AmountScalar.parseLiteral(parseAst(JSON.stringify(text)), undefined)).toBe(text);
    }
  });

  it('refuses numbers and other types, and malformed or out-of-range text, with BAD_USER_INPUT', () => {
    const refused = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return (error as { extensions?: { code?: string } }).extensions?.code;
      }
      return 'accepted';
    };
    for (const value of [100, 12.5, true, null, { a: 1 }, ['1'], 10n])
      expect(
        refused(() => AmountScalar.parseValue(value)),
        String(value),
      ).toBe('BAD_USER_INPUT');
    for (const literal of ['100', '12.5', 'true', 'USD', '["1"]']) {
      const ast = parseAst(literal);
      expect(ast.kind).not.toBe(Kind.STRING);
      expect(
        refused(() => AmountScalar.parseLiteral(ast, undefined)),
        literal,
      ).toBe('BAD_USER_INPUT');
    }
    for (const text of [
      '+5',
      ' 5',
      '5 ',
      '12.5',
      '1e3',
      '05',
      '-0x1',
      '',
      'abc',
      '1_000',
      '9223372036854775808',
      '-9223372036854775809',
    ]) {
      expect(
        refused(() => AmountScalar.parseValue(text)),
        text,
      ).toBe('BAD_USER_INPUT');
      expect(
        refused(() => AmountScalar.parseLiteral(parseAst(JSON.stringify(text)), undefined)),
        text,
      ).toBe('BAD_USER_INPUT');
    }
  });
});

/**
 * The DateTime scalar: RFC 3339 with an explicit offset, a real date, within DATETIME's years (a review found
 * "2026-02-30", "1 March 2026" and years past 9999 accepted, the last failing in the database as an internal error).
 */
describe('DateTime scalar', () => {
  const refusal = (run: () => unknown): string => {
    try {
      return `accepted ${String(run())}`;
    } catch (error) {
      return (error as { extensions?: { code?: string } }).extensions?.code ?? 'no code';
    }
  };

  it('takes RFC 3339 date-times with Z or an offset and hands resolvers the instant in UTC', () => {
    const taken: Array<[string, string]> = [
      ['2026-11-22T10:15:30.123Z', '2026-11-22T10:15:30.123Z'],
      ['2026-11-22T10:15:30Z', '2026-11-22T10:15:30.000Z'],
      ['2026-11-22t10:15:30z', '2026-11-22T10:15:30.000Z'],
      ['2026-11-22T11:15:30.5+01:00', '2026-11-22T10:15:30.500Z'],
      ['2026-11-22T05:15:30.123456789-05:00', '2026-11-22T10:15:30.123Z'],
      ['2024-02-29T00:00:00+14:00', '2024-02-28T10:00:00.000Z'],
      ['2000-02-29T23:59:59.999-00:00', '2000-02-29T23:59:59.999Z'],
      ['1000-01-01T00:00:00Z', '1000-01-01T00:00:00.000Z'],
      ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
      ['0999-12-31T23:30:00-01:00', '1000-01-01T00:30:00.000Z'],
    ];
    for (const [text, instant] of taken) {
      expect(DateTimeScalar.parseValue(text), text).toBe(instant);
      expect(DateTimeScalar.parseLiteral(parseAst(JSON.stringify(text)), undefined), text).toBe(instant);
    }
  });

  it('refuses other forms, days and times that do not exist, and instants outside DATETIME, with BAD_USER_INPUT', () => {
    for (const text of [
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2100-02-29T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-03-00T00:00:00Z',
      '2026-03-01T24:00:00Z',
      '2026-03-01T10:60:00Z',
      '2026-06-30T23:59:60Z',
      '2026-03-01T10:00:00+24:00',
      '2026-03-01T10:00:00+01:60',
      '1 March 2026',
      'March 7, 2026 10:00',
      '2026-03-01',
      '2026-03-01T10:00:00',
      '2026-03-01T10:00Z',
      '2026-03-01 10:00:00Z',
      '2026-03-01T10:00:00.Z',
      '2026-03-01T10:00:00.1234567890Z',
      '2026-03-01T10:00:00+0100',
      '+010000-01-01T00:00:00Z',
      '10000-01-01T00:00:00Z',
      '9999-12-31T23:00:00-05:00',
      '1000-01-01T00:30:00+01:00',
      '0999-12-31T00:00:00Z',
      '0000-01-01T00:00:00Z',
      ' 2026-03-01T10:00:00Z',
      '',
    ]) {
      expect(
        refusal(() => DateTimeScalar.parseValue(text)),
        text,
      ).toBe('BAD_USER_INPUT');
      expect(
        refusal(() => DateTimeScalar.parseLiteral(parseAst(JSON.stringify(text)), undefined)),
        text,
      ).toBe('BAD_USER_INPUT');
    }
    for (const value of [1_700_000_000_000, true, null, { at: 'now' }, new Date()])
      expect(
        refusal(() => DateTimeScalar.parseValue(value)),
        String(value),
      ).toBe('BAD_USER_INPUT');
    expect(refusal(() => DateTimeScalar.parseLiteral(parseAst('1700000000000'), undefined))).toBe('BAD_USER_INPUT');
  });

  it('says what it takes and why a value is not that', () => {
    expect(() => DateTimeScalar.parseValue('2026-02-30T00:00:00Z')).toThrow(
      /RFC 3339 date-time with an offset.*years 1000-9999 in UTC: no such day in that month/,
    );
    expect(() => DateTimeScalar.parseValue('+010000-01-01T00:00:00Z')).toThrow(/not of that form/);
    expect(() => DateTimeScalar.parseValue('9999-12-31T23:00:00-05:00')).toThrow(/outside those years/);
  });
});

/**
 * The Date scalar: "YYYY-MM-DD", a real day, within DATE's years (a review found 0000-0999 accepted: a settlement, a
 * statement and a reconciliation report of 0999-01-01 were written, and addDays of 0000-01-01 is no date).
 */
describe('Date scalar', () => {
  const refusal = (run: () => unknown): string => {
    try {
      return `accepted ${String(run())}`;
    } catch (error) {
      return (error as { extensions?: { code?: string } }).extensions?.code ?? 'no code';
    }
  };

  it('takes real calendar dates in the years 1000-9999, as sent', () => {
    for (const text of ['2026-11-22', '2024-02-29', '2000-02-29', '1600-02-29', '1000-01-01', '9999-12-31']) {
      expect(DateScalar.parseValue(text), text).toBe(text);
      expect(DateScalar.parseLiteral(parseAst(JSON.stringify(text)), undefined), text).toBe(text);
    }
  });

  it('refuses years before 1000 or past 9999, days that do not exist and other forms, with BAD_USER_INPUT', () => {
    for (const text of [
      '0999-12-31',
      '0999-01-01',
      '0099-06-15',
      '0001-01-01',
      '0000-01-01',
      '10000-01-01',
      '+010000-01-01',
      '-0001-01-01',
      '2026-02-30',
      '2025-02-29',
      '2100-02-29',
      '1900-02-29',
      '2026-04-31',
      '2026-13-01',
      '2026-00-10',
      '2026-03-00',
      '2026-3-1',
      '20260301',
      '2026-03-01T00:00:00Z',
      '1 March 2026',
      ' 2026-03-01',
      '2026-03-01 ',
      '',
    ]) {
      expect(
        refusal(() => DateScalar.parseValue(text)),
        text,
      ).toBe('BAD_USER_INPUT');
      expect(
        refusal(() => DateScalar.parseLiteral(parseAst(JSON.stringify(text)), undefined)),
        text,
      ).toBe('BAD_USER_INPUT');
    }
    for (const value of [20260301, true, null, { date: '2026-03-01' }, new Date()])
      expect(
        refusal(() => DateScalar.parseValue(value)),
        String(value),
      ).toBe('BAD_USER_INPUT');
    expect(refusal(() => DateScalar.parseLiteral(parseAst('20260301'), undefined))).toBe('BAD_USER_INPUT');
  });

  it('says what it takes and why a value is not that', () => {
    expect(() => DateScalar.parseValue('0999-01-01')).toThrow(
      /calendar date "YYYY-MM-DD".*years 1000-9999: outside those years/,
    );
    expect(() => DateScalar.parseValue('2026-02-30')).toThrow(/no such day in that month/);
    expect(() => DateScalar.parseValue('2026-3-1')).toThrow(/not of that form/);
    expect(() => DateScalar.parseValue(20260301)).toThrow(/not a string/);
  });
});
