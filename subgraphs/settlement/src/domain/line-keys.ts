import { createHash } from 'node:crypto';
import { countedOnce, type HeldLine } from './booked-lines';

/**
 * The keys of statement lines, pure. A line's exceptions are recorded under its key (channel-report.ts lineSubject, and
 * matchSubject for a match it is in), so a key must name the same line in every run: it is the line's account, its
 * content on the day it was booked and its place among its account's identical lines of that day, in the order they
 * are read. Importing the same file again, or the day's statement beside the month's that repeats it, names the same
 * lines; importing another account's statement names no line otherwise, whatever its statement's id (a hash) sorts.
 *
 * Two schemes came before, and the exceptions recorded under them are found again (legacy-subjects.ts), else a run
 * opens another exception for the same line and an operator resolving both posts its money twice:
 * - "shared places", from c3452ee until keys named their account: no account, and a place counted among every
 *   account's identical lines of the day in the order read. Another account's statement imported later whose id
 *   sorted first took the places before an existing line's: B's fee resolved as BANK_FEE under place 1, A's
 *   identical fee read first became place 1 (shown resolved, never posted) and B's place 2, a new exception whose
 *   BANK_FEE posted B's fee again.
 * - "statement date", before c3452ee: the date the line's statement closed on in place of its booking day, its place
 *   among the identical lines of the statements closing on that date. For a one-day statement's line the two dates are
 *   one. The n-th of a day's identical lines of an account on a statement's date is the n-th of the account's counted
 *   now: both number the same bookings in the order read, and the lines counted now hold at least as many of them as
 *   any statement date held (booked-lines.ts keeps the most any statement holds).
 * A key now hashes a text that begins "account:", which no text of before does (they begin with a channel, which holds
 * no colon: shared channels.ts), so no key now is a key of before and a row moved never moves again.
 */

/** Which scheme a key of before is of (see above). */
export type KeyScheme = 'shared-places' | 'statement-date';

/** A line's key now, a key it had before in `scheme`, and the day it was booked on. */
export interface LineKeys {
  key: string;
  legacyKey: string;
  day: string;
  scheme: KeyScheme;
  /**
   * Of a statement-date key of a copy on its own date's statement whose place changed: that key is also the
   * shared-places key of another line (legacyLineKeys says when), so a row under it may be either line's.
   */
  ownDate?: true;
}

/**
 * The counted lines (booked-lines.ts), in their order, each with its key and its shared-places key (`order`: what
 * matching breaks ties by, as it broke them by the key then; matching.ts BankLine.order).
 */
export function keyedLines<L extends HeldLine>(held: readonly L[]): Array<{ line: L; key: string; order: string }> {
  const counted = countedOnce(held);
  const places = placesBy(counted, accountContent);
  const shared = sharedPlacesKeys(counted);
  return counted.map((line, i) => ({ line, key: keyOf(line, places[i]!), order: shared[i]! }));
}

/** Each line's shared-places key: its place among the day's identical lines of every account, in their order. */
function sharedPlacesKeys(lines: readonly HeldLine[]): string[] {
  const places = placesOn(lines, (line) => line.valueDate);
  return lines.map((line, i) => lineKey(line, line.valueDate, places[i]!));
}

/**
 * The keys of before of the lines read: each counted line's shared-places key (`order`, its place among the day's
 * identical lines of every account in the order read), then the statement-date keys that are not already those
 * (legacyCopyKeys). `counted` is keyedLines of every line booked on each of its days, every statement's.
 * A shared-places key is the place's, not the line's: where another account's identical line read before it was
 * imported before a run of this code covered the day (re-keying is done by the runs, not at start-up), a row recorded
 * under that place sits on the line holding the place now, and goes with that line, as it did before; nothing stored
 * tells otherwise for sure (a row names no account). B's fee resolved under place 1, then A's identical fee read
 * first imported: B's row goes with A's line, and B's line (place 2) with the row a run opened for it there since, if
 * any. Once moved, no import shifts a row again.
 */
export function legacyLineKeys(
  lines: readonly HeldLine[],
  counted: ReadonlyArray<{ line: HeldLine; key: string; order: string }>,
): LineKeys[] {
  const shared = counted.map((c) => c.order);
  return [
    ...counted.map(({ line, key }, i) => ({
      key,
      legacyKey: shared[i]!,
      day: line.valueDate,
      scheme: 'shared-places' as const,
    })),
    ...legacyCopyKeys(lines, counted, shared),
  ];
}

/**
 * Of the lines read, counted or not (a copy of the month's beside the day's statement had its exceptions too), the
 * statement-date keys: each one's key before c3452ee beside its key now. Every copy, not only the one counted now: the
 * old runs read each statement's copy (the day's statement imported since the month's is counted now, while the
 * exceptions recorded then are the month copy's). `lines` holds every line of each statement date and booking day it
 * holds any of, in the order read, as the runs before c3452ee read them (their statements' ids, then line numbers), so
 * that a key of before counts its place as they counted it: among its statement date's lines of its content, whatever
 * their account.
 *
 * Its key now is its counterpart's among `counted`: the copy that is the k-th of its statement date's lines of its
 * account and content is the k-th counted line of its account and content on its day. Not its place among its
 * statement date's lines: two accounts' identical lines of a day on statements of two dates were each place 1 there
 * (26393c0). A copy without a counterpart gives nothing: its rows stay where they are.
 *
 * A copy on its own date's statement (`ownDate`) whose statement-date key is its line's shared-places key gives
 * nothing: that key is found as a shared-places one. Its key differs where another account's line of its content on
 * another statement of its day, read before it (that account's month, its statement id the lower), took a place before
 * it since c3452ee (its place then counted its date's statements only); its key of before is then that line's
 * shared-places key too, an old subject claimed by two schemes (legacy-subjects.ts rekeyPlan says which line gets it).
 */
function legacyCopyKeys(
  lines: readonly HeldLine[],
  counted: ReadonlyArray<{ line: HeldLine; key: string }>,
  shared: readonly string[],
): LineKeys[] {
  const legacyPlaces = placesOn(lines, (line) => line.statement.businessDate);
  const counterparts = new Map<string, number[]>();
  counted.forEach(({ line }, i) => {
    const group = accountContent(line);
    const held = counterparts.get(group);
    if (held) held.push(i);
    else counterparts.set(group, [i]);
  });
  const copies = placesBy(lines, (line) => `${line.statement.businessDate}|${accountContent(line)}`);
  const found: LineKeys[] = [];
  lines.forEach((line, i) => {
    const at = counterparts.get(accountContent(line))?.[copies[i]! - 1];
    if (at === undefined) return;
    const legacyKey = lineKey(line, line.statement.businessDate, legacyPlaces[i]!);
    if (legacyKey === shared[at]) return;
    const ownDate = line.statement.businessDate === line.valueDate;
    const key = counted[at]!.key;
    found.push({ key, legacyKey, day: line.valueDate, scheme: 'statement-date', ...(ownDate ? { ownDate } : {}) });
  });
  return found;
}

/** A line's account and its content on its booking day: the lines its place counts among. */
function accountContent(line: HeldLine): string {
  return `${line.statement.account}|${contentOn(line, line.valueDate)}`;
}

/** A key now: the hash of "account:", the line's account, its content on its booking day and its place. */
function keyOf(line: HeldLine, place: number): string {
  return hashed(`account:${accountContent(line)}|${place}`);
}

/** A key of before: the line's channel, the date given, its content and its place. */
function lineKey(line: HeldLine, date: string, place: number): string {
  return hashed(`${contentOn(line, date)}|${place}`);
}

function hashed(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
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
