/**
 * Which statement lines count on a day, pure. A line counts on the day the bank booked it (its own date: camt's
 * BookgDt, MT940's entry date, a CSV's date), on whichever imported statement holds it: a statement of several days
 * (Deutsche Bank's month, a weekly MT940 record) is not all money of its closing date.
 *
 * Two statements of one account whose days overlap (the day's statement and the month's, a weekly one beside the daily
 * ones) are two reports of the same bookings, not twice the money: the bank's month statement repeats what its day
 * statements said. So of a day's lines of an account and currency, a line (its direction, amount and reference) held
 * by several statements counts as often as the statement holding it most often holds it; the copies kept are those of
 * the statement nearest the day (the day's own, else the one that closed soonest after it, else the latest before),
 * then what a farther one holds beyond them. Taking the nearest statement's lines alone lost a line only a later one
 * holds (a back-valued line, dated by its value date where the bank gives no booking date: the day's statement
 * imported beside the next day's, its money was never counted, silently). A line the two statements tell apart (a
 * reference cut short) counts twice: an exception an operator sees, where a line dropped is money no one sees.
 * Statements of one closing date are all taken, as ever (importStatement's CSV beside a bank file of the same day).
 */
export interface HeldLine {
  currency: string;
  /** The day the bank booked the line (statement_lines.value_date). */
  valueDate: string;
  direction: string;
  amount: bigint;
  externalRef: string | null;
  /** The statement holding it: its channel, account ('' when none is registered) and closing date. */
  statement: { channel: string; account: string; businessDate: string };
}

/** The lines that count, in their order: of each account, currency and day, each line as often as one date holds it. */
export function countedOnce<L extends HeldLine>(lines: readonly L[]): L[] {
  const days = new Map<string, Map<string, L[]>>();
  for (const line of lines) {
    const key = dayOf(line);
    const byDate = days.get(key) ?? new Map<string, L[]>();
    days.set(key, byDate);
    const held = byDate.get(line.statement.businessDate);
    // Appended in place: a copy per line was quadratic in a day's lines (an upload holds up to uploadEntriesMax).
    if (held) held.push(line);
    else byDate.set(line.statement.businessDate, [line]);
  }
  const kept = new Set<L>();
  for (const byDate of days.values()) {
    const day = byDate.values().next().value![0]!.valueDate;
    const dates = [...byDate.keys()].sort((a, b) => (nearer(a, b, day) ? -1 : nearer(b, a, day) ? 1 : 0));
    const counted = new Map<string, number>();
    for (const date of dates) {
      const held = new Map<string, number>();
      for (const line of byDate.get(date)!) {
        const identity = identityOf(line);
        const n = (held.get(identity) ?? 0) + 1;
        held.set(identity, n);
        if (n > (counted.get(identity) ?? 0)) kept.add(line);
      }
      for (const [identity, n] of held) counted.set(identity, Math.max(n, counted.get(identity) ?? 0));
    }
  }
  return lines.filter((line) => kept.has(line));
}

function identityOf(line: HeldLine): string {
  return [line.direction, line.amount, line.externalRef ?? ''].join('\u0000');
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
