import { SaxesParser, type SaxesTagNS } from 'saxes';
import { isStatementDate } from '@paygraph/shared/graphql/scalars';
import { statementDateMax } from '@paygraph/shared/limits';
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
import { chunksOf, type StatementSource } from './statement-source';
import { balancesPerStatementMax, statementsPerFileMax } from '../limits';

/**
 * ISO 20022 camt.053 (BankToCustomerStatement), read with saxes: a streaming (SAX) XML parser,
 * maintained, TypeScript, no native parts, well-formedness checked as the XML specification
 * says, namespaces resolved, and the line of every element and error known. The file is fed to
 * it chunk by chunk and only what a statement needs is kept, so a 100 MB file of 60,000 entries
 * is never a document tree in memory (fast-xml-parser, used before, parsed the whole text into one).
 * Any version camt.053.001.02 and later is accepted: the elements read here (Stmt, Acct/Id, Bal
 * with Tp/CdOrPrtry/Cd OPBD|PRCD|CLBD, Ntry with Amt@Ccy, CdtDbtInd, Sts, BookgDt, ValDt,
 * AcctSvcrRef, NtryRef and NtryDtls/TxDtls with its Refs, Amt and AmtDtls/TxAmt/Amt) kept their
 * names and places across them; elements are known by their local name, whatever prefix the bank
 * gives the namespace.
 * What is hand-written: the mapping to statements and the exact amounts (text to bigint minor
 * units, never through a double). The content arrives decoded: an encoding the XML declaration
 * names (ISO-8859-1, say) was the transport's business and is ignored, as is a byte order mark.
 */
const namespacePattern = /^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$/;

/** The texts kept of a statement, of a balance, of an entry and of an entry's transaction, by their path below it. */
const stmtPaths = new Set(['Id', 'CreDtTm', 'Acct/Id/IBAN', 'Acct/Id/Othr/Id', 'Acct/Ccy']);
const balPaths = new Set(['Tp/CdOrPrtry/Cd', 'Amt', 'CdtDbtInd', 'Dt/Dt', 'Dt/DtTm']);
const ntryPaths = new Set([
  'Amt',
  'CdtDbtInd',
  'Sts',
  'Sts/Cd',
  'BookgDt/Dt',
  'BookgDt/DtTm',
  'ValDt/Dt',
  'ValDt/DtTm',
  'AcctSvcrRef',
  'NtryRef',
]);
/** Below an entry's NtryDtls/TxDtls: its references, and its own amount (001.04 on: Amt; 001.02: AmtDtls/TxAmt/Amt). */
const txPaths = new Set(['Refs/EndToEndId', 'Refs/AcctSvcrRef', 'Refs/TxId', 'Amt', 'AmtDtls/TxAmt/Amt', 'CdtDbtInd']);

/** An element's kept texts (path → text) and, for Amt, its Ccy attribute. */
interface Kept {
  line: number;
  texts: Map<string, string>;
  currency?: string;
}

/** An entry, with its transactions (each TxDtls, its Amt's Ccy kept as the text of `<path>@Ccy`). */
interface KeptEntry extends Kept {
  transactions: Kept[];
}

interface RawStatement extends Kept {
  balances: Kept[];
  entries: KeptEntry[];
}

export async function parseCamt053(
  source: StatementSource,
  entriesMax: number,
): Promise<Result<BankStatement[], StatementError>> {
  const reader = new CamtReader(entriesMax);
  for await (const chunk of chunksOf(source)) {
    reader.write(chunk);
    if (reader.failure) return err(reader.failure);
  }
  reader.close();
  if (reader.failure) return err(reader.failure);
  if (reader.statements.length === 0)
    return err({ line: 1, message: 'a camt.053 Document needs BkToCstmrStmt with at least one Stmt' });
  return ok(reader.statements);
}

/** Follows the elements as saxes reports them, keeping the texts of the paths above for each Stmt, Bal and Ntry. */
class CamtReader {
  readonly statements: BankStatement[] = [];
  failure: StatementError | null = null;
  private readonly parser = new SaxesParser({ xmlns: true, position: true });
  private readonly path: string[] = [];
  private statement: RawStatement | null = null;
  /** The Bal or Ntry being read, and where its path begins. */
  private inner: { kept: Kept; depth: number; paths: ReadonlySet<string> } | null = null;
  /** The Ntry's TxDtls being read, and where its path begins. */
  private transaction: { kept: Kept; depth: number } | null = null;
  private entries = 0;
  private statementsOpened = 0;
  private text = '';
  private tagLine = 1;
  /** Line ends seen before the file's first character that is not white space; null once it is seen. */
  private before: number | null = 0;

  constructor(private readonly entriesMax: number) {
    // saxes prefixes its messages with line:column; the line is the refusal's own.
    this.parser.on('error', (e) =>
      this.fail(this.parser.line, `not well-formed XML: ${e.message.replace(/^\d+:\d+: /, '')}`),
    );
    this.parser.on('opentagstart', () => (this.tagLine = this.parser.line));
    this.parser.on('opentag', (tag) => this.opened(tag));
    this.parser.on('closetag', (tag) => this.closed(tag));
    this.parser.on('text', (t) => (this.text += t));
    this.parser.on('cdata', (t) => (this.text += t));
  }

  write(chunk: string): void {
    if (this.before !== null) this.firstCharacter(chunk);
    if (this.failure === null) this.parser.write(chunk);
  }

  /**
   * Text before the root is refused where it stands (saxes reports it only where that text ends,
   * perhaps the file's last line): a file that does not begin with `<` is not XML at all.
   */
  private firstCharacter(chunk: string): void {
    const at = chunk.search(/[^\s\uFEFF]/);
    if (at < 0) {
      this.before! += (chunk.match(/\n/g) ?? []).length;
      return;
    }
    const line = this.before! + (chunk.slice(0, at).match(/\n/g) ?? []).length + 1;
    this.before = null;
    if (chunk[at] !== '<') this.fail(line, 'not a camt.053 file: it does not begin with XML (<)');
  }

  close(): void {
    if (this.failure === null) this.parser.close();
  }

  private fail(line: number, message: string): void {
    this.failure ??= { line, message };
  }

  private opened(tag: SaxesTagNS): void {
    if (this.failure) return;
    this.text = '';
    this.path.push(tag.local);
    const depth = this.path.length;
    if (depth === 1) return this.root(tag);
    if (depth === 3 && tag.local === 'Stmt' && this.path[1] === 'BkToCstmrStmt') {
      if (++this.statementsOpened > statementsPerFileMax) {
        this.failure ??= tooManyStatements(this.tagLine);
        return;
      }
      this.statement = { line: this.tagLine, texts: new Map(), balances: [], entries: [] };
    } else if (depth === 4 && this.statement !== null && (tag.local === 'Bal' || tag.local === 'Ntry')) {
      const kept = this.innerOpened(this.statement, tag.local);
      if (kept === null) return;
      this.inner = { kept, depth, paths: tag.local === 'Ntry' ? ntryPaths : balPaths };
    } else if (this.inner?.paths === ntryPaths && depth === this.inner.depth + 2 && tag.local === 'TxDtls') {
      if (this.path[depth - 2] === 'NtryDtls') this.transactionOpened(depth);
    }
    const currency = tag.attributes.Ccy?.value;
    if (tag.local === 'Amt' && this.inner !== null && depth === this.inner.depth + 1 && currency !== undefined)
      this.inner.kept.currency = currency;
    const tx = this.transaction;
    const relative = tx === null ? '' : this.path.slice(tx.depth).join('/');
    if (tag.local === 'Amt' && currency !== undefined && txPaths.has(relative))
      tx!.kept.texts.set(`${relative}@Ccy`, currency);
  }

  /**
   * A statement's Ntry or Bal, kept until the statement closes: each counts against its bound (entriesMax for the file's
   * entries, balancesPerStatementMax for the statement's balances), else a Stmt of millions of them is all held.
   */
  private innerOpened(statement: RawStatement, local: string): KeptEntry | null {
    const kept: KeptEntry = { line: this.tagLine, texts: new Map(), transactions: [] };
    if (local === 'Ntry') {
      if (++this.entries > this.entriesMax) {
        this.failure ??= tooManyEntries(this.tagLine, this.entriesMax);
        return null;
      }
      statement.entries.push(kept);
    } else {
      if (statement.balances.length >= balancesPerStatementMax) {
        this.fail(this.tagLine, `more than ${balancesPerStatementMax} balances (Bal) in one statement`);
        return null;
      }
      statement.balances.push(kept);
    }
    return kept;
  }

  /**
   * An entry's TxDtls: kept with its own texts, the amounts of a batch entry's transactions among them. Each counts
   * against entriesMax as an entry does: it may become a line of its own, and one Ntry of a million TxDtls would
   * otherwise be kept and written whole.
   */
  private transactionOpened(depth: number): void {
    if (++this.entries > this.entriesMax) {
      this.failure ??= tooManyEntries(this.tagLine, this.entriesMax);
      return;
    }
    const kept: Kept = { line: this.tagLine, texts: new Map() };
    (this.inner!.kept as KeptEntry).transactions.push(kept);
    this.transaction = { kept, depth };
  }

  /** The root must be a Document in a camt.053 namespace: a camt.052, a pain.001 or anything else is not this format. */
  private root(tag: SaxesTagNS): void {
    const version = namespacePattern.exec(tag.uri);
    if (tag.local !== 'Document' || version === null || Number(version[1]) < 2)
      this.fail(
        this.tagLine,
        `not a camt.053 document: <${tag.name}> in namespace "${tag.uri || '(none)'}", expected a Document of urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 or later`,
      );
  }

  private closed(tag: SaxesTagNS): void {
    if (this.failure) return;
    const depth = this.path.length;
    const text = this.text.trim();
    this.text = '';
    const inner = this.inner;
    const tx = this.transaction;
    if (tx !== null && depth > tx.depth) {
      const relative = this.path.slice(tx.depth).join('/');
      if (txPaths.has(relative) && !tx.kept.texts.has(relative)) tx.kept.texts.set(relative, text);
    } else if (inner !== null && depth > inner.depth) {
      const relative = this.path.slice(inner.depth).join('/');
      if (inner.paths.has(relative) && !inner.kept.texts.has(relative)) inner.kept.texts.set(relative, text);
    } else if (this.statement !== null && depth > 3 && inner === null) {
      const relative = this.path.slice(3).join('/');
      if (stmtPaths.has(relative) && !this.statement.texts.has(relative)) this.statement.texts.set(relative, text);
    }
    if (tx !== null && depth === tx.depth) this.transaction = null;
    if (inner !== null && depth === inner.depth) this.inner = null;
    if (depth === 3 && tag.local === 'Stmt' && this.statement !== null) {
      const read = readStatement(this.statement, this.statements.length + 1);
      if (read.ok) this.statements.push(read.value);
      else this.fail(read.error.line, read.error.message);
      this.statement = null;
    }
    this.path.pop();
  }
}

function dateOf(texts: ReadonlyMap<string, string>, prefix: string): string | undefined {
  const value = rawDateOf(texts, prefix);
  return value !== undefined && isStatementDate(value) ? value : undefined;
}

function rawDateOf(texts: ReadonlyMap<string, string>, prefix: string): string | undefined {
  return texts.get(`${prefix}Dt`) ?? texts.get(`${prefix}DtTm`)?.slice(0, 10);
}

/**
 * An entry's day: its BookgDt, else its ValDt, else its statement's date. One given that is no statement date (years
 * 0000-0999, past statementDateMax, no such day) refuses the file: taken, or passed over for the next, it would date the
 * line on a day the bank did not say.
 */
function entryDateOf(
  texts: ReadonlyMap<string, string>,
  where: string,
  businessDate: string,
): { date: string } | string {
  for (const prefix of ['BookgDt/', 'ValDt/']) {
    const value = rawDateOf(texts, prefix);
    if (value === undefined) continue;
    if (isStatementDate(value)) return { date: value };
    return `${where}: ${prefix.slice(0, -1)} "${value}" is not a real day from 1000-01-01 to ${statementDateMax}`;
  }
  return { date: businessDate };
}

/** An amount element (`<Amt Ccy="EUR">10.50</Amt>`), signed by its CdtDbtInd sibling. */
function signedAmount(kept: Kept, where: string): { amount: bigint; currency: string } | string {
  const currency = kept.currency ?? '';
  const value = kept.texts.get('Amt');
  if (value === undefined || currency === '') return `${where}: Amt with a Ccy attribute is missing`;
  if (!parseCurrency(currency).ok) return `${where}: currency "${currency}" is not a current ISO 4217 code`;
  const minor = decimalToMinor(value, currency, '.');
  if (typeof minor === 'string') return `${where}: ${minor}`;
  const indicator = kept.texts.get('CdtDbtInd');
  if (indicator !== 'CRDT' && indicator !== 'DBIT')
    return `${where}: CdtDbtInd must be CRDT or DBIT, got "${indicator ?? ''}"`;
  return { amount: indicator === 'CRDT' ? minor : -minor, currency };
}

function balance(
  s: RawStatement,
  codes: readonly string[],
  where: string,
): { amount: bigint; currency: string; date: string | undefined; line: number } | StatementError | null {
  const found = s.balances.find((b) => codes.includes(b.texts.get('Tp/CdOrPrtry/Cd') ?? ''));
  if (!found) return null;
  const amount = signedAmount(found, `${where} balance ${codes[0]}`);
  if (typeof amount === 'string') return { line: found.line, message: amount };
  return { ...amount, date: dateOf(found.texts, 'Dt/'), line: found.line };
}

function readStatement(s: RawStatement, index: number): Result<BankStatement, StatementError> {
  const id = s.texts.get('Id');
  const where = `Stmt ${index}${id ? ` (Id ${id})` : ''}`;
  const opening = balance(s, ['OPBD', 'PRCD'], where);
  const closing = balance(s, ['CLBD'], where);
  if (opening !== null && 'message' in opening) return err(opening);
  if (closing !== null && 'message' in closing) return err(closing);
  if (opening === null || closing === null)
    return err({ line: s.line, message: `${where} needs an opening (OPBD or PRCD) and a closing (CLBD) balance` });
  const currency = s.texts.get('Acct/Ccy') || closing.currency;
  if (opening.currency !== currency || closing.currency !== currency)
    return err({
      line: opening.currency !== currency ? opening.line : closing.line,
      message: `${where}: balances in ${opening.currency}/${closing.currency}, the account is in ${currency}`,
    });
  const businessDate = closing.date ?? s.texts.get('CreDtTm')?.slice(0, 10);
  if (businessDate === undefined || !isStatementDate(businessDate))
    return err({
      line: closing.line,
      message: `${where}: the closing balance has no date (Bal/Dt/Dt), a real day from 1000-01-01 to ${statementDateMax}`,
    });
  const lines: StatementLine[] = [];
  for (const [j, entry] of s.entries.entries()) {
    const read = readEntry(entry, `${where} Ntry ${j + 1}`, currency, businessDate);
    if (typeof read === 'string') return err({ line: entry.line, message: read });
    for (const line of read) {
      // A line is kept under its line of the file (statement_lines' key); XML without line breaks puts several on one
      // line, and the lines after the first there are numbered on from it.
      line.lineNumber = Math.max(line.lineNumber, (lines.at(-1)?.lineNumber ?? 0) + 1);
      lines.push(line);
    }
  }
  const statement: BankStatement = {
    account: s.texts.get('Acct/Id/IBAN') || s.texts.get('Acct/Id/Othr/Id') || null,
    businessDate,
    openingDate: opening.date ?? businessDate,
    currency,
    openingBalance: opening.amount,
    closingBalance: closing.amount,
    lines,
    entries: s.entries.length,
    line: s.line,
  };
  const sums = addsUp(statement, where, s.line);
  return sums.ok ? ok(statement) : sums;
}

/**
 * An entry's lines: one, under its first transaction's reference, or a batch entry's transactions each a line of its
 * own (transactionsOf).
 */
function readEntry(entry: KeptEntry, where: string, currency: string, businessDate: string): StatementLine[] | string {
  const amount = signedAmount(entry, where);
  if (typeof amount === 'string') return amount;
  if (amount.currency !== currency) return `${where}: an entry in ${amount.currency} on a statement in ${currency}`;
  // Sts is text in 001.02 (BOOK) and a code element from 001.08 on (<Sts><Cd>BOOK</Cd></Sts>): only booked entries move
  // the balance.
  const status = entry.texts.get('Sts/Cd') || entry.texts.get('Sts') || 'BOOK';
  if (status !== 'BOOK') return `${where}: status ${status}; a statement holds booked (BOOK) entries only`;
  // A reversal (RvslInd true) is booked on the other side already by its CdtDbtInd: nothing to flip here.
  const t = entry.texts;
  const dated = entryDateOf(t, where, businessDate);
  if (typeof dated === 'string') return dated;
  const valueDate = dated.date;
  const line = (lineNumber: number, signed: bigint, tx: Kept | undefined): StatementLine => ({
    lineNumber,
    externalRef: referenceOf(
      tx?.texts.get('Refs/EndToEndId'),
      tx?.texts.get('Refs/AcctSvcrRef'),
      tx?.texts.get('Refs/TxId'),
      t.get('AcctSvcrRef'),
      t.get('NtryRef'),
    ),
    currency,
    valueDate,
    amount: signed < 0n ? -signed : signed,
    direction: signed < 0n ? 'DEBIT' : 'CREDIT',
  });
  const parts = transactionsOf(entry, amount.amount, currency);
  if (parts === null) return [line(entry.line, amount.amount, entry.transactions[0])];
  return parts.map(({ tx, signed }) => line(tx.line, signed, tx));
}

/**
 * A batch entry's transactions, when each can be matched on its own: two or more TxDtls, each with its own amount
 * (TxDtls/Amt, else AmtDtls/TxAmt/Amt) in the entry's currency, signed by its CdtDbtInd (else the entry's), adding up
 * to the entry exactly (PostFinance's 24.00 = 15.00 + 9.00, each its EndToEndId). Otherwise null, and the entry is one
 * line: a transaction without its amount, in another currency, or charges taken from the entry's sum leave nothing
 * exact to split it by, and a detail the statement's arithmetic does not rest on never refuses the file.
 */
function transactionsOf(
  entry: KeptEntry,
  signed: bigint,
  currency: string,
): Array<{ tx: Kept; signed: bigint }> | null {
  if (entry.transactions.length < 2) return null;
  const parts: Array<{ tx: Kept; signed: bigint }> = [];
  for (const tx of entry.transactions) {
    const path = tx.texts.has('Amt') ? 'Amt' : 'AmtDtls/TxAmt/Amt';
    const text = tx.texts.get(path);
    if (text === undefined || tx.texts.get(`${path}@Ccy`) !== currency) return null;
    const minor = decimalToMinor(text, currency, '.');
    const indicator = tx.texts.get('CdtDbtInd') ?? (signed < 0n ? 'DBIT' : 'CRDT');
    if (typeof minor === 'string' || (indicator !== 'CRDT' && indicator !== 'DBIT')) return null;
    parts.push({ tx, signed: indicator === 'CRDT' ? minor : -minor });
  }
  return parts.reduce((sum, p) => sum + p.signed, 0n) === signed ? parts : null;
}
