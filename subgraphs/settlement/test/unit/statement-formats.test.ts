import { describe, expect, it } from 'vitest';
import { statementBytesMax, statementLinesMax } from '@paygraph/shared/limits';
import { withinSize } from '../../src/domain/bank-statement';
import { parseBankStatements as parseWith, type StatementFormat } from '../../src/domain/statement-formats';
import { camt053, mt940, type FileStatement } from '../support/bank-files';

const usd: FileStatement = {
  id: 'STMT-USD-1',
  currency: 'USD',
  opening: 1_000_000n,
  date: '2026-11-20',
  entries: [
    { ref: 'dep-1', amount: 12_345n, direction: 'CREDIT', bookingDate: '2026-11-20' },
    { ref: 'wdr-1', amount: 5_000n, direction: 'DEBIT', bookingDate: '2026-11-20' },
    { ref: '', amount: 250n, direction: 'DEBIT', bookingDate: '2026-11-20' },
  ],
};
const jpy: FileStatement = {
  id: 'STMT-JPY-1',
  currency: 'JPY',
  opening: -5_000n,
  date: '2026-11-20',
  entries: [{ ref: 'dep-jp', amount: 7_000n, direction: 'CREDIT', bookingDate: '2026-11-19' }],
};
const kwd: FileStatement = {
  id: 'STMT-KWD-1',
  currency: 'KWD',
  opening: 0n,
  date: '2026-11-21',
  entries: [{ ref: 'dep-kw', amount: 1_234n, direction: 'CREDIT', bookingDate: '2026-11-21' }],
};

/** A file sent inline: within the CSV's entry limit. */
const parseBankStatements = (format: StatementFormat, content: string) => parseWith(format, content, statementLinesMax);

function ok<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(`refused: ${JSON.stringify(r.error)}`);
  return r.value;
}

describe('camt.053', () => {
  it('reads several statements of one file, in three currencies, with exact minor units and signed balances', async () => {
    const read = ok(await parseBankStatements('CAMT053', camt053([usd, jpy, kwd])));
    expect(read.map((s) => [s.businessDate, s.currency, s.openingBalance, s.closingBalance, s.lines.length])).toEqual([
      ['2026-11-20', 'USD', 1_000_000n, 1_007_095n, 3],
      ['2026-11-20', 'JPY', -5_000n, 2_000n, 1],
      ['2026-11-21', 'KWD', 0n, 1_234n, 1],
    ]);
    expect(read[0]!.lines.map((l) => [l.externalRef, l.amount, l.direction, l.valueDate])).toEqual([
      ['dep-1', 12_345n, 'CREDIT', '2026-11-20'],
      ['wdr-1', 5_000n, 'DEBIT', '2026-11-20'],
      ['BANK-X', 250n, 'DEBIT', '2026-11-20'],
    ]);
    expect(read[1]!.lines[0]).toMatchObject({ amount: 7_000n, currency: 'JPY', valueDate: '2026-11-19' });
  });

  it('reads camt.053.001.08 with a namespace prefix, a byte order mark and an ISO-8859-1 declaration alike', async () => {
    const plain = ok(await parseBankStatements('CAMT053', camt053([usd])));
    const prefixed = ok(
      await parseBankStatements(
        'CAMT053',
        `\uFEFF${camt053([usd], { version: '08', prefix: 'ns2', declaration: '<?xml version="1.0" encoding="ISO-8859-1"?>' })}`,
      ),
    );
    expect(prefixed).toEqual(plain);
    expect(ok(await parseBankStatements('CAMT053', camt053([usd], { version: '13' })))).toEqual(plain);
  });

  it('refuses a statement whose opening balance plus its entries is not its closing balance, naming the totals', async () => {
    const r = await parseBankStatements('CAMT053', camt053([usd, { ...jpy, closing: 2_001n }]));
    expect(r).toEqual({
      ok: false,
      error: {
        line: expect.any(Number),
        message: expect.stringContaining(
          'opening balance -5000 + entries 7000 = 2000, but the closing balance is 2001',
        ),
      },
    });
    expect(r.ok || r.error.message).toContain('Stmt 2 (Id STMT-JPY-1)');
  });

  it('refuses what is not a camt.053: another message, malformed XML, too many decimals (naming the line)', async () => {
    const pain = camt053([usd]).replaceAll('camt.053.001.02', 'pain.001.001.03');
    expect(await parseBankStatements('CAMT053', pain)).toMatchObject({
      ok: false,
      error: { line: 2, message: expect.stringContaining('not a camt.053 document') },
    });
    expect(await parseBankStatements('CAMT053', camt053([usd]).replace('</Stmt>', ''))).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('not well-formed XML') },
    });
    const file = camt053([jpy]).replace('>7000<', '>7000.5<');
    const line = file.split('\n').findIndex((l) => l.includes('<Ntry>')) + 1;
    expect(await parseBankStatements('CAMT053', file)).toEqual({
      ok: false,
      error: { line, message: expect.stringContaining('more decimals than JPY') },
    });
    expect(await parseBankStatements('CAMT053', mt940([usd]))).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('not') },
    });
  });

  it("reads a batch entry's transactions as lines when they add up to it exactly, else the entry as one line", async () => {
    const batch = (amount: bigint) => ({
      ...usd.entries[0]!,
      ref: 'batch',
      amount,
      parts: [
        { ref: 'tx-1', amount: 1_500n },
        { ref: 'tx-2', amount: 900n },
      ],
    });
    const read = async (version: string, amount: bigint) =>
      ok(await parseBankStatements('CAMT053', camt053([{ ...usd, entries: [batch(amount)] }], { version })))[0]!;
    for (const version of ['02', '08']) {
      const split = await read(version, 2_400n);
      expect(split.entries).toBe(1);
      expect(split.lines.map((l) => [l.externalRef, l.amount, l.direction])).toEqual([
        ['tx-1', 1_500n, 'CREDIT'],
        ['tx-2', 900n, 'CREDIT'],
      ]);
      // 0.10 of charges taken from the sum: nothing exact to split by, so the entry under its first reference.
      const whole = await read(version, 2_390n);
      expect(whole.lines.map((l) => [l.externalRef, l.amount])).toEqual([['tx-1', 2_390n]]);
    }
  });
});

describe('MT940', () => {
  it('reads statements of two accounts, a multi-line :86:, CRLF line ends, references from :61:', async () => {
    const read = ok(await parseBankStatements('MT940', mt940([usd, jpy], { crlf: true })));
    expect(read.map((s) => [s.businessDate, s.currency, s.openingBalance, s.closingBalance, s.lines.length])).toEqual([
      ['2026-11-20', 'USD', 1_000_000n, 1_007_095n, 3],
      ['2026-11-20', 'JPY', -5_000n, 2_000n, 1],
    ]);
    expect(read[0]!.lines.map((l) => [l.externalRef, l.amount, l.direction])).toEqual([
      ['dep-1', 12_345n, 'CREDIT'],
      ['wdr-1', 5_000n, 'DEBIT'],
      ['BX', 250n, 'DEBIT'],
    ]);
  });

  it('joins a statement split over three records (:28C: n/1..3, :62M: then :60M:) into one', async () => {
    const many = { ...usd, entries: [...usd.entries, ...usd.entries.map((e) => ({ ...e, ref: `${e.ref}b` }))] };
    const split = ok(await parseBankStatements('MT940', mt940([many], { split: 3 })));
    const withoutLines = (r: typeof split) =>
      r.map((s) => ({ ...s, lines: s.lines.map(({ lineNumber: _, ...l }) => l) }));
    expect(withoutLines(split)).toEqual(withoutLines(ok(await parseBankStatements('MT940', mt940([many])))));
    expect(split).toHaveLength(1);
    expect(split[0]!.lines).toHaveLength(6);
    const broken = mt940([many], { split: 3 }).replace(/:60M:C261120USD([0-9,]+)/, ':60M:C261120USD1,00');
    expect(await parseBankStatements('MT940', broken)).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/does not go on from the :62M:/) },
    });
  });

  it("dates a :61: line by its booking date when it gives one, across a year's end, as camt.053's BookgDt", async () => {
    const dates = async (line: string) => {
      // The files written here give both dates (:61:2611201120...): the first line's are replaced.
      const read = ok(await parseBankStatements('MT940', mt940([usd]).replace(':61:2611201120', `:61:${line}`)));
      return read[0]!.lines.map((l) => l.valueDate);
    };
    // Value date first, then the booking date (MMDD): the line is the booking day's (SNS's 1206070608 is 8 June).
    expect(await dates('2611201121')).toEqual(['2026-11-21', '2026-11-20', '2026-11-20']);
    expect(await dates('2612310102')).toEqual(['2027-01-02', '2026-11-20', '2026-11-20']);
    expect(await dates('2701021231')).toEqual(['2026-12-31', '2026-11-20', '2026-11-20']);
    expect(await dates('261120')).toEqual(['2026-11-20', '2026-11-20', '2026-11-20']);
    expect(await parseBankStatements('MT940', mt940([usd]).replace(':61:2611201120', ':61:2611201341'))).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('entry date "1341" is not a date') },
    });
  });

  it('refuses a statement that does not add up, a file that is not MT940, naming the line', async () => {
    const file = mt940([usd, { ...jpy, closing: 1_999n }]);
    const second = file.split('\n').findIndex((l) => l.startsWith(':20:STMT-JPY')) + 1;
    expect(await parseBankStatements('MT940', file)).toEqual({
      ok: false,
      error: {
        line: second,
        message: expect.stringContaining(
          'opening balance -5000 + entries 7000 = 2000, but the closing balance is 1999',
        ),
      },
    });
    expect(await parseBankStatements('MT940', camt053([usd]))).toMatchObject({
      ok: false,
      error: { line: 1, message: expect.stringContaining('not an MT940 file') },
    });
    expect(await parseBankStatements('MT940', mt940([usd]).replace(':61:261120', ':61:XX1120'))).toMatchObject({
      ok: false,
    });
  });
});

describe('the dates a statement may bear', () => {
  /**
   * Years 1000-9999 (a DATE column's) up to statementDateMax, a month before the last: the isCalendarDate of before took
   * years 0000-0999 and 9999's last days, whose window around them is no date (addDays('9999-12-31', 1) is
   * '+010000-01-01'). Each refusal is the file's, naming the line.
   */
  const csvOf = (date: string) =>
    ['external_ref,amount,currency,direction,date', `a,100,USD,CREDIT,${date}`].join('\n');
  const one = (date: string, bookingDate = date): FileStatement => ({
    ...usd,
    date,
    entries: [{ ref: 'dep-1', amount: 100n, direction: 'CREDIT', bookingDate }],
  });

  it('takes 1000-01-01 and 9999-11-30 in CSV and camt.053', async () => {
    for (const date of ['1000-01-01', '9999-11-30']) {
      expect(ok(await parseBankStatements('CSV', csvOf(date))).map((s) => s.businessDate)).toEqual([date]);
      expect(ok(await parseBankStatements('CAMT053', camt053([one(date)]))).map((s) => s.lines[0]!.valueDate)).toEqual([
        date,
      ]);
    }
  });

  it('refuses a statement or line dated before the year 1000 or after 9999-11-30, naming the line', async () => {
    for (const date of ['0999-12-31', '0000-01-01', '9999-12-01', '9999-12-31']) {
      const csv = await parseBankStatements('CSV', csvOf(date));
      expect(csv).toEqual({ ok: false, error: { line: 2, message: expect.stringContaining(`date "${date}"`) } });
      // The statement's date, and a line's booking date on a statement of a usable date.
      const statement = await parseBankStatements('CAMT053', camt053([one(date, '2026-11-20')]));
      expect(statement).toEqual({
        ok: false,
        error: { line: expect.any(Number), message: expect.stringContaining('no date') },
      });
      const line = await parseBankStatements('CAMT053', camt053([one('2026-11-20', date)]));
      expect(line).toEqual({
        ok: false,
        error: { line: expect.any(Number), message: expect.stringContaining(`BookgDt "${date}"`) },
      });
    }
  });
});

describe('CSV and the limits', () => {
  it('takes a bank CSV with repeated and absent references, one statement per date and currency', async () => {
    const csv = [
      'external_ref,amount,currency,direction,date',
      'a,100,USD,CREDIT,2026-11-20',
      'a,100,USD,CREDIT,2026-11-20',
      ',5,USD,DEBIT,2026-11-20',
      'b,7,EUR,CREDIT,2026-11-21',
    ].join('\n');
    const read = ok(await parseBankStatements('CSV', csv));
    expect(read.map((s) => [s.businessDate, s.currency, s.lines.length, s.openingBalance])).toEqual([
      ['2026-11-20', 'USD', 3, null],
      ['2026-11-21', 'EUR', 1, null],
    ]);
  });

  it('refuses text sent inline over the size limit whole, before reading a line; a CSV over the line limit', async () => {
    expect(withinSize('x'.repeat(statementBytesMax + 1))).toEqual({
      ok: false,
      error: { line: 0, message: `statement file is larger than ${statementBytesMax} bytes` },
    });
    expect(withinSize('x'.repeat(statementBytesMax))).toEqual({ ok: true, value: null });
    const rows = Array.from({ length: statementLinesMax + 1 }, (_, i) => `r${i},1,USD,CREDIT,2026-11-20`);
    const r = await parseBankStatements('CSV', ['external_ref,amount,currency,direction,date', ...rows].join('\n'));
    expect(r).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining(`more than ${statementLinesMax}`) },
    });
  });
});
