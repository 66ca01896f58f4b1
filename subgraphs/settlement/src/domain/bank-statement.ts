import { currencyMinorUnits } from '@paygraph/shared/money';
import { externalRefLengthMax, statementBytesMax, statementLinesMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { StatementError, StatementLine } from './statement-csv';

/**
 * A statement as every format reads into it: one channel's date in one currency (CSV: of the
 * currencies its lines name), with the bank's balances when the format carries them. Amounts
 * are minor units, balances signed (credit positive), lines positive with their direction.
 */
export interface BankStatement {
  businessDate: string;
  currency: string | null;
  openingBalance: bigint | null;
  closingBalance: bigint | null;
  lines: StatementLine[];
}

export type { StatementError, StatementLine };

/**
 * What one file may hold: its bytes and its entries (lines). A file sent inline in a request keeps to the CSV's limits
 * (statementBytesMax, statementLinesMax: what a request body carries); an uploaded file to the uploads' (limits.ts).
 */
export interface StatementLimits {
  bytesMax: number;
  linesMax: number;
}

export const inlineStatementLimits: StatementLimits = { bytesMax: statementBytesMax, linesMax: statementLinesMax };

/** The whole file is refused before it is read when it is larger than its limit. */
export function withinSize(content: string, limits: StatementLimits): Result<null, StatementError> {
  if (Buffer.byteLength(content, 'utf8') > limits.bytesMax)
    return err({ line: 0, message: `statement file is larger than ${limits.bytesMax} bytes` });
  return ok(null);
}

/** The entries of a whole file count against the same limit as a CSV's lines. */
export function withinLineCount(
  statements: readonly BankStatement[],
  limits: StatementLimits,
): Result<null, StatementError> {
  const count = statements.reduce((sum, s) => sum + s.lines.length, 0);
  if (count > limits.linesMax)
    return err({ line: 0, message: `${count} entries: more than ${limits.linesMax} in one file` });
  return ok(null);
}

/**
 * A bank's decimal amount ("1234.56", MT940's "1234,56") in the currency's minor units, exactly:
 * more fraction digits than the currency has (ISO 4217: JPY 0, USD 2, KWD 3) is refused, never rounded.
 */
export function decimalToMinor(text: string, currency: string, separator: '.' | ','): bigint | string {
  const exponent = currencyMinorUnits.get(currency);
  if (exponent === undefined) return `currency "${currency}" is not a supported ISO-4217 code`;
  const pattern = separator === '.' ? /^(\d{1,18})(?:\.(\d*))?$/ : /^(\d{1,18})(?:,(\d*))?$/;
  const match = pattern.exec(text.trim());
  if (!match) return `amount "${text}" is not a decimal amount`;
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > exponent) return `amount "${text}" has more decimals than ${currency}'s ${exponent}`;
  return BigInt(match[1]!) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
}

/** A reference as the matching keeps it: trimmed, at most externalRefLengthMax, '' for none. */
export function referenceOf(...candidates: ReadonlyArray<string | undefined | null>): string {
  for (const c of candidates) {
    const text = (c ?? '').trim();
    if (text !== '' && text.toUpperCase() !== 'NOTPROVIDED' && text.toUpperCase() !== 'NONREF')
      return text.slice(0, externalRefLengthMax);
  }
  return '';
}

/** opening + Σ entries must be closing: a statement that does not add up is refused, naming both. */
export function addsUp(s: BankStatement, where: string, line: number): Result<null, StatementError> {
  if (s.openingBalance === null || s.closingBalance === null) return ok(null);
  const entries = s.lines.reduce((sum, l) => sum + (l.direction === 'CREDIT' ? l.amount : -l.amount), 0n);
  if (s.openingBalance + entries === s.closingBalance) return ok(null);
  return err({
    line,
    message: `${where} (${s.currency} ${s.businessDate}): opening balance ${s.openingBalance} + entries ${entries} = ${s.openingBalance + entries}, but the closing balance is ${s.closingBalance} (minor units)`,
  });
}

/**
 * The 1-based line of each match of `pattern` in `text`, in order (to name an XML element's or an MT940 tag's line).
 */
export function linesOf(text: string, pattern: RegExp): number[] {
  const lines: number[] = [];
  let line = 1;
  let from = 0;
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  for (const match of text.matchAll(global)) {
    for (let i = from; i < match.index; i++) if (text.charCodeAt(i) === 10) line++;
    from = match.index;
    lines.push(line);
  }
  return lines;
}
