import { getTableColumns, getTableName } from 'drizzle-orm';
import type { MySqlTable } from 'drizzle-orm/mysql-core';
import mysql from 'mysql2/promise';
import { poolTimezone, shardOfDb, type Shard } from '../shards/pool';
import { assert } from '../result';
import { PostingTx, type Statement } from '../shards/posting-transaction';
import { datetimeTextsMax, rawInsertRowsMax } from '../limits';
import { assertSetsAsMany, insertText, valueAt } from './insert-text';

/**
 * Hand-written SQL for the posting path. Drizzle's builder checks the kind of every chunk of
 * every statement it builds, and on a batch of a thousand payments that cost more CPU than
 * MySQL took to run the statements (docs/PERFORMANCE.md). These functions send plain SQL with
 * `?` placeholders (mysql2 binds and escapes the values) inside the posting engine's
 * transaction when given one, or on the shard's pool, and count in the shard's statement
 * counter like drizzle's own statements do. A drizzle transaction (inTransaction) is not a
 * target: its connection is drizzle's own.
 */
export type SqlTarget = PostingTx | Shard | Shard['db'];

/** The shard under a target that is not a posting transaction. */
function shardOf(target: Shard | Shard['db']): Shard {
  if ('pool' in target) return target;
  const shard = shardOfDb(target);
  assert(shard, 'hand-written SQL runs on a shard, its db, or a posting transaction; not in a drizzle transaction');
  return shard;
}

/** A statement that answers rows, with each column as MySQL sent it (BIGINT as a string). */
export async function rawRows<T>(target: SqlTarget, sql: string, values: readonly unknown[] = []): Promise<T[]> {
  if (target instanceof PostingTx) return target.query<T>(sql, values);
  const shard = shardOf(target);
  shard.queryCount++;
  const [rows] = await shard.pool.query(sql, values);
  return rows as T[];
}

/**
 * Several statements that answer rows, in order, and their rows, in one round trip (one
 * multi-statement text): in the posting engine's transaction with what it holds, elsewhere on
 * one pooled connection. A round trip costs both processes a system call and a wake-up, more
 * than a short read costs MySQL (docs/PERFORMANCE.md).
 */
export async function rawRowSets(target: SqlTarget, statements: readonly Statement[]): Promise<unknown[][]> {
  if (target instanceof PostingTx) return target.queryMany(statements);
  if (statements.length === 0) return [];
  if (statements.length === 1) return [await rawRows(target, statements[0]!.sql, statements[0]!.values)];
  const shard = shardOf(target);
  shard.queryCount += statements.length;
  const [sets] = await shard.pool.query(
    statements.map((s) => s.sql).join(';\n'),
    statements.flatMap((s) => s.values),
  );
  return sets as unknown[][];
}

/**
 * A statement that writes: answers the rows it affected. `text` is what a trace shows of a `sql` whose values are
 * written in already (insertRows): the same statement with its `?`, never the values.
 */
export async function rawWrite(
  target: SqlTarget,
  sql: string,
  values: readonly unknown[] = [],
  text: string = sql,
): Promise<number> {
  if (target instanceof PostingTx) return target.write(sql, values, text);
  const shard = shardOf(target);
  shard.queryCount++;
  const [result] = await shard.pool.query(sql, values, [text]);
  return (result as { affectedRows: number }).affectedRows;
}

/**
 * A write whose answer nobody waits for. Inside the posting engine's transaction
 * (shards/posting-transaction.ts) it is held and sent with the next statement, or with COMMIT;
 * anywhere else it runs at once.
 */
export async function rawHold(
  target: SqlTarget,
  sql: string,
  values: readonly unknown[] = [],
  text: string = sql,
): Promise<void> {
  if (target instanceof PostingTx) target.hold(sql, values, text);
  else await rawWrite(target, sql, values, text);
}

interface InsertPlan {
  keys: string[];
  /** `INSERT INTO t (cols) VALUES ?` and its IGNORE twin, made once: not a list joined a statement. */
  head: string;
  headIgnore: string;
  /** The same up to `VALUES `, for the list written by insertText. */
  bare: string;
  bareIgnore: string;
}

const plans = new WeakMap<MySqlTable, Map<string, InsertPlan>>();

/** The column list for rows with these keys, made once per table and key set. */
function insertPlan(table: MySqlTable, keys: string[]): InsertPlan {
  let byKeys = plans.get(table);
  if (!byKeys) {
    byKeys = new Map();
    plans.set(table, byKeys);
  }
  const signature = keys.join(',');
  let plan = byKeys.get(signature);
  if (!plan) {
    const columns = getTableColumns(table);
    const names = keys.map((key) => {
      const column = columns[key];
      assert(column, `table ${getTableName(table)} has no column for "${key}"`);
      return column.name;
    });
    const into = ` INTO \`${getTableName(table)}\` (${names.map((c) => `\`${c}\``).join(', ')}) VALUES `;
    plan = {
      keys,
      head: `INSERT${into}?`,
      headIgnore: `INSERT IGNORE${into}?`,
      bare: `INSERT${into}`,
      bareIgnore: `INSERT IGNORE${into}`,
    };
    byKeys.set(signature, plan);
  }
  return plan;
}

/**
 * INSERT of many rows of one table in chunks of rawInsertRowsMax. Rows are drizzle insert
 * objects (camelCase keys); every row must set the same keys, and a key left out takes the
 * column's default. `suffix` is appended to each statement (e.g. ON DUPLICATE KEY UPDATE).
 * With `hold` the statements go out later (rawHold) and the answer is 0. The VALUES list is written by insertText
 * (insert-text.ts: the text mysql2 would bind, for fewer bytes allocated), or bound by mysql2 for a value it does not
 * write.
 */
export async function insertRows<T extends MySqlTable>(
  target: SqlTarget,
  table: T,
  rows: ReadonlyArray<T['$inferInsert']>,
  options: { ignore?: boolean; suffix?: string; hold?: boolean } = {},
): Promise<number> {
  if (rows.length === 0) return 0;
  const first = rows[0] as Record<string, unknown>;
  const keys = Object.keys(first).filter((k) => first[k] !== undefined);
  const plan = insertPlan(table, keys);
  const tail = options.suffix ? ` ${options.suffix}` : '';
  const bare = options.ignore ? plan.bareIgnore : plan.bare;
  // A trace shows the statement with its `?` (ShardConnection.query), never the values written in.
  const text = `${options.ignore ? plan.headIgnore : plan.head}${tail}`;
  const all = rows as ReadonlyArray<Record<string, unknown>>;
  let affected = 0;
  for (let from = 0; from < rows.length; from += rawInsertRowsMax) {
    const range = { from, to: Math.min(rows.length, from + rawInsertRowsMax) };
    const written = insertText(bare, all, range, plan.keys, tail, writtenAs);
    const [sql, values] = written === null ? [text, [valuesOfRange(all, range, plan.keys)]] : [written, []];
    if (options.hold) await rawHold(target, sql, values, text);
    else affected += await rawWrite(target, sql, values, text);
  }
  return affected;
}

/** A value as a row's statement writes it: a Date as its kept literal (datetimeText). */
function writtenAs(value: unknown): unknown {
  return value instanceof Date ? datetimeText(value) : value;
}

/** Rows whose values insertText does not write (a Buffer), as arrays for mysql2 to bind. */
function valuesOfRange(
  rows: ReadonlyArray<Record<string, unknown>>,
  range: { from: number; to: number },
  keys: readonly string[],
): unknown[][] {
  const chunk = new Array<unknown[]>(range.to - range.from);
  for (let r = 0; r < chunk.length; r++) chunk[r] = valuesOf(rows[range.from + r]!, keys);
  return chunk;
}

/** A row's values in the plan's order; checked per row and value, so its messages are made only on failure. */
function valuesOf(row: Record<string, unknown>, keys: readonly string[]): unknown[] {
  assertSetsAsMany(row, keys);
  const values = new Array<unknown>(keys.length);
  for (let i = 0; i < keys.length; i++) values[i] = writtenAs(valueAt(row, keys[i]!));
  return values;
}

type SqlText = ReturnType<typeof mysql.raw>;
const datetimeTexts = new Map<number, SqlText>();

/**
 * A Date as the literal mysql2 writes for it in the pools' zone, made once per instant and
 * kept: the rows of a batch share a few instants (its clock), and sql-escaper formats a Date
 * afresh for every value (a Date, a dozen strings, a regex scan). 1,000 rows of ten values, two
 * of them Dates, took 1.96–3.15 µs a row through mysql.format with Dates and 1.13–1.35 with
 * their kept texts (Node 24, three runs each, alternating).
 */
export function datetimeText(date: Date): SqlText {
  const time = date.getTime();
  let text = datetimeTexts.get(time);
  if (text === undefined) {
    if (datetimeTexts.size >= datetimeTextsMax) datetimeTexts.clear();
    text = mysql.raw(mysql.format('?', [date], false, poolTimezone));
    datetimeTexts.set(time, text);
  }
  return text;
}

/** BIGINT columns arrive as strings (bigNumberStrings): exact, never a lossy JS number. */
export function bigintOf(value: unknown): bigint {
  assert(
    typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint',
    `not an integer: ${String(value)}`,
  );
  return BigInt(value);
}
