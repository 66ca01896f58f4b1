import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setBusinessCalendar } from '@paygraph/shared/business-date';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { testConfig, unique } from '../../../../test/support/env';
import { moneyKit, type MoneyKit } from '../../../../test/support/money';

/**
 * Statements in a business calendar other than UTC: New York, with the day cut at 22:00, over
 * the spring-forward change of 10 March 2024 (clocks jump from 02:00 EST to 03:00 EDT). The
 * calendar is the process's, as main.ts sets it from the configuration; this one is read from
 * the same variables a deployment would set.
 */
let clock = new Date('2024-03-12T12:00:00Z');
let stack: Stack;
let kit: MoneyKit;

beforeAll(async () => {
  setBusinessCalendar(
    testConfig({ BUSINESS_TIMEZONE: 'America/New_York', BUSINESS_DAY_CUTOFF: '22:00' }).businessCalendar,
  );
  stack = await startStack({ now: () => clock });
  kit = await moneyKit(stack);
});

afterAll(async () => {
  await stack.stop();
  setBusinessCalendar(testConfig().businessCalendar);
});

describe('a statement in America/New_York, cut at 22:00, across a DST change', () => {
  it('puts each entry on its business date and chains the lines', async () => {
    const id = await kit.open(unique('ny'));
    const deposits: Array<[string, string]> = [
      ['2024-03-09T02:59:59.900Z', '1'], //   8 Mar 21:59:59.9 EST → 8 Mar
      ['2024-03-09T03:00:00.100Z', '10'], //  8 Mar 22:00:00.1 EST → 9 Mar (day-cut)
      ['2024-03-10T02:30:00Z', '100'], //     9 Mar 21:30 EST → 9 Mar
      ['2024-03-10T03:30:00Z', '1000'], //    9 Mar 22:30 EST → 10 Mar (the 23-hour date)
      ['2024-03-11T01:30:00Z', '10000'], //  10 Mar 21:30 EDT → 10 Mar (UTC says 11 Mar)
      ['2024-03-11T02:30:00Z', '100000'], // 10 Mar 22:30 EDT → 11 Mar
    ];
    for (const [instant, amount] of deposits) {
      clock = new Date(instant);
      await kit.fund(id, amount);
    }
    clock = new Date('2024-03-12T12:00:00Z');
    const r = await gql(
      stack.gatewayUrl,
      contractOperation('AccountStatement'),
      { id, from: '2024-03-08', to: '2024-03-11' },
      kit.operator,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.account.statement).toEqual([
      { businessDate: '2024-03-08', opening: '0', credits: '1', debits: '0', closing: '1', entryCount: 1 },
      { businessDate: '2024-03-09', opening: '1', credits: '110', debits: '0', closing: '111', entryCount: 2 },
      { businessDate: '2024-03-10', opening: '111', credits: '11000', debits: '0', closing: '11111', entryCount: 2 },
      {
        businessDate: '2024-03-11',
        opening: '11111',
        credits: '100000',
        debits: '0',
        closing: '111111',
        entryCount: 1,
      },
    ]);
    // At an instant inside the 23-hour date: the date's entries up to it, and every earlier date.
    const b = await gql(
      stack.gatewayUrl,
      contractOperation('BalanceAt'),
      { id, at: '2024-03-11T01:29:59Z' },
      kit.operator,
    );
    expect(b.data!.account.balanceAt.total).toBe('1111');
  });
});
