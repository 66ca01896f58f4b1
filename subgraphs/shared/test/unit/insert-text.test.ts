import { describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { insertText } from '../../src/db/insert-text';
import { useSeededRandom, type SeededRandom } from '../../../../test/support/seeded-random';

/**
 * db/insert-text.ts writes a multi-row INSERT's VALUES list itself instead of through mysql2's binding (sql-escaper),
 * for what it allocates; the text must be the one mysql2 would send, byte for byte, or the rows written differ.
 */
const random = useSeededRandom();
const head = 'INSERT INTO `t` (`a`, `b`, `c`) VALUES ';
const asIs = (value: unknown): unknown => value;

/** What mysql2 sends for the same rows (pool.ts binds with this zone; no Date reaches either writer here). */
function bound(rows: Array<Record<string, unknown>>, keys: string[], tail: string): string {
  const values = [rows.map((row) => keys.map((k) => row[k]))] as Parameters<typeof mysql.format>[1];
  return mysql.format(`${head}?${tail}`, values, false, 'Z');
}

const characters = [
  'a',
  'Z',
  '0',
  ' ',
  "'",
  '"',
  '\\',
  '\n',
  '\r',
  '\t',
  '\0',
  '\b',
  '\x1a',
  '%',
  '_',
  'é',
  '€',
  '😀',
  '?',
];

function randomString(r: SeededRandom): string {
  let s = '';
  const length = r.below(12);
  for (let i = 0; i < length; i++) s += r.below(3) === 0 ? r.pick(characters) : r.pick(['acc_', '01', 'x', 'ü']);
  return s;
}

function randomValue(r: SeededRandom): unknown {
  switch (r.below(9)) {
    case 0:
      return null;
    case 1:
      return r.between(-1_000_000, 1_000_000);
    case 2:
      return BigInt(r.between(-9, 9)) * 10n ** BigInt(r.below(19)) - BigInt(r.below(1000));
    case 3:
      return r.below(2) === 0;
    case 4:
      return mysql.raw(`'2026-12-01 09:${r.between(10, 59)}:00.000'`);
    case 5:
      return r.next() * 1000 - 500;
    default:
      return randomString(r);
  }
}

describe('a VALUES list written by insertText', () => {
  it('is the text mysql2 binds, byte for byte, over random rows (seeded)', () => {
    const keys = ['a', 'b', 'c'];
    for (let round = 0; round < 2_000; round++) {
      const rows = Array.from({ length: random.between(1, 6) }, () => ({
        a: randomValue(random),
        b: randomValue(random),
        c: randomValue(random),
      }));
      const tail = random.pick(['', ' ON DUPLICATE KEY UPDATE `a` = `a` + VALUES(`a`)', ' -- ?']);
      const written = insertText(head, rows, { from: 0, to: rows.length }, keys, tail, asIs);
      expect(written).toBe(bound(rows, keys, tail));
    }
  });

  it('writes only rows [from, to), in the keys’ order, whatever order the row objects set them in', () => {
    const rows = [
      { c: 1, b: 'x', a: null },
      { b: "it's", a: 2n, c: true },
      { a: 'z', c: -0.5, b: '' },
    ];
    expect(insertText(head, rows, { from: 1, to: 3 }, ['a', 'b', 'c'], '', asIs)).toBe(
      `${head}(2, 'it\\'s', true), ('z', '', -0.5)`,
    );
    expect(insertText(head, rows, { from: 1, to: 3 }, ['a', 'b', 'c'], '', asIs)).toBe(
      bound(rows.slice(1), ['a', 'b', 'c'], ''),
    );
  });

  it('writes what `text` makes of a value (a Date as its kept literal)', () => {
    const at = new Date('2026-12-01T09:30:00.123Z');
    const literal = mysql.raw(mysql.format('?', [at], false, 'Z'));
    const written = insertText(head, [{ a: 1, b: at, c: 'k' }], { from: 0, to: 1 }, ['a', 'b', 'c'], '', (v) =>
      v instanceof Date ? literal : v,
    );
    expect(written).toBe(mysql.format(`${head}?`, [[[1, at, 'k']]] as Parameters<typeof mysql.format>[1], false, 'Z'));
  });

  it('answers null for a value it does not write, so that the caller binds the rows with mysql2', () => {
    for (const odd of [Buffer.from('ab'), new Date(0), [1, 2], new Set([1]), { x: 1 }, Symbol('s'), () => 1])
      expect(insertText(head, [{ a: 1, b: odd, c: 'k' }], { from: 0, to: 1 }, ['a', 'b', 'c'], '', asIs)).toBeNull();
  });

  it('fails as a bug on a row that sets other columns than the first', () => {
    const keys = ['a', 'b', 'c'];
    expect(() =>
      insertText(
        head,
        [
          { a: 1, b: 2, c: 3 },
          { a: 1, b: 2 },
        ],
        { from: 0, to: 2 },
        keys,
        '',
        asIs,
      ),
    ).toThrow(/rows of one insert must set the same columns/);
    expect(() =>
      insertText(
        head,
        [
          { a: 1, b: 2, c: 3 },
          { a: 1, b: 2, d: 4 },
        ],
        { from: 0, to: 2 },
        keys,
        '',
        asIs,
      ),
    ).toThrow(/row sets no value for "c"/);
  });
});
