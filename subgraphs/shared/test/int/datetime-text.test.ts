import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { datetime, int, mysqlTable } from 'drizzle-orm/mysql-core';
import { datetimeText, insertRows, rawRows, rawWrite } from '../../src/db/raw';
import { datetimeTextsMax } from '../../src/limits';
import { poolTimezone, type ShardSet } from '../../src/shards/pool';
import { testShards } from '../../../../test/support/env';

/**
 * insertRows writes a Date as the literal mysql2 writes for it, made once per instant and kept
 * (db/raw.ts datetimeText): the same text in the statement, the same instant read back.
 */
const probe = mysqlTable('datetime_text_probe', {
  id: int('id').primaryKey(),
  at: datetime('at', { mode: 'date', fsp: 6 }).notNull(),
});

let shards: ShardSet;

beforeAll(async () => {
  shards = testShards(1);
  await rawWrite(shards.all[0]!, 'DROP TABLE IF EXISTS datetime_text_probe');
  await rawWrite(shards.all[0]!, 'CREATE TABLE datetime_text_probe (id INT PRIMARY KEY, at DATETIME(6) NOT NULL)');
});
afterAll(async () => {
  await rawWrite(shards.all[0]!, 'DROP TABLE IF EXISTS datetime_text_probe');
  await shards.close();
});

const instants = [
  new Date(0),
  new Date('1000-01-01T00:00:00.000Z'),
  new Date('2026-11-27T23:59:59.999Z'),
  new Date('2027-02-28T12:00:00.001Z'),
  new Date('9999-12-31T23:59:59.999Z'),
];

describe('a DATETIME written from its kept text', () => {
  it('is the text mysql2 writes for the Date itself, in the pools’ zone', () => {
    const sql = 'INSERT INTO t (at, n) VALUES ?';
    for (const at of [...instants, new Date(Number.NaN)]) {
      expect(mysql.format(sql, [[[datetimeText(at), 1]]], false, poolTimezone)).toBe(
        mysql.format(sql, [[[at, 1]]], false, poolTimezone),
      );
    }
    expect(datetimeText(new Date(Number.NaN)).toSqlString()).toBe('NULL');
  });

  it('is made once per instant, and the kept texts stay bounded', () => {
    const kept = datetimeText(new Date(instants[2]!.getTime()));
    expect(datetimeText(new Date(instants[2]!.getTime()))).toBe(kept);
    // datetimeTextsMax other instants: the kept texts were dropped and the instant's is made again.
    for (let i = 1; i <= datetimeTextsMax; i++) datetimeText(new Date(instants[2]!.getTime() + i));
    const again = datetimeText(instants[2]!);
    expect(again).not.toBe(kept);
    expect(again.toSqlString()).toBe(kept.toSqlString());
  });

  it('reads back as the instant the Date held, through insertRows', async () => {
    const shard = shards.all[0]!;
    const rows = [...instants, instants[2]!].map((at, id) => ({ id, at }));
    expect(await insertRows(shard, probe, rows)).toBe(rows.length);
    const read = await rawRows<{ id: number; at: Date }>(shard, 'SELECT id, at FROM datetime_text_probe ORDER BY id');
    expect(read.map((r) => r.at.toISOString())).toEqual(rows.map((r) => r.at.toISOString()));
  });
});
