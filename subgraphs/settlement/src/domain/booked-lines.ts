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
 * A statement is its span (opening and closing date): the month's and the day's own closing on the same day are two
 * (the day's nearer, its span the shorter), and statements of one span are all taken, as ever (importStatement's CSV
 * beside a bank file of the same day).
 */
export interface HeldLine {
  currency: string;
  /** The day the bank booked the line (statement_lines.value_date). */
  valueDate: string;
  direction: string;
  amount: bigint;
  externalRef: string | null;
  /**
   * The statement holding it: its channel, account ('' when none is registered), closing date and opening date (its
   * span's first; absent, its closing date).
   */
  statement: { channel: string; account: string; businessDate: string; openingDate?: string };
}

/** The lines that count, in their order: of each account, currency and day, each line as often as one date holds it. */
export function countedOnce<L extends HeldLine>(lines: readonly L[]): L[] {
  const days = new Map<string, Map<string, L[]>>();
  for (const line of lines) {
    const key = dayOf(line);
    const bySpan = days.get(key) ?? new Map<string, L[]>();
    days.set(key, bySpan);
    const span = spanOf(line);
    const held = bySpan.get(span);
    // Appended in place: a copy per line was quadratic in a day's lines (an upload holds up to uploadEntriesMax).
    if (held) held.push(line);
    else bySpan.set(span, [line]);
  }
  const kept = new Set<L>();
  for (const bySpan of days.values()) {
    const day = bySpan.values().next().value![0]!.valueDate;
    const spans = [...bySpan.keys()].sort((a, b) => (nearer(a, b, day) ? -1 : nearer(b, a, day) ? 1 : 0));
    const counted = new Map<string, number>();
    for (const span of spans) {
      const held = new Map<string, number>();
      for (const line of bySpan.get(span)!) {
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

/** A statement's span as countedOnce orders it: its closing date, then its opening date. */
function spanOf(line: HeldLine): string {
  return `${line.statement.businessDate} ${line.statement.openingDate ?? line.statement.businessDate}`;
}

/**
 * Whether span `a` is nearer the booking `day` than `b`: by closing date, one on or after the day first, the soonest;
 * of one closing date, the later opening (the day's own statement before the month's).
 */
function nearer(a: string, b: string, day: string): boolean {
  const [aClosing, aOpening] = a.split(' ') as [string, string];
  const [bClosing, bOpening] = b.split(' ') as [string, string];
  if (aClosing === bClosing) return aOpening > bOpening;
  const aAfter = aClosing >= day;
  if (aAfter !== bClosing >= day) return aAfter;
  return aAfter ? aClosing < bClosing : aClosing > bClosing;
}
