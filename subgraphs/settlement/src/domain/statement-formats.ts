import { groupBy } from '@paygraph/shared/collections';
import { statementBytesMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import { spanOf, type BankStatement, type StatementError } from './bank-statement';
import { accountKey } from './channel-accounts';
import { parseCamt053 } from './statement-camt';
import { parseStatementCsv } from './statement-csv';
import { parseMt940 } from './statement-mt940';
import { chunksOf, type StatementSource } from './statement-source';

export type StatementFormat = 'CSV' | 'CAMT053' | 'MT940';

/**
 * A channel's file in the format it says it is, as statements: the whole file or nothing. The
 * file is read once, chunk by chunk (camt.053 and MT940 keep only the statements they read, not
 * the text), and refused at the first entry past `entriesMax`. Text sent inline is checked
 * against statementBytesMax by the caller before it comes here (withinSize); an upload has its
 * own bound. A CSV carries no balances: its lines make one statement per date (the line's) and currency.
 * One file holds one statement per account, span (opening and closing date) and currency at most.
 */
export async function parseBankStatements(
  format: StatementFormat,
  source: StatementSource,
  entriesMax: number,
): Promise<Result<BankStatement[], StatementError>> {
  const statements = await readFormat(format, source, entriesMax);
  if (!statements.ok) return statements;
  const seen = new Map<string, BankStatement>();
  for (const s of statements.value) {
    const key = `${s.account === null ? '' : accountKey(s.account)} ${s.openingDate} ${s.businessDate} ${s.currency ?? ''}`;
    const earlier = seen.get(key);
    const span = spanOf(s);
    if (earlier !== undefined)
      return err({
        line: s.line,
        message: `two statements of ${s.account === null ? '' : `account ${s.account}, `}${span} ${s.currency ?? ''} in one file (the first at line ${earlier.line})`,
      });
    seen.set(key, s);
  }
  return statements;
}

async function readFormat(
  format: StatementFormat,
  source: StatementSource,
  entriesMax: number,
): Promise<Result<BankStatement[], StatementError>> {
  switch (format) {
    case 'CAMT053':
      return parseCamt053(source, entriesMax);
    case 'MT940':
      return parseMt940(source, entriesMax);
    case 'CSV': {
      const text = await csvText(source);
      if (!text.ok) return text;
      const lines = parseStatementCsv(text.value, { bankFile: true });
      if (!lines.ok) return lines;
      const byDate = groupBy(lines.value, (l) => `${l.valueDate} ${l.currency}`);
      return ok(
        [...byDate.values()].map((same) => ({
          account: null,
          businessDate: same[0]!.valueDate,
          openingDate: same[0]!.valueDate,
          currency: same[0]!.currency,
          openingBalance: null,
          closingBalance: null,
          lines: same,
          entries: same.length,
          line: same[0]!.lineNumber,
        })),
      );
    }
  }
}

/**
 * A CSV is read whole (csv-parse's synchronous API, shared with importStatement) and within the
 * CSV's limit however it came: a bank's large file comes as camt.053 or MT940.
 */
async function csvText(source: StatementSource): Promise<Result<string, StatementError>> {
  if (typeof source === 'string') return ok(source);
  let text = '';
  for await (const chunk of chunksOf(source)) {
    text += chunk;
    if (text.length > statementBytesMax)
      return err({ line: 0, message: `a CSV statement is larger than ${statementBytesMax} bytes` });
  }
  return ok(text);
}
