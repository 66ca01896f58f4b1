import { addDays } from '@paygraph/shared/business-date';
import { err, ok, type Result } from '@paygraph/shared/result';
import { statementDatesMax } from '../limits';

/**
 * An account statement: one line per business date, built from the daily summary the posting
 * transaction keeps (`account_days`, one row per account — per stripe for a merchant — and
 * business date it moved on). Credits are the sum of the date's positive entries, debits the
 * sum of its negative entries as a positive number; a date's closing is the next date's opening,
 * and the first opening is the sum of every earlier date's credits less its debits.
 */
export interface StatementLine {
  businessDate: string;
  opening: bigint;
  credits: bigint;
  debits: bigint;
  closing: bigint;
  entryCount: bigint;
}

/** One summary row, for one stripe and date: several stripes' rows of a date are added up. */
export interface DayTotals {
  businessDate: string;
  credits: bigint;
  debits: bigint;
  entryCount: bigint;
}

export type StatementRangeRefusal =
  { kind: 'FromAfterTo'; from: string; to: string } | { kind: 'RangeTooLong'; dates: number };

/**
 * The dates from `from` to `to` inclusive; at most statementDatesMax of them. Counted, not walked while `date <= to`: the
 * day after `to` may be no date (after '9999-12-31' comes '+010000-01-01', which sorts before it, so such a walk never
 * ended and a range to 9999-12-31 was refused as RangeTooLong).
 */
export function statementDates(from: string, to: string): Result<string[], StatementRangeRefusal> {
  if (from > to) return err({ kind: 'FromAfterTo', from, to });
  const count = daysBetween(from, to) + 1;
  if (count > statementDatesMax) return err({ kind: 'RangeTooLong', dates: count });
  return ok(Array.from({ length: count }, (_, i) => addDays(from, i)));
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

export function statementRangeMessage(refusal: StatementRangeRefusal): string {
  switch (refusal.kind) {
    case 'FromAfterTo':
      return `statement: from (${refusal.from}) is after to (${refusal.to})`;
    case 'RangeTooLong':
      return `statement: ${refusal.dates} dates asked, at most ${statementDatesMax} per statement`;
  }
}

/** The lines, given the opening balance of the first date and the summary rows of the range. */
export function buildStatement(dates: readonly string[], opening: bigint, days: readonly DayTotals[]): StatementLine[] {
  const byDate = new Map<string, DayTotals>();
  for (const day of days) {
    const seen = byDate.get(day.businessDate);
    byDate.set(
      day.businessDate,
      seen
        ? {
            businessDate: day.businessDate,
            credits: seen.credits + day.credits,
            debits: seen.debits + day.debits,
            entryCount: seen.entryCount + day.entryCount,
          }
        : day,
    );
  }
  let balance = opening;
  return dates.map((businessDate) => {
    const day = byDate.get(businessDate);
    const credits = day?.credits ?? 0n;
    const debits = day?.debits ?? 0n;
    const line = {
      businessDate,
      opening: balance,
      credits,
      debits,
      closing: balance + credits - debits,
      entryCount: day?.entryCount ?? 0n,
    };
    balance = line.closing;
    return line;
  });
}
