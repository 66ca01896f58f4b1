import mysql from 'mysql2';
import mysqlPromise, { type Connection as PromiseConnection, type RowDataPacket } from 'mysql2/promise';
import { parseShardNodes } from '../../subgraphs/shared/src/shards/topology';
import { placedTables, rangeWhere, type PlacedTable } from './move-tables';

/**
 * The shard mover's rows (shard-mover.ts): a range's rows copied, deleted, read again by key and checksummed, on
 * connections that read and write values as MySQL's text, so that a row written is the row read.
 */

/** Rows per INSERT of a copy or a catch-up. */
const copyBatchRows = 500;
/** Keys per statement of a catch-up's read again, and of a verify by key. */
const keyBatchRows = 500;
/**
 * A copy while the range takes writes sleeps this many times as long as each batch took (gh-ost's nice ratio): the
 * payments it shares the machine with keep most of it. A copy inside the fence sleeps not at all.
 */
export const copyNiceRatio = 1;
/** Rows a clean deletes per statement: each DELETE holds its rows' locks only that long. */
const cleanBatchRows = 1_000;

/** Values as MySQL's text (dates with their microseconds, BIGINT whole): what is read is written unchanged. */
export const textValues = {
  dateStrings: true,
  supportBigNumbers: true,
  bigNumberStrings: true,
  timezone: 'Z',
} as const;

/** A connection to a database's first node (MYSQL_SHARDS's form) that reads and writes values as MySQL's text. */
export function rawConnection(entry: string): Promise<PromiseConnection> {
  return mysqlPromise.createConnection({ uri: parseShardNodes(entry)[0]![0]!, ...textValues });
}

/** The same, with callbacks: its queries stream. */
function coreConnection(entry: string): mysql.Connection {
  return mysql.createConnection({ uri: parseShardNodes(entry)[0]![0]!, ...textValues });
}

export async function insertRows(target: PromiseConnection, table: string, rows: RowDataPacket[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  await target.query(`INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ?`, [
    rows.map((row) => columns.map((c) => row[c] as unknown)),
  ]);
}

/**
 * Copies the range's rows of every placed table from the source to the target, each table read as one stream (its
 * rows never all in memory) and written copyBatchRows at a time, sleeping `niceRatio` times each batch's time after it.
 * Answers the rows copied per table.
 */
export async function copyRange(
  sourceEntry: string,
  target: PromiseConnection,
  range: { first: number; last: number },
  niceRatio: number,
): Promise<Record<string, number>> {
  const { first, last } = range;
  const source = coreConnection(sourceEntry);
  const copied: Record<string, number> = {};
  try {
    for (const placed of placedTables) {
      const { where, values } = rangeWhere(placed, first, last);
      let batch: RowDataPacket[] = [];
      let n = 0;
      const rows = source.query(`SELECT * FROM \`${placed.table}\` WHERE ${where}`, values).stream();
      let batchStarted = performance.now();
      for await (const row of rows as AsyncIterable<RowDataPacket>) {
        batch.push(row);
        if (batch.length < copyBatchRows) continue;
        await insertRows(target, placed.table, batch);
        n += batch.length;
        batch = [];
        const tookMs = performance.now() - batchStarted;
        if (niceRatio > 0) await new Promise((resolve) => setTimeout(resolve, tookMs * niceRatio));
        batchStarted = performance.now();
      }
      await insertRows(target, placed.table, batch);
      copied[placed.table] = n + batch.length;
    }
  } finally {
    source.destroy();
  }
  return copied;
}

/** Deletes a database's rows of the range, the tables in reverse order: a copy killed midway starts over. */
export async function deleteRange(target: PromiseConnection, first: number, last: number): Promise<void> {
  for (const placed of [...placedTables].reverse()) {
    const { where, values } = rangeWhere(placed, first, last);
    await target.query(`DELETE FROM \`${placed.table}\` WHERE ${where}`, values);
  }
}

const postingsOf = placedTables.find((t) => t.table === 'postings')!;

/** Deletes a range's rows from a database, cleanBatchRows at a time per table; answers how many. */
export async function deleteCopies(entry: string, first: number, last: number): Promise<number> {
  const connection = await rawConnection(entry);
  let total = 0;
  try {
    // Postings last, and only those with no entry left here: a posting named by the range may hold the entry of an
    // account that stays (the source's clearing in a SHARD_MOVE posting, a payee beside a moved payer).
    const postingsLast = [...placedTables.filter((t) => t.table !== 'postings').reverse(), postingsOf];
    for (const placed of postingsLast) {
      const { where, values } = rangeWhere(placed, first, last);
      const kept =
        placed === postingsOf ? ' AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.posting_id = id)' : '';
      for (;;) {
        const [result] = await connection.query(`DELETE FROM \`${placed.table}\` WHERE ${where}${kept} LIMIT ?`, [
          ...values,
          cleanBatchRows,
        ]);
        const n = (result as { affectedRows: number }).affectedRows;
        total += n;
        if (n < cleanBatchRows) break;
      }
    }
  } finally {
    await connection.end();
  }
  return total;
}

/** A table's primary key columns, in order (every placed table has one: a catch-up reads rows again by it). */
export async function primaryKey(connection: PromiseConnection, table: string): Promise<string[]> {
  const [rows] = await connection.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`,
    [table],
  );
  if (rows.length === 0) throw new Error(`${table} has no primary key: a catch-up cannot name its rows`);
  return rows.map((r) => String(r.name));
}

/** SQL of one row's text over every column of the table, each hexed, NULL as N. */
async function rowText(connection: PromiseConnection, table: string): Promise<string> {
  const [columns] = await connection.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [table],
  );
  return `CONCAT_WS('#', ${columns.map((c) => `IFNULL(HEX(\`${String(c.name)}\`), 'N')`).join(', ')})`;
}

/** Per table: rows, the sum of each row's CRC32 and the XOR of each row's MD5 head, over every column. */
export async function checksums(connection: PromiseConnection, first: number, last: number) {
  const sums: Record<string, string> = {};
  for (const placed of placedTables) {
    const { table } = placed;
    const { where, values } = rangeWhere(placed, first, last);
    const row = await rowText(connection, table);
    const [rows] = await connection.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(CRC32(${row})), 0) AS crc,
         COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(${row}), 16), 16, 10) AS UNSIGNED)), 0) AS md5
       FROM \`${table}\` WHERE ${where}`,
      values,
    );
    sums[table] = `${rows[0]!.n}:${rows[0]!.crc}:${rows[0]!.md5}`;
  }
  return sums;
}

/** `(key columns) IN (?)`: rows named by their primary key values. */
function keyIn(key: readonly string[]): string {
  return `(${key.map((c) => `\`${c}\``).join(', ')}) IN (?)`;
}

/**
 * Reads the keyed rows of the range again from `reader` and writes each whole to the target: the target's row deleted
 * and the reader's inserted, in one transaction per batch, or only deleted when the reader has none. Answers the rows
 * written.
 */
export async function resync(
  reader: PromiseConnection,
  target: PromiseConnection,
  placed: PlacedTable,
  key: readonly string[],
  keys: readonly unknown[][],
  range: { first: number; last: number },
): Promise<number> {
  const { where, values } = rangeWhere(placed, range.first, range.last);
  let written = 0;
  for (let i = 0; i < keys.length; i += keyBatchRows) {
    const batch = keys.slice(i, i + keyBatchRows);
    const named = `FROM \`${placed.table}\` WHERE ${keyIn(key)} AND ${where}`;
    const [rows] = await reader.query<RowDataPacket[]>(`SELECT * ${named}`, [batch, ...values]);
    await target.beginTransaction();
    try {
      await target.query(`DELETE ${named}`, [batch, ...values]);
      await insertRows(target, placed.table, rows);
      await target.commit();
    } catch (error) {
      await target.rollback();
      throw error;
    }
    written += rows.length;
  }
  return written;
}

/** Each keyed row of the range as the MD5 of its text, by its key's text: a verify of the rows a catch-up named. */
export async function rowSums(
  connection: PromiseConnection,
  placed: PlacedTable,
  key: readonly string[],
  keys: readonly unknown[][],
  range: { first: number; last: number },
): Promise<Map<string, string>> {
  const { where, values } = rangeWhere(placed, range.first, range.last);
  const row = await rowText(connection, placed.table);
  const keyText = `CONCAT_WS('#', ${key.map((c) => `HEX(\`${c}\`)`).join(', ')})`;
  const sums = new Map<string, string>();
  for (let i = 0; i < keys.length; i += keyBatchRows) {
    const [rows] = await connection.query<RowDataPacket[]>(
      `SELECT ${keyText} AS k, MD5(${row}) AS h FROM \`${placed.table}\` WHERE ${keyIn(key)} AND ${where}`,
      [keys.slice(i, i + keyBatchRows), ...values],
    );
    for (const r of rows) sums.set(String(r.k), String(r.h));
  }
  return sums;
}
