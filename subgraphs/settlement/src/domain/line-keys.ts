import { createHash } from 'node:crypto';
import { countedOnce, type HeldLine } from './booked-lines';

/**
 * The keys of statement lines, pure. A line's exceptions are recorded under its key (channel-report.ts lineSubject, and
 * matchSubject for a match it is in), so a key must name the same line in every run: it is the line's content on the
 * day it was booked and its place among the identical lines of that day, in the order they are read. Importing the
 * same file again, or the day's statement beside the month's that repeats it, names the same lines.
 *
 * Before c3452ee a key named the date the line's statement closed on in place of its booking day (a line was that
 * date's then), and its place counted the identical lines of the statements closing on that date. For a one-day
 * statement's line the two dates are one, and so are the two keys. A line of a statement of several days (Deutsche
 * Bank's month, an MT940 week) or a back-valued line had another key, and the exceptions recorded for it then are under
 * that key: a run re-keys them (legacy-subjects.ts), else it opens another exception for the same line and an operator
 * resolving both posts its money twice. The n-th of a day's identical lines of an account on a statement's date is
 * the n-th of the account's counted now: both number the same bookings in the order read, and the lines counted now
 * hold at least as many of them as any statement date held (booked-lines.ts keeps the most any statement holds).
 */

/** A line's key now, and the key the same place had before c3452ee on the date its statement closed on. */
export interface LineKeys {
  key: string;
  legacyKey: string;
}

/** The counted lines (booked-lines.ts), in their order, each with its key. */
export function keyedLines<L extends HeldLine>(held: readonly L[]): Array<{ line: L; key: string }> {
  const counted = countedOnce(held);
  const places = placesOn(counted, (line) => line.valueDate);
  return counted.map((line, i) => ({ line, key: lineKey(line, line.valueDate, places[i]!) }));
}

/**
 * Of the lines read, counted or not (a copy of the month's beside the day's statement had its exceptions too), those
 * whose key changed: each one's key before c3452ee, its key now, and its day. Every copy, not only the one counted now:
 * the old runs read each statement's copy (the day's statement imported since the month's is counted now, its key
 * unchanged, while the exceptions recorded then are the month copy's). `lines` holds every line of each statement date
 * and booking day it holds any of, in the order read, as the runs before c3452ee read them (their statements' ids, then
 * line numbers), so that a key of before counts its place as they counted it: among its statement date's lines of its
 * content, whatever their account.
 *
 * Its key now is its counterpart's, among `counted` (keyedLines of every line booked on each of its days, every
 * statement's): the copy that is the k-th of its statement date's lines of its account and content is the k-th counted
 * line of its account and content on its day. Not its place among its statement date's lines: two accounts' identical
 * lines of a day on statements of two dates were each place 1 there, and a copy's row landed on the other account's
 * line (a fee of each, both posted: the second kept its old subject and its line's new exception posted it again). A
 * copy without a counterpart gives nothing: its rows stay where they are.
 *
 * A copy on its own date's statement (`ownDate`) is found so too. Its key changed where another account's line of its
 * content on another statement of its day, read before it (that account's month, its statement id the lower), now
 * takes a place before it: its place then counted its date's statements only. Its key of before is a key now too, that
 * line's, so a row under it may be either line's (legacy-subjects.ts rekeyPlan says when it moves).
 */
export function legacyLineKeys(
  lines: readonly HeldLine[],
  counted: ReadonlyArray<{ line: HeldLine; key: string }>,
): Array<LineKeys & { day: string; ownDate?: true }> {
  const legacyPlaces = placesOn(lines, (line) => line.statement.businessDate);
  const keysNow = new Map<string, string[]>();
  for (const { line, key } of counted) {
    const group = accountContent(line);
    const keys = keysNow.get(group);
    if (keys) keys.push(key);
    else keysNow.set(group, [key]);
  }
  const copies = placesBy(lines, (line) => `${line.statement.businessDate}|${accountContent(line)}`);
  const found: Array<LineKeys & { day: string; ownDate?: true }> = [];
  lines.forEach((line, i) => {
    const ownDate = line.statement.businessDate === line.valueDate;
    const key = keysNow.get(accountContent(line))?.[copies[i]! - 1];
    if (key === undefined) return;
    const legacyKey = lineKey(line, line.statement.businessDate, legacyPlaces[i]!);
    if (legacyKey !== key) found.push({ key, legacyKey, day: line.valueDate, ...(ownDate ? { ownDate } : {}) });
  });
  return found;
}

/** A line's account and its content on its booking day: the lines a copy's counterpart is among. */
function accountContent(line: HeldLine): string {
  return `${line.statement.account}|${contentOn(line, line.valueDate)}`;
}

/** What a key hashes: the line's channel, the date given, its content and its place. */
function lineKey(line: HeldLine, date: string, place: number): string {
  return createHash('sha256')
    .update(`${contentOn(line, date)}|${place}`)
    .digest('hex')
    .slice(0, 32);
}

function contentOn(line: HeldLine, date: string): string {
  return `${line.statement.channel}|${date}|${line.currency}|${line.direction}|${line.amount}|${line.externalRef}|${line.valueDate}`;
}

/** Each line's place (1, 2, …) among the lines of the same content on the date `dateOf` gives it, in their order. */
function placesOn<L extends HeldLine>(lines: readonly L[], dateOf: (line: L) => string): number[] {
  return placesBy(lines, (line) => contentOn(line, dateOf(line)));
}

/** Each line's place (1, 2, …) among the lines of the same `groupOf`, in their order. */
function placesBy<L>(lines: readonly L[], groupOf: (line: L) => string): number[] {
  const seen = new Map<string, number>();
  return lines.map((line) => {
    const group = groupOf(line);
    const place = (seen.get(group) ?? 0) + 1;
    seen.set(group, place);
    return place;
  });
}
