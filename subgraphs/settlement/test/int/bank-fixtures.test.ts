import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { statementBytesMax } from '@paygraph/shared/limits';
import { uploadEntriesMax } from '../../src/limits';
import { findShared } from '../../../../scripts/lib/contract';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import type { Stack } from '../../../../test/support/stack';
import { accountKey } from '../../src/domain/channel-accounts';
import { parseBankStatements, type StatementFormat } from '../../src/domain/statement-formats';
import { controlShard } from '../../src/services/settle';

/**
 * Every real bank file of shared/fixtures/bank-statements (read in place beside the checkout, by
 * the rule for those files; copied nowhere), imported through the gateway with the
 * contract's documents, answers what SOURCES.md's last column says: the statements with their
 * dates, entries and balances, or a refusal naming the figures in minor units and the line at
 * fault; "either" files a clear INVALID_STATEMENT or exactly those figures. Files of several
 * accounts are sent without a channel once each account is registered; with one account
 * unregistered the whole file is refused, naming it, and nothing of it is stored.
 */
const root = findShared(join('shared', 'fixtures', 'bank-statements'));
const absent = 'no shared/fixtures/bank-statements in any folder above the checkout: the real files are not here';
if (root === null) console.log(`[bank-fixtures] ${absent} (skipped)`);
const tag = randomBytes(3).toString('hex');

let stack: Stack;
let operator: string;
beforeAll(async () => {
  if (root === null) return;
  stack = await defaultStack();
  operator = await token(unique('ops'), 'operator');
  // The accounts are the files' own, registered by this file alone; a database kept from an earlier run (explicit
  // MYSQL_SHARDS) may hold them already, and the unregistered cases need them unregistered.
  const keys = (await accountsOf('mt940/wolph_mt940__betterplace_sepa_mt9401.sta', 'MT940'))
    .concat(await accountsOf('camt053/newinnovations_camt053__example-camt053-a.xml', 'CAMT053'))
    .concat(await accountsOf('camt053/invoiced__camt053_CAMT053.xml', 'CAMT053'))
    .concat(await accountsOf(registeredElsewhereFile, 'CAMT053'))
    .concat([...cmxlAccounts, ...rabobankAccounts, ...lithuanianAccounts].map(([a]) => a))
    .map(accountKey);
  await sqlRows(sql`DELETE FROM channel_accounts WHERE account_identification IN (${sql.join(keys, sql`, `)})`);
});
afterAll(async () => stack?.stop());

const docs = {
  importFile: contractOperation('ImportBankStatement'),
  register: contractOperation('RegisterChannelAccount'),
};
const cmxlAccounts = [
  ['45050050/76198810', 'EUR'],
  ['10020030/1234567', 'EUR'],
  ['BPHKPLPK/320000546101', 'PLN'],
] as const;
const rabobankAccounts = [
  ['1291.99.348EUR', 'EUR'],
  ['1526.89.184EUR', 'EUR'],
] as const;
const lithuanianAccounts = [
  ['LT625883379695428516', 'EUR'],
  ['LT414319056143772570', 'EUR'],
] as const;
/** A file of one account whose IBAN passes mod-97 (DE14740618130000033626), so that it can be registered. */
const registeredElsewhereFile = 'camt053/camt_parser__053_valid_example.xml';

/** The file's text as a client sends it: decoded as UTF-8 (a byte that is none becomes U+FFFD, in :86: text only). */
function fixture(path: string): string {
  return new TextDecoder('utf-8').decode(readFileSync(join(root!, path)));
}

async function accountsOf(path: string, format: StatementFormat): Promise<string[]> {
  const read = await parseBankStatements(format, fixture(path), uploadEntriesMax);
  if (!read.ok) throw new Error(`${path}: ${read.error.message}`);
  return [...new Set(read.value.map((s) => s.account!))];
}

async function sqlRows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  const [rows] = (await controlShard(stack.shards).db.execute(query)) as unknown as [T[]];
  return rows;
}

type Imported = {
  __typename: string;
  code?: string;
  message?: string;
  channel?: string | null;
  statements?: Array<{
    businessDate: string;
    currency: string;
    openingBalance: string;
    closingBalance: string;
    lines: number;
  }>;
};

async function importFile(input: Record<string, unknown>): Promise<Imported> {
  const r = await gql(stack.gatewayUrl, docs.importFile, { input }, operator);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!.importBankStatement as Imported;
}

async function register(channel: string, accountIdentification: string, currency: string, as = operator) {
  return gql(stack.gatewayUrl, docs.register, { input: { channel, accountIdentification, currency } }, as);
}

/** The channel this file registers an account to: the account's own (channel names allow no '/'). */
function channelOf(account: string): string {
  return `fx${tag}-${accountKey(account).replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 64);
}

async function storedIn(channels: readonly string[]) {
  return sqlRows<{ channel: string; account: string; business_date: string; line_count: number }>(sql`
    SELECT channel, account, DATE_FORMAT(business_date, '%Y-%m-%d') AS business_date, line_count FROM statements
    WHERE channel IN (${sql.join([...channels], sql`, `)}) ORDER BY channel, business_date`);
}

/** A refusal as the contract says: INVALID_STATEMENT, a line (never 0 for a file's content), no floating figure. */
function expectRefusal(answer: Imported, ...contains: string[]): void {
  expect(answer, JSON.stringify(answer)).toMatchObject({ __typename: 'InvalidStatement', code: 'INVALID_STATEMENT' });
  expect(answer.message).toMatch(/^line [1-9]\d*: /);
  expect(answer.message).not.toMatch(/\d\.\d{6,}/); // a float such as 252.20999999996275; "1291.99.348EUR" is an account
  for (const text of contains) expect(answer.message).toContain(text);
}

const figures = (opening: bigint | number, entries: bigint | number, closing: bigint | number) =>
  `opening balance ${opening} + entries ${entries} = ${BigInt(opening) + BigInt(entries)}, but the closing balance is ${closing} (minor units)`;

/** What a correct import of a single account's file answers (SOURCES.md), or the refusal it is. */
type Expected =
  | { statements: number; dates?: string[]; entries?: number[]; total?: number; balances?: Array<[string, string]> }
  | { refused: string[] }
  | { either: { statements: number; dates?: string[]; entries?: number[] } };

const range = (first: string, count: number) =>
  Array.from({ length: count }, (_, i) =>
    new Date(Date.parse(`${first}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10),
  );

const singleAccountFiles: Array<[string, StatementFormat, Expected]> = [
  ['mt940/wolph_mt940__ASNB_mt940.txt', 'MT940', { statements: 31, dates: range('2020-01-01', 31), total: 8 }],
  ['mt940/wolph_mt940__citi_mt940.txt', 'MT940', { either: { statements: 1, dates: ['2024-03-12'], entries: [5] } }],
  [
    'mt940/wolph_mt940__mBank_mt940.sta',
    'MT940',
    { statements: 1, dates: ['2017-01-19'], entries: [3], balances: [['40', '43']] },
  ],
  ['mt940/wolph_mt940__sberbank_171011_01234945.sta', 'MT940', { either: { statements: 1, dates: ['2017-10-11'] } }],
  [
    'mt940/wolph_mt940__self-provided_raiffeisen-cmi.sta',
    'MT940',
    { refused: [figures(2517063710n, -101221350n, 2528168760n)] },
  ],
  [
    'mt940/wolph_mt940__jejik_sns.sta',
    'MT940',
    { statements: 2, dates: ['2012-06-08', '2012-06-09'], entries: [2, 0] },
  ],
  ['mt940/wolph_mt940__jejik_triodos.sta', 'MT940', { refused: [figures(497509, -71570, 437079)] }],
  ['mt940/wolph_mt940__jejik_knab.sta', 'MT940', { refused: ['line 10: ', figures(305898, -676000, 79898)] }],
  [
    'mt940/wolph_mt940__jejik_rabobank-iban.sta',
    'MT940',
    { statements: 2, dates: ['2013-01-08', '2013-01-15'], entries: [2, 2] },
  ],
  ['mt940/jejik-mt940__abnamro.txt', 'MT940', { refused: ['line 4: ', figures(323628, -32144, 87684)] }],
  ['mt940/jejik-mt940__ing-dos.txt', 'MT940', { refused: [figures(0, -4559, 347)] }],
  ['mt940/jejik-mt940__oldenburgischelandesbank2.txt', 'MT940', { refused: ['no closing (:62F:/:62M:) balance'] }],
  ['mt940/jejik-mt940__postfinance.txt', 'MT940', { refused: ['line 2: ', figures(0, 15940, 15960)] }],
  ['mt940/jejik-mt940__sparkasse2.txt', 'MT940', { refused: [figures(93105229, 102725, 93130450)] }],
  [
    'mt940/jejik-mt940__sparkasse_interim_balance.txt',
    'MT940',
    { either: { statements: 3, dates: ['2019-02-18', '2019-02-19', '2021-11-02'] } },
  ],
  [
    'mt940/jejik-mt940__volksbankenraiffeisenbanken.txt',
    'MT940',
    {
      statements: 8,
      dates: [
        '2020-02-19',
        '2020-02-21',
        '2020-02-24',
        '2020-02-25',
        '2020-02-26',
        '2020-02-28',
        '2020-03-02',
        '2020-03-10',
      ],
      total: 12,
    },
  ],
  [
    'mt940/mt940-rs__danskebank_MT940_DK_Example.sta',
    'MT940',
    // 00012/001 (:62M:) and 00012/002 (:60M:) are one day, 2009-10-16.
    {
      statements: 14,
      dates: ['2009-09-30', '2009-10-01', '2009-10-02', '2009-10-05', '2009-10-06', '2009-10-07', '2009-10-09'].concat([
        '2009-10-12',
        '2009-10-13',
        '2009-10-14',
        '2009-10-15',
        '2009-10-16',
        '2009-10-19',
        '2009-10-20',
      ]),
      total: 89,
    },
  ],
  [
    'mt940/zilverline_mt940__van_lanschot.txt',
    'MT940',
    { statements: 3, dates: ['2014-01-10', '2014-01-13', '2014-01-22'] },
  ],
  ['mt940/zilverline_mt940__ing_mt940_iban.txt', 'MT940', { statements: 1, dates: ['2014-08-25'], entries: [21] }],
  ['mt940/php-mt940__Zetb_sample', 'MT940', { either: { statements: 1, dates: ['2020-11-30'], entries: [8] } }],
  ['mt940/php-mt940__Kbs_sample2', 'MT940', { statements: 1, dates: ['2020-10-09'], entries: [7] }],
  [
    'camt053/camt_parser__053_valid_example.xml',
    'CAMT053',
    { statements: 1, dates: ['2013-12-27'], entries: [4], balances: [['3306', '2306']] },
  ],
  ['camt053/camt_parser__053_valid_example_v8.xml', 'CAMT053', { refused: ['an entry in EUR on a statement in CHF'] }],
  ['camt053/camt_parser__053_valid_example_with_batch.xml', 'CAMT053', { refused: [figures(732980, 293426, 2303820)] }],
  ['camt053/camt_parser__053_valid_example_with_datetime.xml', 'CAMT053', { either: { statements: 1 } }],
  [
    'camt053/dvbern_iso20022__Business_Sample_camt.053.001.04.xml',
    'CAMT053',
    { statements: 1, dates: ['2010-10-18'], entries: [3] },
  ],
  [
    'camt053/dvbern_iso20022__camt.053_P_CH0309000000250090342_380000000_0_2016053100163801.xml',
    'CAMT053',
    { statements: 1, dates: ['2016-04-30'], entries: [13] },
  ],
  [
    'camt053/camt-to-coda__Other_account_statement.xml',
    'CAMT053',
    { statements: 1, dates: ['2024-10-01'], entries: [3], balances: [['0', '0']] },
  ],
  ['camt053/newinnovations_camt053__example-camt053-b.xml', 'CAMT053', { either: { statements: 1 } }],
];

function expectImported(file: string, answer: Imported, expected: Exclude<Expected, { refused: string[] }>): void {
  const want = 'either' in expected ? expected.either : expected;
  expect(answer.__typename, `${file}: ${JSON.stringify(answer)}`).toBe('StatementImport');
  const statements = answer.statements!;
  expect(statements).toHaveLength(want.statements);
  if (want.dates) expect(statements.map((s) => s.businessDate)).toEqual(want.dates);
  if (want.entries) expect(statements.map((s) => s.lines)).toEqual(want.entries);
  if ('total' in want && want.total !== undefined) expect(statements.reduce((n, s) => n + s.lines, 0)).toBe(want.total);
  if ('balances' in want && want.balances)
    expect(statements.map((s) => [s.openingBalance, s.closingBalance])).toEqual(want.balances);
}

describe.skipIf(root === null)('every real bank file of one account, sent with its channel', () => {
  for (const [i, [file, format, expected]] of singleAccountFiles.entries()) {
    it(`${file}: ${'refused' in expected ? 'refused' : 'either' in expected ? 'either' : 'imported'}`, async () => {
      const channel = `one-${tag}-${i}`;
      const answer = await importFile({ channel, format, content: fixture(file) });
      if ('refused' in expected) expectRefusal(answer, ...expected.refused);
      else if ('either' in expected && answer.__typename === 'InvalidStatement') expectRefusal(answer);
      else expectImported(file, answer, expected);
      const stored = await storedIn([channel]);
      expect(stored).toHaveLength(answer.__typename === 'StatementImport' ? answer.statements!.length : 0);
    });
  }

  it('the covered file list is the folder: no real file left out', () => {
    const covered = new Set([...singleAccountFiles.map(([f]) => f), ...multiAccountFiles, deutscheBankMonth]);
    const present = ['mt940', 'camt053'].flatMap((dir) => readdirSync(join(root!, dir)).map((f) => `${dir}/${f}`));
    expect(present.filter((f) => !covered.has(f))).toEqual([]);
    expect(present).toHaveLength(36);
  });
});

describe.skipIf(root === null)("PostFinance's camt.053: a batch entry's transactions are lines of their own", () => {
  it('imports 13 entries (SOURCES.md) and keeps the 24.00 entry as 15.00 and 9.00, each under its EndToEndId', async () => {
    const file = 'camt053/dvbern_iso20022__camt.053_P_CH0309000000250090342_380000000_0_2016053100163801.xml';
    const channel = `pf-${tag}`;
    const answer = await importFile({ channel, format: 'CAMT053', content: fixture(file) });
    expectImported(file, answer, { statements: 1, dates: ['2016-04-30'], entries: [13] });
    const lines = await sqlRows<{ external_ref: string; amount: string; direction: string; value_date: string }>(sql`
      SELECT l.external_ref, CAST(l.amount AS CHAR) AS amount, l.direction,
        DATE_FORMAT(l.value_date, '%Y-%m-%d') AS value_date
      FROM statement_lines l JOIN statements s ON s.id = l.statement_id WHERE s.channel = ${channel}
      ORDER BY l.line_number`);
    // Its four batch entries (1000.00 of 10, 620.00 of 8, 110.00 of 3, 24.00 of 2) add up to their transactions.
    expect(lines).toHaveLength(13 - 4 + 10 + 8 + 3 + 2);
    expect(lines.filter((l) => l.value_date === '2016-04-10' && l.direction === 'CREDIT')).toEqual([
      {
        external_ref: 'EndToEnd-CRDBRActSame-1B9C-CHDDBB2',
        amount: '1500',
        direction: 'CREDIT',
        value_date: '2016-04-10',
      },
      {
        external_ref: 'EndToEnd-CRDBRActSame-1B9C-CHDDBB3',
        amount: '900',
        direction: 'CREDIT',
        value_date: '2016-04-10',
      },
      { external_ref: 'PMT-651727380907030005', amount: '5656', direction: 'CREDIT', value_date: '2016-04-10' },
    ]);
    const sum = (rows: typeof lines) =>
      rows.reduce((n, l) => n + (l.direction === 'CREDIT' ? BigInt(l.amount) : -BigInt(l.amount)), 0n);
    expect(sum(lines)).toBe(32268977n - 32215216n);
  });
});

const multiAccountFiles = [
  'mt940/wolph_mt940__betterplace_sepa_mt9401.sta',
  'mt940/wolph_mt940__cmxl_mt940.sta',
  'mt940/jejik-mt940__rabobank.txt',
  'camt053/camt-to-coda__LT625883379695428516_CAMT_053_2024-04-11.xml',
  'camt053/invoiced__camt053_CAMT053.xml',
  'camt053/newinnovations_camt053__example-camt053-a.xml',
];
const deutscheBankMonth = 'camt053/camt-to-coda__Other_BE68793230773034-202411.xml';

async function registerAll(accounts: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (const [account, currency] of accounts) {
    const r = await register(channelOf(account), account, currency);
    expect(r.data!.registerChannelAccount, JSON.stringify(r)).toMatchObject({ __typename: 'ChannelAccount' });
  }
}

describe.skipIf(root === null)('files of several accounts, sent without a channel', () => {
  it('Commerzbank: one account unregistered refuses the file naming it, nothing stored; all 20 registered, 20 statements each on its channel', async () => {
    const file = 'mt940/wolph_mt940__betterplace_sepa_mt9401.sta';
    const accounts = await accountsOf(file, 'MT940');
    expect(accounts).toHaveLength(20);
    await registerAll(accounts.slice(0, 19).map((a) => [a, 'EUR'] as const));
    expectRefusal(
      await importFile({ format: 'MT940', content: fixture(file) }),
      `account ${accounts[19]}`,
      'registered to no channel',
    );
    expect(await storedIn(accounts.map(channelOf))).toEqual([]);
    await registerAll([[accounts[19]!, 'EUR']]);
    const answer = await importFile({ format: 'MT940', content: fixture(file) });
    expect(answer.__typename, JSON.stringify(answer)).toBe('StatementImport');
    expect(answer.channel).toBeNull();
    expect(answer.statements!.map((s) => s.businessDate)).toEqual(Array(20).fill('2007-09-04'));
    const lines = answer.statements!.map((s) => s.lines);
    expect([Math.min(...lines), Math.max(...lines)]).toEqual([1, 12]);
    const stored = await storedIn(accounts.map(channelOf));
    expect(stored.map((s) => [s.channel, s.account]).sort()).toEqual(
      accounts.map((a) => [channelOf(a), accountKey(a)]).sort(),
    );
  });

  it('SNS camt.053: one account unregistered refuses it, nothing stored; both registered, 7 and 4 entries on their channels', async () => {
    const file = 'camt053/newinnovations_camt053__example-camt053-a.xml';
    const accounts = await accountsOf(file, 'CAMT053');
    await registerAll([[accounts[0]!, 'EUR']]);
    expectRefusal(await importFile({ format: 'CAMT053', content: fixture(file) }), `account ${accounts[1]}`);
    expect(await storedIn(accounts.map(channelOf))).toEqual([]);
    await registerAll([[accounts[1]!, 'EUR']]);
    const answer = await importFile({ format: 'CAMT053', content: fixture(file) });
    expect(answer.statements!.map((s) => [s.businessDate, s.lines])).toEqual([
      ['2026-04-08', 7],
      ['2026-04-08', 4],
    ]);
    expect((await storedIn(accounts.map(channelOf))).map((s) => [s.channel, s.line_count])).toEqual(
      accounts.map((a, i) => [channelOf(a), i === 0 ? 7 : 4]).sort(),
    );
  });

  it('Rabobank camt.053 export: 132 statements, 2 accounts × 66 days 2016-07-20..10-19, each on its account’s channel', async () => {
    const file = 'camt053/invoiced__camt053_CAMT053.xml';
    const accounts = await accountsOf(file, 'CAMT053');
    await registerAll(accounts.map((a) => [a, 'EUR'] as const));
    const answer = await importFile({ format: 'CAMT053', content: fixture(file) });
    expect(answer.statements, JSON.stringify(answer).slice(0, 300)).toHaveLength(132);
    for (const account of accounts) {
      const stored = await storedIn([channelOf(account)]);
      expect(stored).toHaveLength(66);
      expect([stored[0]!.business_date, stored.at(-1)!.business_date]).toEqual(['2016-07-20', '2016-10-19']);
    }
  });

  it('refuses, each account registered: DEM (cmxl), Rabobank days that do not add up, a balance without CdtDbtInd', async () => {
    const dem = await register(channelOf(cmxlAccounts[0][0]), cmxlAccounts[0][0], 'DEM');
    expect(dem.data!.registerChannelAccount).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('"DEM"'),
    });
    await registerAll([...cmxlAccounts, ...rabobankAccounts, ...lithuanianAccounts]);
    const cmxl = await importFile({ format: 'MT940', content: fixture('mt940/wolph_mt940__cmxl_mt940.sta') });
    expectRefusal(cmxl, 'line 4: ', 'currency "DEM" is not a current ISO 4217 code');
    const rabobank = await importFile({ format: 'MT940', content: fixture('mt940/jejik-mt940__rabobank.txt') });
    expectRefusal(rabobank, 'line 2: ', figures(47317, -121328, 39582));
    const lt = await importFile({ format: 'CAMT053', content: fixture(multiAccountFiles[3]!) });
    expectRefusal(lt, 'CdtDbtInd must be CRDT or DBIT');
    const channels = [...cmxlAccounts, ...rabobankAccounts, ...lithuanianAccounts].map(([a]) => channelOf(a));
    expect(await storedIn(channels)).toEqual([]);
  });
});

describe.skipIf(root === null)('the Deutsche Bank month (480,301 bytes): larger than a request may carry', () => {
  it('is refused inline (over statementBytesMax); read in chunks, as an upload is, 268 entries of 1 to 30 November', async () => {
    const content = fixture(deutscheBankMonth);
    expect(Buffer.byteLength(content)).toBe(480_301);
    const inline = await importFile({ channel: `db-${tag}`, format: 'CAMT053', content });
    expect(inline).toMatchObject({
      code: 'INVALID_STATEMENT',
      message: `line 0: statement file is larger than ${statementBytesMax} bytes`,
    });
    // The upload path itself (POST /uploads/statements, then uploadId) is the upload part's test; here its reading.
    async function* chunks() {
      for (let i = 0; i < content.length; i += 65_536) yield content.slice(i, i + 65_536);
    }
    const read = await parseBankStatements('CAMT053', chunks(), uploadEntriesMax);
    // Its span, opening 1 November (OPBD), closing the 30th (CLBD): the 30th's own statement is another beside it.
    expect(read.ok && read.value.map((s) => [s.account, s.openingDate, s.businessDate, s.lines.length])).toEqual([
      ['BE68793230773034', '2024-11-01', '2024-11-30', 268],
    ]);
  });
});

describe.skipIf(root === null)('bad input: a typed error naming the thing, nothing stored', () => {
  it('registers an account to one channel only, again to it idempotently; a malformed IBAN or a customer is refused', async () => {
    const channel = `bad-${tag}`;
    const account = 'NL91 ABNA 0417 1643 00';
    await sqlRows(sql`DELETE FROM channel_accounts WHERE account_identification = ${accountKey(account)}`);
    const first = await register(channel, account, 'EUR');
    const again = await register(channel, 'nl91abna0417164300', 'EUR');
    const expected = {
      __typename: 'ChannelAccount',
      channel,
      accountIdentification: 'NL91ABNA0417164300',
      currency: 'EUR',
    };
    expect([first.data!.registerChannelAccount, again.data!.registerChannelAccount]).toEqual([expected, expected]);
    const other = await register(`${channel}-2`, account, 'EUR');
    expect(other.data!.registerChannelAccount).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining(`registered to channel ${channel}`),
    });
    const malformed = await register(channel, 'NL91ABNA0417164301', 'EUR');
    expect(malformed.data!.registerChannelAccount).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('not a valid IBAN'),
    });
    const customer = await token(unique('cust'), 'customer');
    expect(errorCodes(await register(`${channel}-3`, 'DE89370400440532013000', 'EUR', customer))).toEqual([
      'FORBIDDEN',
    ]);
    const rows = await sqlRows<{ channel: string }>(
      sql`SELECT channel FROM channel_accounts WHERE channel LIKE ${`${channel}%`} OR account_identification = 'NL91ABNA0417164301'`,
    );
    expect(rows.map((r) => r.channel)).toEqual([channel]);
  });

  it('refuses content with uploadId, neither of them, an unknown upload, and a CSV without its channel', async () => {
    const content = fixture('mt940/wolph_mt940__mBank_mt940.sta');
    const channel = `bad-${tag}-in`;
    const both = await importFile({ channel, format: 'MT940', content, uploadId: 'up-1' });
    const neither = await importFile({ channel, format: 'MT940' });
    const unknownUpload = await importFile({ channel, format: 'MT940', uploadId: 'up-1' });
    const csv = await importFile({ format: 'CSV', content: 'external_ref,amount,currency,direction,date\n' });
    for (const answer of [both, neither, unknownUpload, csv]) expect(answer).toMatchObject({ code: 'INVALID_INPUT' });
    expect([both.message, neither.message, unknownUpload.message, csv.message]).toEqual([
      'send exactly one of content (the file) and uploadId (a file sent to POST /uploads/statements)',
      'send exactly one of content (the file) and uploadId (a file sent to POST /uploads/statements)',
      'no upload up-1 of yours: POST the file to /uploads/statements first',
      'a CSV statement names no account: send the channel it is of',
    ]);
    expect(await storedIn([channel])).toEqual([]);
  });
});

describe.skipIf(root === null)('a file of an account registered to another channel', () => {
  it('is refused by a channel with no account registered, naming the account and its channel, nothing stored; its own channel imports it', async () => {
    const [account] = await accountsOf(registeredElsewhereFile, 'CAMT053');
    const own = channelOf(account!);
    const other = `none-${tag}`;
    await registerAll([[account!, 'EUR']]);
    try {
      // `other` has no account registered, so it takes one account's statements: never those of another channel's.
      expectRefusal(
        await importFile({ channel: other, format: 'CAMT053', content: fixture(registeredElsewhereFile) }),
        `account ${account} (statement of 2013-12-27) is registered to channel ${own}, not ${other}`,
      );
      expect(await storedIn([other])).toEqual([]);
      const imported = await importFile({ channel: own, format: 'CAMT053', content: fixture(registeredElsewhereFile) });
      expectImported(registeredElsewhereFile, imported, { statements: 1, dates: ['2013-12-27'], entries: [4] });
      expect((await storedIn([other, own])).map((s) => [s.channel, s.account])).toEqual([[own, accountKey(account!)]]);
    } finally {
      // The single-account files import this one to channels with no account: a later run must find it unregistered.
      await sqlRows(sql`DELETE FROM channel_accounts WHERE account_identification = ${accountKey(account!)}`);
    }
  });
});
