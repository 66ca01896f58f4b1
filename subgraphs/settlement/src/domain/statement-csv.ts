import { parse, CsvError, type Info } from 'csv-parse/sync';
import { isStatementDate } from '@paygraph/shared/graphql/scalars';
import { statementDateMax } from '@paygraph/shared/limits';
import { parseAmount, parseCurrency } from '@paygraph/shared/money';
import { externalRefLengthMax, statementBytesMax, statementLinesMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';

/**
 * A bank or channel statement as CSV (RFC 4180, read by csv-parse) with a header line:
 *   external_ref,amount,currency,direction,date
 *   bank-123,1999,USD,CREDIT,2026-11-22
 *   "bank ""A"", ref 7",500,USD,DEBIT,2026-11-22
 * Fields may be quoted (with commas and doubled quotes inside), lines may end in CRLF, a UTF-8
 * byte order mark and blank lines are ignored. CREDIT is money into the platform (a deposit),
 * DEBIT money out (a withdrawal). Amounts are positive integers of minor units. The first
 * malformed line refuses the whole statement, and is named by its line number.
 */
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

/** One CSV record and the line it ends on (the line it is on, unless a quoted field spans lines). */
interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * `bankFile` (importBankStatement's CSV): a bank's lines may repeat a reference (a line split in
 * two, or booked twice by the bank: matching tells which) or carry none; importStatement's may not.
 */
export function parseStatementCsv(
  csv: string,
  options: { bankFile?: boolean; limits?: { bytesMax: number; linesMax: number } } = {},
): Result<StatementLine[], StatementError> {
  const { bytesMax, linesMax } = options.limits ?? { bytesMax: statementBytesMax, linesMax: statementLinesMax };
  if (Buffer.byteLength(csv, 'utf8') > bytesMax)
    return err({ line: 0, message: `statement is larger than ${bytesMax} bytes` });
  const records = readRecords(csv, linesMax);
  if (!records.ok) return records;
  const [first, ...rows] = records.value;
  if (first === undefined)
    return err({ line: 1, message: `empty statement: expected the header "${header.join(',')}"` });
  if (first.fields.map((c) => c.toLowerCase()).join(',') !== header.join(',')) {
    return err({ line: first.line, message: `header must be "${header.join(',')}", got "${first.fields.join(',')}"` });
  }
  if (rows.length > linesMax) return err({ line: rows[linesMax]!.line, message: `more than ${linesMax} lines` });
  const parsed: StatementLine[] = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    const line = parseLine(row, options.bankFile === true);
    if (!line.ok) return line;
    if (options.bankFile === true) {
      parsed.push(line.value);
      continue;
    }
    const earlier = seen.get(line.value.externalRef);
    if (earlier !== undefined)
      return err({ line: row.line, message: `external_ref "${line.value.externalRef}" repeats line ${earlier}` });
    seen.set(line.value.externalRef, row.line);
    parsed.push(line.value);
  }
  return ok(parsed);
}

/**
 * The header and at most linesMax + 1 lines after it (one more than allowed, to
 * see that there are too many without reading the rest); csv-parse's own errors (a quote
 * left open, text after a closing quote) name their line.
 */
function readRecords(csv: string, linesMax: number): Result<CsvRecord[], StatementError> {
  try {
    const records = parse(csv, {
      bom: true,
      // Either line end, even mixed in one file (csv-parse would otherwise keep to the first it sees).
      record_delimiter: ['\r\n', '\n'],
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      to: linesMax + 2,
    }) as unknown as Array<{ record: string[]; info: Info }>; // the shape `info: true` gives; the typings ignore it
    return ok(records.map(({ record, info }) => ({ fields: record, line: info.lines })));
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const line = typeof error.lines === 'number' ? error.lines : 0;
    return err({ line, message: `not valid CSV: ${error.message}` });
  }
}

function parseLine(
  { fields, line: lineNumber }: CsvRecord,
  refOptional: boolean,
): Result<StatementLine, StatementError> {
  if (fields.length !== header.length)
    return err({ line: lineNumber, message: `expected ${header.length} columns, got ${fields.length}` });
  const [externalRef, amountText, currencyText, direction, valueDate] = fields as [
    string,
    string,
    string,
    string,
    string,
  ];
  if ((externalRef === '' && !refOptional) || externalRef.length > externalRefLengthMax)
    return err({ line: lineNumber, message: 'external_ref is empty or too long' });
  if (/[\r\n]/.test(externalRef)) return err({ line: lineNumber, message: 'external_ref spans more than one line' });
  const amount = parseAmount(amountText);
  if (!amount.ok || amount.value <= 0n)
    return err({ line: lineNumber, message: `amount "${amountText}" is not a positive integer of minor units` });
  const currency = parseCurrency(currencyText);
  if (!currency.ok)
    return err({ line: lineNumber, message: `currency "${currencyText}" is not a supported ISO-4217 code` });
  if (direction !== 'CREDIT' && direction !== 'DEBIT')
    return err({ line: lineNumber, message: `direction must be CREDIT or DEBIT, got "${direction}"` });
  if (!isStatementDate(valueDate))
    return err({
      line: lineNumber,
      message: `date "${valueDate}" is not YYYY-MM-DD, a real day from 1000-01-01 to ${statementDateMax}`,
    });
  return ok({ lineNumber, externalRef, amount: amount.value, currency: currency.value, direction, valueDate });
}
