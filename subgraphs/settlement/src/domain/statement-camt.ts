import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { isCalendarDate } from '@paygraph/shared/graphql/scalars';
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
 * ISO 20022 camt.053 (BankToCustomerStatement), read with fast-xml-parser: maintained, no
 * native parts, a validator that names the line of malformed XML, and namespace prefixes
 * dropped on request (banks send both `<Document xmlns=…>` and `<ns2:Document xmlns:ns2=…>`).
 * Any version camt.053.001.02 and later is accepted: the elements read here (Stmt, Bal with
 * Tp/CdOrPrtry/Cd OPBD|PRCD|CLBD, Ntry with Amt@Ccy, CdtDbtInd, RvslInd, Sts, BookgDt, ValDt,
 * AcctSvcrRef, NtryRef and NtryDtls/TxDtls/Refs) kept their names and places across them.
 * What is hand-written: the mapping to statements and the exact amounts (the parser is told to
 * keep every value as text, so no amount passes through a double).
 * The content arrives as a decoded string: an encoding the XML declaration names (ISO-8859-1,
 * say) was the transport's business and is ignored here, as is a byte order mark.
 */
const namespacePattern = /^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$/;
const arrays = new Set(['Stmt', 'Ntry', 'Bal', 'TxDtls']);
const parser = new XMLParser({
  ignoreAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => arrays.has(name),
  processEntities: true,
});

type Node = Record<string, unknown>;

export function parseCamt053(raw: string): Result<BankStatement[], StatementError> {
  const content = raw.replace(/^\uFEFF/, '');
  const valid = XMLValidator.validate(content);
  if (valid !== true) return err({ line: valid.err.line, message: `not well-formed XML: ${valid.err.msg}` });
  const namespace = rootNamespace(content);
  if (!namespace.ok) return namespace;
  const document = (parser.parse(content) as Node).Document as Node | undefined;
  const statements = (document?.BkToCstmrStmt as Node | undefined)?.Stmt as Node[] | undefined;
  if (!statements || statements.length === 0)
    return err({ line: 1, message: 'a camt.053 Document needs BkToCstmrStmt with at least one Stmt' });
  const stmtLines = linesOf(content, /<(?:[\w.-]+:)?Stmt[\s>]/);
  const entryLines = linesOf(content, /<(?:[\w.-]+:)?Ntry[\s>]/);
  const read: BankStatement[] = [];
  let entryIndex = 0;
  for (const [i, stmt] of statements.entries()) {
    const statement = readStatement(stmt, i + 1, stmtLines[i] ?? 1, entryLines, entryIndex);
    if (!statement.ok) return statement;
    entryIndex += statement.value.lines.length;
    read.push(statement.value);
  }
  return ok(read);
}

/** The root must be a Document in a camt.053 namespace: a camt.052, a pain.001 or anything else is not this format. */
function rootNamespace(content: string): Result<string, StatementError> {
  const root = /<(?:([\w.-]+):)?Document\b([^>]*)>/.exec(content);
  if (!root) return err({ line: 1, message: 'not a camt.053 file: no <Document> root element' });
  const attribute = root[1] === undefined ? 'xmlns' : `xmlns:${root[1]}`;
  const uri = new RegExp(`${attribute.replace('.', '\\.')}\\s*=\\s*["']([^"']*)["']`).exec(root[2]!)?.[1];
  if (uri === undefined || !namespacePattern.test(uri) || Number(namespacePattern.exec(uri)![1]) < 2) {
    return err({
      line: linesOf(content.slice(0, root.index + 1), /</).at(-1) ?? 1,
      message: `not a camt.053 document: namespace "${uri ?? '(none)'}", expected urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 or later`,
    });
  }
  return ok(uri);
}

function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object' && '#text' in node) return String((node as Node)['#text']);
  return undefined;
}

function dateOf(node: unknown): string | undefined {
  const n = node as Node | undefined;
  const value = text(n?.Dt) ?? text(n?.DtTm)?.slice(0, 10);
  return value !== undefined && isCalendarDate(value) ? value : undefined;
}

/** An amount element (`<Amt Ccy="EUR">10.50</Amt>`), signed by its CdtDbtInd sibling. */
function signedAmount(holder: Node, where: string): { amount: bigint; currency: string } | string {
  const amt = holder.Amt as Node | string | undefined;
  const currency = typeof amt === 'object' ? String(amt['@_Ccy'] ?? '') : '';
  const value = text(amt);
  if (value === undefined || currency === '') return `${where}: Amt with a Ccy attribute is missing`;
  if (!parseCurrency(currency).ok) return `${where}: currency "${currency}" is not a supported ISO-4217 code`;
  const minor = decimalToMinor(value, currency, '.');
  if (typeof minor === 'string') return `${where}: ${minor}`;
  const indicator = text(holder.CdtDbtInd);
  if (indicator !== 'CRDT' && indicator !== 'DBIT')
    return `${where}: CdtDbtInd must be CRDT or DBIT, got "${indicator ?? ''}"`;
  return { amount: indicator === 'CRDT' ? minor : -minor, currency };
}

function balance(
  stmt: Node,
  codes: readonly string[],
  where: string,
): { amount: bigint; currency: string; date: string | undefined } | string | null {
  const found = ((stmt.Bal as Node[] | undefined) ?? []).find((b) =>
    codes.includes(text(((b.Tp as Node | undefined)?.CdOrPrtry as Node | undefined)?.Cd) ?? ''),
  );
  if (!found) return null;
  const amount = signedAmount(found, `${where} balance ${codes[0]}`);
  return typeof amount === 'string' ? amount : { ...amount, date: dateOf(found.Dt) };
}

function readStatement(
  stmt: Node,
  index: number,
  line: number,
  entryLines: readonly number[],
  firstEntry: number,
): Result<BankStatement, StatementError> {
  const where = `Stmt ${index}${text(stmt.Id) ? ` (Id ${text(stmt.Id)})` : ''}`;
  const opening = balance(stmt, ['OPBD', 'PRCD'], where);
  const closing = balance(stmt, ['CLBD'], where);
  if (typeof opening === 'string') return err({ line, message: opening });
  if (typeof closing === 'string') return err({ line, message: closing });
  if (opening === null || closing === null)
    return err({ line, message: `${where} needs an opening (OPBD or PRCD) and a closing (CLBD) balance` });
  const currency = text((stmt.Acct as Node | undefined)?.Ccy) ?? closing.currency;
  if (opening.currency !== currency || closing.currency !== currency)
    return err({
      line,
      message: `${where}: balances in ${opening.currency}/${closing.currency}, the account is in ${currency}`,
    });
  const businessDate = closing.date ?? text(stmt.CreDtTm)?.slice(0, 10);
  if (businessDate === undefined || !isCalendarDate(businessDate))
    return err({ line, message: `${where}: the closing balance has no date (Bal/Dt/Dt)` });
  const lines: StatementLine[] = [];
  for (const [j, entry] of ((stmt.Ntry as Node[] | undefined) ?? []).entries()) {
    const lineNumber = entryLines[firstEntry + j] ?? line;
    const read = readEntry(entry, `${where} Ntry ${j + 1}`, currency, businessDate, lineNumber);
    if (typeof read === 'string') return err({ line: lineNumber, message: read });
    lines.push(read);
  }
  const statement: BankStatement = {
    businessDate,
    currency,
    openingBalance: opening.amount,
    closingBalance: closing.amount,
    lines,
  };
  const sums = addsUp(statement, where, line);
  return sums.ok ? ok(statement) : sums;
}

function readEntry(
  entry: Node,
  where: string,
  currency: string,
  businessDate: string,
  lineNumber: number,
): StatementLine | string {
  const amount = signedAmount(entry, where);
  if (typeof amount === 'string') return amount;
  if (amount.currency !== currency) return `${where}: an entry in ${amount.currency} on a statement in ${currency}`;
  // Sts is text in 001.02 (BOOK) and a code element from 001.08 on (<Sts><Cd>BOOK</Cd></Sts>): only booked entries move
  // the balance.
  const status = text(entry.Sts) ?? text((entry.Sts as Node | undefined)?.Cd) ?? 'BOOK';
  if (status !== 'BOOK') return `${where}: status ${status}; a statement holds booked (BOOK) entries only`;
  // A reversal (RvslInd true) is booked on the other side already by its CdtDbtInd: nothing to flip here.
  const details = ((entry.NtryDtls as Node | undefined)?.TxDtls as Node[] | undefined) ?? [];
  const refs = (details[0]?.Refs as Node | undefined) ?? {};
  const externalRef = referenceOf(
    text(refs.EndToEndId),
    text(refs.AcctSvcrRef),
    text(refs.TxId),
    text(entry.AcctSvcrRef),
    text(entry.NtryRef),
  );
  const valueDate = dateOf(entry.BookgDt) ?? dateOf(entry.ValDt) ?? businessDate;
  return {
    lineNumber,
    externalRef,
    currency,
    valueDate,
    amount: amount.amount < 0n ? -amount.amount : amount.amount,
    direction: amount.amount < 0n ? 'DEBIT' : 'CREDIT',
  };
}
