import mysql from 'mysql2/promise';
import { invariantBroken } from '../result';

/**
 * A multi-row INSERT's VALUES list written as mysql2 would bind it (sql-escaper's format of `VALUES ?` with an array of
 * row arrays), for the values the posting path sends: strings, numbers, bigints, booleans, null and SQL texts (a
 * DATETIME's kept literal, db/raw.ts). sql-escaper makes a quoted copy of every string and a partial string for every
 * piece it appends; the inserts' binding was 12% of the bytes the transaction subgraph allocated in a-max and a-70, the
 * most of any one path. Here the list is pieces in one array, each value's own string referenced rather than copied,
 * joined once. Measured (docs/PERFORMANCE.md, "Where each process's CPU goes"): the transaction subgraph's bytes a
 * payment 162.5, 157.6 → 148.9, 146.0 KB (A B A B), and 500 entry rows 2.7–3.0 → 1.2 µs a row.
 * A value of any other kind (a Buffer, a Date not yet made text) answers null, and the caller binds the rows as before.
 */

/** What sql-escaper escapes in a string (its escapeChars): a string with none of them is quoted as it is. */
// eslint-disable-next-line no-control-regex
const needsEscape = /[\0\b\t\n\r\x1a"'\\]/;

/**
 * The text before a value, by where it goes and whether the last value and this one are strings written as they are:
 * the last one's closing quote, the separator and this one's opening quote in one constant string, never made per row.
 * Indexed by (last quoted ? 2 : 0) + (this quoted ? 1 : 0).
 */
const before = {
  firstRow: ['(', "('", '(', "('"],
  nextRow: ['), (', "), ('", "'), (", "'), ('"],
  inRow: [', ', ", '", "', ", "', '"],
} as const;

/** Whether a value is written as a string between quotes (and then the value itself is the piece). */
function quotedAsIs(value: unknown): value is string {
  return typeof value === 'string' && !needsEscape.test(value);
}

/**
 * The SQL for one value other than a string written as it is, exactly as sql-escaper's escapeValue writes it inside a
 * list; undefined for a kind this does not write (the caller then binds the whole statement with sql-escaper).
 */
function valueText(value: unknown): string | undefined {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return `${value}`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return mysql.escape(value);
    case 'object':
      // mysql.raw's text (a plain object); sql-escaper asks it with no SQL mode, as mysql2 binds.
      if (isSqlText(value)) return String(value.toSqlString(undefined));
      return undefined;
    default:
      return undefined;
  }
}

function isSqlText(value: object): value is { toSqlString: (mode?: unknown) => unknown } {
  return (
    Object.getPrototypeOf(value) === Object.prototype &&
    typeof (value as { toSqlString?: unknown }).toSqlString === 'function'
  );
}

/**
 * A row of one insert sets as many columns as its first row (`keys`); with valueAt, which finds each of them set, the
 * same columns. Checked per row and value, so the messages are made only on a failure, a bug.
 */
export function assertSetsAsMany(row: Record<string, unknown>, keys: readonly string[]): void {
  let defined = 0;
  for (const key in row) if (row[key] !== undefined) defined++;
  if (defined !== keys.length) invariantBroken(`rows of one insert must set the same columns (${keys.join(', ')})`);
}

/** A row's value for one of its insert's keys (see assertSetsAsMany). */
export function valueAt(row: Record<string, unknown>, key: string): unknown {
  const value = row[key];
  if (value === undefined) invariantBroken(`row sets no value for "${key}" although the batch's first row does`);
  return value;
}

/**
 * `head` (ending `VALUES `) followed by rows[from, to) as a VALUES list, each row's values in `keys`' order, then
 * `tail`; null if a value is of a kind valueText does not write. Every row must set exactly `keys` (a bug otherwise).
 * `text` turns a value into what is written (a Date into its kept literal) before it is looked at.
 */
export function insertText(
  head: string,
  rows: ReadonlyArray<Record<string, unknown>>,
  range: { from: number; to: number },
  keys: readonly string[],
  tail: string,
  text: (value: unknown) => unknown,
): string | null {
  if (keys.length === 0) return null;
  // Two pieces a value (what goes before it, then it), the head, the last closing and the tail.
  const pieces = new Array<string>(3 + (range.to - range.from) * 2 * keys.length);
  let n = 0;
  pieces[n++] = head;
  let open = false;
  for (let r = range.from; r < range.to; r++) {
    const row = rows[r]!;
    assertSetsAsMany(row, keys);
    for (let k = 0; k < keys.length; k++) {
      const value = text(valueAt(row, keys[k]!));
      const quoted = quotedAsIs(value);
      const written = quoted ? value : valueText(value);
      if (written === undefined) return null;
      const at = (open ? 2 : 0) + (quoted ? 1 : 0);
      pieces[n++] = k > 0 ? before.inRow[at]! : r > range.from ? before.nextRow[at]! : before.firstRow[at]!;
      pieces[n++] = written;
      open = quoted;
    }
  }
  pieces[n++] = open ? "')" : ')';
  pieces[n++] = tail;
  if (n !== pieces.length) invariantBroken(`insertText wrote ${n} pieces of ${pieces.length}`);
  return pieces.join('');
}
