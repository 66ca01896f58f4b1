import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { describeMoneyError, parseAmount } from '../money';
import {
  formatInstant,
  parseCalendarDate,
  parseInstant,
  type CalendarDateRefusal,
  type InstantRefusal,
} from '../instant';
import { dateTimeYearMax, dateTimeYearMin, dateYearMax, dateYearMin, statementDateMax } from '../limits';

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

/**
 * Date is taken as "YYYY-MM-DD" only, a real day in the years a DATE column holds (parseCalendarDate); anything else is
 * malformed, refused whole with BAD_USER_INPUT before a resolver runs, as DateTime is. Years 0000-0999 were taken,
 * and a settlement, a statement and a reconciliation report of 0999-01-01 (or 0000-01-01) were written, outside what
 * MySQL promises to hold and where addDays no longer answers a date.
 */
function dateOrThrow(value: unknown): string {
  const parsed = typeof value === 'string' ? parseCalendarDate(value) : null;
  if (parsed?.ok) return parsed.value;
  throw new GraphQLError(
    `Date must be a calendar date "YYYY-MM-DD", e.g. "2026-11-22", on a real day, in the years ${dateYearMin}-${dateYearMax}: ` +
      (parsed ? describeDateRefusal(parsed.error) : 'not a string'),
    { extensions: { code: 'BAD_USER_INPUT' } },
  );
}

function describeDateRefusal(refusal: CalendarDateRefusal): string {
  switch (refusal) {
    case 'malformed':
      return 'not of that form';
    case 'no such date':
      return 'no such day in that month';
    case 'out of range':
      return 'outside those years';
  }
}

export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  description: 'A calendar date, "YYYY-MM-DD" ("2026-11-22"): a real day, in the years 1000-9999.',
  serialize(value) {
    if (typeof value === 'string' && datePattern.test(value)) return value;
    if (value instanceof Date) return value.toISOString().slice(0, 10);
    throw new GraphQLError(`Date cannot represent ${String(value)}`);
  },
  parseValue: dateOrThrow,
  parseLiteral(ast) {
    return dateOrThrow(ast.kind === Kind.STRING ? ast.value : null);
  },
});

/**
 * A bank statement's or line's date (the statement parsers'): a Date the scalar would take (parseCalendarDate: a real
 * day of the years dateYearMin-dateYearMax, which a DATE column holds), up to statementDateMax, so that a channel's
 * window around it stays a date. A Date's round trip took years 0000-0999 and the last days of 9999.
 */
export function isStatementDate(value: string): boolean {
  return parseCalendarDate(value).ok && value <= statementDateMax;
}

/**
 * DateTime is answered in UTC with milliseconds (formatInstant) and taken as RFC 3339 with an explicit offset, on a
 * real date, within the years a DATETIME column holds (parseInstant). Anything else is malformed, refused whole with
 * BAD_USER_INPUT before a resolver runs, as Amount is: Date.parse's leniency let "2026-02-30" mean March 2 and
 * "1 March 2026" mean midnight, and a year past 9999 reached the database, whose refusal was an internal error.
 * What a resolver receives is the instant in that same UTC form, whatever offset the client wrote.
 */
function dateTimeOrThrow(value: unknown): string {
  const parsed = typeof value === 'string' ? parseInstant(value) : null;
  if (parsed?.ok) return formatInstant(parsed.value);
  throw new GraphQLError(
    `DateTime must be an RFC 3339 date-time with an offset, e.g. "2026-11-22T10:15:30.123Z" or ` +
      `"2026-11-22T11:15:30+01:00", on a real date, in the years ${dateTimeYearMin}-${dateTimeYearMax} in UTC: ` +
      (parsed ? describeInstantRefusal(parsed.error) : 'not a string'),
    { extensions: { code: 'BAD_USER_INPUT' } },
  );
}

function describeInstantRefusal(refusal: InstantRefusal): string {
  switch (refusal) {
    case 'malformed':
      return 'not of that form';
    case 'no such date':
      return 'no such day in that month';
    case 'no such time':
      return 'no such time of day or offset';
    case 'out of range':
      return 'outside those years';
  }
}

export const DateTimeScalar = new GraphQLScalarType<string, string>({
  name: 'DateTime',
  description: 'An RFC 3339 instant: answered in UTC, "2026-11-22T10:15:30.123Z"; taken with any offset.',
  serialize(value) {
    if (value instanceof Date) return formatInstant(value);
    if (typeof value === 'string') return value;
    throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
  },
  parseValue: dateTimeOrThrow,
  parseLiteral(ast) {
    return dateTimeOrThrow(ast.kind === Kind.STRING ? ast.value : null);
  },
});
