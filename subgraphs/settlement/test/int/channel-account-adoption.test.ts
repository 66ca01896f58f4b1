import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { addDays } from '@paygraph/shared/business-date';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { controlShard } from '../../src/services/settle';
import { camt053 } from '../support/bank-files';

/**
 * A channel with no account registered takes one account's statements, stored under no account (''). Once that account
 * is registered to the channel, the same file imported again must replace the day's statement (the contract: "each
 * replaces an earlier one of the channel and date"), not stand beside it and count the day's lines twice: before, two
 * rows ('' and the account), the bank's line a MISSING_INTERNAL and bankMovements 2000 against 1000, yet balanced.
 * The registration moves the statements the channel took that named the account under it (adoptStatements).
 */
// MT940/camt dates of this run within 2070-2089 (as channel-reconciliation.test.ts), offset so as not to meet its days.
const runDay = Math.floor(Date.now() / 1000) % 7_000;
const dayD = addDays('2070-01-01', runDay + 250);
const clock = new Date(`${dayD}T10:00:00Z`);
const tag = randomBytes(3).toString('hex');

let stack: Stack;
let operator: string;
beforeAll(async () => {
  stack = await startStack({ now: () => clock });
  operator = await token(unique('ops'), 'operator');
});
afterAll(async () => stack?.stop());

const q = (doc: string, variables: Record<string, unknown> = {}, as = operator) =>
  gql(stack.gatewayUrl, doc, variables, as);
const docs = {
  deposit: contractOperation('DepositViaChannel'),
  open: contractOperation('OpenAccount'),
  importFile: contractOperation('ImportBankStatement'),
  register: contractOperation('RegisterChannelAccount'),
  reconcile: contractOperation('ChannelReconciliation'),
};
const ref = (name: string) => `${name}-${tag}`;

async function sqlRows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  const [rows] = (await controlShard(stack.shards).db.execute(query)) as unknown as [T[]];
  return rows;
}

type Report = {
  matches: Array<Record<string, any>>;
  exceptions: Array<Record<string, any>>;
  adjustment: Array<Record<string, any>>;
};
async function reconcile(date: string, of: string): Promise<Report> {
  const r = await q(docs.reconcile, { channel: of, businessDate: date });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!.channelReconciliation as Report;
}

describe('an account registered to the channel that took its statements as its one account', () => {
  it('re-importing the same file replaces the day: its lines are not counted twice', async () => {
    const c = `hreg-${tag}`;
    const account = `ACCT-HREG-${tag}`.toUpperCase();
    const opened = await q(docs.open, { input: { ownerId: unique('hreg'), type: 'PERSONAL', currency: 'USD' } });
    const accountId = opened.data!.openAccount.id as string;
    const dep = await q(docs.deposit, {
      input: {
        idempotencyKey: unique('dep'),
        accountId,
        amount: '1000',
        currency: 'USD',
        externalRef: ref('x'),
        channel: c,
      },
    });
    expect(dep.data?.deposit.__typename, JSON.stringify(dep)).toBe('Deposit');
    const content = camt053([
      {
        id: `${c}-1`,
        currency: 'USD',
        opening: 0n,
        date: dayD,
        entries: [{ ref: ref('x'), amount: 1000n, direction: 'CREDIT', bookingDate: dayD }],
      },
    ]).replace('<IBAN>DE89370400440532013000</IBAN>', `<Othr><Id>${account}</Id></Othr>`);

    // 1. The channel has no account: it takes this account's statement, kept under no account.
    const first = await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } });
    expect(first.data?.importBankStatement?.__typename, JSON.stringify(first)).toBe('StatementImport');
    const before = await reconcile(dayD, c);
    expect(before.exceptions).toEqual([]);
    expect(before.adjustment).toMatchObject([{ bankMovements: '1000', ledgerMovements: '1000', balanced: true }]);

    // 2. The operator registers the account to that very channel, then imports the same file again.
    const registered = await q(docs.register, {
      input: { channel: c, accountIdentification: account, currency: 'USD' },
    });
    expect(registered.data?.registerChannelAccount?.__typename, JSON.stringify(registered)).toBe('ChannelAccount');
    const statementsOf = () =>
      sqlRows<{ account: string; line_count: number }>(
        sql`SELECT account, line_count FROM statements WHERE channel = ${c} ORDER BY account`,
      );
    expect(await statementsOf()).toEqual([{ account, line_count: 1 }]);
    const again = await q(docs.importFile, { input: { channel: c, format: 'CAMT053', content } });
    expect(again.data?.importBankStatement?.__typename, JSON.stringify(again)).toBe('StatementImport');

    // The day of one account, one statement: the re-import replaced it.
    expect(await statementsOf()).toEqual([{ account, line_count: 1 }]);
    const after = await reconcile(dayD, c);
    expect(after.exceptions.map((e) => [e.kind, e.externalRef, e.amount])).toEqual([]);
    expect(after.adjustment).toMatchObject([{ bankMovements: '1000', ledgerMovements: '1000', balanced: true }]);
  });
});
