import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays } from '@paygraph/shared/business-date';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postBatch } from '@paygraph/shared/ledger/engine/batch';
import { postOne, type PostingItem, systemAccountId } from '@paygraph/shared/ledger/index';
import { type PostingSettings } from '@paygraph/shared/config/shared';
import { daySummaryMismatches } from '@paygraph/shared/ledger/store/account-days';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { testConfig, testShards, token, unique } from '../../../../test/support/env';
import { moneyKit, physicalOf, type Answer, type MoneyKit } from '../../../../test/support/money';
import { entriesOf } from '../../../../test/support/ledger';
import { createHold, voidHold } from '../../../../test/support/holds';

/**
 * Statements, balances at an instant and entry pages, on real MySQL with a clock the test
 * moves (business dates in UTC, cut at midnight: the process's default calendar). Each run
 * uses its own far-future dates.
 */
const runDay = Math.floor(Date.now() / 1000) % 1_500_000;
const dayD = addDays('2100-01-01', runDay);
let clock = new Date(`${dayD}T12:00:00Z`);
const at = (date: string, time: string) => new Date(`${date}T${time}Z`);

let stack: Stack;
let kit: MoneyKit;
let operator: string;
/** The stack's posting settings: the seeded summary test switches engines by changing them. */
const posting: PostingSettings = { ...testConfig().posting };

beforeAll(async () => {
  stack = await startStack({ now: () => clock, shards: testShards(undefined, posting) });
  kit = await moneyKit(stack);
  operator = await token('operator', 'operator');
});

afterAll(async () => {
  await stack.stop();
});

const statementDoc = contractOperation('AccountStatement');
const balanceAtDoc = contractOperation('BalanceAt');
const entriesDoc = `query Entries($id: ID!, $first: Int, $after: String) {
  account(id: $id) { balance { total } entries(first: $first, after: $after) {
    edges { cursor node { id sequence amount createdAt } } pageInfo { hasNextPage endCursor } } } }`;

interface Line {
  businessDate: string;
  opening: string;
  credits: string;
  debits: string;
  closing: string;
  entryCount: number;
}

async function statement(id: string, from: string, to: string): Promise<Line[]> {
  const r = await gql(stack.gatewayUrl, statementDoc, { id, from, to }, operator);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!.account.statement as Line[];
}

async function balanceAt(id: string, instant: Date) {
  const r = await gql(stack.gatewayUrl, balanceAtDoc, { id, at: instant.toISOString() }, operator);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!.account.balanceAt as { available: string; frozen: string; pending: string; total: string };
}

/** Every entry of the account through `entries`, page by page. */
async function allEntries(id: string, first: number): Promise<Array<{ id: string; amount: string }>> {
  const seen: Array<{ id: string; amount: string }> = [];
  let after: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const r: Answer = await gql(stack.gatewayUrl, entriesDoc, { id, first, after }, operator);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    const conn: {
      edges: Array<{ node: { id: string; amount: string } }>;
      pageInfo: { hasNextPage: boolean; endCursor: string };
    } = r.data!.account.entries;
    for (const edge of conn.edges) seen.push(edge.node);
    if (!conn.pageInfo.hasNextPage) return seen;
    after = conn.pageInfo.endCursor;
  }
  throw new Error('entries did not end');
}

/** A deposit into the account at an instant, through the gateway. */
async function depositAt(id: string, amount: string, instant: Date): Promise<void> {
  clock = instant;
  await kit.fund(id, amount);
}

describe('Account.statement', () => {
  it('gives one line per date across a day-cut, each closing the next opening, agreeing with the entries', async () => {
    const d1 = addDays(dayD, 1);
    const d2 = addDays(dayD, 2);
    const d3 = addDays(dayD, 3);
    const alice = await kit.open(unique('alice'));
    const bob = await kit.open(unique('bob'));
    await depositAt(alice, '1000', at(dayD, '10:00:00'));
    await depositAt(alice, '500', at(d1, '23:59:59.900'));
    clock = at(d2, '00:00:00.100');
    await kit.paid(operator, { payer: alice, payee: bob, amount: '300' });
    clock = at(d2, '08:00:00');
    await kit.paid(operator, { payer: alice, payee: bob, amount: '200' });
    clock = at(d3, '12:00:00');
    const lines = await statement(alice, d1, addDays(d3, 1));
    expect(lines).toEqual([
      { businessDate: d1, opening: '1000', credits: '500', debits: '0', closing: '1500', entryCount: 1 },
      { businessDate: d2, opening: '1500', credits: '0', debits: '500', closing: '1000', entryCount: 2 },
      { businessDate: d3, opening: '1000', credits: '0', debits: '0', closing: '1000', entryCount: 0 },
      { businessDate: addDays(d3, 1), opening: '1000', credits: '0', debits: '0', closing: '1000', entryCount: 0 },
    ]);
    const entries = await entriesOf(stack.shards, alice);
    expect(entries.reduce((s, e) => s + e.amount, 0n).toString()).toBe(lines.at(-1)!.closing);
    expect(await daySummaryMismatches(stack.shards.of('account', alice).db, [alice])).toEqual([]);
  });

  it('refuses from after to, and a range over 366 dates, writing nothing', async () => {
    const alice = await kit.open(unique('alice'));
    const after = await gql(stack.gatewayUrl, statementDoc, { id: alice, from: addDays(dayD, 1), to: dayD }, operator);
    expect(errorCodes(after)).toEqual(['BAD_USER_INPUT']);
    expect(after.errors![0]!.message).toMatch(/from \(.*\) is after to/);
    const long = await gql(stack.gatewayUrl, statementDoc, { id: alice, from: dayD, to: addDays(dayD, 366) }, operator);
    expect(errorCodes(long)).toEqual(['BAD_USER_INPUT']);
    expect(long.errors![0]!.message).toMatch(/367 dates asked, at most 366/);
    expect(await statement(alice, dayD, addDays(dayD, 365))).toHaveLength(366);
  });

  it('answers a range ending on 9999-12-31, the last day a Date may be, one line a date', async () => {
    // Before: the walk of its dates went on past 9999-12-31 to '+010000-01-01', which sorts before it, and the
    // 31 dates were refused as BAD_USER_INPUT "31 dates asked, at most 366".
    const alice = await kit.open(unique('alice'));
    await depositAt(alice, '700', at(dayD, '10:00:00'));
    const lines = await statement(alice, '9999-12-01', '9999-12-31');
    expect(lines).toHaveLength(31);
    expect(lines[0]).toMatchObject({ businessDate: '9999-12-01', opening: '700', closing: '700', entryCount: 0 });
    expect(lines.at(-1)).toMatchObject({ businessDate: '9999-12-31', opening: '700', closing: '700', entryCount: 0 });
    expect(await statement(alice, '9999-12-31', '9999-12-31')).toMatchObject([{ businessDate: '9999-12-31' }]);
    const long = await gql(
      stack.gatewayUrl,
      statementDoc,
      { id: alice, from: '9998-12-30', to: '9999-12-31' },
      operator,
    );
    expect(errorCodes(long)).toEqual(['BAD_USER_INPUT']);
    expect(long.errors![0]!.message).toMatch(/367 dates asked, at most 366/);
  });

  it('is readable by the owner only', async () => {
    const owner = unique('carol');
    const carol = await kit.open(owner);
    const stranger = await token(unique('mallory'), 'customer');
    const r = await gql(stack.gatewayUrl, statementDoc, { id: carol, from: dayD, to: dayD }, stranger);
    expect(errorCodes(r)).toEqual(['FORBIDDEN']);
    const mine = await gql(
      stack.gatewayUrl,
      statementDoc,
      { id: carol, from: dayD, to: dayD },
      await token(owner, 'customer'),
    );
    expect(mine.errors).toBeUndefined();
  });
});

describe('the daily summary', () => {
  /** A tiny seeded generator (mulberry32), so a failure can be replayed from its printed seed. */
  function rng(seed: number) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  async function randomPostings(
    shards: ShardSet,
    accounts: readonly string[],
    seed: number,
    count: number,
  ): Promise<void> {
    const random = rng(seed);
    const shard = shards.of('account', accounts[0]!);
    const reserve = await systemAccountId(shards, shard, 'RESERVE', 'USD');
    const items: Array<PostingItem<unknown>> = [];
    for (let i = 0; i < count; i++) {
      const account = accounts[Math.floor(random() * accounts.length)]!;
      const amount = BigInt(1 + Math.floor(random() * 1000));
      // Instants over five dates, not in posting order: merged batches mix dates.
      const instant = new Date(Date.parse(`${addDays(dayD, 10)}T00:00:00Z`) + Math.floor(random() * 5 * 86_400_000));
      const debit = random() < 0.3;
      items.push({
        at: instant,
        kind: 'spec',
        spec: {
          id: newId('posting', shardOf('account', account)),
          kind: 'TEST',
          refId: null,
          dedupeKey: null,
          currency: 'USD',
          legs: [
            { accountId: reserve, bucket: 'AVAILABLE', amount: debit ? amount : -amount },
            { accountId: account, bucket: 'AVAILABLE', amount: debit ? -amount : amount },
          ],
        },
        finish: async () => undefined,
      });
    }
    // Merged postings go in together (they share batches); the other engines take a connection
    // per posting, so they go one at a time.
    if (posting.engine === 'merged') await Promise.all(items.map((item) => postOne(shard, item)));
    else for (const item of items) await postOne(shard, item);
  }

  it('agrees with the entries after random postings, merged and naive (seeded)', async () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);
    console.log(`daily summary test seed: ${seed} (TEST_SEED=${seed} replays it)`);
    const owner = unique('sum');
    const first = await kit.open(owner, { physical: 0 });
    const accounts = [first, await kit.open(owner, { physical: 0 }), await kit.open(owner, { physical: 0 })];
    for (const id of accounts) await kit.fund(id, '100000000');
    const shard = stack.shards.of('account', first);
    const before = posting.engine;
    try {
      await randomPostings(stack.shards, accounts, seed, 300);
      posting.engine = 'naive';
      await randomPostings(stack.shards, accounts, seed + 1, 60);
      posting.engine = 'single';
      await randomPostings(stack.shards, accounts, seed + 2, 60);
    } finally {
      posting.engine = before;
    }
    expect(await daySummaryMismatches(shard.db, accounts)).toEqual([]);
    clock = new Date(Date.parse(`${addDays(dayD, 16)}T00:00:00Z`));
    for (const id of accounts) {
      const lines = await statement(id, addDays(dayD, 9), addDays(dayD, 15));
      const entries = await entriesOf(stack.shards, id);
      expect(lines.at(-1)!.closing).toBe(entries.reduce((s, e) => s + e.amount, 0n).toString());
      expect(lines.reduce((n, l) => n + l.entryCount, 0)).toBe(entries.length - 1);
      for (let i = 1; i < lines.length; i++) expect(lines[i]!.opening).toBe(lines[i - 1]!.closing);
    }
  });

  it('a posting batch that rolls back leaves no summary behind', async () => {
    const id = await kit.open(unique('rollback'));
    const shard = stack.shards.of('account', id);
    const reserve = await systemAccountId(stack.shards, shard, 'RESERVE', 'USD');
    const spec = {
      id: newId('posting', shardOf('account', id)),
      kind: 'TEST',
      refId: null,
      dedupeKey: null,
      currency: 'USD',
      legs: [
        { accountId: reserve, bucket: 'AVAILABLE' as const, amount: -5n },
        { accountId: id, bucket: 'AVAILABLE' as const, amount: 5n },
      ],
    };
    await expect(
      postBatch(shard, [
        {
          kind: 'spec',
          spec,
          finish: async () => {
            throw new Error('finish fails');
          },
        },
      ]),
    ).rejects.toThrow('finish fails');
    clock = at(addDays(dayD, 20), '00:00:00');
    expect(await statement(id, dayD, addDays(dayD, 19))).toSatisfy((lines: Line[]) =>
      lines.every((l) => l.entryCount === 0 && l.closing === '0'),
    );
  });
});

describe('Account.balanceAt', () => {
  it('is the balance per bucket as it stood around a payment, a refund, a hold and a settlement; refuses the future', async () => {
    const e = addDays(dayD, 30);
    const merchantOwner = unique('shop');
    const shop = await kit.open(merchantOwner, { type: 'MERCHANT' });
    const payers = await Promise.all([0, 1, 2, 3].map((p) => kit.open(unique('payer'), { physical: p })));
    for (const [i, payer] of payers.entries()) await depositAt(payer, '10000', at(e, `09:0${i}:00`));
    const payments: string[] = [];
    for (const [i, payer] of payers.entries()) {
      clock = at(e, `10:0${i}:00`);
      payments.push(await kit.paid(operator, { payer, payee: shop, amount: '1000' }));
    }
    clock = at(e, '11:00:00');
    const refund = await kit.refund(operator, payments[0]!, '400');
    expect(refund.data?.refundPayment.__typename).toBe('Refund');
    clock = at(e, '11:30:00');
    const held = await createHold(stack.gatewayUrl, operator, {
      payer: payers[1]!,
      payee: shop,
      amount: '2000',
      key: unique('hold'),
    });
    expect(held.data?.createHold.__typename, JSON.stringify(held)).toBe('Hold');
    clock = at(e, '11:45:00');
    const voided = await voidHold(stack.gatewayUrl, operator, held.data!.createHold.id as string, unique('void'));
    expect(voided.errors, JSON.stringify(voided.errors)).toBeUndefined();
    clock = at(addDays(e, 1), '12:00:00');
    const settled = await gql(
      stack.gatewayUrl,
      contractOperation('RunSettlement'),
      { input: { merchantAccountId: shop, businessDate: e } },
      operator,
    );
    expect(settled.data?.runSettlement.__typename, JSON.stringify(settled)).toBe('Settlement');
    clock = at(addDays(e, 2), '00:00:00');
    const b = (available: bigint, pending: bigint) => ({
      available: available.toString(),
      frozen: '0',
      pending: pending.toString(),
      total: (available + pending).toString(),
    });
    expect(await balanceAt(shop, at(e, '09:59:59'))).toEqual(b(0n, 0n));
    expect(await balanceAt(shop, at(e, '10:00:00'))).toEqual(b(0n, 1000n));
    expect(await balanceAt(shop, at(e, '10:03:00'))).toEqual(b(0n, 4000n));
    expect(await balanceAt(shop, at(e, '11:00:00'))).toEqual(b(0n, 3600n));
    expect(await balanceAt(shop, at(addDays(e, 1), '11:59:59'))).toEqual(b(0n, 3600n));
    // Settlement: each stripe's pending becomes available less its fee (payer 0's stripe moved 600).
    const fees = [600n, 1000n, 1000n, 1000n].reduce((s, moved) => s + (moved * 250n + 5000n) / 10000n, 0n);
    expect(await balanceAt(shop, at(addDays(e, 1), '12:00:00'))).toEqual(b(3600n - fees, 0n));
    expect(await balanceAt(shop, clock)).toEqual(await kit.balance(shop));
    expect(await balanceAt(payers[0]!, at(e, '10:30:00'))).toEqual(b(9000n, 0n));
    expect(await balanceAt(payers[0]!, at(e, '11:00:00'))).toEqual(b(9400n, 0n));
    // A hold moves the payer's money from available to frozen, and its void back.
    const h = (available: bigint, frozen: bigint) => ({
      available: available.toString(),
      frozen: frozen.toString(),
      pending: '0',
      total: (available + frozen).toString(),
    });
    expect(await balanceAt(payers[1]!, at(e, '11:29:59'))).toEqual(h(9000n, 0n));
    expect(await balanceAt(payers[1]!, at(e, '11:30:00'))).toEqual(h(7000n, 2000n));
    expect(await balanceAt(payers[1]!, at(e, '11:44:59.999'))).toEqual(h(7000n, 2000n));
    expect(await balanceAt(payers[1]!, at(e, '11:45:00'))).toEqual(h(9000n, 0n));
    const future = await gql(
      stack.gatewayUrl,
      balanceAtDoc,
      { id: shop, at: new Date(clock.getTime() + 1000).toISOString() },
      operator,
    );
    expect(errorCodes(future)).toEqual(['BAD_USER_INPUT']);
    expect(future.errors![0]!.message).toMatch(/future/);
  });
});

describe('merchant Account.entries', () => {
  it('pages over every stripe newest first with no repeat and no gap, and adds up to the balance', async () => {
    const shop = await kit.open(unique('shop'), { type: 'MERCHANT' });
    const payers = await Promise.all([0, 1, 2, 3].map((p) => kit.open(unique('payer'), { physical: p })));
    for (const payer of payers) await kit.fund(payer, '100000');
    let minute = 0;
    for (let round = 0; round < 4; round++) {
      for (const payer of payers) {
        clock = new Date(Date.parse(`${addDays(dayD, 40)}T10:00:00Z`) + minute++ * 60_000);
        await kit.paid(operator, {
          payer,
          payee: shop,
          amount: String(100 + round * 10 + physicalOf(stack.shards, payer)),
        });
      }
    }
    clock = at(addDays(dayD, 41), '00:00:00');
    for (const first of [1, 3, 7, 100]) {
      const entries = await allEntries(shop, first);
      expect(entries).toHaveLength(16);
      expect(new Set(entries.map((e) => e.id)).size).toBe(16);
      expect(entries.reduce((s, e) => s + BigInt(e.amount), 0n).toString()).toBe((await kit.balance(shop)).total);
    }
    // Newest first across stripes: the payments were made a minute apart, each on another stripe.
    const page = await gql(stack.gatewayUrl, entriesDoc, { id: shop, first: 16, after: null }, operator);
    const instants = (page.data!.account.entries.edges as Array<{ node: { createdAt: string } }>).map((e) =>
      Date.parse(e.node.createdAt),
    );
    expect(instants).toEqual([...instants].sort((a, b) => b - a));
  });

  it('refuses a cursor of another account', async () => {
    const a = await kit.open(unique('a'));
    const b = await kit.open(unique('b'));
    await kit.fund(a, '10');
    await kit.fund(a, '10');
    const page = await gql(stack.gatewayUrl, entriesDoc, { id: a, first: 1 }, operator);
    const cursor = page.data!.account.entries.pageInfo.endCursor as string;
    const other = await gql(stack.gatewayUrl, entriesDoc, { id: b, first: 1, after: cursor }, operator);
    expect(errorCodes(other)).toEqual(['BAD_USER_INPUT']);
  });
});
