import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { describeMoneyError, parseAmount } from '../money';
import { formatInstant } from '../instant';

/**
 * Amount crosses the wire as a decimal string of minor units, and only so (the contract's
 * promise): a JSON number or an unquoted literal (`amount: 100`) may already have lost cents to
 * a double on its way, and text with a "+", spaces, a fraction, an exponent or leading zeros,
 * or beyond the signed BIGINT range, is not an amount. Such a request is malformed and is
 * refused whole with BAD_USER_INPUT before any resolver runs, so it writes nothing. The syntax
 * is the one serialize emits (signed, for entries), so every Amount the API answers can be sent
 * back; whether a value is allowed for an operation (above zero, at most AMOUNT_MAX) is the
 * domain's question, answered as INVALID_INPUT.
 */
function amountOrThrow(text: string): string {
  const parsed = parseAmount(text);
  if (parsed.ok) return text;
  throw new GraphQLError(
    `Amount must be a decimal string of minor units, e.g. "1999": ${describeMoneyError(parsed.error)}`,
    {
      extensions: { code: 'BAD_USER_INPUT' },
    },
  );
}

const amountMustBeString = 'Amount must be a decimal string of minor units, e.g. "1999", not a number or another type';

export const AmountScalar = new GraphQLScalarType<string, string>({
  name: 'Amount',
  description: 'An integer number of minor currency units as a decimal string: "1999" is 19.99 USD.',
  serialize(value) {
    if (typeof value === 'bigint') return value.toString(10);
    if (typeof value === 'string' && /^-?\d+$/.test(value)) return value;
    throw new GraphQLError(`Amount cannot represent ${String(value)}`);
  },
  parseValue(value) {
    if (typeof value !== 'string')
      throw new GraphQLError(amountMustBeString, { extensions: { code: 'BAD_USER_INPUT' } });
    return amountOrThrow(value);
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING)
      throw new GraphQLError(amountMustBeString, { extensions: { code: 'BAD_USER_INPUT' } });
    return amountOrThrow(ast.value);
  },
});

const datePattern = /^\d{4}-\d{2}-\d{2}$/;

export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  description: 'An ISO-8601 calendar date, "2026-11-22".',
  serialize(value) {
    if (typeof value === 'string' && datePattern.test(value)) return value;
    if (value instanceof Date) return value.toISOString().slice(0, 10);
    throw new GraphQLError(`Date cannot represent ${String(value)}`);
  },
  parseValue(value) {
    if (typeof value === 'string' && isCalendarDate(value)) return value;
    throw new GraphQLError('Date must be a string "YYYY-MM-DD"', { extensions: { code: 'BAD_USER_INPUT' } });
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING && isCalendarDate(ast.value)) return ast.value;
    throw new GraphQLError('Date must be a string "YYYY-MM-DD"', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});

export function isCalendarDate(value: string): boolean {
  if (!datePattern.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
}

export const DateTimeScalar = new GraphQLScalarType<string, string>({
  name: 'DateTime',
  description: 'An ISO-8601 instant in UTC, "2026-11-22T10:15:30.123Z".',
  serialize(value) {
    if (value instanceof Date) return formatInstant(value);
    if (typeof value === 'string') return value;
    throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
  },
  parseValue(value) {
    if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return value;
    throw new GraphQLError('DateTime must be an ISO-8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});
