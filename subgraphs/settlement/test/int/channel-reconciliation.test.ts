import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createHash, randomBytes } from 'node:crypto';
import { addDays } from '@paygraph/shared/business-date';
import { requestBodyBytesMax, statementBytesMax, statementLinesMax } from '@paygraph/shared/limits';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { controlShard } from '../../src/services/settle';
import { exceptionId } from '../../src/services/channel-reconcile';
import { bankStatementId } from '../../src/services/bank-statements';
import { parseBankStatements } from '../../src/domain/statement-formats';
import { appendEvents, insertExceptions, lockStatementChannels } from '../../src/db/reconciliation-store';
import { unpackReport } from '../../src/db/report-bodies';
import { statements } from '../../src/db/schema/settlement';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { camt053, mt940, type FileEntry } from '../support/bank-files';
import { generateStatements } from '../support/perturbed-statements';
import { generateBatchDays } from '../support/batch-statements';
import { subsetCandidatesMax } from '../../src/limits';
import type { BankLine, Movement } from '../../src/domain/matching';
import { scrape, total } from '../../../../test/support/prometheus';
import { useSeededRandom } from '../../../../test/support/seeded-random';
import { holdLock, statementsRunning, until } from '../../../../test/support/lock-waits';

/**
 * A channel's reconciliation end to end, through the gateway with the contract's documents: a
 * camt.053 statement of day D and an MT940 statement of D+1 against the channel's deposits and
 * withdrawals; every rule kind, timing carried over, exceptions resolved (the bank fee and the
 * write-off posted once, whatever the retries), the adjustment table adding up, bad input
 * refused with nothing written. A channel of its own and dates no other file uses keep other files' movements out.
 */
// MT940 writes years in two digits (20YY): dates of this run within 2070-2089, which no other file uses.
const runDay = Math.floor(Date.now() / 1000) % 7_000;
const dayD = addDays('2070-01-01', runDay);
const dayE = addDays(dayD, 1);
let clock = new Date(`${dayD}T10:00:00Z`);
const tag = randomBytes(3).toString('hex');
const random = useSeededRandom();
const channel = `bank-${tag}`;

let stack: Stack;
let operator: string;
let customer: string;
beforeAll(async () => {
  stack = await startStack({ now: () => clock });
  operator = await token(unique('ops'), 'operator');
  customer = await token(unique('cust'), 'customer');
});
afterAll(async () => stack?.stop());

const q = (doc: string, variables: Record<string, unknown> = {}, as = operator) =>
  gql(stack.gatewayUrl, doc, variables, as);
const docs = {
  deposit: contractOperation('DepositViaChannel'),
  withdraw: contractOperation('Withdraw'),
  open: contractOperation('OpenAccount'),
  importFile: contractOperation('ImportBankStatement'),
  rules: contractOperation('SetMatchingRules'),
  reconcile: contractOperation('ChannelReconciliation'),
  resolve: contractOperation('ResolveException'),
};
const ref = (name: string) => `${name}-${tag}`;

async function openAccount(): Promise<string> {
  const r = await q(docs.open, { input: { ownerId: unique('recon'), type: 'PERSONAL', currency: 'USD' } });
  return r.data!.openAccount.id as string;
}

async function deposit(
  accountId: string,
  amount: string,
  externalRef: string | null,
  via = channel,
  as = operator,
): Promise<string> {
  const r = await q(
    docs.deposit,
    { input: { idempotencyKey: unique('dep'), accountId, amount, currency: 'USD', externalRef, channel: via } },
    as,
  );
  expect(r.data?.deposit.__typename, JSON.stringify(r)).toBe('Deposit');
  return r.data!.deposit.id as string;
}

async function sqlRows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  const [rows] = (await controlShard(stack.shards).db.execute(query)) as unknown as [T[]];
  return rows;
}

const entry = (r: string, amount: bigint, bookingDate = dayD, direction: 'CREDIT' | 'DEBIT' = 'CREDIT'): FileEntry => ({
  ref: r,
  amount,
  direction,
  bookingDate,
});
type Report = {
  matches: Array<Record<string, any>>;
  exceptions: Array<Record<string, any>>;
  adjustment: Array<Record<string, any>>;
};
async function reconcile(date: string, of = channel): Promise<Report> {
  const r = await q(docs.reconcile, { channel: of, businessDate: date });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!.channelReconciliation as Report;
}

/** Each run's references are its own: the tag prefixes every generated reference, of movements and lines alike. */
const own = (r: string | null) => (r ? `${tag}${r}` : null);

/**
 * Deposits and withdraws a generated ledger's movements through the API on their dates (a funding deposit of another
 * channel the day before pays for the withdrawals); answers each generated id's real one.
 */
async function postMovements(c: string, movements: readonly Movement[], first: string): Promise<Map<string, string>> {
  const account = await openAccount();
  clock = new Date(`${addDays(first, -1)}T10:00:00Z`);
  await deposit(account, '900000000', null, `funding-${tag}`);
  const real = new Map<string, string>();
  for (const m of [...movements].sort((a, b) => a.businessDate.localeCompare(b.businessDate))) {
    clock = new Date(`${m.businessDate}T10:00:00Z`);
    if (m.signed > 0n) real.set(m.id, await deposit(account, m.signed.toString(), own(m.externalRef), c));
    else {
      const w = await q(docs.withdraw, {
        input: {
          idempotencyKey: unique('wdr'),
          accountId: account,
          amount: (-m.signed).toString(),
          currency: 'USD',
          externalRef: own(m.externalRef),
          channel: c,
        },
      });
      expect(w.data!.withdraw.__typename, JSON.stringify(w)).toBe('Withdrawal');
      real.set(m.id, w.data!.withdraw.id as string);
    }
  }
  return real;
}

/** A generated statement's lines as one CSV file (importStatement's columns). */
function statementCsv(lines: readonly BankLine[]): string {
  return [
    'external_ref,amount,currency,direction,date',
    ...lines.map(
      (l) =>
        `${own(l.externalRef) ?? ''},${l.signed < 0n ? -l.signed : l.signed},${l.currency},${l.signed < 0n ? 'DEBIT' : 'CREDIT'},${l.statementDate}`,
    ),
  ].join('\n');
}

describe('deposits name their channel', () => {
  it('stores the channel a deposit names; a channel token records its own channel and may name no other', async () => {
    const account = await openAccount();
    const r = await q(docs.deposit, {
      input: {
        idempotencyKey: unique('dep'),
        accountId: account,
        amount: '100',
        currency: 'USD',
        externalRef: null,
        channel: 'other-bank',
      },
    });
    expect(r.data!.deposit).toMatchObject({ __typename: 'Deposit', channel: 'other-bank', status: 'SUCCEEDED' });
    const bank = await token('card-acq', 'channel');
    const own = await q(
      docs.deposit,
      { input: { idempotencyKey: unique('dep'), accountId: account, amount: '100', currency: 'USD' } },
      bank,
    );
    expect(own.data!.deposit).toMatchObject({ __typename: 'Deposit', channel: 'card-acq' });
    const other = await q(
      docs.deposit,
      {
        input: { idempotencyKey: unique('dep'), accountId: account, amount: '100', currency: 'USD', channel: 'bank-z' },
      },
      bank,
    );
    expect(other.data!.deposit).toMatchObject({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });
    const bad = await q(docs.deposit, {
      input: {
        idempotencyKey: unique('dep'),
        accountId: account,
        amount: '100',
        currency: 'USD',
        channel: 'no spaces',
      },
    });
    expect(bad.data!.deposit).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('channel') });
  });
});

describe('a channel reconciled over two days', () => {
  const ids = {} as Record<'d1' | 'd2' | 'd3' | 'd4' | 'd5' | 'd6' | 'd7' | 'd8' | 'd9' | 'w1', string>;
  beforeAll(async () => {
    const rules = await q(docs.rules, {
      input: { channel, amountToleranceMinor: '50', dateWindowDays: 1, allowOneToMany: true },
    });
    expect(rules.data!.setMatchingRules).toEqual({
      __typename: 'MatchingRules',
      channel,
      amountToleranceMinor: '50',
      amountToleranceBps: 0,
      dateWindowDays: 1,
      allowOneToMany: true,
    });
    clock = new Date(`${dayD}T10:00:00Z`);
    const account = await openAccount();
    ids.d1 = await deposit(account, '10000', ref('r1'));
    ids.d2 = await deposit(account, '20000', ref('r2'));
    // d3's reference is ours only: the bank books it under its own (x1-…), so it is matched by amount and date.
    ids.d3 = await deposit(account, '5000', ref('r3'));
    ids.d4 = await deposit(account, '1000', null);
    ids.d5 = await deposit(account, '2000', null);
    ids.d6 = await deposit(account, '3000', null);
    ids.d7 = await deposit(account, '7000', ref('r7'));
    ids.d8 = await deposit(account, '800', ref('r8'));
    const w = await q(docs.withdraw, {
      input: {
        idempotencyKey: unique('wdr'),
        accountId: account,
        amount: '1500',
        currency: 'USD',
        externalRef: ref('w1'),
        channel,
      },
    });
    expect(w.data!.withdraw.__typename).toBe('Withdrawal');
    ids.w1 = w.data!.withdraw.id as string;
    const dayFile = camt053(
      [
        {
          id: `D-${tag}`,
          currency: 'USD',
          opening: 0n,
          date: dayD,
          entries: [
            entry(ref('r1'), 10000n),
            entry(ref('r1'), 10000n),
            entry(ref('r2'), 19970n),
            entry(`batch-${tag}`, 6000n),
            entry(ref('w1'), 1500n, dayD, 'DEBIT'),
            entry('', 25n, dayD, 'DEBIT'),
          ],
        },
      ],
      { version: '08', prefix: 'ns2' },
    );
    const imported = await q(docs.importFile, { input: { channel, format: 'CAMT053', content: dayFile } });
    expect(imported.data!.importBankStatement).toEqual({
      __typename: 'StatementImport',
      channel,
      statements: [{ businessDate: dayD, currency: 'USD', openingBalance: '0', closingBalance: '44445', lines: 6 }],
    });
  });

  it('matches by reference, amount and batch on the day, keeps late movements IN_TRANSIT, and the table adds up', async () => {
    const report = await reconcile(dayD);
    const rules = report.matches.map((m) => [m.rule, m.movementIds.length, m.difference]).sort();
    expect(rules, JSON.stringify(report.matches)).toEqual(
      [
        ['ONE_TO_MANY', 3, '0'],
        ['REFERENCE', 1, '0'],
        ['REFERENCE', 1, '-30'],
        ['REFERENCE', 1, '0'],
      ].sort(),
    );
    const batch = report.matches.find((m) => m.rule === 'ONE_TO_MANY')!;
    expect(batch.movementIds.sort()).toEqual([ids.d4, ids.d5, ids.d6].sort());
    const kinds = report.exceptions
      .filter((e) => e.status === 'OPEN')
      .map((e) => [e.kind, e.movementId ?? e.externalRef, e.amount])
      .sort();
    expect(kinds).toEqual(
      [
        ['AMOUNT_MISMATCH', ids.d2, '-30'],
        ['IN_TRANSIT', ids.d3, '-5000'],
        ['IN_TRANSIT', ids.d7, '-7000'],
        ['IN_TRANSIT', ids.d8, '-800'],
        ['MISSING_INTERNAL', 'BANK-X', '-25'],
        ['MISSING_INTERNAL', ref('r1'), '10000'],
      ].sort(),
    );
    expect(report.adjustment).toEqual([
      {
        currency: 'USD',
        bankMovements: '44445',
        ledgerMovements: '47300',
        inTransit: '12800',
        // The bank's copy of r1 (10000) and its fee line (-25) are bank-only, open as they are; d2's -30 is left.
        bankOnly: '9975',
        unexplained: '-30',
        balanced: false,
      },
    ]);
  });

  it("carries the day's movements over to the next statement: both dates' reports show the match, the window's end makes MISSING_EXTERNAL", async () => {
    clock = new Date(`${dayE}T09:00:00Z`);
    const account = await openAccount();
    ids.d9 = await deposit(account, '300', ref('r9'));
    const nextFile = mt940(
      [
        {
          id: `E-${tag}`,
          currency: 'USD',
          opening: 44445n,
          date: dayE,
          entries: [entry(ref('r7'), 7000n, dayE), entry(`x1-${tag}`, 4990n, dayE), entry(ref('r9'), 300n, dayE)],
        },
      ],
      { split: 2 },
    );
    const imported = await q(docs.importFile, { input: { channel, format: 'MT940', content: nextFile } });
    expect(imported.data!.importBankStatement.statements).toEqual([
      { businessDate: dayE, currency: 'USD', openingBalance: '44445', closingBalance: '56735', lines: 3 },
    ]);
    const day = await reconcile(dayD);
    const late = day.matches.find((m) => m.movementIds.includes(ids.d7))!;
    expect(late).toMatchObject({ rule: 'REFERENCE', externalRefs: [ref('r7')], difference: '0' });
    expect(day.matches.find((m) => m.movementIds.includes(ids.d3))).toMatchObject({
      rule: 'AMOUNT_DATE',
      externalRefs: [`x1-${tag}`],
      difference: '-10',
    });
    const byMovement = (r: Report, id: string) =>
      r.exceptions.filter((e) => e.movementId === id).map((e) => [e.kind, e.status, e.resolution]);
    expect(byMovement(day, ids.d7)).toEqual([['IN_TRANSIT', 'RESOLVED', 'TIMING']]);
    expect(byMovement(day, ids.d8)).toEqual([['MISSING_EXTERNAL', 'OPEN', null]]);
    expect(day.adjustment).toEqual([
      {
        currency: 'USD',
        bankMovements: '44445',
        ledgerMovements: '47300',
        inTransit: '11990',
        bankOnly: '9975',
        unexplained: '-840',
        balanced: false,
      },
    ]);
    const next = await reconcile(dayE);
    expect(next.matches.find((m) => m.movementIds.includes(ids.d7))).toMatchObject({
      rule: 'REFERENCE',
      externalRefs: [ref('r7')],
    });
    expect(byMovement(next, ids.d7)).toEqual([['IN_TRANSIT', 'RESOLVED', 'TIMING']]);
    // D+1: its statement carries D's late money (bankOnly), its ledger only d9.
    expect(next.adjustment).toEqual([
      {
        currency: 'USD',
        bankMovements: '12290',
        ledgerMovements: '300',
        inTransit: '0',
        bankOnly: '12000',
        unexplained: '-10',
        balanced: false,
      },
    ]);
    const stored = await q(
      'query($c: String!, $d: Date!) { channelReconciliations(channel: $c, businessDate: $d) { businessDate adjustment { unexplained } } }',
      { c: channel, d: dayD },
    );
    expect(stored.data!.channelReconciliations.map((r: any) => r.adjustment[0].unexplained)).toEqual(['-840', '-30']);
  });

  it('lists the open exceptions with their age', async () => {
    clock = new Date(`${addDays(dayE, 3)}T09:00:00Z`);
    const r = await q(
      'query($c: String) { reconciliationExceptions(channel: $c) { kind movementId ageDays status } }',
      { c: channel },
    );
    const open = r.data!.reconciliationExceptions as Array<{ kind: string; ageDays: number; status: string }>;
    expect(open.map((e) => e.kind).sort()).toEqual([
      'AMOUNT_MISMATCH',
      'AMOUNT_MISMATCH',
      'MISSING_EXTERNAL',
      'MISSING_INTERNAL',
      'MISSING_INTERNAL',
    ]);
    expect(open.every((e) => e.status === 'OPEN' && e.ageDays >= 3)).toBe(true);
  });

  it('resolves each exception with its reason; the fee and the write-off post once, balanced, whatever the retries', async () => {
    const day = await reconcile(dayD);
    const find = (kind: string, amount: string) =>
      day.exceptions.find((e) => e.kind === kind && e.amount === amount && e.status === 'OPEN')!.id as string;
    const fee = find('AMOUNT_MISMATCH', '-30');
    const feeLine = find('MISSING_INTERNAL', '-25');
    const duplicate = find('MISSING_INTERNAL', '10000');
    const missing = find('MISSING_EXTERNAL', '-800');
    const late = find('AMOUNT_MISMATCH', '-10');

    const forbidden = await q(
      docs.resolve,
      { input: { idempotencyKey: unique('res'), exceptionId: missing, reason: 'WRITE_OFF' } },
      customer,
    );
    expect(errorCodes(forbidden)).toEqual(['FORBIDDEN']);
    const notFee = await q(docs.resolve, {
      input: { idempotencyKey: unique('res'), exceptionId: duplicate, reason: 'BANK_FEE' },
    });
    expect(notFee.data!.resolveException).toMatchObject({ code: 'INVALID_INPUT' });
    // What posts nothing fits one kind alone: else the day reads balanced while the reserve overstates the bank.
    for (const [exceptionId, reason] of [
      [missing, 'BANK_DUPLICATE'],
      [fee, 'BANK_DUPLICATE'],
      [fee, 'TIMING'],
    ] as const) {
      const refused = await q(docs.resolve, { input: { idempotencyKey: unique('res'), exceptionId, reason } });
      expect(refused.data!.resolveException, `${exceptionId} ${reason}`).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/is MISSING_EXTERNAL|is AMOUNT_MISMATCH|does not explain it/),
      });
    }

    const key = unique('res');
    const retries = await Promise.all(
      Array.from({ length: 4 }, () =>
        q(docs.resolve, {
          input: { idempotencyKey: key, exceptionId: fee, reason: 'BANK_FEE', note: 'card scheme fee' },
        }),
      ),
    );
    expect(retries[0]!.errors, JSON.stringify(retries[0]!.errors)).toBeUndefined();
    const answers = retries.map((r) => r.data!.resolveException);
    expect(answers[0]).toMatchObject({
      __typename: 'ReconciliationException',
      status: 'RESOLVED',
      resolution: 'BANK_FEE',
      postingId: expect.stringMatching(/^pst_/),
    });
    expect(new Set(answers.map((a) => a.postingId)).size).toBe(1);
    // The key replayed with another note is another request: refused, the note kept as first written.
    for (const note of ['another note', null]) {
      const reused = await q(docs.resolve, {
        input: { idempotencyKey: key, exceptionId: fee, reason: 'BANK_FEE', note },
      });
      expect(reused.data!.resolveException).toMatchObject({
        __typename: 'InvalidInput',
        message: expect.stringContaining('with another note'),
      });
    }
    const racing = await Promise.all(
      Array.from({ length: 4 }, () =>
        q(docs.resolve, { input: { idempotencyKey: unique('res'), exceptionId: feeLine, reason: 'BANK_FEE' } }),
      ),
    );
    const kinds = racing.map((r) => r.data!.resolveException.__typename).sort();
    expect(kinds).toEqual([
      'ExceptionAlreadyResolved',
      'ExceptionAlreadyResolved',
      'ExceptionAlreadyResolved',
      'ReconciliationException',
    ]);
    expect(racing.find((r) => r.data!.resolveException.code)!.data!.resolveException.code).toBe(
      'EXCEPTION_ALREADY_RESOLVED',
    );
    const off = await q(docs.resolve, {
      input: { idempotencyKey: unique('res'), exceptionId: missing, reason: 'WRITE_OFF' },
    });
    expect(off.data!.resolveException).toMatchObject({
      status: 'RESOLVED',
      resolution: 'WRITE_OFF',
      postingId: expect.stringMatching(/^pst_/),
    });
    const dup = await q(docs.resolve, {
      input: { idempotencyKey: unique('res'), exceptionId: duplicate, reason: 'BANK_DUPLICATE' },
    });
    expect(dup.data!.resolveException).toMatchObject({
      status: 'RESOLVED',
      resolution: 'BANK_DUPLICATE',
      postingId: null,
    });
    const again = await q(docs.resolve, {
      input: { idempotencyKey: unique('res'), exceptionId: duplicate, reason: 'TIMING' },
    });
    expect(again.data!.resolveException).toMatchObject({
      __typename: 'ExceptionAlreadyResolved',
      code: 'EXCEPTION_ALREADY_RESOLVED',
    });
    expect(
      (await q(docs.resolve, { input: { idempotencyKey: unique('res'), exceptionId: late, reason: 'BANK_FEE' } })).data!
        .resolveException.status,
    ).toBe('RESOLVED');

    // Each booked exception has exactly one posting, balanced, between the reserve and fee expense or loss.
    for (const [id, amount, kind] of [
      [fee, 30n, 'FEE_EXPENSE'],
      [feeLine, 25n, 'FEE_EXPENSE'],
      [missing, 800n, 'LOSS'],
      [late, 10n, 'FEE_EXPENSE'],
    ] as const) {
      const postings = await sqlRows<{ id: string }>(
        sql`SELECT id FROM postings WHERE dedupe_key = ${`reconciliation:${id}`}`,
      );
      expect(postings).toHaveLength(1);
      // ledger_entries.amount is signed (credit positive), as the posting's legs.
      const entries = await sqlRows<{ amount: string; system_kind: string }>(sql`
        SELECT e.amount, a.system_kind FROM ledger_entries e JOIN accounts a ON a.id = e.account_id WHERE e.posting_id = ${postings[0]!.id}`);
      const signed = entries
        .map((e) => [e.system_kind, BigInt(e.amount)] as const)
        .sort(([a], [b]) => a.localeCompare(b));
      // The bank holds less than the ledger said: the reserve (an asset, credit-negative) is credited, the expense or
      // loss debited.
      expect(signed).toEqual(
        [
          [kind, -amount],
          ['RESERVE', amount],
        ].sort(([a], [b]) => String(a).localeCompare(String(b))),
      );
      const linked = await sqlRows<{ posting_id: string }>(
        sql`SELECT posting_id FROM reconciliation_exceptions WHERE id = ${id}`,
      );
      expect(linked[0]!.posting_id).toBe(postings[0]!.id);
    }
    const trail = await sqlRows<{ event: string; actor: string; detail: string }>(
      sql`SELECT event, actor, detail FROM reconciliation_exception_events WHERE exception_id = ${missing} ORDER BY sequence`,
    );
    expect(trail.map((t) => t.event)).toEqual(['OPENED', 'CHANGED', 'RESOLVED']);
    expect(trail.at(-1)!.actor).toMatch(/^ops-/);

    const settled = await reconcile(dayD);
    expect(settled.adjustment).toEqual([
      {
        currency: 'USD',
        bankMovements: '44445',
        ledgerMovements: '47300',
        inTransit: '11990',
        bankOnly: '9135',
        unexplained: '0',
        balanced: true,
      },
    ]);
  });
});

describe('bad input writes nothing', () => {
  const statementCount = async (c: string) =>
    Number(
      (await sqlRows<{ n: number | string }>(sql`SELECT COUNT(*) AS n FROM statements WHERE channel = ${c}`))[0]!.n,
    );

  it('refuses a negative tolerance, a file that is not its format, an unknown format and a file over the size limit', async () => {
    const c = `bad-${tag}`;
    const negative = await q(docs.rules, { input: { channel: c, amountToleranceMinor: '-1' } });
    expect(negative.data!.setMatchingRules).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('amountToleranceMinor'),
    });
    expect(await sqlRows(sql`SELECT channel FROM channel_matching_rules WHERE channel = ${c}`)).toEqual([]);
    const wrong = await q(docs.importFile, {
      input: {
        channel: c,
        format: 'CAMT053',
        content: mt940([{ id: 'x', currency: 'USD', opening: 0n, date: dayD, entries: [] }]),
      },
    });
    expect(wrong.data!.importBankStatement).toMatchObject({
      code: 'INVALID_STATEMENT',
      message: expect.stringContaining('line 1'),
    });
    const unknown = await q(docs.importFile, { input: { channel: c, format: 'BAI2', content: 'x' } });
    expect(errorCodes(unknown)).toEqual(['BAD_USER_INPUT']);
    const good = camt053([{ id: 'ok', currency: 'USD', opening: 0n, date: dayD, entries: [entry('a', 1n)] }]);
    // A body past requestBodyBytesMax (far past any statement's limit) is refused before it is read, as HTTP 413.
    const tooBig = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}` },
      body: JSON.stringify({
        query: docs.importFile,
        variables: { input: { channel: c, format: 'CAMT053', content: good + ' '.repeat(requestBodyBytesMax) } },
      }),
    });
    expect(tooBig.status).toBe(413);
    const halfGood = camt053([
      { id: 'ok', currency: 'USD', opening: 0n, date: dayD, entries: [entry('a', 1n)] },
      { id: 'bad', currency: 'USD', opening: 0n, closing: 5n, date: dayE, entries: [entry('b', 1n)] },
    ]);
    expect(
      (await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: halfGood } })).data!
        .importBankStatement.code,
    ).toBe('INVALID_STATEMENT');
    expect(await statementCount(c)).toBe(0);
    const asCustomer = await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: good } }, customer);
    expect(errorCodes(asCustomer)).toEqual(['FORBIDDEN']);
    expect(await statementCount(c)).toBe(0);
  });

  it('refuses a camt.053 of a day’s statement of an account and one naming none, to a channel with no account', async () => {
    // The channel takes one account's statements, kept under no account: these two would be one statement twice.
    const c = `unnamed-${tag}`;
    const iban = '<Id><IBAN>DE89370400440532013000</IBAN></Id>';
    const both = camt053([
      { id: 'named', currency: 'USD', opening: 0n, date: dayD, entries: [entry(ref('named'), 100n)] },
      { id: 'unnamed', currency: 'USD', opening: 0n, date: dayD, entries: [entry(ref('unnamed'), 200n)] },
    ]);
    const at = both.lastIndexOf(iban);
    const content = both.slice(0, at) + both.slice(at + iban.length);
    const refused = await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } });
    expect(refused.errors, JSON.stringify(refused.errors)).toBeUndefined();
    expect(refused.data!.importBankStatement).toEqual({
      __typename: 'InvalidStatement',
      code: 'INVALID_STATEMENT',
      message: expect.stringContaining(
        `line 21: two statements of ${dayD} USD, of account DE89370400440532013000 (line 5) and naming no account (line 21)`,
      ),
    });
    expect(await statementCount(c)).toBe(0);
  });
});

describe('two imports of one channel’s day at once, the day new to the channel', () => {
  const shard = () => controlShard(stack.shards);
  // Both imports' reads wait on the held row and go on together when it is rolled back; which reads or writes first is
  // the server's to choose, so each pair is sent on three days: before the channel’s lock, 30 pairs out of 30 collided
  // on an idle machine (one caller answered an internal error), under load most but not every one.
  const days = [dayD, addDays(dayD, 1), addDays(dayD, 2)];

  /**
   * Imports the files to channel c at once, in this order. The test holds the day's place first: a statement row of the
   * channel's day on a connection of its own, inserted and never committed, on which an import's locking read of the
   * day's statements waits. Each import is sent once the one before it waits (on that row, or on the channel's turn),
   * so all are under way together, as two requests arriving at once are (a client retrying after the gateway's
   * timeout); released, the row is rolled back and the imports go on.
   */
  async function importsAtOnce(c: string, date: string, files: readonly string[]) {
    const hold = holdLock(
      shard(),
      (tx) =>
        tx.insert(statements).values({
          id: `held-${c}`,
          channel: c,
          businessDate: date,
          openingDate: date,
          currency: 'USD',
          lineCount: 0,
          importedBy: 'test',
        }),
      { rollBack: true },
    );
    await hold.taken;
    const waiting = async () =>
      (await statementsRunning(shard(), `%from \`statements\`%${c}%`, '%for update')) +
      (await statementsRunning(shard(), `insert into \`statement_channels\`%${c}%`));
    const answers = [];
    for (const [i, content] of files.entries()) {
      answers.push(q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } }));
      await until(async () => (await waiting()) > i, `import ${i + 1} of ${c} to wait`);
    }
    hold.release();
    await hold.done;
    return Promise.all(answers);
  }

  const stored = (c: string) =>
    sqlRows<{ business_date: string; line_count: number; external_ref: string }>(sql`
      SELECT DATE_FORMAT(s.business_date, '%Y-%m-%d') AS business_date, s.line_count, l.external_ref
      FROM statements s JOIN statement_lines l ON l.statement_id = s.id
      WHERE s.channel = ${c} ORDER BY s.business_date, l.line_number`);
  const file = (date: string, refs: readonly string[]) =>
    camt053([
      {
        id: refs[0]!,
        currency: 'USD',
        opening: 0n,
        date,
        entries: refs.map((r, i) => entry(ref(r), BigInt(i + 1), date)),
      },
    ]);

  it('both imports of one file succeed, and one statement of it is stored', async () => {
    const c = `twice-${tag}`;
    for (const date of days) {
      const answers = await importsAtOnce(c, date, [file(date, ['t1', 't2']), file(date, ['t1', 't2'])]);
      for (const answer of answers)
        expect(answer.data?.importBankStatement, JSON.stringify(answer)).toMatchObject({
          __typename: 'StatementImport',
          statements: [{ businessDate: date, lines: 2 }],
        });
    }
    expect(await stored(c)).toEqual(
      days.flatMap((date) => ['t1', 't2'].map((r) => ({ business_date: date, line_count: 2, external_ref: ref(r) }))),
    );
  });

  it('two CSV statements of one day (importStatement) end as if imported one after the other', async () => {
    // importStatement replaces the day's statement by its id (stm_<channel>_<date>): a DELETE of a row not there locks
    // nothing under read committed, so both inserted it and the second answered an internal error (1062).
    const importStatement =
      'mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename ... on UserError { code } } }';
    const c = `csv-twice-${tag}`;
    const csv = (date: string, refs: readonly string[]) =>
      ['external_ref,amount,currency,direction,date', ...refs.map((r) => `${ref(r)},1,USD,CREDIT,${date}`)].join('\n');
    for (const date of days) {
      const hold = holdLock(
        shard(),
        (tx) =>
          tx.insert(statements).values({
            id: `stm_${c}_${date}`,
            channel: c,
            businessDate: date,
            openingDate: date,
            lineCount: 0,
            importedBy: 'test',
          }),
        { rollBack: true },
      );
      await hold.taken;
      const waiting = async () =>
        (await statementsRunning(shard(), `delete from \`statements\`%${c}%`)) +
        (await statementsRunning(shard(), `insert into \`statement_channels\`%${c}%`));
      const answers = [];
      for (const [i, refs] of [['c1', 'c2'], ['c3']].entries()) {
        answers.push(q(importStatement, { input: { channel: c, businessDate: date, csv: csv(date, refs) } }));
        await until(async () => (await waiting()) > i, `CSV import ${i + 1} of ${c} to wait`);
      }
      hold.release();
      await hold.done;
      const typenames = (await Promise.all(answers)).map((a) => a.data?.importStatement?.__typename ?? a);
      expect(typenames, JSON.stringify(typenames)).toEqual(['Statement', 'Statement']);
    }
    expect(await stored(c)).toEqual(
      days.map((date) => ({ business_date: date, line_count: 1, external_ref: ref('c3') })),
    );
  });

  it('two files of one day end as if imported one after the other: the later one replaces the earlier whole', async () => {
    const c = `replaced-${tag}`;
    for (const date of days) {
      const answers = await importsAtOnce(c, date, [file(date, ['e1', 'e2']), file(date, ['l1'])]);
      expect(
        answers.map((a) => a.data?.importBankStatement?.__typename),
        JSON.stringify(answers),
      ).toEqual(['StatementImport', 'StatementImport']);
    }
    expect(await stored(c)).toEqual(
      days.map((date) => ({ business_date: date, line_count: 1, external_ref: ref('l1') })),
    );
  });
});

// An import reads whether its channel has accounts registered (the one account's path when none) and which they are:
// ranges read FOR UPDATE, which lock nothing under read committed where no row is there, so a registration to the
// channel committed while an import that had found none went on as the channel of no account, and the registration's
// count of the channel's accounts locked nothing either. Both take the channel's turn now, before they read.
describe('a registration of an account to a channel and an import to it at once', () => {
  const shard = () => controlShard(stack.shards);
  const turns = (c: string) => statementsRunning(shard(), `insert into \`statement_channels\`%${c}%`);

  it("go one after the other: a registration waits for the channel's turn an import holds, as an import does", async () => {
    const c = `turns-${tag}`;
    const account = `ACCT-TURNS-${tag}`.toUpperCase();
    const date = addDays(dayD, 190);
    const content = camt053([
      { id: `${c}-1`, currency: 'USD', opening: 0n, date, entries: [entry(ref('turns'), 100n, date)] },
    ]).replace('<IBAN>DE89370400440532013000</IBAN>', `<Othr><Id>${account}</Id></Othr>`);
    // The channel's turn held open, as an import under way holds it.
    const hold = holdLock(shard(), (tx) => lockStatementChannels(tx, [c]));
    await hold.taken;
    const imported = q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } });
    await until(async () => (await turns(c)) === 1, `the import to ${c} to wait for its turn`);
    let registered = false;
    const registration = q(contractOperation('RegisterChannelAccount'), {
      input: { channel: c, accountIdentification: account, currency: 'USD' },
    }).then((r) => ((registered = true), r));
    await until(async () => (await turns(c)) === 2, `the registration to ${c} to wait for its turn`);
    expect(registered).toBe(false);
    hold.release();
    await hold.done;
    const [i, r] = await Promise.all([imported, registration]);
    expect(i.data?.importBankStatement?.__typename, JSON.stringify(i)).toBe('StatementImport');
    expect(r.data?.registerChannelAccount?.__typename, JSON.stringify(r)).toBe('ChannelAccount');
    // Whichever went first, the statement is of one order: the channel's one account ('') or the account registered.
    const rows = await sqlRows<{ account: string }>(sql`SELECT account FROM statements WHERE channel = ${c}`);
    expect(rows).toHaveLength(1);
    expect(['', account]).toContain(rows[0]!.account);
  });

  it("an import of no channel takes its accounts' channels before their rows, as every import and registration does", async () => {
    const c = `order-${tag}`;
    const account = `ACCT-ORDER-${tag}`.toUpperCase();
    const date = addDays(dayD, 191);
    const registered = await q(contractOperation('RegisterChannelAccount'), {
      input: { channel: c, accountIdentification: account, currency: 'USD' },
    });
    expect(registered.data?.registerChannelAccount?.__typename, JSON.stringify(registered)).toBe('ChannelAccount');
    const content = camt053([
      { id: `${c}-1`, currency: 'USD', opening: 0n, date, entries: [entry(ref('order'), 100n, date)] },
    ]).replace('<IBAN>DE89370400440532013000</IBAN>', `<Othr><Id>${account}</Id></Othr>`);
    // The channel's turn held, as an import to it holds it before it reads the channel's accounts (channelHasAccounts).
    const hold = holdLock(shard(), (tx) => lockStatementChannels(tx, [c]));
    await hold.taken;
    const imported = q(docs.importFile, { input: { format: 'CAMT053', content } });
    await until(async () => (await turns(c)) === 1, `the import of no channel to wait for ${c}'s turn`);
    // It holds no registration while it waits: the other import's read of the channel's accounts would go on. Before,
    // it had locked its accounts' rows first and waited for the turn holding them: the two waited in a circle.
    await shard().db.transaction(async (tx) => {
      await tx.execute(sql`SELECT channel FROM channel_accounts WHERE channel = ${c} FOR UPDATE NOWAIT`);
    });
    hold.release();
    await hold.done;
    const i = await imported;
    expect(i.data?.importBankStatement?.__typename, JSON.stringify(i)).toBe('StatementImport');
    const rows = await sqlRows<{ account: string }>(sql`SELECT account FROM statements WHERE channel = ${c}`);
    expect(rows.map((r) => r.account)).toEqual([account]);
  });
});

/**
 * A CSV statement of exactly `bytes` bytes with every field quoted (each quote is two bytes once
 * the request's JSON escapes it, as each line end is): the most lines the limit allows of about 50
 * bytes, the rest spread over their references.
 */
function csvOfBytes(bytes: number, prefix: string): string {
  const head = 'external_ref,amount,currency,direction,date';
  const line = (i: number, pad: number) =>
    `"${prefix}${String(i).padStart(5, '0')}${'x'.repeat(pad)}","1","USD","CREDIT","${dayD}"`;
  const lineBytes = line(0, 0).length + 1;
  const count = Math.min(statementLinesMax, Math.floor((bytes - head.length) / lineBytes));
  let rest = bytes - head.length - count * lineBytes;
  const pads = Array.from({ length: count }, () => {
    const pad = Math.min(rest, 100);
    rest -= pad;
    return pad;
  });
  expect(rest).toBe(0);
  const text = [head, ...pads.map((pad, i) => line(i, pad))].join('\n');
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

describe('a statement at the size limit imports over the API; one byte or one line more is refused whole', () => {
  const lineCount = async (c: string) =>
    Number(
      (
        await sqlRows<{ n: number | string }>(sql`
    SELECT COUNT(*) AS n FROM statement_lines l JOIN statements s ON s.id = l.statement_id WHERE s.channel = ${c}`)
      )[0]!.n,
    );

  it('imports statementBytesMax bytes (its request within requestBodyBytesMax) and refuses statementBytesMax + 1 as INVALID_STATEMENT, writing nothing', async () => {
    const c = `size-${tag}`;
    const atLimit = csvOfBytes(statementBytesMax, `s${tag}-`);
    const body = JSON.stringify({
      query: docs.importFile,
      variables: { input: { channel: c, format: 'CSV', content: atLimit } },
    });
    // The request is well inside the body limit even so: the size rule of limits.ts holds for the quoted file.
    expect(Buffer.byteLength(body)).toBeLessThan(requestBodyBytesMax);
    const lines = atLimit.split('\n').length - 1;
    const imported = await q(docs.importFile, { input: { channel: c, format: 'CSV', content: atLimit } });
    expect(imported.data!.importBankStatement).toMatchObject({
      __typename: 'StatementImport',
      statements: [{ businessDate: dayD, lines }],
    });
    expect(await lineCount(c)).toBe(lines);
    // Its reconciliation stores a report of one exception per line (each line is no movement of ours): over a TEXT's
    // 64 KiB of JSON, kept gzipped (db/report-bodies.ts) and read back whole.
    const report = await q(docs.reconcile, { channel: c, businessDate: dayD });
    expect(report.errors, JSON.stringify(report.errors)?.slice(0, 500)).toBeUndefined();
    expect(report.data!.channelReconciliation.exceptions).toHaveLength(lines);
    const stored = await sqlRows<{ body: Buffer }>(sql`SELECT body FROM channel_reconciliations WHERE channel = ${c}`);
    const json = await unpackReport(stored[0]!.body);
    expect(json.length).toBeGreaterThan(65_535);
    expect((JSON.parse(json) as { exceptions: unknown[] }).exceptions).toHaveLength(lines);

    const over = `${csvOfBytes(statementBytesMax, `t${tag}-`)} `;
    const refused = await q(docs.importFile, { input: { channel: `${c}-over`, format: 'CSV', content: over } });
    expect(refused.data!.importBankStatement).toEqual({
      __typename: 'InvalidStatement',
      code: 'INVALID_STATEMENT',
      message: expect.stringContaining(`larger than ${statementBytesMax} bytes`),
    });
    expect(await lineCount(`${c}-over`)).toBe(0);
    // Nor does a refused file replace the day's statement that is there.
    const replaced = await q(docs.importFile, { input: { channel: c, format: 'CSV', content: over } });
    expect(replaced.data!.importBankStatement.code).toBe('INVALID_STATEMENT');
    expect(await lineCount(c)).toBe(lines);
  });

  it('refuses statementLinesMax + 1 lines (a file well under the byte limit) as INVALID_STATEMENT, writing nothing', async () => {
    const c = `lines-${tag}`;
    const rows = Array.from({ length: statementLinesMax + 1 }, (_, i) => `r${i},1,USD,CREDIT,${dayD}`);
    const content = ['external_ref,amount,currency,direction,date', ...rows].join('\n');
    expect(Buffer.byteLength(content)).toBeLessThan(statementBytesMax);
    const refused = await q(docs.importFile, { input: { channel: c, format: 'CSV', content } });
    expect(refused.data!.importBankStatement).toEqual({
      __typename: 'InvalidStatement',
      code: 'INVALID_STATEMENT',
      message: expect.stringContaining(`more than ${statementLinesMax}`),
    });
    expect(await lineCount(c)).toBe(0);
    const exactly = await q(docs.importFile, {
      input: {
        channel: c,
        format: 'CSV',
        content: ['external_ref,amount,currency,direction,date', ...rows.slice(1)].join('\n'),
      },
    });
    expect(exactly.data!.importBankStatement).toMatchObject({
      __typename: 'StatementImport',
      statements: [{ lines: statementLinesMax }],
    });
    expect(await lineCount(c)).toBe(statementLinesMax);
  });
});

describe('statements made from the ledger and perturbed (seeded)', () => {
  it('finds or matches each perturbation through the API, every rule kind', async () => {
    console.log(`[channel-reconciliation] seed ${random.seed}`);
    const c = `gen-${tag}`;
    const first = addDays(dayD, 10);
    const days = 3;
    const generated = generateStatements(random, {
      firstDate: first,
      days,
      movementsPerDay: 6,
      currencies: ['USD'],
      fuzzMax: 50n,
    });
    expect(
      (
        await q(docs.rules, {
          input: { channel: c, amountToleranceMinor: '50', dateWindowDays: 1, allowOneToMany: true },
        })
      ).data!.setMatchingRules.__typename,
    ).toBe('MatchingRules');
    const real = await postMovements(c, generated.movements, first);
    const csv = statementCsv(generated.lines);
    const imported = await q(docs.importFile, { input: { channel: c, format: 'CSV', content: csv } });
    expect(imported.data!.importBankStatement.__typename, JSON.stringify(imported)).toBe('StatementImport');
    const reports = new Map<string, Report>();
    for (let day = 0; day <= days; day++) {
      const date = addDays(first, day);
      const r = await q(docs.reconcile, { channel: c, businessDate: date });
      expect(r.errors).toBeUndefined();
      reports.set(date, r.data!.channelReconciliation as Report);
    }
    const matches = [...reports.values()].flatMap((r) => r.matches);
    const exceptions = [...reports.values()].flatMap((r) => r.exceptions);
    const matchOf = (generatedId: string) => matches.find((m) => m.movementIds.includes(real.get(generatedId)!));
    const lineOf = new Map(generated.lines.map((l) => [l.key, l]));
    for (const e of generated.expectations) {
      const at = JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
      switch (e.kind) {
        case 'EXACT':
        case 'SHIFTED':
        case 'SPLIT':
        case 'DUPLICATED':
          expect(matchOf(e.movementId), at).toMatchObject({ rule: 'REFERENCE', difference: '0' });
          if (e.kind === 'DUPLICATED')
            expect(
              exceptions.some(
                (x) => x.kind === 'MISSING_INTERNAL' && x.externalRef === own(lineOf.get(e.lineKey)!.externalRef),
              ),
              at,
            ).toBe(true);
          break;
        case 'FEE':
          expect(matchOf(e.movementId), at).toMatchObject({ rule: 'REFERENCE', difference: (-e.fee).toString() });
          expect(
            exceptions.some(
              (x) =>
                x.kind === 'AMOUNT_MISMATCH' &&
                x.movementId === real.get(e.movementId) &&
                x.amount === (-e.fee).toString(),
            ),
            at,
          ).toBe(true);
          break;
        case 'NO_REFERENCE':
          expect(matchOf(e.movementId), at).toMatchObject({ rule: 'AMOUNT_DATE', difference: e.difference.toString() });
          break;
        case 'BATCH':
          expect(matchOf(e.movementIds[0]!), at).toMatchObject({ rule: 'ONE_TO_MANY', difference: '0' });
          expect([...matchOf(e.movementIds[0]!)!.movementIds].sort(), at).toEqual(
            e.movementIds.map((id) => real.get(id)!).sort(),
          );
          break;
        case 'DROPPED':
          expect(
            exceptions.some(
              (x) =>
                ['MISSING_EXTERNAL', 'IN_TRANSIT'].includes(x.kind) &&
                x.movementId === real.get(e.movementId) &&
                x.status === 'OPEN',
            ),
            at,
          ).toBe(true);
          break;
        case 'BANK_ONLY':
          expect(
            exceptions.some(
              (x) => x.kind === 'MISSING_INTERNAL' && x.externalRef === own(lineOf.get(e.lineKey)!.externalRef),
            ),
            at,
          ).toBe(true);
          break;
      }
    }
    // Every table adds up (the service asserts it) and says unexplained = Σ the date's open differences.
    for (const [, r] of reports) for (const row of r.adjustment) expect(row.balanced).toBe(row.unexplained === '0');
  });
});

describe('card deposits named by the acquirer, settled in one batch line under the bank’s reference (seeded)', () => {
  const metrics = () => scrape(stack.subgraphUrls.settlement.replace(/\/graphql$/, '/metrics'));
  const searches = (samples: Awaited<ReturnType<typeof metrics>>, outcome: string) =>
    total(samples, 'paygraph_reconciliation_batch_searches_total', { outcome });

  it('matches each day’s batch and each payout booked in parts through the API; near misses stay exceptions', async () => {
    const c = `acq-${tag}`;
    const first = addDays(dayD, 20);
    const scenario = generateBatchDays(random, {
      firstDate: first,
      days: 4,
      currency: 'USD',
      toleranceMinor: 50n,
      windowDays: 1,
    });
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '50', dateWindowDays: 1, allowOneToMany: true } });
    const real = await postMovements(c, scenario.movements, first);
    const imported = await q(docs.importFile, {
      input: { channel: c, format: 'CSV', content: statementCsv(scenario.lines) },
    });
    expect(imported.data!.importBankStatement.__typename, JSON.stringify(imported)).toBe('StatementImport');
    const before = await metrics();
    const matches: Report['matches'] = [];
    for (let day = 0; day <= 5; day++) matches.push(...(await reconcile(addDays(first, day), c)).matches);
    expect(searches(await metrics(), 'searched')).toBeGreaterThan(searches(before, 'searched'));
    const matchOf = (id: string) => matches.find((m) => m.movementIds.includes(real.get(id)!));
    const refOf = new Map(scenario.lines.map((l) => [l.key, own(l.externalRef)]));
    for (const e of scenario.expectations) {
      const at = JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
      if (e.kind === 'BATCH') {
        expect(matchOf(e.movementIds[0]!), at).toMatchObject({ rule: 'ONE_TO_MANY', difference: `${e.difference}` });
        expect([...matchOf(e.movementIds[0]!)!.movementIds].sort(), at).toEqual(
          e.movementIds.map((id) => real.get(id)).sort(),
        );
        expect(matchOf(e.movementIds[0]!)!.externalRefs, at).toEqual([refOf.get(e.lineKey)]);
      } else if (e.kind === 'PARTS') {
        expect(matchOf(e.movementId), at).toMatchObject({ rule: 'ONE_TO_MANY', difference: '0' });
        expect([...matchOf(e.movementId)!.externalRefs].sort(), at).toEqual(e.lineKeys.map((k) => refOf.get(k)).sort());
      } else if (e.kind === 'NEAR_MISS' || e.kind === 'OUT_OF_WINDOW') {
        for (const id of e.movementIds) expect(matchOf(id), at).toBeUndefined();
        expect(
          matches.some((m) => m.externalRefs.includes(refOf.get(e.lineKey))),
          at,
        ).toBe(false);
      } else if (e.kind === 'IN_TRANSIT') expect(matchOf(e.movementId), at).toBeUndefined();
    }
  });

  it("closes no other date's exceptions through a match at its window's edge, weighed without all its candidates", async () => {
    // Day A's two card deposits are settled in one line booked on B; two deposits of B in transit make a sum 20 off it.
    // Reconciling C reads B to D only: the line, without A's deposits, takes B's two, a match C's report does not show.
    const c = `edge-${tag}`;
    const [dayA, dayB, dayC] = [40, 41, 42].map((n) => addDays(dayD, n)) as [string, string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '50', dateWindowDays: 1, allowOneToMany: true } });
    const account = await openAccount();
    clock = new Date(`${dayA}T10:00:00Z`);
    for (const [name, amount] of [
      ['a1', '30000'],
      ['a2', '12000'],
    ] as const)
      await deposit(account, amount, ref(name), c);
    clock = new Date(`${dayB}T10:00:00Z`);
    const inTransit = [await deposit(account, '25000', ref('t1'), c), await deposit(account, '17020', ref('t2'), c)];
    const csv = ['external_ref,amount,currency,direction,date', `bnk-edge-${tag},42000,USD,CREDIT,${dayB}`].join('\n');
    expect((await q(docs.importFile, { input: { channel: c, format: 'CSV', content: csv } })).errors).toBeUndefined();
    const onB = await reconcile(dayB, c);
    expect(onB.matches).toMatchObject([{ rule: 'ONE_TO_MANY', difference: '0' }]);
    expect(onB.exceptions.filter((e) => inTransit.includes(e.movementId)).map((e) => [e.kind, e.status])).toEqual([
      ['IN_TRANSIT', 'OPEN'],
      ['IN_TRANSIT', 'OPEN'],
    ]);
    expect((await reconcile(dayC, c)).matches).toEqual([]);
    const open = await q('query($c: String) { reconciliationExceptions(channel: $c) { kind movementId status } }', {
      c,
    });
    expect(
      open.data!.reconciliationExceptions.filter((e: any) => inTransit.includes(e.movementId)).map((e: any) => e.kind),
    ).toEqual(['IN_TRANSIT', 'IN_TRANSIT']);
  });

  it('weighs more members than subsetCandidatesMax only all together, and counts the weighing it could not make', async () => {
    const c = `many-${tag}`;
    const date = addDays(dayD, 30);
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '50', dateWindowDays: 0, allowOneToMany: true } });
    clock = new Date(`${date}T10:00:00Z`);
    const account = await openAccount();
    for (let i = 0; i <= subsetCandidatesMax; i++) await deposit(account, '1000', ref(`acq-${i}`), c);
    const file = camt053(
      [{ id: `M-${tag}`, currency: 'USD', opening: 0n, date, entries: [entry(`bnk-${tag}`, 10_000n, date)] }],
      {
        version: '08',
        prefix: 'ns2',
      },
    );
    expect(
      (await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: file } })).errors,
    ).toBeUndefined();
    const before = searches(await metrics(), 'over_candidates');
    const report = await reconcile(date, c);
    expect(report.matches).toEqual([]);
    expect(report.exceptions.filter((e) => e.kind === 'MISSING_INTERNAL').map((e) => e.externalRef)).toEqual([
      `bnk-${tag}`,
    ]);
    expect(searches(await metrics(), 'over_candidates')).toBe(before + 1);
  });
});

describe('a TIMING resolution of a movement in transit lapses when its window ends without it', () => {
  it('makes the movement MISSING_EXTERNAL again (open, the day unbalanced); one that arrived stays resolved', async () => {
    // The operator says "it is in transit, it will come": true until the statement of the window's last day comes
    // without it. From then on the money is missing, and a day that went on counting it in transit read balanced.
    const c = `lapse-${tag}`;
    const [dayL, dayM] = [50, 51].map((n) => addDays(dayD, n)) as [string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    clock = new Date(`${dayL}T10:00:00Z`);
    const account = await openAccount();
    const shown = await deposit(account, '1000', ref('lapse-shown'), c);
    const never = await deposit(account, '4000', ref('lapse-never'), c);
    const late = await deposit(account, '700', ref('lapse-late'), c);
    const file = (date: string, entries: FileEntry[]) =>
      camt053([{ id: `${c}-${date}`, currency: 'USD', opening: 0n, date, entries }], { version: '08', prefix: 'ns2' });
    const imported = await q(docs.importFile, {
      input: { channel: c, format: 'CAMT053', content: file(dayL, [entry(ref('lapse-shown'), 1000n, dayL)]) },
    });
    expect(imported.data!.importBankStatement.__typename, JSON.stringify(imported)).toBe('StatementImport');
    const before = await reconcile(dayL, c);
    const exceptionOf = (r: Report, movementId: string) => r.exceptions.find((e) => e.movementId === movementId)!;
    expect([never, late].map((id) => exceptionOf(before, id).kind)).toEqual(['IN_TRANSIT', 'IN_TRANSIT']);
    const timingKey = unique('res');
    for (const [id, key] of [
      [never, timingKey],
      [late, unique('res')],
    ] as const) {
      const resolved = await q(docs.resolve, {
        input: { idempotencyKey: key, exceptionId: exceptionOf(before, id).id, reason: 'TIMING' },
      });
      expect(resolved.data!.resolveException).toMatchObject({ status: 'RESOLVED', resolution: 'TIMING' });
    }
    expect(exceptionOf(before, shown)).toBeUndefined();

    // The window's last day: its statement shows the late deposit, not the other.
    clock = new Date(`${dayM}T10:00:00Z`);
    const next = await q(docs.importFile, {
      input: { channel: c, format: 'CAMT053', content: file(dayM, [entry(ref('lapse-late'), 700n, dayM)]) },
    });
    expect(next.data!.importBankStatement.__typename, JSON.stringify(next)).toBe('StatementImport');
    const after = await reconcile(dayL, c);
    const lapsed = exceptionOf(after, never);
    expect(lapsed).toMatchObject({ kind: 'MISSING_EXTERNAL', status: 'OPEN', resolution: null, amount: '-4000' });
    expect(exceptionOf(after, late)).toMatchObject({ kind: 'IN_TRANSIT', status: 'RESOLVED', resolution: 'TIMING' });
    expect(after.adjustment).toEqual([
      {
        currency: 'USD',
        bankMovements: '1000',
        ledgerMovements: '5700',
        inTransit: '700',
        bankOnly: '0',
        unexplained: '-4000',
        balanced: false,
      },
    ]);
    const open = await q('query($c: String) { reconciliationExceptions(channel: $c) { id kind status } }', { c });
    expect(open.data!.reconciliationExceptions).toEqual([{ id: lapsed.id, kind: 'MISSING_EXTERNAL', status: 'OPEN' }]);
    const trail = await sqlRows<{ event: string; actor: string }>(
      sql`SELECT event, actor FROM reconciliation_exception_events WHERE exception_id = ${lapsed.id} ORDER BY sequence`,
    );
    expect(trail.map((t) => [t.event, t.actor.replace(/^ops-.*/, 'ops')])).toEqual([
      ['OPENED', 'matching'],
      ['RESOLVED', 'ops'],
      ['OPENED', 'matching'],
    ]);

    // The lapsed resolution's key resolves nothing again; the money missing is booked as any other.
    const replay = await q(docs.resolve, {
      input: { idempotencyKey: timingKey, exceptionId: lapsed.id, reason: 'TIMING' },
    });
    expect(replay.data!.resolveException).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('lapsed'),
    });
    // Nor does TIMING with a new key: its window ended without the money, and it would park the day balanced for good.
    const again = await q(docs.resolve, {
      input: { idempotencyKey: unique('res'), exceptionId: lapsed.id, reason: 'TIMING' },
    });
    expect(again.data!.resolveException).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('lapsed'),
    });
    const off = await q(docs.resolve, {
      input: { idempotencyKey: unique('res'), exceptionId: lapsed.id, reason: 'WRITE_OFF' },
    });
    expect(off.data!.resolveException).toMatchObject({ status: 'RESOLVED', resolution: 'WRITE_OFF' });
    const written = await reconcile(dayL, c);
    expect(written.adjustment[0]).toMatchObject({ unexplained: '0', bankOnly: '-4000', balanced: true });
    expect(exceptionOf(written, never)).toMatchObject({ status: 'RESOLVED', resolution: 'WRITE_OFF' });
  });
});

describe('a TIMING resolution of a movement missing from the bank, or of a line matching none, lapses too', () => {
  const file = (c: string, date: string, entries: FileEntry[]) =>
    camt053([{ id: `${c}-${date}`, currency: 'USD', opening: 0n, date, entries }], { version: '08', prefix: 'ns2' });
  async function importFile(c: string, date: string, entries: FileEntry[]): Promise<void> {
    const r = await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: file(c, date, entries) } });
    expect(r.data!.importBankStatement.__typename, JSON.stringify(r)).toBe('StatementImport');
  }
  async function resolve(exceptionId: string, reason: string, idempotencyKey = unique('res')) {
    return (await q(docs.resolve, { input: { idempotencyKey, exceptionId, reason } })).data!.resolveException;
  }
  const exceptionOf = (r: Report, pick: (e: Record<string, any>) => boolean) => r.exceptions.find(pick)!;
  /** Each exception's audit trail, operators named "ops": what a second run must leave as it was. */
  async function trails(c: string): Promise<string[][]> {
    const rows = await sqlRows<{ exception_id: string; event: string; actor: string; detail: string }>(
      sql`SELECT e.exception_id, e.event, e.actor, e.detail FROM reconciliation_exception_events e
          JOIN reconciliation_exceptions x ON x.id = e.exception_id WHERE x.channel = ${c}
          ORDER BY e.exception_id, e.sequence`,
    );
    return rows.map((t) => [t.exception_id, t.event, t.actor.replace(/^ops-.*/, 'ops'), t.detail]);
  }
  const trailOf = (all: string[][], id: string) => all.filter((t) => t[0] === id).map((t) => t.slice(1));
  const openOf = async (c: string) =>
    (await q('query($c: String) { reconciliationExceptions(channel: $c) { id kind status } }', { c })).data!
      .reconciliationExceptions;

  it('reopens a MISSING_EXTERNAL resolved TIMING once its window ended without the money (the day unbalanced)', async () => {
    // The statement of the window's last day came before the date's own (a late file): both deposits are on none
    // yet, MISSING_EXTERNAL. The operator says "the date's statement will show them": TIMING. The date's statement
    // then shows one; the other's money is missing, and the day counted it in transit for good and read balanced.
    const c = `lapse-ext-${tag}`;
    const [dayX, dayY] = [80, 81].map((n) => addDays(dayD, n)) as [string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const account = await openAccount();
    clock = new Date(`${dayX}T10:00:00Z`);
    const never = await deposit(account, '4000', ref('lapse-ext-never'), c);
    const late = await deposit(account, '700', ref('lapse-ext-late'), c);
    clock = new Date(`${dayY}T10:00:00Z`);
    await deposit(account, '300', ref('lapse-ext-next'), c);
    await importFile(c, dayY, [entry(ref('lapse-ext-next'), 300n, dayY)]);
    const before = await reconcile(dayX, c);
    const of = (r: Report, id: string) => exceptionOf(r, (e) => e.movementId === id);
    expect([never, late].map((id) => [of(before, id).kind, of(before, id).status])).toEqual([
      ['MISSING_EXTERNAL', 'OPEN'],
      ['MISSING_EXTERNAL', 'OPEN'],
    ]);
    const timingKey = unique('res');
    expect(await resolve(of(before, never).id, 'TIMING', timingKey)).toMatchObject({ status: 'RESOLVED' });
    expect(await resolve(of(before, late).id, 'TIMING')).toMatchObject({ status: 'RESOLVED', resolution: 'TIMING' });

    // The date's own statement comes later, with the late deposit only.
    clock = new Date(`${dayY}T12:00:00Z`);
    await importFile(c, dayX, [entry(ref('lapse-ext-late'), 700n, dayX)]);
    const after = await reconcile(dayX, c);
    const lapsed = of(after, never);
    expect(lapsed).toMatchObject({ kind: 'MISSING_EXTERNAL', status: 'OPEN', resolution: null, amount: '-4000' });
    expect(of(after, late)).toMatchObject({ kind: 'MISSING_EXTERNAL', status: 'RESOLVED', resolution: 'TIMING' });
    expect(after.matches.map((m) => [m.rule, m.movementIds])).toEqual([['REFERENCE', [late]]]);
    const unbalanced = {
      currency: 'USD',
      bankMovements: '700',
      ledgerMovements: '4700',
      inTransit: '0',
      bankOnly: '0',
      unexplained: '-4000',
      balanced: false,
    };
    expect(after.adjustment).toEqual([unbalanced]);
    expect(await openOf(c)).toEqual([{ id: lapsed.id, kind: 'MISSING_EXTERNAL', status: 'OPEN' }]);
    const trail = await trails(c);
    expect(trailOf(trail, lapsed.id).map(([event, actor]) => [event, actor])).toEqual([
      ['OPENED', 'matching'],
      ['RESOLVED', 'ops'],
      ['OPENED', 'matching'],
    ]);
    expect(trailOf(trail, lapsed.id)[2]![2]).toMatch(/^the TIMING resolution by ops-\S+ lapsed: deposit .* window$/);
    expect(trailOf(trail, of(after, late).id).map(([event]) => event)).toEqual(['OPENED', 'RESOLVED']);

    // Run again: nothing lapses twice, nothing is written twice.
    const again = await reconcile(dayX, c);
    expect(again.exceptions).toEqual(after.exceptions);
    expect(again.adjustment).toEqual([unbalanced]);
    expect(await trails(c)).toEqual(trail);

    // The lapsed resolution's key, or TIMING under another, resolves nothing; it stays open.
    for (const key of [timingKey, unique('res')])
      expect(await resolve(lapsed.id, 'TIMING', key)).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringContaining('lapsed when its window ended without the money'),
      });
    expect(await openOf(c)).toEqual([{ id: lapsed.id, kind: 'MISSING_EXTERNAL', status: 'OPEN' }]);
  });

  it('reopens a MISSING_INTERNAL resolved TIMING once its window ended without a movement; one matched stays', async () => {
    // Two bank lines no movement of ours matches; the operator says "the deposits will be recorded tomorrow". One is,
    // within the window; the other never is, and its line left the open exceptions for good. A bank line is
    // bank-only money whether open or resolved, so the day reads balanced either way: the open list is what tells.
    const c = `lapse-int-${tag}`;
    const [dayX, dayY] = [85, 86].map((n) => addDays(dayD, n)) as [string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const account = await openAccount();
    clock = new Date(`${dayX}T10:00:00Z`);
    await importFile(c, dayX, [entry(ref('lapse-int-stray'), 300n, dayX), entry(ref('lapse-int-early'), 500n, dayX)]);
    const before = await reconcile(dayX, c);
    const of = (r: Report, name: string) => exceptionOf(r, (e) => e.externalRef === ref(name));
    expect(['lapse-int-stray', 'lapse-int-early'].map((n) => [of(before, n).kind, of(before, n).status])).toEqual([
      ['MISSING_INTERNAL', 'OPEN'],
      ['MISSING_INTERNAL', 'OPEN'],
    ]);
    const stray = of(before, 'lapse-int-stray').id as string;
    const timingKey = unique('res');
    expect(await resolve(stray, 'TIMING', timingKey)).toMatchObject({ status: 'RESOLVED', resolution: 'TIMING' });
    expect(await resolve(of(before, 'lapse-int-early').id, 'TIMING')).toMatchObject({ status: 'RESOLVED' });
    // Its window has not ended (no statement of the next day yet): the resolutions stand.
    const waiting = await reconcile(dayX, c);
    expect(waiting.exceptions.map((e) => [e.status, e.resolution])).toEqual([
      ['RESOLVED', 'TIMING'],
      ['RESOLVED', 'TIMING'],
    ]);

    // The next day, the window's last: one deposit is recorded, and its statement comes.
    clock = new Date(`${dayY}T10:00:00Z`);
    const early = await deposit(account, '500', ref('lapse-int-early'), c);
    await deposit(account, '250', ref('lapse-int-next'), c);
    await importFile(c, dayY, [entry(ref('lapse-int-next'), 250n, dayY)]);
    const after = await reconcile(dayX, c);
    expect(of(after, 'lapse-int-stray')).toMatchObject({
      id: stray,
      kind: 'MISSING_INTERNAL',
      status: 'OPEN',
      resolution: null,
      amount: '300',
    });
    expect(of(after, 'lapse-int-early')).toMatchObject({ status: 'RESOLVED', resolution: 'TIMING' });
    expect(after.matches.map((m) => [m.rule, m.movementIds])).toEqual([['REFERENCE', [early]]]);
    const table = {
      currency: 'USD',
      bankMovements: '800',
      ledgerMovements: '0',
      inTransit: '0',
      bankOnly: '800',
      unexplained: '0',
      balanced: true,
    };
    expect(after.adjustment).toEqual([table]);
    expect(await openOf(c)).toEqual([{ id: stray, kind: 'MISSING_INTERNAL', status: 'OPEN' }]);
    const trail = await trails(c);
    expect(trailOf(trail, stray).map(([event, actor]) => [event, actor])).toEqual([
      ['OPENED', 'matching'],
      ['RESOLVED', 'ops'],
      ['OPENED', 'matching'],
    ]);
    expect(trailOf(trail, stray)[2]![2]).toMatch(/^the TIMING resolution by ops-\S+ lapsed: statement line /);

    const again = await reconcile(dayX, c);
    expect(again.exceptions).toEqual(after.exceptions);
    expect(again.adjustment).toEqual([table]);
    expect(await trails(c)).toEqual(trail);
    for (const key of [timingKey, unique('res')])
      expect(await resolve(stray, 'TIMING', key)).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringContaining('lapsed when its window ended without a movement'),
      });
    expect(await openOf(c)).toEqual([{ id: stray, kind: 'MISSING_INTERNAL', status: 'OPEN' }]);
  });

  it("resolves an item only in its own date's run, so runs of two dates that pair it otherwise write once", async () => {
    // Tolerance 0, window 1. Lines a (D-1) and x, z (D, identical) of 100; deposits n (D) and m (D+1) of 100. D's run
    // reads D-1..D+1: a takes n (lines go by day), x takes m, z is left: MISSING_INTERNAL. D+1's run reads D..D+2,
    // without a: x takes n, z takes m. Were D+1's run to resolve z as TIMING through that match, D's run (its window
    // ended, z unmatched) would lapse it, and so on at every read of either report.
    const c = `flip-${tag}`;
    const [dayP, dayD0, dayN] = [90, 91, 92].map((n) => addDays(dayD, n)) as [string, string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const account = await openAccount();
    clock = new Date(`${dayD0}T10:00:00Z`);
    await deposit(account, '100', ref('flip-n'), c);
    clock = new Date(`${dayN}T10:00:00Z`);
    await deposit(account, '100', ref('flip-m'), c);
    await importFile(c, dayP, [entry(`bnk-flip-a-${tag}`, 100n, dayP)]);
    await importFile(c, dayD0, [entry(`bnk-flip-${tag}`, 100n, dayD0), entry(`bnk-flip-${tag}`, 100n, dayD0)]);
    await importFile(c, dayN, [entry(`bnk-flip-fee-${tag}`, 25n, dayN, 'DEBIT')]);
    const first = await reconcile(dayD0, c);
    const z = first.exceptions.filter((e) => e.kind === 'MISSING_INTERNAL' && e.status === 'OPEN');
    expect(z.map((e) => [e.externalRef, e.amount])).toEqual([[`bnk-flip-${tag}`, '100']]);
    await reconcile(dayN, c);
    const rows = async () =>
      sqlRows<Record<string, unknown>>(
        sql`SELECT id, subject, kind, status, resolution, resolved_by, detail, updated_at
            FROM reconciliation_exceptions WHERE channel = ${c} ORDER BY id`,
      );
    const settled = { rows: await rows(), trails: await trails(c) };
    for (let i = 0; i < 3; i++) {
      clock = new Date(clock.getTime() + 3_600_000);
      const [ofD, ofN] = [await reconcile(dayD0, c), await reconcile(dayN, c)];
      expect(exceptionOf(ofD, (e) => e.id === z[0]!.id)).toMatchObject({ status: 'OPEN', kind: 'MISSING_INTERNAL' });
      expect(ofN.exceptions.filter((e) => e.id === z[0]!.id).map((e) => e.status)).not.toContain('RESOLVED');
      expect({ rows: await rows(), trails: await trails(c) }).toEqual(settled);
    }
    // z is D's alone to resolve: still open, opened once; D+1's report shows its match, not a resolution of it.
    expect(settled.rows.find((r) => r.id === z[0]!.id)).toMatchObject({ status: 'OPEN', resolution: null });
    expect(trailOf(settled.trails, z[0]!.id).map(([event]) => event)).toEqual(['OPENED']);
  });

  it('keeps a TIMING made once the window had ended until a newer statement comes: then lapses it, or keeps it matched', async () => {
    // The window's last statement came before the date's own. The operator resolves as TIMING a movement read IN_TRANSIT
    // (a report of before that statement) and two MISSING_EXTERNAL ones: "the date's statement will show them". Nothing
    // came since: each run, whoever opens the report, must keep them; lapsing them would refuse TIMING for good. The
    // date's statement then comes with two of them: the third lapses, the others stay resolved.
    const c = `lapse-after-${tag}`;
    const [dayX, dayY] = [95, 96].map((n) => addDays(dayD, n)) as [string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const account = await openAccount();
    clock = new Date(`${dayX}T10:00:00Z`);
    const [never, late, stale] = [
      await deposit(account, '4000', ref('after-never'), c),
      await deposit(account, '700', ref('after-late'), c),
      await deposit(account, '900', ref('after-stale'), c),
    ];
    const early = await reconcile(dayX, c);
    const of = (r: Report, id: string) => exceptionOf(r, (e) => e.movementId === id);
    expect([never, late, stale].map((id) => of(early, id).kind)).toEqual(['IN_TRANSIT', 'IN_TRANSIT', 'IN_TRANSIT']);
    clock = new Date(`${dayY}T10:00:00Z`);
    await deposit(account, '300', ref('after-next'), c);
    await importFile(c, dayY, [entry(ref('after-next'), 300n, dayY)]);
    clock = new Date(`${dayY}T10:30:00Z`);
    expect(await resolve(of(early, stale).id, 'TIMING')).toMatchObject({ status: 'RESOLVED', resolution: 'TIMING' });

    clock = new Date(`${dayY}T11:00:00Z`);
    const ended = await reconcile(dayX, c);
    expect([never, late, stale].map((id) => [of(ended, id).kind, of(ended, id).status])).toEqual([
      ['MISSING_EXTERNAL', 'OPEN'],
      ['MISSING_EXTERNAL', 'OPEN'],
      ['IN_TRANSIT', 'RESOLVED'],
    ]);
    const timingKey = unique('res');
    expect(await resolve(of(ended, never).id, 'TIMING', timingKey)).toMatchObject({ resolution: 'TIMING' });
    expect(await resolve(of(ended, late).id, 'TIMING')).toMatchObject({ resolution: 'TIMING' });
    const resolved = await trails(c);
    for (const hour of [12, 13]) {
      clock = new Date(`${dayY}T${hour}:00:00Z`);
      const waiting = await reconcile(dayX, c);
      expect([never, late, stale].map((id) => [of(waiting, id).status, of(waiting, id).resolution])).toEqual([
        ['RESOLVED', 'TIMING'],
        ['RESOLVED', 'TIMING'],
        ['RESOLVED', 'TIMING'],
      ]);
      expect(waiting.adjustment[0]).toMatchObject({ inTransit: '5600', unexplained: '0', balanced: true });
      expect(await trails(c)).toEqual(resolved);
    }

    // The date's own statement, newer than every TIMING: the money of two came, the third's did not.
    clock = new Date(`${dayY}T14:00:00Z`);
    await importFile(c, dayX, [entry(ref('after-late'), 700n, dayX), entry(ref('after-stale'), 900n, dayX)]);
    const after = await reconcile(dayX, c);
    expect(of(after, never)).toMatchObject({ kind: 'MISSING_EXTERNAL', status: 'OPEN', resolution: null });
    expect(of(after, late)).toMatchObject({ kind: 'MISSING_EXTERNAL', status: 'RESOLVED', resolution: 'TIMING' });
    expect(of(after, stale)).toMatchObject({ kind: 'IN_TRANSIT', status: 'RESOLVED', resolution: 'TIMING' });
    expect(after.adjustment[0]).toMatchObject({ bankMovements: '1600', unexplained: '-4000', balanced: false });
    const trail = await trails(c);
    expect(trailOf(trail, of(after, never).id).map(([event, actor]) => [event, actor])).toEqual([
      ['OPENED', 'matching'],
      ['CHANGED', 'matching'],
      ['RESOLVED', 'ops'],
      ['OPENED', 'matching'],
    ]);
    const again = await reconcile(dayX, c);
    expect(again.exceptions).toEqual(after.exceptions);
    expect(await trails(c)).toEqual(trail);
    expect(await resolve(of(after, never).id, 'TIMING', timingKey)).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await openOf(c)).toEqual([{ id: of(after, never).id, kind: 'MISSING_EXTERNAL', status: 'OPEN' }]);
  });
});

describe('a business date before the year 1000', () => {
  it('is refused as BAD_USER_INPUT by channelReconciliation, importStatement and runSettlement, writing nothing', async () => {
    // Taken before: a settlement of 0999-01-01 SETTLED, a statement and reports of it stored, outside what a DATE
    // column is promised to hold (and addDays of 0000-01-01 is no date).
    const c = `old-${tag}`;
    const merchant = (await q(docs.open, { input: { ownerId: unique('old'), type: 'MERCHANT', currency: 'USD' } }))
      .data!.openAccount.id as string;
    const csv = 'external_ref,amount,currency,direction,date\nold,100,USD,CREDIT,0999-01-01';
    const importStatement =
      'mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename ... on UserError { code } } }';
    for (const date of ['0999-01-01', '0000-01-01']) {
      const answers = [
        await q(docs.reconcile, { channel: c, businessDate: date }),
        await q(importStatement, { input: { channel: c, businessDate: date, csv } }),
        await q(contractOperation('RunSettlement'), { input: { merchantAccountId: merchant, businessDate: date } }),
      ];
      for (const answer of answers) {
        expect(errorCodes(answer), JSON.stringify(answer)).toEqual(['BAD_USER_INPUT']);
        expect(answer.errors![0]!.message).toMatch(/years 1000-9999: outside those years/);
      }
    }
    expect(await sqlRows(sql`SELECT id FROM channel_reconciliations WHERE channel = ${c}`)).toEqual([]);
    expect(await sqlRows(sql`SELECT id FROM statements WHERE channel = ${c}`)).toEqual([]);
    for (const shard of stack.shards.all) {
      const [rows] = (await shard.db.execute(
        sql`SELECT id FROM settlements WHERE merchant_account_id = ${merchant}`,
      )) as unknown as [unknown[]];
      expect(rows).toEqual([]);
    }
    // The first day a DATE column holds is a date like any other.
    expect((await reconcile('1000-01-01', c)).exceptions).toEqual([]);
  });
});

describe('a business date after statementDateMax (9999-11-30)', () => {
  it('is refused as BAD_USER_INPUT by channelReconciliation, whatever the window, writing nothing', async () => {
    // Before: the window around 9999-12-01 or 9999-12-31 ended on addDays(…) = '+010000-01-…', no date and sorting
    // before '9999-…', read in SQL as a window's end (and as ended by any statement); with no window a report of
    // 9999-12-31 was stored, of a date no statement may be dated.
    const wide = `late-wide-${tag}`;
    const none = `late-none-${tag}`;
    const rules = await q(docs.rules, { input: { channel: wide, amountToleranceMinor: '0', dateWindowDays: 31 } });
    expect(rules.errors, JSON.stringify(rules)).toBeUndefined();
    const importStatement =
      'mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename ... on UserError { code } } }';
    const csv = `external_ref,amount,currency,direction,date\n${ref('late')},100,USD,CREDIT,9999-11-30`;
    const imported = await q(importStatement, { input: { channel: wide, businessDate: '9999-11-30', csv } });
    expect(imported.data?.importStatement.__typename, JSON.stringify(imported)).toBe('Statement');
    for (const c of [wide, none])
      for (const date of ['9999-12-01', '9999-12-31']) {
        const answer = await q(docs.reconcile, { channel: c, businessDate: date });
        expect(errorCodes(answer), JSON.stringify(answer)).toEqual(['BAD_USER_INPUT']);
        expect(answer.errors![0]!.message).toMatch(/on or before 9999-11-30 .*, got 9999-12-/);
      }
    for (const c of [wide, none]) {
      expect(await sqlRows(sql`SELECT id FROM channel_reconciliations WHERE channel = ${c}`)).toEqual([]);
      expect(await sqlRows(sql`SELECT id FROM reconciliation_exceptions WHERE channel = ${c}`)).toEqual([]);
    }
    // The last statement date is reconciled with the widest window, which ends on 9999-12-31.
    const report = await reconcile('9999-11-30', wide);
    expect(report.exceptions).toMatchObject([{ kind: 'MISSING_INTERNAL', status: 'OPEN' }]);
    expect(await sqlRows(sql`SELECT id FROM channel_reconciliations WHERE channel = ${wide}`)).toHaveLength(1);
  });
  it('is refused as the business date of a CSV statement, which no run could then reconcile: nothing stored', async () => {
    const c = `late-csv-${tag}`;
    const importStatement =
      'mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename ... on UserError { code message } ... on InvalidInput { field } } }';
    const csv = `external_ref,amount,currency,direction,date\n${ref('late-csv')},100,USD,CREDIT,9999-11-30`;
    for (const date of ['9999-12-01', '9999-12-31']) {
      const answer = await q(importStatement, { input: { channel: c, businessDate: date, csv } });
      expect(answer.data?.importStatement, JSON.stringify(answer)).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        field: 'businessDate',
      });
      expect(answer.data!.importStatement.message).toMatch(/on or before 9999-11-30 .*, got 9999-12-/);
    }
    expect(await sqlRows(sql`SELECT id FROM statements WHERE channel = ${c}`)).toEqual([]);
  });
});

describe('a statement of several days: each line counts on the day it was booked, a day two statements repeat once', () => {
  /**
   * A channel of its own (a day's window, no tolerance), three days P, Q, R from dayD + first, and its deposits of
   * 1000 on P (`name`-a) and 2000 on Q (`name`-b) to an account; the clock left on Q.
   */
  async function monthChannel(name: string, first: number) {
    const c = `${name}-${tag}`;
    const days = [0, 1, 2].map((n) => addDays(dayD, first + n)) as [string, string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const account = await openAccount();
    clock = new Date(`${days[0]}T10:00:00Z`);
    const a = await deposit(account, '1000', ref(`${name}-a`), c);
    clock = new Date(`${days[1]}T10:00:00Z`);
    const b = await deposit(account, '2000', ref(`${name}-b`), c);
    return { c, days, account, a, b };
  }

  it("matches a month statement's lines on their own days, and a day's statement beside it adds no line twice", async () => {
    const { c, days, account, a, b } = await monthChannel('month', 60);
    const [dayP, dayQ, dayR] = days;
    const d = await deposit(account, '500', ref('month-d'), c);
    clock = new Date(`${dayR}T10:00:00Z`);
    const qEntries = [entry(ref('month-b'), 2000n, dayQ), entry(ref('month-d'), 500n, dayQ)];
    // Deutsche Bank's month as the shared fixtures hold it: one Stmt, closing on its last day, each Ntry its BookgDt.
    const month = camt053(
      [
        {
          id: `${c}-month`,
          currency: 'USD',
          opening: 0n,
          date: dayR,
          entries: [entry(ref('month-a'), 1000n, dayP), ...qEntries, entry(ref('month-fee'), 25n, dayR, 'DEBIT')],
        },
      ],
      { version: '08', prefix: 'ns2' },
    );
    const imported = await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: month } });
    expect(imported.data!.importBankStatement.statements).toMatchObject([{ businessDate: dayR, lines: 4 }]);
    const shown = (r: Report) => r.matches.map((m) => [m.rule, m.externalRefs, m.movementIds]);
    const row = (bank: string, ledger: string, bankOnly = '0') => ({
      currency: 'USD',
      bankMovements: bank,
      ledgerMovements: ledger,
      inTransit: '0',
      bankOnly,
      unexplained: '0',
      balanced: true,
    });
    const onP = await reconcile(dayP, c);
    expect(shown(onP)).toEqual([['REFERENCE', [ref('month-a')], [a]]]);
    expect(onP.exceptions).toEqual([]);
    expect(onP.adjustment).toEqual([row('1000', '1000')]);
    const onQ = await reconcile(dayQ, c);
    expect(shown(onQ).sort()).toEqual(
      [
        ['REFERENCE', [ref('month-b')], [b]],
        ['REFERENCE', [ref('month-d')], [d]],
      ].sort(),
    );
    expect(onQ.exceptions).toEqual([]);
    expect(onQ.adjustment).toEqual([row('2500', '2500')]);
    // The closing date holds its own line only: the bank's fee, bank-only.
    const onR = await reconcile(dayR, c);
    expect(onR.matches).toEqual([]);
    expect(onR.exceptions.map((e) => [e.kind, e.externalRef, e.amount])).toEqual([
      ['MISSING_INTERNAL', ref('month-fee'), '-25'],
    ]);
    expect(onR.adjustment).toEqual([row('-25', '0', '-25')]);

    // The day's own statement of Q repeats the month's bookings of Q: they are the same money, read once.
    const day = camt053([{ id: `${c}-q`, currency: 'USD', opening: 1000n, date: dayQ, entries: qEntries }], {
      version: '08',
      prefix: 'ns2',
    });
    expect(
      (await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: day } })).errors,
    ).toBeUndefined();
    for (const date of [dayP, dayQ]) {
      const again = await reconcile(date, c);
      expect(again.matches.every((m) => m.externalRefs.length === 1)).toBe(true);
      expect(again.exceptions).toEqual([]);
      expect(again.adjustment).toEqual([date === dayP ? row('1000', '1000') : row('2500', '2500')]);
    }

    // The date's reconciliation reads the lines booked on it too, from every statement.
    const external = async (date: string) => {
      const r = await q(
        'query($d: Date!) { reconciliation(businessDate: $d) { discrepancies { kind externalRef } } }',
        {
          d: date,
        },
      );
      return (r.data!.reconciliation.discrepancies as Array<{ kind: string; externalRef: string | null }>)
        .filter((x) => x.externalRef?.startsWith('month-') && x.externalRef.endsWith(tag))
        .map((x) => [x.kind, x.externalRef]);
    };
    expect(await external(dayP)).toEqual([]);
    expect(await external(dayQ)).toEqual([]);
    expect(await external(dayR)).toEqual([['MISSING_INTERNAL', ref('month-fee')]]);
  });

  // The day's own statement of a month's closing date shared the month's id and replaced it: every line of the month's
  // earlier days was deleted, silently, and their movements read MISSING_EXTERNAL. A statement is its span now.
  it("keeps the month's statement when its closing day's own statement comes; the same month again replaces it", async () => {
    const { c, days, a, b } = await monthChannel('span', 170);
    const [dayP, dayQ, dayR] = days;
    clock = new Date(`${dayR}T10:00:00Z`);
    const fee = entry(ref('span-fee'), 25n, dayR, 'DEBIT');
    const monthLines = [entry(ref('span-a'), 1000n, dayP), entry(ref('span-b'), 2000n, dayQ), fee];
    // Deutsche Bank's month: its opening balance dated its first day, its closing its last, each Ntry its BookgDt.
    const month = (entries: FileEntry[]) =>
      camt053([{ id: `${c}-month`, currency: 'USD', opening: 0n, openingDate: dayP, date: dayR, entries }]);
    const importCamt = async (content: string) =>
      expect((await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } })).errors).toBeUndefined();
    await importCamt(month(monthLines));
    // The closing day's own statement: opening on that day, its one line the fee the month holds too.
    await importCamt(camt053([{ id: `${c}-r`, currency: 'USD', opening: 3000n, date: dayR, entries: [fee] }]));
    const shown = (r: Report) => r.matches.map((m) => [m.rule, m.externalRefs, m.movementIds]);
    const onP = await reconcile(dayP, c);
    expect(shown(onP)).toEqual([['REFERENCE', [ref('span-a')], [a]]]);
    expect(onP.exceptions).toEqual([]);
    const onQ = await reconcile(dayQ, c);
    expect(shown(onQ)).toEqual([['REFERENCE', [ref('span-b')], [b]]]);
    expect(onQ.exceptions).toEqual([]);
    // The fee both statements hold counts once.
    const onR = await reconcile(dayR, c);
    expect(onR.exceptions.map((e) => [e.kind, e.externalRef, e.amount])).toEqual([
      ['MISSING_INTERNAL', ref('span-fee'), '-25'],
    ]);
    expect(onR.adjustment).toMatchObject([{ bankMovements: '-25', bankOnly: '-25', unexplained: '0', balanced: true }]);
    const stored = () =>
      sqlRows<{ opening_date: string; business_date: string; line_count: number }>(
        sql`SELECT opening_date, business_date, line_count FROM statements WHERE channel = ${c} ORDER BY opening_date`,
      );
    expect(await stored()).toEqual([
      { opening_date: dayP, business_date: dayR, line_count: 3 },
      { opening_date: dayR, business_date: dayR, line_count: 1 },
    ]);

    // The same month again, with a line the bank added: it replaces the month, and the day's statement stays.
    await importCamt(month([...monthLines, entry(ref('span-late'), 300n, dayQ)]));
    expect(await stored()).toEqual([
      { opening_date: dayP, business_date: dayR, line_count: 4 },
      { opening_date: dayR, business_date: dayR, line_count: 1 },
    ]);
    const again = await reconcile(dayQ, c);
    expect(shown(again)).toEqual([['REFERENCE', [ref('span-b')], [b]]]);
    expect(again.exceptions.map((e) => [e.kind, e.externalRef])).toEqual([['MISSING_INTERNAL', ref('span-late')]]);
  });

  /**
   * Stores a bank file's statements as a deployment before spans were kept (migration 0013) stored them and 0013 left
   * them: the columns of then, the opening date the closing date whatever the file's span, its lines as read.
   */
  async function storedAsBefore(c: string, format: 'MT940' | 'CAMT053', content: string) {
    const read = await parseBankStatements(format, content, statementLinesMax);
    if (!read.ok) throw new Error(read.error.message);
    for (const s of read.value) {
      const id = bankStatementId(c, s.businessDate, s.currency);
      await controlShard(stack.shards).db.execute(sql`
        INSERT INTO statements (id, channel, account, business_date, opening_date, format, currency, opening_balance,
          closing_balance, line_count, imported_by)
        VALUES (${id}, ${c}, '', ${s.businessDate}, ${s.businessDate}, ${format}, ${s.currency}, ${s.openingBalance},
          ${s.closingBalance}, ${s.entries}, 'before-0013')`);
      const values = s.lines.map(
        (l) =>
          sql`(${id}, ${l.lineNumber}, ${l.externalRef}, ${l.amount}, ${l.currency}, ${l.direction}, ${l.valueDate})`,
      );
      await controlShard(stack.shards).db.execute(sql`
        INSERT INTO statement_lines (statement_id, line_number, external_ref, amount, currency, direction, value_date)
        VALUES ${sql.join(values, sql`, `)}`);
    }
  }

  // A statement stored before spans were kept reads as one day: an MT940 record whose :60F: is dated the day before
  // stayed beside its corrected file's import (another span), and was counted first (the shorter span), so the bank's
  // correction could not remove a wrong line. Its span is unknown now: an import of its closing date replaces it.
  it('replaces a statement stored before spans were kept with the same file corrected, whatever its span', async () => {
    const { c, days, a, b } = await monthChannel('before', 180);
    const [dayP, dayQ] = days;
    const record = (entries: FileEntry[]) =>
      mt940([{ id: `${c}-q`, currency: 'USD', opening: 0n, openingDate: dayP, date: dayQ, entries }]);
    const right = [entry(ref('before-a'), 1000n, dayP), entry(ref('before-b'), 2000n, dayQ)];
    await storedAsBefore(c, 'MT940', record([...right, entry(ref('before-x'), 700n, dayQ)]));
    const stored = () =>
      sqlRows<{ opening_date: string; business_date: string; line_count: number }>(
        sql`SELECT opening_date, business_date, line_count FROM statements WHERE channel = ${c} ORDER BY opening_date`,
      );
    expect(await stored()).toEqual([{ opening_date: dayQ, business_date: dayQ, line_count: 3 }]);
    expect((await reconcile(dayQ, c)).exceptions.map((e) => [e.kind, e.externalRef])).toEqual([
      ['MISSING_INTERNAL', ref('before-x')],
    ]);

    // The bank's corrected file, its line of 700 gone: its span (P to Q) is not the stored row's (Q), and it replaces it.
    const imported = await q(docs.importFile, { input: { channel: c, format: 'MT940', content: record(right) } });
    expect(imported.errors, JSON.stringify(imported.errors)).toBeUndefined();
    expect(await stored()).toEqual([{ opening_date: dayP, business_date: dayQ, line_count: 2 }]);
    const shown = (r: Report) => r.matches.map((m) => [m.rule, m.externalRefs, m.movementIds]);
    const onQ = await reconcile(dayQ, c);
    expect(shown(onQ)).toEqual([['REFERENCE', [ref('before-b')], [b]]]);
    // The wrong line's exception, opened by the run before, is closed: matching no longer finds the line.
    expect(onQ.exceptions.map((e) => [e.kind, e.externalRef, e.status, e.resolution])).toEqual([
      ['MISSING_INTERNAL', ref('before-x'), 'RESOLVED', null],
    ]);
    expect(shown(await reconcile(dayP, c))).toEqual([['REFERENCE', [ref('before-a')], [a]]]);
  });
});

describe("exceptions recorded under a line's key of before are found again under its key now", () => {
  /**
   * A line's key named its statement's closing date before c3452ee and names its booking day since (line-keys.ts). A
   * deployment upgraded holds exceptions under the old keys for the lines of a statement of several days: written here
   * as that deployment wrote them, then reconciled by this code. Each must be found again (not a second exception for
   * the same line: resolved again, it would post the money a second time).
   */
  const hex = (text: string, digits: number) => createHash('sha256').update(text).digest('hex').slice(0, digits);
  const keyOf = (c: string, date: string, e: FileEntry, place: number) =>
    hex(`${c}|${date}|USD|${e.direction}|${e.amount}|${e.ref}|${e.bookingDate}|${place}`, 32);
  const matchOf = (movementId: string, lineKey: string) => `match:${hex(`${movementId},/,${lineKey}`, 40)}`;
  /** A key now (line-keys.ts): "account:", the statement's account, then the content on its booking day, its place. */
  const keyNow = (c: string, account: string, e: FileEntry, place: number) =>
    hex(
      `account:${account}|${c}|${e.bookingDate}|USD|${e.direction}|${e.amount}|${e.ref}|${e.bookingDate}|${place}`,
      32,
    );
  /** The account of the channel's statements ('' where none is registered), as the runs read it. */
  const accountOf = async (c: string) => {
    const rows = await sqlRows<{ account: string }>(sql`SELECT DISTINCT account FROM statements WHERE channel = ${c}`);
    expect(rows).toHaveLength(1);
    return rows[0]!.account;
  };

  /**
   * A month statement's lines as the deployment before c3452ee recorded them on the month's last day R: two identical
   * fees of day P (the first resolved as BANK_FEE, posted; the second open) and a deposit of day Q = R − 1 booked 10
   * short (AMOUNT_MISMATCH, written off, posted). Answers each exception's id, and its subject under the key now.
   */
  async function before(c: string, [dayP, dayQ, dayR]: readonly [string, string, string]) {
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const account = await openAccount();
    clock = new Date(`${dayQ}T10:00:00Z`);
    const movement = await deposit(account, '2000', ref('rekey-m'), c);
    clock = new Date(`${dayR}T10:00:00Z`);
    const fee = entry(ref('rekey-fee'), 25n, dayP, 'DEBIT');
    const short = entry(ref('rekey-m'), 1990n, dayQ);
    const month = camt053(
      [{ id: `${c}-month`, currency: 'USD', opening: 5000n, date: dayR, entries: [fee, fee, short] }],
      { version: '08', prefix: 'ns2' },
    );
    expect(
      (await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: month } })).errors,
    ).toBeUndefined();
    const onBank = await accountOf(c);
    const line = (place: number) => ({
      subject: `line:${keyOf(c, dayR, fee, place)}`,
      now: `line:${keyNow(c, onBank, fee, place)}`,
      kind: 'MISSING_INTERNAL' as const,
      externalRef: fee.ref,
      movementId: null,
      amount: -25n,
      detail: `statement line ${place} (-25 USD, ref "${fee.ref}") matches no movement`,
    });
    const legacy = [
      line(1),
      line(2),
      {
        subject: matchOf(movement, keyOf(c, dayR, short, 1)),
        now: matchOf(movement, keyNow(c, onBank, short, 1)),
        kind: 'AMOUNT_MISMATCH' as const,
        externalRef: short.ref,
        movementId: movement,
        amount: -10n,
        detail: `REFERENCE match of 1 line(s) and 1 movement(s) (${movement}): the statement says -10 USD more than the ledger`,
      },
    ].map((e) => ({ ...e, id: exceptionId(c, e.subject) }));
    await inTransaction(controlShard(stack.shards), async (tx) => {
      const at = clock;
      await insertExceptions(
        tx,
        legacy.map(({ now: _, ...e }) => ({
          ...e,
          channel: c,
          businessDate: dayR,
          currency: 'USD',
          status: 'OPEN' as const,
          detectedAt: at,
          updatedAt: at,
        })),
      );
      await appendEvents(
        tx,
        legacy.map((e) => ({ exceptionId: e.id, event: 'OPENED' as const, actor: 'matching', detail: e.detail, at })),
      );
    });
    const [paid, open, writtenOff] = legacy as [(typeof legacy)[0], (typeof legacy)[0], (typeof legacy)[0]];
    for (const [e, reason] of [
      [paid, 'BANK_FEE'],
      [writtenOff, 'WRITE_OFF'],
    ] as const) {
      const r = await q(docs.resolve, { input: { idempotencyKey: unique('res'), exceptionId: e.id, reason } });
      expect(r.data!.resolveException).toMatchObject({ status: 'RESOLVED', postingId: expect.stringMatching(/^pst_/) });
    }
    return { paid, open, writtenOff };
  }

  /** The channel's exceptions as stored, and the postings any of them made (each resolution's dedupe key). */
  async function stored(c: string) {
    const rows = await sqlRows<{
      id: string;
      subject: string;
      business_date: string;
      status: string;
      resolution: string | null;
    }>(
      sql`SELECT id, subject, CAST(business_date AS CHAR) AS business_date, status, resolution
          FROM reconciliation_exceptions WHERE channel = ${c} ORDER BY id`,
    );
    const keys = rows.map((r) => `reconciliation:${r.id}`);
    const postings = await sqlRows<{ dedupe_key: string }>(
      sql`SELECT dedupe_key FROM postings WHERE dedupe_key IN (${sql.join(
        keys.map((k) => sql`${k}`),
        sql`, `,
      )}) ORDER BY dedupe_key`,
    );
    return { rows, postings: postings.map((p) => p.dedupe_key.slice('reconciliation:'.length)) };
  }

  // The closing date's run re-keys the lines of its statement booked outside its window; the days' runs their own.
  for (const [order, offset] of [
    ['the closing date first', 70],
    ["the lines' own days first", 75],
    ['every date at once', 80],
  ] as const) {
    it(`re-keys them, ${order}: the resolved stay resolved and post nothing twice, the open one stays the one`, async () => {
      const c = `rekey-${offset}-${tag}`;
      const days = [offset, offset + 3, offset + 4].map((n) => addDays(dayD, n)) as [string, string, string];
      const [dayP, dayQ, dayR] = days;
      const { paid, open, writtenOff } = await before(c, days);
      const reports = new Map<string, Report>();
      if (order === 'every date at once')
        await Promise.all(days.map(async (date) => reports.set(date, await reconcile(date, c))));
      else
        for (const date of order === 'the closing date first' ? [dayR, dayP, dayQ] : days)
          reports.set(date, await reconcile(date, c));

      // The same three rows, each under its subject now and on its own day; no exception of its own for any line.
      const expected = [
        { id: paid.id, subject: paid.now, business_date: dayP, status: 'RESOLVED', resolution: 'BANK_FEE' },
        { id: open.id, subject: open.now, business_date: dayP, status: 'OPEN', resolution: null },
        {
          id: writtenOff.id,
          subject: writtenOff.now,
          business_date: dayQ,
          status: 'RESOLVED',
          resolution: 'WRITE_OFF',
        },
      ].sort((a, b) => a.id.localeCompare(b.id));
      expect((await stored(c)).rows).toEqual(expected);
      const shown = (date: string) =>
        reports
          .get(date)!
          .exceptions.map((e) => [e.id, e.status, e.resolution])
          .sort();
      expect(shown(dayP)).toEqual(
        [
          [paid.id, 'RESOLVED', 'BANK_FEE'],
          [open.id, 'OPEN', null],
        ].sort(),
      );
      expect(shown(dayQ)).toEqual([[writtenOff.id, 'RESOLVED', 'WRITE_OFF']]);
      expect(shown(dayR)).toEqual([]);
      expect(reports.get(dayP)!.adjustment[0]).toMatchObject({ bankMovements: '-50', bankOnly: '-50', balanced: true });

      // Resolving again is refused; the ledger holds one posting for each resolution that posted, none more.
      for (const e of [paid, writtenOff]) {
        const again = await q(docs.resolve, {
          input: { idempotencyKey: unique('res'), exceptionId: e.id, reason: 'WRITE_OFF' },
        });
        expect(again.data!.resolveException).toMatchObject({ code: 'EXCEPTION_ALREADY_RESOLVED' });
      }
      expect((await stored(c)).postings).toEqual([paid.id, writtenOff.id].sort());
      const trail = await sqlRows<{ event: string; detail: string }>(
        sql`SELECT event, detail FROM reconciliation_exception_events WHERE exception_id = ${paid.id} ORDER BY sequence`,
      );
      expect(trail.map((t) => t.event)).toEqual(['OPENED', 'RESOLVED', 'CHANGED']);
      expect(trail[2]!.detail).toContain(`re-keyed: ${paid.subject} of ${dayR}`);

      // Every date again, at once (two runs may re-key the same rows): nothing changes, nothing is opened.
      await Promise.all([dayP, dayQ, dayR, dayP].map((date) => reconcile(date, c)));
      expect((await stored(c)).rows).toEqual(expected);
      // The open one is the one open exception of its line: resolving it posts once.
      const fee = await q(docs.resolve, {
        input: { idempotencyKey: unique('res'), exceptionId: open.id, reason: 'BANK_FEE' },
      });
      expect(fee.data!.resolveException).toMatchObject({ status: 'RESOLVED', resolution: 'BANK_FEE' });
      expect((await stored(c)).postings).toEqual([paid.id, open.id, writtenOff.id].sort());
    });
  }

  /** Rows as a deployment wrote them (before c3452ee, or between c3452ee and 1bcf329), each OPEN; answers their ids. */
  async function write(
    c: string,
    rows: ReadonlyArray<{
      subject: string;
      businessDate: string;
      kind: 'MISSING_INTERNAL' | 'AMOUNT_MISMATCH';
      externalRef: string;
      movementId?: string;
      amount: bigint;
    }>,
  ): Promise<string[]> {
    const at = clock;
    const full = rows.map((r) => ({
      movementId: null,
      ...r,
      id: exceptionId(c, r.subject),
      channel: c,
      currency: 'USD',
      detail: `written before: ${r.kind} ${r.amount} USD`,
      status: 'OPEN' as const,
      detectedAt: at,
      updatedAt: at,
    }));
    await inTransaction(controlShard(stack.shards), async (tx) => {
      await insertExceptions(tx, full);
      await appendEvents(
        tx,
        full.map((e) => ({ exceptionId: e.id, event: 'OPENED' as const, actor: 'matching', detail: e.detail, at })),
      );
    });
    return full.map((r) => r.id);
  }
  const resolve = async (id: string, reason: 'BANK_FEE' | 'WRITE_OFF') =>
    (await q(docs.resolve, { input: { idempotencyKey: unique('res'), exceptionId: id, reason } })).data!
      .resolveException as Record<string, unknown>;
  const importCamt = async (c: string, statement: Parameters<typeof camt053>[0][number]) =>
    expect(
      (await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content: camt053([statement]) } })).errors,
    ).toBeUndefined();

  // The month's copy was matched before; the day's statement, imported since, is the copy counted now, its key unchanged.
  for (const [order, offset] of [
    ['the month first', 85],
    ["the day's first", 90],
  ] as const) {
    it(`re-keys a written-off AMOUNT_MISMATCH of the month's copy once the day's copy is counted (${order})`, async () => {
      const c = `rekey-${offset}-${tag}`;
      const [dayQ, dayR] = [addDays(dayD, offset), addDays(dayD, offset + 1)];
      await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
      const account = await openAccount();
      clock = new Date(`${dayQ}T10:00:00Z`);
      const movement = await deposit(account, '2000', ref(`rekey-d${offset}`), c);
      clock = new Date(`${dayR}T10:00:00Z`);
      const short = entry(ref(`rekey-d${offset}`), 1990n, dayQ);
      const month = { id: `${c}-month`, currency: 'USD', opening: 5000n, date: dayR, entries: [short] };
      const day = { id: `${c}-day`, currency: 'USD', opening: 5000n, date: dayQ, entries: [short] };
      for (const s of order === 'the month first' ? [month, day] : [day, month]) await importCamt(c, s);
      // Month-end R's run before c3452ee matched the month's copy with the deposit, and it was written off.
      const [id] = (await write(c, [
        {
          subject: matchOf(movement, keyOf(c, dayR, short, 1)),
          businessDate: dayR,
          kind: 'AMOUNT_MISMATCH',
          externalRef: short.ref,
          movementId: movement,
          amount: -10n,
        },
      ])) as [string];
      expect(await resolve(id, 'WRITE_OFF')).toMatchObject({
        status: 'RESOLVED',
        postingId: expect.stringMatching(/^pst_/),
      });

      for (const date of [dayQ, dayR, dayQ]) await reconcile(date, c);
      const expected = [
        {
          id,
          subject: matchOf(movement, keyNow(c, await accountOf(c), short, 1)),
          business_date: dayQ,
          status: 'RESOLVED',
          resolution: 'WRITE_OFF',
        },
      ];
      // The same row under its subject now, no other AMOUNT_MISMATCH to write off again: one posting.
      expect((await stored(c)).rows).toEqual(expected);
      expect(await resolve(id, 'WRITE_OFF')).toMatchObject({ code: 'EXCEPTION_ALREADY_RESOLVED' });
      expect((await stored(c)).postings).toEqual([id]);
      expect((await reconcile(dayQ, c)).adjustment[0]).toMatchObject({ unexplained: '0', balanced: true });
    });
  }

  it("closes a second copy's open exception as the kept one's duplicate: a week's and the month's fee post once", async () => {
    const c = `rekey-95-${tag}`;
    const [dayP, dayW, dayR] = [95, 97, 99].map((n) => addDays(dayD, n)) as [string, string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    clock = new Date(`${dayR}T10:00:00Z`);
    const fee = entry(ref('rekey-week'), 25n, dayP, 'DEBIT');
    await importCamt(c, { id: `${c}-week`, currency: 'USD', opening: 5000n, date: dayW, entries: [fee] });
    await importCamt(c, { id: `${c}-month`, currency: 'USD', opening: 5000n, date: dayR, entries: [fee] });
    const of = (date: string) => ({
      subject: `line:${keyOf(c, date, fee, 1)}`,
      businessDate: date,
      kind: 'MISSING_INTERNAL' as const,
      externalRef: fee.ref,
      amount: -25n,
    });
    const ids = await write(c, [of(dayW), of(dayR)]);
    const now = `line:${keyNow(c, await accountOf(c), fee, 1)}`;

    // The fee's own day alone: one row is the line's, the other closed as its duplicate, naming it.
    await reconcile(dayP, c);
    const after = (await stored(c)).rows;
    const kept = after.find((r) => r.subject === now)!;
    expect(kept).toMatchObject({ business_date: dayP, status: 'OPEN', resolution: null });
    const other = after.find((r) => r.id !== kept.id)!;
    expect(other).toMatchObject({ status: 'RESOLVED', resolution: null });
    expect(after.map((r) => r.id).sort()).toEqual([...ids].sort());
    const trail = await sqlRows<{ event: string; actor: string; detail: string }>(
      sql`SELECT event, actor, detail FROM reconciliation_exception_events WHERE exception_id = ${other.id} ORDER BY sequence`,
    );
    expect(trail.map((t) => [t.event, t.actor])).toEqual([
      ['OPENED', 'matching'],
      ['RESOLVED', 'matching'],
    ]);
    expect(trail[1]!.detail).toContain(`a duplicate of ${kept.id}`);

    // Every date, at once, twice: nothing changes. Resolving both posts the fee once.
    await Promise.all([dayP, dayW, dayR, dayP, dayW, dayR].map((date) => reconcile(date, c)));
    expect((await stored(c)).rows).toEqual(after);
    expect(await resolve(other.id, 'BANK_FEE')).toMatchObject({ code: 'EXCEPTION_ALREADY_RESOLVED' });
    expect(await resolve(kept.id, 'BANK_FEE')).toMatchObject({ status: 'RESOLVED', resolution: 'BANK_FEE' });
    expect((await stored(c)).postings).toEqual([kept.id]);
  });

  it('closes the open one of a line whose old and new rows both stand (one posted): it does not post again', async () => {
    const c = `rekey-100-${tag}`;
    const [dayP, dayR] = [100, 104].map((n) => addDays(dayD, n)) as [string, string];
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    clock = new Date(`${dayR}T10:00:00Z`);
    // Two fees: A's old row posted and a run of c3452ee's code opened its new one; B's new one posted, its old open.
    const [a, b] = [entry(ref('rekey-a'), 25n, dayP, 'DEBIT'), entry(ref('rekey-b'), 30n, dayP, 'DEBIT')];
    await importCamt(c, { id: `${c}-month`, currency: 'USD', opening: 5000n, date: dayR, entries: [a, b] });
    const row = (e: FileEntry, date: string) => ({
      subject: `line:${keyOf(c, date, e, 1)}`,
      businessDate: date,
      kind: 'MISSING_INTERNAL' as const,
      externalRef: e.ref,
      amount: -e.amount,
    });
    const [oldA, newA, oldB, newB] = (await write(c, [row(a, dayR), row(a, dayP), row(b, dayR), row(b, dayP)])) as [
      string,
      string,
      string,
      string,
    ];
    for (const id of [oldA, newB]) expect(await resolve(id, 'BANK_FEE')).toMatchObject({ status: 'RESOLVED' });

    for (const date of [dayP, dayR, dayP]) await reconcile(date, c);
    const rows = new Map((await stored(c)).rows.map((r) => [r.id, r]));
    // Each line's posted row moves to its key now; each open row is closed, naming the posted one of its line.
    const account = await accountOf(c);
    expect(
      [oldA, newA, oldB, newB].map((id) => [rows.get(id)!.subject, rows.get(id)!.status, rows.get(id)!.resolution]),
    ).toEqual([
      [`line:${keyNow(c, account, a, 1)}`, 'RESOLVED', 'BANK_FEE'],
      [row(a, dayP).subject, 'RESOLVED', null],
      [row(b, dayR).subject, 'RESOLVED', null],
      [`line:${keyNow(c, account, b, 1)}`, 'RESOLVED', 'BANK_FEE'],
    ]);
    for (const [closed, posted] of [
      [newA, oldA],
      [oldB, newB],
    ] as const) {
      expect(await resolve(closed, 'BANK_FEE')).toMatchObject({ code: 'EXCEPTION_ALREADY_RESOLVED' });
      const [last] = await sqlRows<{ detail: string }>(
        sql`SELECT detail FROM reconciliation_exception_events WHERE exception_id = ${closed} ORDER BY sequence DESC LIMIT 1`,
      );
      expect(last!.detail).toContain(`a duplicate of ${posted}`);
    }
    expect((await stored(c)).postings).toEqual([oldA, newB].sort());
    // The fees' day reads explained: each line's row is resolved.
    expect((await reconcile(dayP, c)).adjustment[0]).toMatchObject({
      unexplained: '0',
      bankOnly: '-55',
      balanced: true,
    });
  });

  // Two accounts' identical fees of one day: A's on its month's statement, B's on its day's. Statement ids are a hash,
  // so either may be read first, and the line read first was P's shared place 1 since c3452ee. Before c3452ee B's row
  // was under P's place 1 (its statement alone closed on P), A's under the month's last day's. B read first: the
  // closing date's run re-keys A's copy of a day outside its window, the fee's day's run the copy it reads. A read
  // first: B's copy is on its own date's statement, yet its subject of before is A's line's shared place: B's row goes
  // to B's line, as A's row of before moves in to A's.
  for (const [first, order, offset] of [
    ['B', 'the closing date first', 110],
    ['B', "the fee's day first", 120],
    ['A', 'the closing date first', 130],
    ['A', "the fee's day first", 140],
  ] as const) {
    it(`re-keys each account's copy of an identical fee to its own line (${first} read first, ${order}): none posts again`, async () => {
      const c = `rekey-${offset}-${tag}`;
      const [dayP, dayR] = [offset, offset + 5].map((n) => addDays(dayD, n)) as [string, string];
      await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
      const idOf = (account: string, date: string) => bankStatementId(c, date, 'USD', account);
      const names = (n: number) =>
        [`ACCT-A${offset}-${n}-${tag}`, `ACCT-B${offset}-${n}-${tag}`].map((a) => a.toUpperCase()) as [string, string];
      const readFirst = ([a, b]: [string, string]) =>
        first === 'B' ? idOf(b, dayP) < idOf(a, dayR) : idOf(a, dayR) < idOf(b, dayP);
      let tried = 0;
      while (!readFirst(names(tried))) tried += 1;
      const [accountA, accountB] = names(tried);
      for (const account of [accountA, accountB]) {
        const input = { channel: c, accountIdentification: account, currency: 'USD' };
        const registered = await q(contractOperation('RegisterChannelAccount'), { input });
        expect(registered.data!.registerChannelAccount).toMatchObject({ __typename: 'ChannelAccount' });
      }
      clock = new Date(`${dayR}T10:00:00Z`);
      // A fee on each account, booked on P: B's on its day's statement, A's on its month's.
      const fee = entry(ref('rekey-two'), 500n, dayP, 'DEBIT');
      const ofAccount = (account: string, statement: Parameters<typeof camt053>[0][number]) =>
        camt053([statement]).replace('<IBAN>DE89370400440532013000</IBAN>', `<Othr><Id>${account}</Id></Othr>`);
      for (const [account, date] of [
        [accountB, dayP],
        [accountA, dayR],
      ] as const) {
        const content = ofAccount(account, {
          id: `${c}-${date}`,
          currency: 'USD',
          opening: 5000n,
          date,
          entries: [fee],
        });
        const imported = await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } });
        expect(imported.errors).toBeUndefined();
      }
      // The order the runs read the statements in, whatever the order of import.
      const read = await sqlRows<{ account: string }>(
        sql`SELECT account FROM statements WHERE channel = ${c} ORDER BY id`,
      );
      expect(read.map((r) => r.account)).toEqual(first === 'B' ? [accountB, accountA] : [accountA, accountB]);
      // Before c3452ee: B's fee under its day's place 1, A's under the month's last day's place 1.
      const of = (date: string, place: number) => ({
        subject: `line:${keyOf(c, date, fee, place)}`,
        businessDate: date,
        kind: 'MISSING_INTERNAL' as const,
        externalRef: fee.ref,
        amount: -500n,
      });
      const [rowB, rowA] = (await write(c, [of(dayP, 1), of(dayR, 1)])) as [string, string];
      for (const id of [rowB, rowA]) expect(await resolve(id, 'BANK_FEE')).toMatchObject({ status: 'RESOLVED' });

      // Each row under its own line's key now, no other row, from the first run on, whichever date it reconciles (the
      // closing date's counts A's line among every statement's lines of P, outside its window).
      const expected = [
        {
          id: rowB,
          subject: `line:${keyNow(c, accountB, fee, 1)}`,
          business_date: dayP,
          status: 'RESOLVED',
          resolution: 'BANK_FEE',
        },
        {
          id: rowA,
          subject: `line:${keyNow(c, accountA, fee, 1)}`,
          business_date: dayP,
          status: 'RESOLVED',
          resolution: 'BANK_FEE',
        },
      ].sort((x, y) => x.id.localeCompare(y.id));
      const dates = [dayP, addDays(dayP, 1), addDays(dayR, -1), dayR];
      for (const date of order === 'the closing date first' ? [...dates].reverse() : dates) {
        await reconcile(date, c);
        expect((await stored(c)).rows).toEqual(expected);
      }
      await Promise.all([...dates, ...dates].map((date) => reconcile(date, c)));
      expect((await stored(c)).rows).toEqual(expected);
      for (const id of [rowB, rowA])
        expect(await resolve(id, 'BANK_FEE')).toMatchObject({ code: 'EXCEPTION_ALREADY_RESOLVED' });
      expect((await stored(c)).postings).toEqual([rowB, rowA].sort());
      expect((await reconcile(dayP, c)).adjustment[0]).toMatchObject({ unexplained: '0', balanced: true });
    });
  }

  /** Registers two accounts of `c` whose statements of `date` are read A's first (the lower id); answers [A, B]. */
  async function twoAccounts(c: string, offset: number, date: string): Promise<[string, string]> {
    const idOf = (account: string) => bankStatementId(c, date, 'USD', account);
    const names = (n: number) =>
      [`ACCT-A${offset}-${n}-${tag}`, `ACCT-B${offset}-${n}-${tag}`].map((a) => a.toUpperCase()) as [string, string];
    let tried = 0;
    while (idOf(names(tried)[0]) >= idOf(names(tried)[1])) tried += 1;
    for (const account of names(tried)) {
      const input = { channel: c, accountIdentification: account, currency: 'USD' };
      const registered = await q(contractOperation('RegisterChannelAccount'), { input });
      expect(registered.data!.registerChannelAccount).toMatchObject({ __typename: 'ChannelAccount' });
    }
    return names(tried);
  }
  const importOf = async (c: string, account: string, statement: Parameters<typeof camt053>[0][number]) => {
    const content = camt053([statement]).replace(
      '<IBAN>DE89370400440532013000</IBAN>',
      `<Othr><Id>${account}</Id></Othr>`,
    );
    expect((await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } })).errors).toBeUndefined();
  };
  /** The order the runs read the channel's statements in: their ids'. */
  const readOrder = async (c: string) =>
    (await sqlRows<{ account: string }>(sql`SELECT account FROM statements WHERE channel = ${c} ORDER BY id`)).map(
      (r) => r.account,
    );

  // Keys before they named their account and counted a place among every account's identical lines of the day, in
  // the order read: B's fee, resolved as BANK_FEE under place 1, lost that place to A's identical fee imported later
  // whose statement read first (A's shown resolved, never posted), and B's line opened a new exception (its fee posted
  // again). A key now names its account, its place among its account's lines: A's statement takes no place of B's.
  it("keeps B's resolved fee B's when A's identical fee of the day is imported later, read first: each posts once", async () => {
    const c = `rekey-150-${tag}`;
    const dayP = addDays(dayD, 150);
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const [accountA, accountB] = await twoAccounts(c, 150, dayP);
    clock = new Date(`${dayP}T10:00:00Z`);
    const fee = entry(ref('keys-fee'), 500n, dayP, 'DEBIT');
    const other = entry(ref('keys-other'), 70n, dayP, 'DEBIT');
    const day = (entries: FileEntry[]) => ({ currency: 'USD', opening: 5000n, date: dayP, entries });
    await importOf(c, accountB, { id: `${c}-b`, ...day([fee]) });
    const [found] = (await reconcile(dayP, c)).exceptions as [Record<string, any>];
    const rowB = found.id as string;
    expect(await resolve(rowB, 'BANK_FEE')).toMatchObject({
      status: 'RESOLVED',
      postingId: expect.stringMatching(/^pst_/),
    });
    // A's day, imported since: its fee is its line 2, and its statement is read first.
    await importOf(c, accountA, { id: `${c}-a`, ...day([other, fee]) });
    expect(await readOrder(c)).toEqual([accountA, accountB]);

    const dates = [addDays(dayP, -1), dayP, addDays(dayP, 1)];
    for (const date of dates) await reconcile(date, c);
    await Promise.all([...dates, ...dates].map((date) => reconcile(date, c)));
    // B's row stays on B's line, resolved; A's fee (its line 2) has its own open exception; no other row.
    const rows = await sqlRows<{
      id: string;
      subject: string;
      status: string;
      resolution: string | null;
      detail: string;
    }>(
      sql`SELECT id, subject, status, resolution, detail FROM reconciliation_exceptions WHERE channel = ${c} ORDER BY id`,
    );
    const feeA = exceptionId(c, `line:${keyNow(c, accountA, fee, 1)}`);
    // Which entry of its statement each row's line is: its detail names the line of the file (both files alike).
    const lineOf = (detail: string) => Number(/^statement line (\d+) /.exec(detail)![1]);
    const fileLines = [...new Set(rows.map((r) => lineOf(r.detail)))].sort((x, y) => x - y);
    const entryOf = (detail: string) => `entry ${fileLines.indexOf(lineOf(detail)) + 1}`;
    const otherA = `line:${keyNow(c, accountA, other, 1)}`;
    expect(rows.map((r) => [r.id, r.subject, r.status, r.resolution, entryOf(r.detail)])).toEqual(
      [
        [rowB, `line:${keyNow(c, accountB, fee, 1)}`, 'RESOLVED', 'BANK_FEE', 'entry 1'],
        [feeA, `line:${keyNow(c, accountA, fee, 1)}`, 'OPEN', null, 'entry 2'],
        [exceptionId(c, otherA), otherA, 'OPEN', null, 'entry 1'],
      ].sort((x, y) => x[0]!.localeCompare(y[0]!)),
    );
    // Resolving A's fee posts it once; neither is resolved again: two fee postings in all.
    expect(await resolve(feeA, 'BANK_FEE')).toMatchObject({ status: 'RESOLVED', resolution: 'BANK_FEE' });
    for (const id of [rowB, feeA])
      expect(await resolve(id, 'BANK_FEE')).toMatchObject({ code: 'EXCEPTION_ALREADY_RESOLVED' });
    expect((await stored(c)).postings).toEqual([rowB, feeA].sort());
  });

  // Rows a deployment recorded under the keys of before (no account, shared places) are found again under
  // their lines' keys now: the line at the place in today's order, as those runs read them.
  it('re-keys the rows recorded under shared places to their lines: resolutions, postings and trails kept', async () => {
    const c = `rekey-160-${tag}`;
    const dayP = addDays(dayD, 160);
    await q(docs.rules, { input: { channel: c, amountToleranceMinor: '0', dateWindowDays: 1 } });
    const [accountA, accountB] = await twoAccounts(c, 160, dayP);
    clock = new Date(`${dayP}T10:00:00Z`);
    const movement = await deposit(await openAccount(), '2000', ref('keys-m'), c);
    const fee = entry(ref('keys-two'), 500n, dayP, 'DEBIT');
    const short = entry(ref('keys-m'), 1990n, dayP);
    const day = (entries: FileEntry[]) => ({ currency: 'USD', opening: 5000n, date: dayP, entries });
    await importOf(c, accountA, { id: `${c}-a`, ...day([fee, short]) });
    await importOf(c, accountB, { id: `${c}-b`, ...day([fee]) });
    expect(await readOrder(c)).toEqual([accountA, accountB]);
    // As the code before keys named their account recorded them: A's fee (read first) under place 1, B's under place
    // 2, the deposit booked short by its line's key; A's fee resolved as BANK_FEE and the mismatch written off, both posted.
    const shared = (e: FileEntry, place: number) => `line:${keyOf(c, dayP, e, place)}`;
    const [feeA, feeB, mismatch] = (await write(c, [
      { subject: shared(fee, 1), businessDate: dayP, kind: 'MISSING_INTERNAL', externalRef: fee.ref, amount: -500n },
      { subject: shared(fee, 2), businessDate: dayP, kind: 'MISSING_INTERNAL', externalRef: fee.ref, amount: -500n },
      {
        subject: matchOf(movement, keyOf(c, dayP, short, 1)),
        businessDate: dayP,
        kind: 'AMOUNT_MISMATCH',
        externalRef: short.ref,
        movementId: movement,
        amount: -10n,
      },
    ])) as [string, string, string];
    expect(await resolve(feeA, 'BANK_FEE')).toMatchObject({ status: 'RESOLVED' });
    expect(await resolve(mismatch, 'WRITE_OFF')).toMatchObject({ status: 'RESOLVED' });

    const dates = [addDays(dayP, -1), dayP, addDays(dayP, 1)];
    for (const date of dates) await reconcile(date, c);
    await Promise.all([...dates, ...dates].map((date) => reconcile(date, c)));
    // The same three rows, each under its line's or match's key now; nothing opened.
    const at = (id: string, subject: string, status: string, resolution: string | null) => ({
      id,
      subject,
      business_date: dayP,
      status,
      resolution,
    });
    expect((await stored(c)).rows).toEqual(
      [
        at(feeA, `line:${keyNow(c, accountA, fee, 1)}`, 'RESOLVED', 'BANK_FEE'),
        at(feeB, `line:${keyNow(c, accountB, fee, 1)}`, 'OPEN', null),
        at(mismatch, matchOf(movement, keyNow(c, accountA, short, 1)), 'RESOLVED', 'WRITE_OFF'),
      ].sort((x, y) => x.id.localeCompare(y.id)),
    );
    const trail = await sqlRows<{ event: string; detail: string }>(
      sql`SELECT event, detail FROM reconciliation_exception_events WHERE exception_id = ${feeA} ORDER BY sequence`,
    );
    expect(trail.map((t) => t.event)).toEqual(['OPENED', 'RESOLVED', 'CHANGED']);
    expect(trail[2]!.detail).toContain(`re-keyed: ${shared(fee, 1)} of ${dayP}`);
    // Resolved ones are refused again; B's open fee posts once: one posting for each, none more.
    for (const id of [feeA, mismatch])
      expect(await resolve(id, 'WRITE_OFF')).toMatchObject({ code: 'EXCEPTION_ALREADY_RESOLVED' });
    expect(await resolve(feeB, 'BANK_FEE')).toMatchObject({ status: 'RESOLVED', resolution: 'BANK_FEE' });
    expect((await stored(c)).postings).toEqual([feeA, feeB, mismatch].sort());
    expect((await reconcile(dayP, c)).adjustment[0]).toMatchObject({ unexplained: '0', balanced: true });
  });
});

describe("a camt.053 batch entry: each transaction's reference and amount is a line of its own", () => {
  it('matches each TxDtls (Amt from 001.04 on, AmtDtls/TxAmt in 001.02) to its movement: no mismatch, none missing', async () => {
    // PostFinance's entry of 24.00 = 15.00 + 9.00, each under its EndToEndId: read as one line under the first
    // reference, 15.00 matched 24.00 (AMOUNT_MISMATCH) and 9.00 was on no statement (MISSING_EXTERNAL).
    const c = `batch-${tag}`;
    const [dayS, dayT] = [70, 71].map((n) => addDays(dayD, n)) as [string, string];
    const account = await openAccount();
    const file = (date: string, version: string, parts: ReadonlyArray<readonly [string, bigint]>) => {
      const total = parts.reduce((sum, [, amount]) => sum + amount, 0n);
      const batch: FileEntry = {
        ...entry(ref(`${date}-batch`), total, date),
        parts: parts.map(([name, amount]) => ({ ref: ref(name), amount })),
      };
      return camt053([{ id: `${c}-${date}`, currency: 'USD', opening: 0n, date, entries: [batch] }], {
        version,
        ...(version === '02' ? {} : { prefix: 'ns2' }),
      });
    };
    for (const [date, version, parts] of [
      [
        dayS,
        '08',
        [
          ['batch-s1', 1500n],
          ['batch-s2', 900n],
        ],
      ],
      [
        dayT,
        '02',
        [
          ['batch-t1', 3000n],
          ['batch-t2', 700n],
          ['batch-t3', 1n],
        ],
      ],
    ] as const) {
      clock = new Date(`${date}T10:00:00Z`);
      const ids = new Map<string, string>();
      for (const [name, amount] of parts) ids.set(ref(name), await deposit(account, amount.toString(), ref(name), c));
      const imported = await q(docs.importFile, {
        input: { channel: c, format: 'CAMT053', content: file(date, version, parts) },
      });
      // One entry, as the bank counts them; its transactions are what matching weighs.
      expect(imported.data!.importBankStatement.statements, JSON.stringify(imported)).toMatchObject([
        { businessDate: date, lines: 1 },
      ]);
      const report = await reconcile(date, c);
      expect(report.matches.map((m) => [m.rule, m.externalRefs, m.movementIds, m.difference]).sort()).toEqual(
        [...ids].map(([r, id]) => ['REFERENCE', [r], [id], '0']).sort(),
      );
      expect(report.exceptions).toEqual([]);
      const total = parts.reduce((sum, [, amount]) => sum + amount, 0n).toString();
      expect(report.adjustment).toEqual([
        {
          currency: 'USD',
          bankMovements: total,
          ledgerMovements: total,
          inTransit: '0',
          bankOnly: '0',
          unexplained: '0',
          balanced: true,
        },
      ]);
    }
  });
});
