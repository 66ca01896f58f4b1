/**
 * Which statement lines count on a day, pure. A line counts on the day the bank booked it (its own date: camt's
 * BookgDt, MT940's entry date, a CSV's date), on whichever imported statement holds it: a statement of several days
 * (Deutsche Bank's month, a weekly MT940 record) is not all money of its closing date.
 *
 * Two statements of one account whose days overlap (the day's statement and the month's, a weekly one beside the daily
 * ones) are two reports of the same bookings, not twice the money: the bank's month statement repeats what its day
 * statements said. So a day's lines of an account and currency are read from the statements of one closing date, the
 * one nearest the day: the day's own statement when it was imported, else the one that closed soonest after the day
 * (else, for a line booked after its statement closed, the latest before it). Statements of one closing date are all
 * taken, as ever (importStatement's CSV beside a bank file of the same day). A statement of one day whose lines are of
 * that day, the common case, is taken whole.
 */
export interface HeldLine {
  currency: string;
  /** The day the bank booked the line (statement_lines.value_date). */
  valueDate: string;
  /** The statement holding it: its channel, account ('' when none is registered) and closing date. */
  statement: { channel: string; account: string; businessDate: string };
}

/** The lines that count, in their order: of each account, currency and day, those of its nearest statement's date. */
export function countedOnce<L extends HeldLine>(lines: readonly L[]): L[] {
  const nearest = new Map<string, string>();
  for (const line of lines) {
    const key = dayOf(line);
    const best = nearest.get(key);
    if (best === undefined || nearer(line.statement.businessDate, best, line.valueDate))
      nearest.set(key, line.statement.businessDate);
  }
  return lines.filter((line) => nearest.get(dayOf(line)) === line.statement.businessDate);
}

function dayOf(line: HeldLine): string {
  return [line.statement.channel, line.statement.account, line.currency, line.valueDate].join('\u0000');
}

/** Whether closing date `a` is nearer the booking `day` than `b`: one on or after the day first, the soonest. */
function nearer(a: string, b: string, day: string): boolean {
  const aAfter = a >= day;
  if (aAfter !== b >= day) return aAfter;
  return aAfter ? a < b : a > b;
}
