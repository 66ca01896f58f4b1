import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/**
 * Amount crosses the wire as a decimal string of minor units. Parsing into bigint happens in
 * the domain (parseAmount), where a bad amount becomes an INVALID_INPUT value that writes
 * nothing; the scalar passes what it got along as text so that a client sending 12.5 or
 * "abc" gets that clear, typed error rather than a generic coercion failure.
 */
export const AmountScalar = new GraphQLScalarType<string, string>({
  name: 'Amount',
  description: 'An integer number of minor currency units as a decimal string: "1999" is 19.99 USD.',
  serialize(value) {
    if (typeof value === 'bigint') return value.toString(10);
    if (typeof value === 'string' && /^-?\d+$/.test(value)) return value;
    throw new GraphQLError(`Amount cannot represent ${String(value)}`);
  },
  parseValue(value) {
    if (typeof value === 'string') return value;
    // JSON numbers above 2^53 have already lost cents in JSON.parse, so only safe integers
    // pass; anything else becomes text that the domain rejects as INVALID_INPUT.
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    return `not-an-amount:${typeof value === 'number' ? String(value) : typeof value}`;
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return ast.value;
    return `not-an-amount:${ast.kind}`;
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
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'string') return value;
    throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
  },
  parseValue(value) {
    if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return value;
    throw new GraphQLError('DateTime must be an ISO-8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});
