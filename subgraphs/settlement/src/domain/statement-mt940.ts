import { Parser } from 'mt940js';
import { parseCurrency } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import {
  addsUp,
  decimalToMinor,
  linesOf,
  referenceOf,
  type BankStatement,
  type StatementError,
  type StatementLine,
} from './bank-statement';

/**
 * SWIFT MT940, read with mt940js (Apache-2.0, the most used MT940 parser on npm, no
 * dependencies): it splits the file into tags (an :86: over several lines included), groups
 * them into statements at each :20:, refuses a statement missing :20:, :25:, :28C:, :60a: or
 * :62a:, and checks opening + turnover = closing. It answers amounts as JavaScript numbers,
 * so the amounts and dates are read again here, exactly, from the raw tags it keeps
 * (`parse(text, true)`), and the balance check is repeated in minor units. Also hand-written,
 * as no npm parser does it: a statement the bank split over several records (:28C: 12/1, 12/2
 * with :62M: closing one and :60M: opening the next) is joined into one, its records chained.
 */
interface RawTag {
  id: number | string;
  data: string;
}

interface RawStatement {
  accountIdentification: string;
  number: { statement: string; sequence: string };
  transactions: Array<{ reference: string; bankReference: string; details: string }>;
  tags: RawTag[];
}

interface Record {
  account: string;
  number: string;
  sequence: number;
  opening: { amount: bigint; date: string; currency: string };
  closing: { amount: bigint; date: string; currency: string };
  lines: StatementLine[];
  line: number;
}

export function parseMt940(raw: string): Result<BankStatement[], StatementError> {
  const content = raw.replace(/^\uFEFF/, '');
  const first = content.split(/\r?\n/).findIndex((l) => l.trim() !== '');
  if (first < 0 || !/^(:20:|\{1:)/.test(content.split(/\r?\n/)[first]!.trim())) {
    return err({ line: first + 1, message: 'not an MT940 file: it must begin with :20: (or a {1: block header)' });
  }
  const recordLines = linesOf(content, /^:20:/m);
  const entryLines = linesOf(content, /^:61:/m);
  let parsed: RawStatement[];
  try {
    parsed = new Parser({ no86Structure: true }).parse(content.replace(/\r\n/g, '\n'), true) as RawStatement[];
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    // mt940js names the record ("in group N"), or the tag it could not read.
    const group = /in group (\d+)/.exec(error.message);
    return err({
      line: group ? (recordLines[Number(group[1]) - 1] ?? 1) : 1,
      message: `not a valid MT940 file: ${error.message}`,
    });
  }
  const records: Record[] = [];
  let entryIndex = 0;
  for (const [i, statement] of parsed.entries()) {
    const record = readRecord(statement, recordLines[i] ?? 1, entryLines, entryIndex);
    if (!record.ok) return record;
    entryIndex += record.value.lines.length;
    records.push(record.value);
  }
  return joinRecords(records);
}

const balancePattern = /^([DC])(\d{2})(\d{2})(\d{2})([A-Z]{3})([0-9,]{1,16})/;
const entryPattern = /^(\d{2})(\d{2})(\d{2})(?:\d{4})?(R?[DC])[A-Z]?([0-9,]{1,16})/;

/** SWIFT dates are YYMMDD; 20YY, as every statement this platform reads is of this century. */
function swiftDate(yy: string, mm: string, dd: string): string {
  return `20${yy}-${mm}-${dd}`;
}

function readBalance(
  tag: RawTag | undefined,
  what: string,
): { amount: bigint; date: string; currency: string } | string {
  const match = tag ? balancePattern.exec(tag.data) : null;
  if (!match) return `${what} balance is missing or malformed`;
  const [, mark, yy, mm, dd, currency, amountText] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!parseCurrency(currency).ok) return `${what} balance: currency "${currency}" is not a supported ISO-4217 code`;
  const minor = decimalToMinor(amountText, currency, ',');
  if (typeof minor === 'string') return `${what} balance: ${minor}`;
  return { amount: mark === 'D' ? -minor : minor, date: swiftDate(yy, mm, dd), currency };
}

function readRecord(
  s: RawStatement,
  line: number,
  entryLines: readonly number[],
  firstEntry: number,
): Result<Record, StatementError> {
  const opening = readBalance(
    s.tags.find((t) => t.id === 60),
    ':60F:/:60M: opening',
  );
  const closing = readBalance(
    s.tags.find((t) => t.id === 62),
    ':62F:/:62M: closing',
  );
  if (typeof opening === 'string') return err({ line, message: opening });
  if (typeof closing === 'string') return err({ line, message: closing });
  const lines: StatementLine[] = [];
  for (const [j, tag] of s.tags.filter((t) => t.id === 61).entries()) {
    const lineNumber = entryLines[firstEntry + j] ?? line;
    const match = entryPattern.exec(tag.data);
    if (!match) return err({ line: lineNumber, message: `:61: "${tag.data.split('\n')[0]}" is not a statement line` });
    const [, yy, mm, dd, mark, amountText] = match as unknown as [string, string, string, string, string, string];
    const minor = decimalToMinor(amountText, opening.currency, ',');
    if (typeof minor === 'string') return err({ line: lineNumber, message: `:61: ${minor}` });
    // RC (reversal of a credit) takes money out, RD puts it back.
    const credit = mark === 'C' || mark === 'RD';
    const transaction = s.transactions[j];
    lines.push({
      lineNumber,
      amount: minor,
      currency: opening.currency,
      direction: credit ? 'CREDIT' : 'DEBIT',
      valueDate: swiftDate(yy, mm, dd),
      externalRef: referenceOf(transaction?.reference, transaction?.bankReference),
    });
  }
  return ok({
    account: s.accountIdentification,
    number: s.number.statement,
    sequence: Number(s.number.sequence || '1'),
    opening,
    closing,
    lines,
    line,
  });
}

/**
 * Records of one account and statement number are one statement: each record's opening must be
 * the previous one's (intermediate, :62M:) closing; the statement opens with the first record's
 * balance and closes with the last one's, and its date is that closing balance's.
 */
function joinRecords(records: readonly Record[]): Result<BankStatement[], StatementError> {
  const groups = new Map<string, Record[]>();
  for (const r of records) {
    const key = `${r.account}\u0000${r.number}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const statements: BankStatement[] = [];
  for (const group of groups.values()) {
    const ordered = [...group].sort((a, b) => a.sequence - b.sequence);
    for (let i = 1; i < ordered.length; i++) {
      const before = ordered[i - 1]!;
      const next = ordered[i]!;
      if (next.opening.amount !== before.closing.amount || next.opening.currency !== before.closing.currency) {
        return err({
          line: next.line,
          message: `record ${next.number}/${next.sequence} opens at ${next.opening.amount} ${next.opening.currency}; record ${before.number}/${before.sequence} closed at ${before.closing.amount} ${before.closing.currency}`,
        });
      }
    }
    const head = ordered[0]!;
    const last = ordered.at(-1)!;
    const statement: BankStatement = {
      businessDate: last.closing.date,
      currency: head.opening.currency,
      openingBalance: head.opening.amount,
      closingBalance: last.closing.amount,
      lines: ordered.flatMap((r) => r.lines),
    };
    const sums = addsUp(statement, `statement ${head.number} of account ${head.account}`, last.line);
    if (!sums.ok) return sums;
    statements.push(statement);
  }
  return ok(statements);
}
