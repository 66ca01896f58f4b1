import { dateYearMax, dateYearMin } from '@paygraph/shared/limits';
import { assert } from '@paygraph/shared/result';

/** Business dates (YYYY-MM-DD, UTC days) as matching weighs them: a day's number, and a date some days away. */
const dayMs = 86_400_000;

export function dayNumber(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / dayMs;
}

/** The first and last day a date may be (a DATE column's), as day numbers. */
export const firstDay = dayNumber(`${dateYearMin}-01-01`);
export const lastDay = dayNumber(`${dateYearMax}-12-31`);

/** The date `days` after `date`; asserts it is one (years dateYearMin-dateYearMax): leaving them is a caller's bug. */
export function addDays(date: string, days: number): string {
  const day = dayNumber(date) + days;
  assert(day >= firstDay && day <= lastDay, `addDays(${date}, ${days}) leaves the years ${dateYearMin}-${dateYearMax}`);
  return new Date(day * dayMs).toISOString().slice(0, 10);
}

/**
 * The days within `days` of `date` each side, as reconciliation reads them: a window may not start before the first day a
 * date may be (nothing is dated earlier), and its end must be a date, which a date up to statementDateMax keeps with the
 * widest window (settlement's limits.ts asserts it); a later one is refused before (Query.channelReconciliation).
 */
export function dateWindow(date: string, days: number): { fromDate: string; toDate: string } {
  return { fromDate: addDays(date, -Math.min(days, dayNumber(date) - firstDay)), toDate: addDays(date, days) };
}
