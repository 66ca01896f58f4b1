import { currencyMinorUnits } from '@paygraph/shared/money';
import { balanceMinorUnitsMax, externalRefLengthMax, statementBytesMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { StatementError, StatementLine } from './statement-csv';
import { statementsPerFileMax } from '../limits';

/**
 * A statement as every format reads into it: one account's date in one currency (CSV: one
 * channel's date, of the currencies its lines name), with the bank's balances when the format
 * carries them. Amounts are minor units, balances signed (credit positive), lines positive with
 * their direction.
 */
export interface BankStatement {
  /** The account as the file names it (MT940 :25:, camt.053 Acct/Id/IBAN or Acct/Id/Othr/Id); null for CSV. */
  account: string | null;
  businessDate: string;
  /**
   * The first date of its span, its opening balance's as the bank dates it (camt.053's OPBD/PRCD Dt, MT940's :60F:);
   * its closing date where the file dates none (CSV). A re-import of the same span replaces it; the day's own statement
   * beside the month's closing that day is another (db/reconciliation-store.ts replaceBankStatements).
   */
  openingDate: string;
  currency: string | null;
  openingBalance: bigint | null;
  closingBalance: bigint | null;
  /** What matching weighs: an entry each, or each transaction of a camt.053 batch entry (statement-camt.ts). */
  lines: StatementLine[];
  /** The bank's entries (Ntry, :61:, CSV lines), as the import answers them; as many as the lines but for batches. */
  entries: number;
  /** The line of the file where the statement begins (an MT940 record's :20:, a camt.053 Stmt). */
  line: number;
}

export type { StatementError, StatementLine };

/** A statement's span as messages and keys name it: its date alone for one day, else "opening to closing". */
export function spanOf(s: Pick<BankStatement, 'openingDate' | 'businessDate'>): string {
  return s.openingDate === s.businessDate ? s.businessDate : `${s.openingDate} to ${s.businessDate}`;
}

/** Text sent inline is refused whole, before it is read, when it is larger than the CSV's limit. */
export function withinSize(content: string): Result<null, StatementError> {
  if (Buffer.byteLength(content, 'utf8') > statementBytesMax)
    return err({ line: 0, message: `statement file is larger than ${statementBytesMax} bytes` });
  return ok(null);
}

/** The entries of a whole file count against `entriesMax`: refused at the first one past it. */
export function tooManyEntries(line: number, entriesMax: number): StatementError {
  return { line, message: `more than ${entriesMax} entries in one file` };
}

/** A file's statements count against statementsPerFileMax: refused at the first one past it, as it begins. */
export function tooManyStatements(line: number): StatementError {
  return { line, message: `more than ${statementsPerFileMax} statements in one file` };
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
  const minor = BigInt(match[1]!) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  // Stored as a signed BIGINT of minor units, as every balance: a larger one failed the insert, an internal error.
  if (minor > balanceMinorUnitsMax) return `amount "${text}" is more ${currency} than a balance holds`;
  return minor;
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
