import { describe, expect, it } from 'vitest';
import { creditRepaidOf, feeOf, netOf, settlePart } from '../../src/domain/fees';
import { parseStatementCsv } from '../../src/domain/statement-csv';
import { statementBytesMax, statementLinesMax } from '@paygraph/shared/limits';
import { matchStatement } from '../../src/domain/discrepancies';

describe('fees', () => {
  it('round half up to the minor unit, in integers', () => {
    expect(feeOf(10_000n, 250)).toBe(250n);
    expect(feeOf(100n, 250)).toBe(3n); // 2.5 → 3
    expect(feeOf(99n, 250)).toBe(2n); // 2.475 → 2
    expect(feeOf(1n, 4_999)).toBe(0n); // 0.4999 → 0
    expect(feeOf(1n, 5_000)).toBe(1n); // 0.5 → 1
    expect(feeOf(0n, 250)).toBe(0n);
    expect(feeOf(9_223_372_036_854_775_807n, 10_000)).toBe(9_223_372_036_854_775_807n);
  });

  it('refuse rates outside 0..10000 bps', () => {
    expect(() => feeOf(100n, -1)).toThrow();
    expect(() => feeOf(100n, 10_001)).toThrow();
    expect(() => feeOf(100n, 2.5)).toThrow();
  });

  it('settle a stripe: net = gross − refunded − fee, early refunds out of pending, late ones out of available', () => {
    const part = settlePart(
      [
        { amount: 1_001n, refundedAmount: 200n },
        { amount: 500n, refundedAmount: 0n },
      ],
      [300n],
      250,
    );
    // 1301 × 2.5% = 32.525 → 33
    expect(part).toEqual({ gross: 1_501n, refunded: 500n, advanced: 0n, fee: 33n, moved: 1_301n });
    expect(netOf(part)).toBe(1_501n - 500n - 33n);
    expect(part.moved - part.fee).toBe(netOf(part) + 300n);
  });

  it('settle a stripe after an advance: what stands advanced is covered, not moved, and bears no settlement fee', () => {
    const payments = [
      { amount: 1_001n, refundedAmount: 200n },
      { amount: 500n, refundedAmount: 0n },
    ];
    const part = settlePart(payments, [], 250, 1_000n);
    // 301 × 2.5% = 7.525 → 8
    expect(part).toEqual({ gross: 1_501n, refunded: 200n, advanced: 1_000n, fee: 8n, moved: 301n });
    expect(netOf(part)).toBe(1_501n - 200n - 1_000n - 8n);
    // Advanced beyond the date's money: all of it covered, nothing moved, no fee; the rest stays outstanding for the
    // next date.
    expect(settlePart(payments, [], 250, 5_000n)).toEqual({
      gross: 1_501n,
      refunded: 200n,
      advanced: 1_301n,
      fee: 0n,
      moved: 0n,
    });
  });
});

describe('credit repaid by a settlement', () => {
  it('covers the credit in use first, never more than what was made available', () => {
    const parts = [
      { movedAmount: 1000n, feeAmount: 25n },
      { movedAmount: 100n, feeAmount: 3n },
    ];
    expect(creditRepaidOf(300n, parts)).toBe(300n);
    expect(creditRepaidOf(5_000n, parts)).toBe(1072n);
    expect(creditRepaidOf(0n, parts)).toBe(0n);
    expect(creditRepaidOf(10n, [])).toBe(0n);
  });
});

describe('statement CSV', () => {
  const header = 'external_ref,amount,currency,direction,date';

  it('reads a well-formed statement', () => {
    const result = parseStatementCsv(
      `${header}\nbank-1,1999,USD,CREDIT,2026-11-22\r\nbank-2,500,USD,DEBIT,2026-11-22\n\n`,
    );
    expect(result).toEqual({
      ok: true,
      value: [
        {
          lineNumber: 2,
          externalRef: 'bank-1',
          amount: 1999n,
          currency: 'USD',
          direction: 'CREDIT',
          valueDate: '2026-11-22',
        },
        {
          lineNumber: 3,
          externalRef: 'bank-2',
          amount: 500n,
          currency: 'USD',
          direction: 'DEBIT',
          valueDate: '2026-11-22',
        },
      ],
    });
  });

  it('names the line of the first error', () => {
    expect(parseStatementCsv('ref,amount\nx,1')).toMatchObject({ ok: false, error: { line: 1 } });
    expect(parseStatementCsv('')).toMatchObject({ ok: false, error: { line: 1 } });
    const cases: Array<[string, RegExp]> = [
      ['bank-1,19.99,USD,CREDIT,2026-11-22', /amount/],
      ['bank-1,-5,USD,CREDIT,2026-11-22', /amount/],
      ['bank-1,abc,USD,CREDIT,2026-11-22', /amount/],
      ['bank-1,5,XYZ,CREDIT,2026-11-22', /currency/],
      ['bank-1,5,USD,SIDEWAYS,2026-11-22', /direction/],
      ['bank-1,5,USD,CREDIT,2026-02-30', /date/],
      ['bank-1,5,USD,CREDIT', /columns/],
      [',5,USD,CREDIT,2026-11-22', /external_ref/],
    ];
    for (const [line, message] of cases) {
      const result = parseStatementCsv(`${header}\nok-1,1,USD,CREDIT,2026-11-22\n${line}`);
      expect(result, line).toMatchObject({ ok: false, error: { line: 3, message: expect.stringMatching(message) } });
    }
  });

  it('reads quoted fields with commas and doubled quotes, CRLF line ends and a UTF-8 BOM', () => {
    const csv = `\ufeff${header}\r\n"bank, ""A"" 1",1999,USD,CREDIT,2026-11-22\r\n  "bank-2" , "500",USD,DEBIT,2026-11-22\r\n\r\n`;
    expect(parseStatementCsv(csv)).toEqual({
      ok: true,
      value: [
        {
          lineNumber: 2,
          externalRef: 'bank, "A" 1',
          amount: 1999n,
          currency: 'USD',
          direction: 'CREDIT',
          valueDate: '2026-11-22',
        },
        {
          lineNumber: 3,
          externalRef: 'bank-2',
          amount: 500n,
          currency: 'USD',
          direction: 'DEBIT',
          valueDate: '2026-11-22',
        },
      ],
    });
  });

  it('names the line of malformed CSV: a quote left open, text after a closing quote, a field across lines', () => {
    const cases: Array<[string, number, RegExp]> = [
      [
        `${header}\nok-1,1,USD,CREDIT,2026-11-22\n"bank-2,5,USD,CREDIT,2026-11-22\n`,
        3,
        /not valid CSV: .*Quote Not Closed/,
      ],
      [
        `${header}\r\nok-1,1,USD,CREDIT,2026-11-22\r\n"bank"-2,5,USD,CREDIT,2026-11-22\r\nok-3,1,USD,CREDIT,2026-11-22`,
        3,
        /not valid CSV: .*Closing Quote/,
      ],
      [`${header}\nok-1,1,USD,CREDIT,2026-11-22\n"bank\n2",5,USD,CREDIT,2026-11-22`, 4, /spans more than one line/],
    ];
    for (const [csv, line, message] of cases) {
      expect(parseStatementCsv(csv), csv).toMatchObject({
        ok: false,
        error: { line, message: expect.stringMatching(message) },
      });
    }
  });

  it('refuses a statement over its size or line limit', () => {
    const big = `${header}\n${'x'.repeat(statementBytesMax)}`;
    expect(parseStatementCsv(big)).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/larger than/) },
    });
    const lines = Array.from({ length: statementLinesMax + 1 }, (_, i) => `r${i},1,USD,CREDIT,2026-11-22`);
    expect(parseStatementCsv([header, ...lines].join('\n'))).toMatchObject({
      ok: false,
      error: { line: statementLinesMax + 2, message: `more than ${statementLinesMax} lines` },
    });
    expect(parseStatementCsv([header, ...lines.slice(1)].join('\n'))).toMatchObject({ ok: true });
  });

  it('refuses a reference that repeats', () => {
    const result = parseStatementCsv(`${header}\nbank-1,1,USD,CREDIT,2026-11-22\nbank-1,2,USD,CREDIT,2026-11-22`);
    expect(result).toMatchObject({ ok: false, error: { line: 3, message: expect.stringMatching(/repeats line 2/) } });
  });
});

describe('statement matching', () => {
  it('names each difference with its kind', () => {
    const internal = [
      { id: 'dep-a', kind: 'DEPOSIT' as const, externalRef: 'a', amount: 100n, currency: 'USD' },
      { id: 'dep-b', kind: 'DEPOSIT' as const, externalRef: 'b', amount: 200n, currency: 'USD' },
      { id: 'wdr-c', kind: 'WITHDRAWAL' as const, externalRef: 'c', amount: 300n, currency: 'USD' },
    ];
    const external = [
      { externalRef: 'a', direction: 'CREDIT' as const, amount: 100n, currency: 'USD' },
      { externalRef: 'c', direction: 'DEBIT' as const, amount: 301n, currency: 'USD' },
      { externalRef: 'z', direction: 'CREDIT' as const, amount: 5n, currency: 'USD' },
    ];
    const found = matchStatement(internal, external).map((d) => [d.kind, d.externalRef, d.expected, d.actual]);
    expect(found).toEqual([
      ['AMOUNT_MISMATCH', 'c', 300n, 301n],
      ['MISSING_INTERNAL', 'z', null, 5n],
      ['MISSING_EXTERNAL', 'b', 200n, null],
    ]);
  });

  const dep = (id: string, amount: bigint, externalRef = 'r') => ({
    id,
    kind: 'DEPOSIT' as const,
    externalRef,
    amount,
    currency: 'USD',
  });
  const credit = (amount: bigint, externalRef = 'r') => ({
    externalRef,
    direction: 'CREDIT' as const,
    amount,
    currency: 'USD',
  });
  const kinds = (found: ReturnType<typeof matchStatement>) =>
    found.map((d) => [d.kind, d.externalRef, d.expected, d.actual]);

  it('finds a reference the bank holds twice against one deposit: the second line is missing internally', () => {
    const found = matchStatement([dep('dep-1', 100n)], [credit(100n), credit(100n)]);
    expect(kinds(found)).toEqual([['MISSING_INTERNAL', 'r', null, 100n]]);
    expect(found[0]!.detail).toMatch(/left \(transfers of its reference: 1, each another line's\)$/);
  });

  it('finds two deposits of one reference against one line: the one left is missing externally', () => {
    const found = matchStatement([dep('dep-1', 100n), dep('dep-2', 100n)], [credit(100n)]);
    expect(kinds(found)).toEqual([['MISSING_EXTERNAL', 'r', 100n, null]]);
    expect(found[0]!.detail).toMatch(/^DEPOSIT dep-2 /);
  });

  it('pairs the alike first, then the rest in order, each transfer and line once', () => {
    // The 50 line is dep-2's, wherever it stands: dep-1's 100 is missing, not 100 against 50.
    expect(kinds(matchStatement([dep('dep-1', 100n), dep('dep-2', 50n)], [credit(50n)]))).toEqual([
      ['MISSING_EXTERNAL', 'r', 100n, null],
    ]);
    // Both lines of 101 before the 100 that is dep-1's: one pairs with dep-2 (a difference), one is left over.
    const found = matchStatement(
      [dep('dep-1', 100n), dep('dep-2', 100n)],
      [credit(101n), credit(101n), credit(100n), credit(7n, 'other')],
    );
    expect(kinds(found)).toEqual([
      ['AMOUNT_MISMATCH', 'r', 100n, 101n],
      ['MISSING_INTERNAL', 'r', null, 101n],
      ['MISSING_INTERNAL', 'other', null, 7n],
    ]);
    expect(found[0]!.detail).toMatch(/^DEPOSIT dep-2 /);
  });
});
