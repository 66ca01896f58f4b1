import { describe, expect, it } from 'vitest';
import { statementLinesMax } from '@paygraph/shared/limits';
import type { BankStatement } from '../../src/domain/bank-statement';
import { parseAccountIdentification, routeStatements, type Registration } from '../../src/domain/channel-accounts';
import { parseBankStatements, type StatementFormat } from '../../src/domain/statement-formats';
import { balancesPerStatementMax, mt940LineLengthMax, statementsPerFileMax, uploadEntriesMax } from '../../src/limits';
import { camt053, mt940, type FileStatement } from '../support/bank-files';
import { useSeededRandom } from '../../../../test/support/seeded-random';

/**
 * How the bank formats are read beyond one clean statement: one account's day per statement
 * (MT940 records joined across :62M:/:60M: only), what banks wrap around MT940, a file read in
 * chunks cut anywhere, exact figures in every refusal, and where each statement goes.
 */
const random = useSeededRandom();

const day = (date: string, opening: bigint, refs: string[]): FileStatement => ({
  id: `S-${date}`,
  currency: 'EUR',
  opening,
  date,
  entries: refs.map((ref, i) => ({ ref, amount: BigInt(100 + i), direction: 'CREDIT', bookingDate: date })),
});

async function read(format: StatementFormat, content: string | AsyncIterable<string>, entriesMax = statementLinesMax) {
  return parseBankStatements(format, content, entriesMax);
}

async function ok(format: StatementFormat, content: string | AsyncIterable<string>): Promise<BankStatement[]> {
  const r = await read(format, content);
  if (!r.ok) throw new Error(`refused: ${JSON.stringify(r.error)}`);
  return r.value;
}

/** One account's days in MT940 with the same :28C: number in every record, as Volksbank sends them. */
function sameNumberDays(): string {
  const file = mt940([day('2026-03-02', 0n, ['a', 'b']), day('2026-03-03', 201n, ['c'])]);
  return file
    .replace(/:25:DE89370400440532013\d{3}\/EUR/g, ':25:DE89370400440532013000/EUR')
    .replace(/:28C:\d+\/1/g, ':28C:0');
}

/** The text in pieces of 1 to 40 characters, cut anywhere (inside a CRLF, a tag, an XML name). */
async function* inPieces(text: string): AsyncGenerator<string> {
  for (let i = 0; i < text.length;) {
    const size = random.between(1, 40);
    yield text.slice(i, i + size);
    i += size;
  }
}

describe('MT940: a statement is one account’s day', () => {
  it('keeps two days apart although they share account and :28C:, and joins a day split over :62M:/:60M:', async () => {
    const days = await ok('MT940', sameNumberDays());
    expect(days.map((s) => [s.account, s.businessDate, s.openingBalance, s.closingBalance, s.lines.length])).toEqual([
      ['DE89370400440532013000/EUR', '2026-03-02', 0n, 201n, 2],
      ['DE89370400440532013000/EUR', '2026-03-03', 201n, 301n, 1],
    ]);
    const split = await ok('MT940', mt940([day('2026-03-02', 0n, ['a', 'b', 'c', 'd'])], { split: 2 }));
    expect(split.map((s) => [s.businessDate, s.lines.length, s.closingBalance])).toEqual([['2026-03-02', 4, 406n]]);
  });

  it('refuses a :62M: that nothing continues, a :60M: that continues nothing, another account in between', async () => {
    const split = mt940([day('2026-03-02', 0n, ['a', 'b'])], { split: 2 });
    const lines = split.split('\n');
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix)) + 1;
    const firstRecordOnly = lines
      .slice(
        0,
        lines.findIndex((l, i) => i > 0 && l.startsWith(':20:')),
      )
      .join('\n');
    expect(await read('MT940', firstRecordOnly)).toEqual({
      ok: false,
      error: { line: at(':62M:'), message: expect.stringContaining('ends with an intermediate balance (:62M:)') },
    });
    const secondRecordOnly = lines.slice(lines.findIndex((l, i) => i > 0 && l.startsWith(':20:'))).join('\n');
    expect(await read('MT940', secondRecordOnly)).toEqual({
      ok: false,
      error: { line: 4, message: expect.stringContaining('(:60M:) that no record before it closed (:62M:)') },
    });
    const otherAccount = split.replace(/(:20:S-2026-03-02-2\n):25:[^\n]*/, '$1:25:NL91ABNA0417164300');
    const second = otherAccount.split('\n').findIndex((l) => l.startsWith(':20:S-2026-03-02-2')) + 1;
    expect(await read('MT940', otherAccount)).toEqual({
      ok: false,
      error: { line: second, message: expect.stringContaining('does not go on from it with :60M:') },
    });
  });

  it('names the figures exactly in minor units and the line of the statement or entry at fault', async () => {
    const file = mt940([day('2026-03-02', 0n, ['a']), { ...day('2026-03-03', 100n, ['b']), closing: 1_000_000_007n }]);
    const second = file.split('\n').findIndex((l) => l.startsWith(':20:S-2026-03-03')) + 1;
    expect(await read('MT940', file)).toEqual({
      ok: false,
      error: {
        line: second,
        message: expect.stringContaining(
          'opening balance 100 + entries 100 = 200, but the closing balance is 1000000007',
        ),
      },
    });
    const badEntry = file.replace(':61:2603030303C1,00', ':61:2603030303C1,001');
    const entryLine = badEntry.split('\n').findIndex((l) => l.startsWith(':61:2603030303')) + 1;
    expect(await read('MT940', badEntry)).toEqual({
      ok: false,
      error: { line: entryLine, message: expect.stringContaining('more decimals than EUR') },
    });
  });

  it('refuses an amount with a thousands mark, and one more than a balance holds, naming its line', async () => {
    const file = mt940([day('2026-03-02', 0n, ['a'])]);
    const entryLine = file.split('\n').findIndex((l) => l.startsWith(':61:2603020302')) + 1;
    // Read before as 1 EUR, ".000,00…" taken for the references: only a balance check that failed too told.
    const marked = file.replace(':61:2603020302C1,00', ':61:2603020302C1.000,00');
    expect(await read('MT940', marked)).toEqual({
      ok: false,
      error: { line: entryLine, message: expect.stringContaining('holds a "."') },
    });
    // 18 digits of euros: 10^19 cents, past a signed BIGINT (the insert failed, an internal error).
    const huge = file.replace(':61:2603020302C1,00', ':61:2603020302C100000000000000000,00');
    expect(await read('MT940', huge)).toEqual({
      ok: false,
      error: { line: entryLine, message: expect.stringContaining('more EUR than a balance holds') },
    });
  });
});

describe('MT940: what banks wrap around it', () => {
  const body = mt940([day('2026-03-02', 0n, ['a']), day('2026-03-03', 100n, ['b'])]);
  const plain = async () =>
    (await ok('MT940', body)).map(({ line: _, lines, ...s }) => ({ ...s, lines: lines.length }));
  const wrapped = {
    'SOH/ETX and block headers': `\u0001{1:F01BANKDEFFAXXX0000000000}{2:I940BANKDEFFXXXXN}{4:\n${body.replaceAll('\n-\n', '\n-}\u0003\u0001{1:F01X}{4:\n')}-}{5:{CHK:0}}\u0003`,
    'a :940: line': `:940:\n${body}`,
    'header lines': `ABNANL2A\n940\nABNANL2A\n${body}`,
    'a preamble': `This is an example file.\n\nThe statements start after the dashes.\n------\n${body}`,
    'an envelope': `0000 01FVLBNL22AXXX00042\n940 00\n${body.replaceAll('\n-\n', '\n-XXX\n0000 01FVLBNL22AXXX00043\n940 00\n')}-XXX`,
  };
  for (const [name, text] of Object.entries(wrapped)) {
    it(`reads the MT940 inside ${name}`, async () => {
      expect((await ok('MT940', text)).map(({ line: _, lines, ...s }) => ({ ...s, lines: lines.length }))).toEqual(
        await plain(),
      );
    });
  }
});

describe('reading a file in chunks', () => {
  it('reads MT940 and camt.053 cut anywhere exactly as the whole text, CRLF included', async () => {
    console.log(`[statement-reading] seed ${random.seed}`);
    const files: Array<[StatementFormat, string]> = [
      [
        'MT940',
        mt940([day('2026-03-02', 0n, ['a', 'b', 'c']), day('2026-03-03', 303n, ['d'])], { crlf: true, split: 2 }),
      ],
      ['CAMT053', camt053([day('2026-03-02', 0n, ['a', 'b']), day('2026-03-03', 201n, ['c'])], { prefix: 'ns2' })],
      ['CAMT053', `\uFEFF${camt053([day('2026-03-04', 0n, ['e'])])}`],
    ];
    for (const [format, text] of files) expect(await ok(format, inPieces(text))).toEqual(await ok(format, text));
  });

  it('refuses an endless line and the first entry past the limit, naming its line', async () => {
    const long = `:20:X\n:86:${'x'.repeat(mt940LineLengthMax + 10)}`;
    expect(await read('MT940', inPieces(long))).toEqual({
      ok: false,
      error: { line: 2, message: expect.stringContaining(`longer than ${mt940LineLengthMax}`) },
    });
    const three = mt940([day('2026-03-02', 0n, ['a', 'b', 'c'])]);
    const third = three.split('\n').filter((l) => l.startsWith(':61:'))[2]!;
    expect(await read('MT940', three, 2)).toEqual({
      ok: false,
      error: { line: three.split('\n').indexOf(third) + 1, message: 'more than 2 entries in one file' },
    });
    expect(await read('CAMT053', camt053([day('2026-03-02', 0n, ['a', 'b', 'c'])]), 2)).toMatchObject({
      ok: false,
      error: { message: 'more than 2 entries in one file' },
    });
    // One entry of many transactions, each of which may become a line: they count against the bound too.
    const parts = ['p', 'q', 'r'].map((ref) => ({ ref, amount: 1n }));
    const batch: FileStatement = {
      ...day('2026-03-02', 0n, []),
      entries: [{ ref: 'batch', amount: 3n, direction: 'CREDIT', bookingDate: '2026-03-02', parts }],
    };
    expect(await read('CAMT053', camt053([batch]), 3)).toMatchObject({
      ok: false,
      error: { message: 'more than 3 entries in one file' },
    });
    expect(await read('CAMT053', camt053([batch]), 4)).toMatchObject({ ok: true });
  });

  it('keeps the entries of XML without line breaks apart (several on one line)', async () => {
    const oneLine = camt053([day('2026-03-02', 0n, ['a', 'b', 'c'])]).replaceAll('\n', '');
    const [statement] = await ok('CAMT053', oneLine);
    expect(statement!.lines.map((l) => [l.lineNumber, l.externalRef])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
  });
});

/** Pieces of a file as a source yields them, counting how many were asked for: a refusal stops the reading. */
function counted(head: string, piece: (i: number) => string, pieces: number, tail: string) {
  const read = { pieces: 0 };
  async function* source(): AsyncGenerator<string> {
    yield head;
    for (let i = 0; i < pieces; i++) {
      read.pieces += 1;
      yield piece(i);
    }
    yield tail;
  }
  return { read, source: source() };
}

describe('bounds on what one file holds besides its entries', () => {
  // Each Bal was kept until its Stmt closed: 17 million <Bal/> of a 100 MiB upload took gigabytes.
  it('refuses a camt.053 statement of 100,000 <Bal/> at the one past balancesPerStatementMax, naming its line', async () => {
    const head = '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>';
    const file = counted(head, () => '\n<Bal/>', 100_000, '\n</Stmt></BkToCstmrStmt></Document>');
    const started = performance.now();
    expect(await read('CAMT053', file.source, uploadEntriesMax)).toEqual({
      ok: false,
      error: {
        line: balancesPerStatementMax + 2,
        message: `more than ${balancesPerStatementMax} balances (Bal) in one statement`,
      },
    });
    expect(file.read.pieces).toBe(balancesPerStatementMax + 1);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  // Each MT940 record without entries (about 45 bytes) was a statement, and duplicates were looked for at the end.
  it('refuses an MT940 of more than statementsPerFileMax statements at the :20: of the one past, naming its line', async () => {
    const record = (i: number) => `:20:S${i}\n:25:ACCT${i}\n:28C:1\n:60F:C260302EUR0,\n:62F:C260302EUR0,\n`;
    const file = counted('', record, 3 * statementsPerFileMax, '');
    expect(await read('MT940', file.source, uploadEntriesMax)).toEqual({
      ok: false,
      error: {
        line: 5 * statementsPerFileMax + 1,
        message: `more than ${statementsPerFileMax} statements in one file`,
      },
    });
    // A statement ends where the next record begins: read up to the :20: after the one past.
    expect(file.read.pieces).toBe(statementsPerFileMax + 2);
    const within = counted('', record, statementsPerFileMax, '');
    expect(await read('MT940', within.source, uploadEntriesMax)).toMatchObject({ ok: true });
  });

  it('refuses a camt.053 of more than statementsPerFileMax Stmt at the one past, naming its line', async () => {
    const head = '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>';
    const balance = (code: string) =>
      `<Bal><Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0</Amt><CdtDbtInd>CRDT</CdtDbtInd>` +
      '<Dt><Dt>2026-03-02</Dt></Dt></Bal>';
    const stmt = (i: number) =>
      `\n<Stmt><Acct><Id><Othr><Id>A${i}</Id></Othr></Id></Acct>${balance('OPBD')}${balance('CLBD')}</Stmt>`;
    const file = counted(head, stmt, 2 * statementsPerFileMax, '\n</BkToCstmrStmt></Document>');
    expect(await read('CAMT053', file.source, uploadEntriesMax)).toEqual({
      ok: false,
      error: { line: statementsPerFileMax + 2, message: `more than ${statementsPerFileMax} statements in one file` },
    });
    expect(file.read.pieces).toBe(statementsPerFileMax + 1);
  });
});

describe('accounts and channels', () => {
  it('takes an IBAN checked by mod-97 (spaces and case aside, with its currency appended), or a bank number', () => {
    expect(parseAccountIdentification('nl17 rabo 0310 0295 97')).toEqual({ ok: true, value: 'NL17RABO0310029597' });
    expect(parseAccountIdentification('NL17RABO0310029597EUR')).toEqual({ ok: true, value: 'NL17RABO0310029597EUR' });
    expect(parseAccountIdentification('50880050/0194774600888')).toEqual({ ok: true, value: '50880050/0194774600888' });
    expect(parseAccountIdentification('1291.99.348EUR')).toEqual({ ok: true, value: '1291.99.348EUR' });
    for (const bad of ['NL17RABO0310029598', 'DE8937040044053201300', 'NL17RABO0310029597QQQ']) {
      const r = parseAccountIdentification(bad);
      expect(r.ok || r.error).toContain(`"${bad}" is not a valid IBAN`);
    }
    expect(parseAccountIdentification('').ok).toBe(false);
    expect(parseAccountIdentification('x'.repeat(36)).ok).toBe(false);
    expect(parseAccountIdentification('acct#1').ok).toBe(false);
  });

  const statement = (account: string | null, date: string, line = 7): BankStatement => ({
    account,
    businessDate: date,
    openingDate: date,
    currency: 'EUR',
    openingBalance: 0n,
    closingBalance: 0n,
    lines: [],
    entries: 0,
    line,
  });

  it('sends each statement to its account’s channel, or refuses the whole file naming the account', () => {
    const file = [statement('nl17rabo0310029597', '2026-03-02'), statement('NL59 RABO 3181 2408 69', '2026-03-02')];
    const registered = new Map<string, Registration>([
      ['NL17RABO0310029597', { accountKey: 'NL17RABO0310029597', channel: 'rabo-a', currency: 'EUR' }],
      ['NL59RABO3181240869', { accountKey: 'NL59RABO3181240869', channel: 'rabo-b', currency: 'EUR' }],
    ]);
    const routed = routeStatements(file, null, registered, false);
    expect(routed.ok && routed.value.map((r) => [r.channel, r.account])).toEqual([
      ['rabo-a', 'NL17RABO0310029597'],
      ['rabo-b', 'NL59RABO3181240869'],
    ]);
    const one = new Map([...registered].slice(0, 1));
    expect(routeStatements(file, null, one, false)).toEqual({
      ok: false,
      error: {
        line: 7,
        message: expect.stringContaining(
          'account NL59 RABO 3181 2408 69 (statement of 2026-03-02) is registered to no channel',
        ),
      },
    });
    expect(routeStatements(file, 'rabo-a', registered, true)).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('is registered to channel rabo-b, not rabo-a') },
    });
    expect(routeStatements(file, 'plain', new Map(), false)).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('channel plain has no account registered') },
    });
    const usd = new Map([...registered].map(([k, r]) => [k, { ...r, currency: 'USD' }]));
    expect(routeStatements(file, null, usd, false)).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('is registered in USD, its statement is in EUR') },
    });
  });

  it('refuses a statement of an account registered to another channel, also on a channel with no account registered', () => {
    const file = [statement('NL17RABO0310029597', '2013-01-08', 2), statement('NL17RABO0310029597', '2013-01-15', 14)];
    const registered = new Map<string, Registration>([
      ['NL17RABO0310029597', { accountKey: 'NL17RABO0310029597', channel: 'rabo-b', currency: 'EUR' }],
    ]);
    // rabo-a has no account registered, so it takes one account's statements: never those of another channel's account.
    expect(routeStatements(file, 'rabo-a', registered, false)).toEqual({
      ok: false,
      error: {
        line: 2,
        message:
          'account NL17RABO0310029597 (statement of 2013-01-08) is registered to channel rabo-b, not rabo-a; ' +
          'nothing was imported',
      },
    });
    // Beside an account registered nowhere, which alone such a channel would take.
    const mixed = [statement('NL59RABO3181240869', '2013-01-08', 2), file[1]!];
    expect(routeStatements(mixed, 'rabo-a', registered, false)).toEqual({
      ok: false,
      error: { line: 14, message: expect.stringContaining('is registered to channel rabo-b, not rabo-a') },
    });
    expect(routeStatements(file, 'rabo-b', registered, true)).toEqual({
      ok: true,
      value: file.map((s) => ({ channel: 'rabo-b', account: 'NL17RABO0310029597', statement: s })),
    });
    // An account registered to no channel: the channel with none takes its statements, under no account ('').
    expect(routeStatements(file, 'rabo-a', new Map(), false)).toEqual({
      ok: true,
      value: file.map((s) => ({ channel: 'rabo-a', account: '', statement: s })),
    });
  });

  it('refuses a day’s statement of an account beside one naming none, where both would be the channel’s one account’s', () => {
    // A camt.053 of one Stmt with Acct/Id and one without, of one date and currency: on a channel with no account
    // registered both are kept under no account (''), the same statement twice.
    const file = [statement('NL17RABO0310029597', '2026-03-02', 4), statement(null, '2026-03-02', 31)];
    expect(routeStatements(file, 'plain', new Map(), false)).toEqual({
      ok: false,
      error: {
        line: 31,
        message: expect.stringContaining(
          'two statements of 2026-03-02 EUR, of account NL17RABO0310029597 (line 4) and naming no account (line 31)',
        ),
      },
    });
    expect(routeStatements(file.toReversed(), 'plain', new Map(), false)).toMatchObject({
      ok: false,
      error: { line: 4, message: expect.stringContaining('naming no account (line 31) and of account') },
    });
    // Other days, or other currencies, are the account's other statements.
    const days = [
      file[0]!,
      statement(null, '2026-03-03', 31),
      { ...statement(null, '2026-03-02', 40), currency: 'USD' },
    ];
    expect(routeStatements(days, 'plain', new Map(), false)).toEqual({
      ok: true,
      value: days.map((s) => ({ channel: 'plain', account: '', statement: s })),
    });
  });

  it('takes an account’s month and its closing day’s own statement in one file, on a channel with no account', () => {
    // Two spans, two statements (bankStatementId names the span): keyed by closing date alone the file was refused.
    const month = { ...statement('NL17RABO0310029597', '2026-03-31', 4), openingDate: '2026-03-01' };
    const file = [month, statement('NL17RABO0310029597', '2026-03-31', 90)];
    expect(routeStatements(file, 'plain', new Map(), false)).toEqual({
      ok: true,
      value: file.map((s) => ({ channel: 'plain', account: '', statement: s })),
    });
    // The same span twice is still one statement twice.
    expect(routeStatements([month, { ...month, line: 95 }], 'plain', new Map(), false)).toMatchObject({
      ok: false,
      error: { line: 95, message: expect.stringContaining('two statements of 2026-03-01 to 2026-03-31 EUR') },
    });
  });
});
