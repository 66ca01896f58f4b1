import { Kind, parseValue as parseAst } from 'graphql';
import { describe, expect, it } from 'vitest';
import { AmountScalar } from '../../src/graphql/scalars';

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
