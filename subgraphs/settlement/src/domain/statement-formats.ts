import { groupBy } from '@paygraph/shared/collections';
import { err, ok, type Result } from '@paygraph/shared/result';
import {
  inlineStatementLimits,
  withinLineCount,
  withinSize,
  type BankStatement,
  type StatementError,
  type StatementLimits,
} from './bank-statement';
import { parseCamt053 } from './statement-camt';
import { parseStatementCsv } from './statement-csv';
import { parseMt940 } from './statement-mt940';

export type StatementFormat = 'CSV' | 'CAMT053' | 'MT940';

/**
 * A channel's file in the format it says it is, as statements: the whole file or nothing. Its
 * size is checked before it is read, its entries' count after, both against `limits` (a file sent inline: the CSV's).
 * A CSV carries no balances: its lines make one statement per date (the line's) and currency.
 */
export function parseBankStatements(
  format: StatementFormat,
  content: string,
  limits: StatementLimits = inlineStatementLimits,
): Result<BankStatement[], StatementError> {
  const size = withinSize(content, limits);
  if (!size.ok) return size;
  const statements = readFormat(format, content, limits);
  if (!statements.ok) return statements;
  const count = withinLineCount(statements.value, limits);
  if (!count.ok) return count;
  const dates = groupBy(statements.value, (s) => `${s.businessDate} ${s.currency ?? ''}`);
  for (const [key, same] of dates) {
    if (same.length > 1)
      return err({ line: same[1]!.lines[0]?.lineNumber ?? 0, message: `two statements of ${key} in one file` });
  }
  return statements;
}

function readFormat(
  format: StatementFormat,
  content: string,
  limits: StatementLimits,
): Result<BankStatement[], StatementError> {
  switch (format) {
    case 'CAMT053':
      return parseCamt053(content);
    case 'MT940':
      return parseMt940(content);
    case 'CSV': {
      const lines = parseStatementCsv(content, { bankFile: true, limits });
      if (!lines.ok) return lines;
      const byDate = groupBy(lines.value, (l) => `${l.valueDate} ${l.currency}`);
      return ok(
        [...byDate.values()].map((same) => ({
          businessDate: same[0]!.valueDate,
          currency: same[0]!.currency,
          openingBalance: null,
          closingBalance: null,
          lines: same,
        })),
      );
    }
  }
}
