import { createHash } from 'node:crypto';
import { countedOnce, type HeldLine } from './booked-lines';

/**
 * The keys of statement lines, pure. A line's exceptions are recorded under its key (channel-report.ts lineSubject, and
 * matchSubject for a match it is in), so a key must name the same line in every run: it is the line's content on the
 * day it was booked and its place among the identical lines of that day, in the order they are read. Importing the
 * same file again, or the day's statement beside the month's that repeats it, names the same lines.
 */

/** The counted lines (booked-lines.ts), in their order, each with its key. */
export function keyedLines<L extends HeldLine>(held: readonly L[]): Array<{ line: L; key: string }> {
  const counted = countedOnce(held);
  const places = placesOn(counted, (line) => line.valueDate);
  return counted.map((line, i) => ({ line, key: lineKey(line, line.valueDate, places[i]!) }));
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
  const seen = new Map<string, number>();
  return lines.map((line) => {
    const content = contentOn(line, dateOf(line));
    const place = (seen.get(content) ?? 0) + 1;
    seen.set(content, place);
    return place;
  });
}
