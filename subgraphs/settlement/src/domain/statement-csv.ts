import { isCalendarDate } from '@paygraph/shared/graphql/scalars';
import { parseAmount, parseCurrency } from '@paygraph/shared/money';
import { externalRefLengthMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';

/**
 * A bank or channel statement as CSV with a header line:
 *   external_ref,amount,currency,direction,date
 *   bank-123,1999,USD,CREDIT,2026-11-22
 * CREDIT is money into the platform (a deposit), DEBIT money out (a withdrawal). Amounts are
 * positive integers of minor units. The first malformed line refuses the whole statement.
 */
export const statementLinesMax = 100_000;
export const statementBytesMax = 10_000_000;
const header = ['external_ref', 'amount', 'currency', 'direction', 'date'];

export interface StatementLine {
  lineNumber: number;
  externalRef: string;
  amount: bigint;
  currency: string;
  direction: 'CREDIT' | 'DEBIT';
  valueDate: string;
}

export interface StatementError {
  line: number;
  message: string;
}

export function parseStatementCsv(csv: string): Result<StatementLine[], StatementError> {
  if (csv.length > statementBytesMax) return err({ line: 0, message: `statement is larger than ${statementBytesMax} bytes` });
  const lines = csv.replace(/\r\n/g, '\n').split('\n');
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  if (lines.length === 0) return err({ line: 1, message: `empty statement: expected the header "${header.join(',')}"` });
  const columns = lines[0]!.split(',').map((c) => c.trim().toLowerCase());
  if (columns.join(',') !== header.join(',')) {
    return err({ line: 1, message: `header must be "${header.join(',')}", got "${lines[0]}"` });
  }
  if (lines.length - 1 > statementLinesMax) return err({ line: statementLinesMax + 2, message: `more than ${statementLinesMax} lines` });
  const parsed: StatementLine[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = parseLine(lines[i]!, i + 1);
    if (!line.ok) return line;
    const earlier = seen.get(line.value.externalRef);
    if (earlier !== undefined) return err({ line: i + 1, message: `external_ref "${line.value.externalRef}" repeats line ${earlier}` });
    seen.set(line.value.externalRef, i + 1);
    parsed.push(line.value);
  }
  return ok(parsed);
}

function parseLine(text: string, lineNumber: number): Result<StatementLine, StatementError> {
  const fields = text.split(',').map((f) => f.trim());
  if (fields.length !== header.length) return err({ line: lineNumber, message: `expected ${header.length} columns, got ${fields.length}` });
  const [externalRef, amountText, currencyText, direction, valueDate] = fields as [string, string, string, string, string];
  if (externalRef === '' || externalRef.length > externalRefLengthMax) return err({ line: lineNumber, message: 'external_ref is empty or too long' });
  const amount = parseAmount(amountText);
  if (!amount.ok || amount.value <= 0n) return err({ line: lineNumber, message: `amount "${amountText}" is not a positive integer of minor units` });
  const currency = parseCurrency(currencyText);
  if (!currency.ok) return err({ line: lineNumber, message: `currency "${currencyText}" is not a supported ISO-4217 code` });
  if (direction !== 'CREDIT' && direction !== 'DEBIT') return err({ line: lineNumber, message: `direction must be CREDIT or DEBIT, got "${direction}"` });
  if (!isCalendarDate(valueDate)) return err({ line: lineNumber, message: `date "${valueDate}" is not YYYY-MM-DD` });
  return ok({ lineNumber, externalRef, amount: amount.value, currency: currency.value, direction, valueDate });
}
