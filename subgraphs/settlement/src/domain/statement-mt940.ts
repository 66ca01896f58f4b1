import { isStatementDate } from '@paygraph/shared/graphql/scalars';
import { parseCurrency } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import {
  addsUp,
  decimalToMinor,
  referenceOf,
  tooManyEntries,
  tooManyStatements,
  type BankStatement,
  type StatementError,
  type StatementLine,
} from './bank-statement';
import { mt940LineLengthMax, statementsPerFileMax } from '../limits';
import { accountKey } from './channel-accounts';
import { linesOf, type SourceLine, type StatementSource } from './statement-source';

/**
 * SWIFT MT940, read line by line as the file arrives. Hand-written: mt940js (the npm parser used
 * before) takes the whole text at once, answers amounts as JavaScript numbers and checks its
 * turnover in floating point, throwing messages such as "Sum of lines (1027.25) != turnover
 * (252.20999999996275)"; it also refused every wrapper below. The tags a statement needs are few
 * and line-shaped, so they are tokenized here and every amount is read exactly (bigint minor units).
 *
 * What banks wrap around MT940 is skipped as the well-kept parsers of other ecosystems skip it:
 * - a tag is a line beginning `:NN:` or `:NNa:` (or `:NS:`), the pattern of wolph/mt940 (Python,
 *   models.py `tag_re`); so `:940:` (Rabobank) is no tag, and a line that is no tag continues the
 *   tag before it (an :86:'s next lines), which is where its text ends up ignored;
 * - a record begins at each `:20:` and nothing before the first one is MT940, as
 *   sandermarechal/jejik-mt940 (PHP, AbstractParser::splitStatements) splits the text: SOH and
 *   `{1:…}{2:…}{4:` block headers (mBank, PostFinance, ING), `ABNANL2A`/`940` header lines,
 *   Danske Bank's English preamble, Van Lanschot's `0000 01F…`/`940 00` envelope;
 * - whatever follows a record's last tag up to the next `:20:` (`-`, `-}`, `{5:…}`, ETX, `-XXX`,
 *   the next envelope) is dropped, as svenstaro/mt940-rs (Rust, sanitizers.rs
 *   `strip_stuff_between_messages`) drops non-tag lines between messages; here they continue the
 *   balance tag before them, of which only the first line is read.
 * A statement is one account's day: records are joined only where the bank split a day over
 * several (:62M: closing one, :60M: opening the next, same account, date and balance), never
 * because they share a :28C: number (two days of Volksbank's, all `:28C:0`, are two statements).
 */
const tagPattern = /^:(\d{2}[A-Z]?|NS):/;
const balancePattern = /^([DC])(\d{2})(\d{2})(\d{2})([A-Z]{3})(\d[\d,]*)$/;
// Value date YYMMDD, entry date MMDD (optional), mark (D, C, RD, RC), funds code (the currency's third letter, optional),
// amount, then the rest: transaction type (N/F/S + 3), customer reference (16x), `//` bank reference (16x).
const entryPattern = /^(\d{2})(\d{2})(\d{2})(\d{4})?(R?[DC])[A-Z]?(\d[\d,]*)(.*)$/;

export async function parseMt940(
  source: StatementSource,
  entriesMax: number,
): Promise<Result<BankStatement[], StatementError>> {
  const reader = new RecordReader(entriesMax);
  for await (const line of linesOf(source, mt940LineLengthMax)) {
    if ('overlong' in line)
      return err({ line: line.overlong, message: `a line longer than ${mt940LineLengthMax} characters: not MT940` });
    const read = reader.line(line);
    if (!read.ok) return read;
  }
  return reader.end();
}

interface Tag {
  line: number;
  /** The tag's first line after `:NN:`, trimmed (continuation lines carry nothing read here). */
  text: string;
}

interface RawRecord {
  line: number;
  account?: Tag;
  opening?: Tag & { mark: 'F' | 'M' };
  closing?: Tag & { mark: 'F' | 'M' };
  entries: Tag[];
}

interface Balance {
  mark: 'F' | 'M';
  amount: bigint;
  date: string;
  currency: string;
  line: number;
}

interface Day {
  account: string;
  line: number;
  opening: Balance;
  closing: Balance;
  lines: StatementLine[];
}

/** Builds each record from its tags, and each statement from its records, as the lines pass. */
class RecordReader {
  private record: RawRecord | null = null;
  /** The statement being read whose last record closed with an intermediate balance (:62M:). */
  private open: Day | null = null;
  private entries = 0;
  private readonly statements: BankStatement[] = [];

  constructor(private readonly entriesMax: number) {}

  line({ number, text }: SourceLine): Result<null, StatementError> {
    const match = tagPattern.exec(text);
    if (!match) return ok(null);
    const name = match[1]!;
    const tag: Tag = { line: number, text: text.slice(match[0].length).trim() };
    if (name === '20') {
      const done = this.finishRecord();
      if (!done.ok) return done;
      this.record = { line: number, entries: [] };
      return ok(null);
    }
    const r = this.record;
    if (r === null) return ok(null);
    if (name === '25') r.account ??= tag;
    if (name === '60F' || name === '60M' || name === '62F' || name === '62M') {
      const which = name.startsWith('60') ? 'opening' : 'closing';
      if (r[which] !== undefined) return err({ line: number, message: `a second ${which} balance in one record` });
      r[which] = { ...tag, mark: name[2] === 'F' ? 'F' : 'M' };
    }
    if (name === '61') {
      if (r.opening === undefined || r.closing !== undefined)
        return err({ line: number, message: ':61: entry outside its record’s balances (:60a: … :62a:)' });
      if (++this.entries > this.entriesMax) return err(tooManyEntries(number, this.entriesMax));
      r.entries.push(tag);
    }
    // :21:, :28C:, :13D:, :64:, :65:, :86:, :NS: and the rest carry nothing a statement needs here.
    return ok(null);
  }

  end(): Result<BankStatement[], StatementError> {
    const done = this.finishRecord();
    if (!done.ok) return done;
    if (this.open !== null)
      return err({
        line: this.open.closing.line,
        message: `account ${this.open.account}'s day ends with an intermediate balance (:62M:): its last record is missing`,
      });
    if (this.statements.length === 0) return err({ line: 1, message: 'not an MT940 file: it holds no record (:20:)' });
    return ok(this.statements);
  }

  private finishRecord(): Result<null, StatementError> {
    const raw = this.record;
    this.record = null;
    if (raw === null) return ok(null);
    const record = readRecord(raw);
    if (!record.ok) return record;
    const day = this.continueDay(record.value);
    if (!day.ok) return day;
    if (day.value.closing.mark === 'M') {
      this.open = day.value;
      return ok(null);
    }
    this.open = null;
    return this.complete(day.value);
  }

  /** A record continues the open day when it opens (:60M:) where that day's last record closed (:62M:). */
  private continueDay(record: Day): Result<Day, StatementError> {
    const day = this.open;
    if (day === null) {
      if (record.opening.mark === 'M')
        return err({
          line: record.opening.line,
          message: `account ${record.account}: an intermediate opening balance (:60M:) that no record before it closed (:62M:): the day's first record is missing`,
        });
      return ok(record);
    }
    const before = day.closing;
    const next = record.opening;
    if (accountKey(record.account) !== accountKey(day.account) || next.mark !== 'M')
      return err({
        line: record.line,
        message: `account ${day.account}'s day closes line ${before.line} with an intermediate balance (:62M:), and this record (account ${record.account}) does not go on from it with :60M:`,
      });
    if (next.amount !== before.amount || next.currency !== before.currency || next.date !== before.date)
      return err({
        line: next.line,
        message: `:60M: ${next.amount} ${next.currency} of ${next.date} does not go on from the :62M: ${before.amount} ${before.currency} of ${before.date} (line ${before.line}) (minor units)`,
      });
    for (const line of record.lines) day.lines.push(line);
    day.closing = record.closing;
    return ok(day);
  }

  /**
   * A statement read: kept, the file's statements counted as they come (statementsPerFileMax). A record without entries
   * is about 45 bytes, so an upload of them held millions of statements before the duplicates were looked for.
   */
  private complete(day: Day): Result<null, StatementError> {
    if (this.statements.length >= statementsPerFileMax) return err(tooManyStatements(day.line));
    const statement: BankStatement = {
      account: day.account,
      businessDate: day.closing.date,
      openingDate: day.opening.date,
      currency: day.opening.currency,
      openingBalance: day.opening.amount,
      closingBalance: day.closing.amount,
      lines: day.lines,
      entries: day.lines.length,
      line: day.line,
    };
    const sums = addsUp(statement, `statement of account ${day.account}`, day.line);
    if (!sums.ok) return sums;
    this.statements.push(statement);
    return ok(null);
  }
}

function readRecord(raw: RawRecord): Result<Day, StatementError> {
  if (raw.account === undefined || raw.account.text === '')
    return err({ line: raw.line, message: 'the record names no account (:25:)' });
  const opening = readBalance(raw.opening, 'opening (:60F:/:60M:)', raw.line);
  if ('message' in opening) return err(opening);
  const closing = readBalance(raw.closing, 'closing (:62F:/:62M:)', raw.line);
  if ('message' in closing) return err(closing);
  if (closing.currency !== opening.currency)
    return err({
      line: closing.line,
      message: `closing balance in ${closing.currency}, opening balance in ${opening.currency}`,
    });
  const lines: StatementLine[] = [];
  for (const entry of raw.entries) {
    const line = readEntry(entry, opening.currency);
    if ('message' in line) return err(line);
    lines.push(line);
  }
  return ok({ account: raw.account.text, line: raw.line, opening, closing, lines });
}

/**
 * The booking date MMDD of a :61: line, in the year that puts it nearest its value date: booked on 31 December for a
 * value date of 2 January is the year before, booked on 2 January for a value date of 31 December the year after.
 */
function bookingDateNear(valueDate: string, mmdd: string): string | null {
  const year = Number(valueDate.slice(0, 4));
  const months = Number(mmdd.slice(0, 2)) - Number(valueDate.slice(5, 7));
  const shift = months > 6 ? -1 : months < -6 ? 1 : 0;
  const date = `${year + shift}-${mmdd.slice(0, 2)}-${mmdd.slice(2)}`;
  return isStatementDate(date) ? date : null;
}

/** SWIFT dates are YYMMDD; 20YY, as every statement this platform reads is of this century. */
function swiftDate(yy: string, mm: string, dd: string): string | null {
  const date = `20${yy}-${mm}-${dd}`;
  return isStatementDate(date) ? date : null;
}

function readBalance(tag: RawRecord['opening'], what: string, recordLine: number): Balance | StatementError {
  if (tag === undefined) return { line: recordLine, message: `the record has no ${what} balance` };
  const match = balancePattern.exec(tag.text);
  if (!match)
    return { line: tag.line, message: `${what} balance "${tag.text}" is not D/C, YYMMDD, a currency and an amount` };
  const [, mark, yy, mm, dd, currency, amountText] = match as unknown as [string, ...string[]];
  if (!parseCurrency(currency!).ok)
    return { line: tag.line, message: `${what} balance: currency "${currency}" is not a current ISO 4217 code` };
  const date = swiftDate(yy!, mm!, dd!);
  if (date === null) return { line: tag.line, message: `${what} balance: "${yy}${mm}${dd}" is not a date` };
  const minor = decimalToMinor(amountText!, currency!, ',');
  if (typeof minor === 'string') return { line: tag.line, message: `${what} balance: ${minor}` };
  return { mark: tag.mark, amount: mark === 'D' ? -minor : minor, date, currency: currency!, line: tag.line };
}

function readEntry(tag: Tag, currency: string): StatementLine | StatementError {
  const match = entryPattern.exec(tag.text);
  if (!match)
    return {
      line: tag.line,
      message: `:61: "${tag.text}" is not a statement line (YYMMDD[MMDD], D/C/RD/RC, an amount, its type and references)`,
    };
  const [, yy, mm, dd, entryDate, mark, amountText, rest] = match as unknown as [string, ...Array<string | undefined>];
  const valueDate = swiftDate(yy!, mm!, dd!);
  if (valueDate === null) return { line: tag.line, message: `:61: "${yy}${mm}${dd}" is not a date` };
  // The day the bank booked it (the optional MMDD after the value date), as camt.053's BookgDt: the day the line
  // belongs to, which reconciliation compares. A value date may be a day or more away, even in another statement's.
  const bookingDate = entryDate === undefined ? valueDate : bookingDateNear(valueDate, entryDate);
  if (bookingDate === null) return { line: tag.line, message: `:61: entry date "${entryDate}" is not a date` };
  // MT940's amounts have a decimal comma and no other mark: "1.000,00" read "1" and took ".000,00…" for references.
  if (rest!.startsWith('.'))
    return {
      line: tag.line,
      message: `:61: amount "${amountText}${rest!.slice(0, 8)}…" holds a ".": MT940 writes 1000,00`,
    };
  const minor = decimalToMinor(amountText!, currency, ',');
  if (typeof minor === 'string') return { line: tag.line, message: `:61: ${minor}` };
  // The type (N/F/S and three characters) may be missing (Zenith Bank's); the customer's and the bank's references follow.
  const references = rest!.replace(/^[NFS][A-Z0-9]{3}/, '');
  const split = references.indexOf('//');
  const customer = (split < 0 ? references : references.slice(0, split)).slice(0, 16);
  const bank = split < 0 ? '' : references.slice(split + 2, split + 18);
  // RC (reversal of a credit) takes money out, RD puts it back.
  const credit = mark === 'C' || mark === 'RD';
  return {
    lineNumber: tag.line,
    amount: minor,
    currency,
    direction: credit ? 'CREDIT' : 'DEBIT',
    valueDate: bookingDate,
    externalRef: referenceOf(customer, bank),
  };
}
