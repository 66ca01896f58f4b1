import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { eq, inArray } from 'drizzle-orm';
import { newId, parseId } from '@paygraph/shared/ids';
import { mintToken, type Role } from '@paygraph/shared/identity';
import { insertAccount, ownerHomeShard } from '@paygraph/shared/ledger/index';
import { accounts, ownerShards } from '@paygraph/shared/ledger/store/schema';
import { accountsPerOwnerMax } from '@paygraph/shared/limits';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation, errorCodes, gql, type GraphQLResponse } from '../../../../test/support/graphql';
import { asGateway, token, unique } from '../../../../test/support/env';
import {
  accountRow,
  depositFromReserve,
  entriesOf,
  ownerAccountCount,
  withdrawToReserve,
} from '../../../../test/support/ledger';

/**
 * The account subgraph through the whole in-process stack: real HTTP, the gateway in front,
 * every shard a real database. Each test makes its own owners, so it never depends on what
 * other tests (running in parallel on the same shards) have written.
 */
let stack: Stack;
let operator: string;

/** What gql answers: data as loosely typed as the JSON it came from. */
type Answer = GraphQLResponse<Record<string, any>>;

const openAccountDoc = contractOperation('OpenAccount');
const getAccountDoc = contractOperation('GetAccount');
const accountsByOwnerDoc = contractOperation('AccountsByOwner');

const statusFields = `__typename
  ... on Account { id status }
  ... on UserError { code message }
  ... on AccountNotActive { status }
  ... on AccountBalanceNotZero { total }`;
const freezeDoc = `mutation Freeze($id: ID!) { freezeAccount(id: $id) { ${statusFields} } }`;
const unfreezeDoc = `mutation Unfreeze($id: ID!) { unfreezeAccount(id: $id) { ${statusFields} } }`;
const closeDoc = `mutation Close($id: ID!) { closeAccount(id: $id) { ${statusFields} } }`;
const entriesPageDoc = `query EntriesPage($id: ID!, $first: Int, $after: String) {
  account(id: $id) { entries(first: $first, after: $after) { edges { cursor node { sequence amount } } pageInfo { hasNextPage endCursor } } }
}`;

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token(unique('operator'), 'operator');
});

afterAll(async () => {
  await stack.stop();
});

async function openAccount(
  bearer: string | undefined,
  ownerId: string,
  type = 'PERSONAL',
  currency = 'USD',
): Promise<Answer> {
  return gql(stack.gatewayUrl, openAccountDoc, { input: { ownerId, type, currency } }, bearer);
}

/** Opens an account as an operator and returns its id; fails the test if it is not opened. */
async function openedId(ownerId: string, type = 'PERSONAL'): Promise<string> {
  const response = await openAccount(operator, ownerId, type);
  expect(response.errors).toBeUndefined();
  expect(response.data?.openAccount.__typename).toBe('Account');
  return response.data!.openAccount.id as string;
}

/** Runs fn over items a few at a time, so that a test opening many accounts does not drain the pools. */
async function inChunks<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return results;
}

/**
 * Every shard holds some of the owner's accounts, so each must be asked, and once is enough:
 * the accounts table is the only table these reads involve.
 */
function oneQueryPerShard(): number[] {
  return stack.shards.all.map(() => 1);
}

function queryCounts(): number[] {
  return stack.shards.all.map((s) => s.queryCount);
}

function physicalOf(accountId: string): number {
  const parsed = parseId('account', accountId);
  if (!parsed) throw new Error(`${accountId} is not an account id`);
  return stack.shards.topology.physicalOf[parsed.shard]!;
}

describe('account subgraph through the gateway', () => {
  it('opens accounts on every shard, each row in the database its id names', async () => {
    const ownerId = unique('spread');
    const ids = await inChunks(Array.from({ length: 60 }), 10, () => openedId(ownerId));
    expect(new Set(ids).size).toBe(60);
    // 60 random placements over 4 databases miss one with probability about 4·(3/4)^60 ≈ 1e-7.
    expect(new Set(ids.map(physicalOf))).toEqual(new Set(stack.shards.all.map((s) => s.index)));

    for (const shard of stack.shards.all) {
      const found = await shard.db
        .select({ id: accounts.id, ownerId: accounts.ownerId, status: accounts.status })
        .from(accounts)
        .where(inArray(accounts.id, ids));
      const expected = ids.filter((id) => physicalOf(id) === shard.index);
      expect(found.map((r) => r.id).sort()).toEqual(expected.sort());
      expect(found.every((r) => r.ownerId === ownerId && r.status === 'ACTIVE')).toBe(true);
    }
  });

  it('lists 50 accounts on 4 shards with at most one query per shard, through the gateway and _entities', async () => {
    const ownerId = unique('many');
    const ownerToken = await token(ownerId, 'customer');
    // Placed round-robin over the databases (not at random) so that every shard surely holds some.
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const shard = stack.shards.all[i % stack.shards.all.length]!;
      const logical = stack.shards.logicalOn(shard)[i % stack.shards.logicalOn(shard).length]!;
      const id = newId('account', logical);
      await insertAccount(shard.db, { id, ownerId, type: 'PERSONAL', currency: 'USD' });
      ids.push(id);
    }
    const funded = new Map<string, bigint>();
    for (const id of ids.slice(0, 8)) {
      const amount = 1_000n + BigInt(funded.size);
      expect((await depositFromReserve(stack.shards, id, amount)).status).toBe('APPLIED');
      funded.set(id, amount);
    }

    for (const shard of stack.shards.all) shard.queryCount = 0;
    const listed = await gql(stack.gatewayUrl, accountsByOwnerDoc, { ownerId }, ownerToken);
    expect(listed.errors).toBeUndefined();
    expect(queryCounts()).toEqual(oneQueryPerShard());
    const nodes = (
      listed.data!.accounts.edges as Array<{ node: { id: string; balance: { available: string; total: string } } }>
    ).map((e) => e.node);
    expect(nodes.map((n) => n.id)).toEqual([...ids].sort());
    expect(listed.data!.accounts.pageInfo.hasNextPage).toBe(false);
    for (const node of nodes) {
      expect(node.balance).toMatchObject({
        available: String(funded.get(node.id) ?? 0n),
        total: String(funded.get(node.id) ?? 0n),
      });
    }

    for (const shard of stack.shards.all) shard.queryCount = 0;
    const entities = await gql(
      stack.subgraphUrls.account,
      'query($r:[_Any!]!){ _entities(representations:$r){ ... on Account { id balance { available } } } }',
      { r: ids.map((id) => ({ __typename: 'Account', id })) },
      undefined,
      await asGateway('account', ownerId, 'customer'),
    );
    expect(entities.errors).toBeUndefined();
    expect(queryCounts()).toEqual(oneQueryPerShard());
    const resolved = entities.data!._entities as Array<{ id: string; balance: { available: string } }>;
    expect(resolved.map((e) => e.id)).toEqual(ids);
    expect(resolved.map((e) => e.balance.available)).toEqual(ids.map((id) => String(funded.get(id) ?? 0n)));
  });

  it('reads balances equal to Σ entries, entries newest first, and pages them without gap or repeat', async () => {
    const ownerId = unique('reader');
    const ownerToken = await token(ownerId, 'customer');
    const id = await openedId(ownerId);
    const amounts = [500n, 125n, 3n, 40_000n, 1n];
    for (const amount of amounts) expect((await depositFromReserve(stack.shards, id, amount)).status).toBe('APPLIED');
    expect((await withdrawToReserve(stack.shards, id, 28n)).status).toBe('APPLIED');
    const total = amounts.reduce((sum, a) => sum + a, 0n) - 28n;

    const response = await gql(stack.gatewayUrl, getAccountDoc, { id }, ownerToken);
    expect(response.errors).toBeUndefined();
    const account = response.data!.account;
    expect(account.balance).toEqual({ available: String(total), frozen: '0', pending: '0', total: String(total) });
    const nodes = (
      account.entries.edges as Array<{
        node: { sequence: number; amount: string; direction: string; balanceAfter: string };
      }>
    ).map((e) => e.node);
    expect(nodes.map((n) => n.sequence)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(nodes.map((n) => n.amount)).toEqual(['-28', ...[...amounts].reverse().map(String)]);
    expect(nodes.map((n) => n.direction)).toEqual(['DEBIT', 'CREDIT', 'CREDIT', 'CREDIT', 'CREDIT', 'CREDIT']);
    expect(nodes.reduce((sum, n) => sum + BigInt(n.amount), 0n)).toBe(total);
    expect(nodes[0]!.balanceAfter).toBe(String(total));
    expect(account.entries.pageInfo.hasNextPage).toBe(false);

    // The API agrees with the database, where the balance is Σ of the stored entries.
    const stored = await entriesOf(stack.shards, id);
    expect(stored.reduce((sum, e) => sum + e.amount, 0n)).toBe(total);
    expect((await accountRow(stack.shards, id))!.available).toBe(total);

    const seen: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const next: Answer = await gql(stack.gatewayUrl, entriesPageDoc, { id, first: 2, after }, ownerToken);
      expect(next.errors).toBeUndefined();
      const entries = next.data!.account.entries;
      expect(entries.edges.length).toBeLessThanOrEqual(2);
      seen.push(...(entries.edges as Array<{ node: { sequence: number } }>).map((e) => e.node.sequence));
      if (!entries.pageInfo.hasNextPage) break;
      after = entries.pageInfo.endCursor as string;
    }
    expect(seen).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it('freezes and unfreezes (operators only) and closes only at zero, once', async () => {
    const ownerId = unique('closer');
    const ownerToken = await token(ownerId, 'customer');
    const id = await openedId(ownerId);

    const byCustomer = await gql(stack.gatewayUrl, freezeDoc, { id }, ownerToken);
    expect(errorCodes(byCustomer)).toEqual(['FORBIDDEN']);
    expect((await accountRow(stack.shards, id))!.status).toBe('ACTIVE');

    const frozen = await gql(stack.gatewayUrl, freezeDoc, { id }, operator);
    expect(frozen.data?.freezeAccount).toEqual({ __typename: 'Account', id, status: 'FROZEN' });
    expect((await accountRow(stack.shards, id))!.status).toBe('FROZEN');
    const unfrozen = await gql(stack.gatewayUrl, unfreezeDoc, { id }, operator);
    expect(unfrozen.data?.unfreezeAccount).toEqual({ __typename: 'Account', id, status: 'ACTIVE' });

    expect((await depositFromReserve(stack.shards, id, 250n)).status).toBe('APPLIED');
    const notZero = await gql(stack.gatewayUrl, closeDoc, { id }, ownerToken);
    expect(notZero.data?.closeAccount).toMatchObject({
      __typename: 'AccountBalanceNotZero',
      code: 'ACCOUNT_BALANCE_NOT_ZERO',
      total: '250',
    });
    expect((await accountRow(stack.shards, id))!.status).toBe('ACTIVE');

    expect((await withdrawToReserve(stack.shards, id, 250n)).status).toBe('APPLIED');
    const closed = await gql(stack.gatewayUrl, closeDoc, { id }, ownerToken);
    expect(closed.data?.closeAccount).toEqual({ __typename: 'Account', id, status: 'CLOSED' });
    expect((await accountRow(stack.shards, id))!.status).toBe('CLOSED');

    const again = await gql(stack.gatewayUrl, closeDoc, { id }, ownerToken);
    expect(again.data?.closeAccount).toMatchObject({
      __typename: 'AccountNotActive',
      code: 'ACCOUNT_NOT_ACTIVE',
      status: 'CLOSED',
    });
  });

  it("refuses an owner's close of a FROZEN account (closing is final: it would escape the freeze); an operator's closes it", async () => {
    const ownerId = unique('frozen-closer');
    const ownerToken = await token(ownerId, 'customer');
    const id = await openedId(ownerId);
    const frozen = await gql(stack.gatewayUrl, freezeDoc, { id }, operator);
    expect(frozen.data?.freezeAccount).toEqual({ __typename: 'Account', id, status: 'FROZEN' });

    const byOwner = await gql(stack.gatewayUrl, closeDoc, { id }, ownerToken);
    expect(byOwner.errors).toBeUndefined();
    expect(byOwner.data?.closeAccount).toMatchObject({
      __typename: 'AccountNotActive',
      code: 'ACCOUNT_NOT_ACTIVE',
      status: 'FROZEN',
    });
    expect((await accountRow(stack.shards, id))!.status).toBe('FROZEN');

    const byOperator = await gql(stack.gatewayUrl, closeDoc, { id }, operator);
    expect(byOperator.data?.closeAccount).toEqual({ __typename: 'Account', id, status: 'CLOSED' });
    expect((await accountRow(stack.shards, id))!.status).toBe('CLOSED');
  });
});

describe('who may do what', () => {
  const openCases: Array<{ role: Role; type: 'PERSONAL' | 'MERCHANT'; own: boolean; allowed: boolean }> = [
    { role: 'customer', type: 'PERSONAL', own: true, allowed: true },
    { role: 'customer', type: 'PERSONAL', own: false, allowed: false },
    { role: 'customer', type: 'MERCHANT', own: true, allowed: false },
    { role: 'merchant', type: 'MERCHANT', own: true, allowed: true },
    { role: 'merchant', type: 'PERSONAL', own: true, allowed: true },
    { role: 'merchant', type: 'MERCHANT', own: false, allowed: false },
    { role: 'partner', type: 'PERSONAL', own: true, allowed: false },
    { role: 'partner', type: 'PERSONAL', own: false, allowed: false },
    { role: 'operator', type: 'MERCHANT', own: false, allowed: true },
  ];

  it.each(openCases)(
    'OpenAccount: $role opening a $type account (own: $own) is allowed: $allowed',
    async ({ role, type, own, allowed }) => {
      const sub = unique(role);
      const ownerId = own ? sub : unique('someone-else');
      const before = await ownerAccountCount(stack.shards, ownerId);
      const response = await openAccount(await token(sub, role), ownerId, type);
      if (allowed) {
        expect(response.errors).toBeUndefined();
        expect(response.data?.openAccount).toMatchObject({
          __typename: 'Account',
          ownerId,
          type,
          currency: 'USD',
          status: 'ACTIVE',
        });
        expect((await accountRow(stack.shards, response.data!.openAccount.id as string))?.ownerId).toBe(ownerId);
        expect(await ownerAccountCount(stack.shards, ownerId)).toBe(before + 1);
      } else {
        expect(errorCodes(response)).toEqual(['FORBIDDEN']);
        expect(response.data?.openAccount ?? null).toBeNull();
        expect(await ownerAccountCount(stack.shards, ownerId)).toBe(before);
      }
    },
  );

  it.each(['customer', 'merchant', 'partner', 'operator'] as const)(
    'GetAccount and AccountsByOwner as %s: own yes, others only for operators',
    async (role) => {
      const sub = unique(role);
      const bearer = await token(sub, role);
      const own = await openedId(sub, role === 'merchant' ? 'MERCHANT' : 'PERSONAL');
      const otherOwner = unique('stranger');
      const other = await openedId(otherOwner);

      const ownRead = await gql(stack.gatewayUrl, getAccountDoc, { id: own }, bearer);
      expect(ownRead.errors).toBeUndefined();
      expect(ownRead.data?.account).toMatchObject({ id: own, ownerId: sub, balance: { available: '0', total: '0' } });
      const ownList = await gql(stack.gatewayUrl, accountsByOwnerDoc, { ownerId: sub }, bearer);
      expect(ownList.errors).toBeUndefined();
      expect(ownList.data?.accounts.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([own]);

      const otherRead = await gql(stack.gatewayUrl, getAccountDoc, { id: other }, bearer);
      const otherList = await gql(stack.gatewayUrl, accountsByOwnerDoc, { ownerId: otherOwner }, bearer);
      if (role === 'operator') {
        expect(otherRead.errors).toBeUndefined();
        expect(otherRead.data?.account).toMatchObject({ id: other, ownerId: otherOwner });
        expect(otherList.errors).toBeUndefined();
        expect(otherList.data?.accounts.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([other]);
      } else {
        expect(errorCodes(otherRead)).toEqual(['FORBIDDEN']);
        expect(otherRead.data?.account ?? null).toBeNull();
        expect(errorCodes(otherList)).toEqual(['FORBIDDEN']);
        expect(otherList.data ?? null).toBeNull();
      }
    },
  );

  /** A token with alg "none" and no signature, claiming to be an operator. */
  function unsignedToken(sub: string): string {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub, role: 'operator', iss: 'paygraph', aud: 'paygraph-api', iat: now, exp: now + 3600 })}.`;
  }

  const badCredentials: Array<{ name: string; headers: (sub: string) => Promise<Record<string, string>> }> = [
    { name: 'no token', headers: async () => ({}) },
    {
      name: 'an expired token',
      headers: async (sub) => ({ authorization: `Bearer ${await token(sub, 'operator', -3600)}` }),
    },
    {
      name: 'a token signed with another secret',
      headers: async (sub) => ({
        authorization: `Bearer ${await mintToken({ sub, role: 'operator' }, 'another-secret-entirely')}`,
      }),
    },
    { name: 'an alg "none" token', headers: async (sub) => ({ authorization: `Bearer ${unsignedToken(sub)}` }) },
    {
      name: 'a malformed header',
      headers: async (sub) => ({ authorization: `Token ${await token(sub, 'operator')}` }),
    },
  ];

  it.each(badCredentials)('refuses $name with UNAUTHENTICATED and HTTP 401, writing nothing', async ({ headers }) => {
    const sub = unique('intruder');
    const sent = await headers(sub);
    const before = await ownerAccountCount(stack.shards, sub);

    const write = await gql(
      stack.gatewayUrl,
      openAccountDoc,
      { input: { ownerId: sub, type: 'PERSONAL', currency: 'USD' } },
      undefined,
      sent,
    );
    expect(write.status).toBe(401);
    expect(errorCodes(write)).toEqual(['UNAUTHENTICATED']);
    expect(write.data ?? null).toBeNull();
    expect(await ownerAccountCount(stack.shards, sub)).toBe(before);

    const read = await gql(stack.gatewayUrl, accountsByOwnerDoc, { ownerId: sub }, undefined, sent);
    expect(read.status).toBe(401);
    expect(errorCodes(read)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('bad input', () => {
  it('refuses an unknown currency as UNSUPPORTED_CURRENCY and writes nothing', async () => {
    const ownerId = unique('currency');
    const before = await ownerAccountCount(stack.shards, ownerId);
    const response = await openAccount(await token(ownerId, 'customer'), ownerId, 'PERSONAL', 'XYZ');
    expect(response.errors).toBeUndefined();
    expect(response.data?.openAccount).toMatchObject({
      __typename: 'UnsupportedCurrency',
      code: 'UNSUPPORTED_CURRENCY',
    });
    for (const currency of ['XYZ', 'usd', 'XXX', 'XAU', 'XTS', 'XDR', '']) {
      const withCurrency = await gql(
        stack.gatewayUrl,
        'mutation($input: OpenAccountInput!) { openAccount(input: $input) { ... on UnsupportedCurrency { code currency } } }',
        { input: { ownerId, type: 'PERSONAL', currency } },
        operator,
      );
      expect(withCurrency.data?.openAccount, currency).toEqual({ code: 'UNSUPPORTED_CURRENCY', currency });
    }
    expect(await ownerAccountCount(stack.shards, ownerId)).toBe(before);
  });

  it('answers a malformed account id and an oversized page with BAD_USER_INPUT', async () => {
    const malformed = await gql(stack.gatewayUrl, getAccountDoc, { id: 'acc_not-an-id' }, operator);
    expect(errorCodes(malformed)).toEqual(['BAD_USER_INPUT']);
    expect(malformed.data?.account ?? null).toBeNull();

    const ownerId = unique('pager');
    const ownerToken = await token(ownerId, 'customer');
    const id = await openedId(ownerId);
    const tooManyAccounts = await gql(
      stack.gatewayUrl,
      'query($o: ID!) { accounts(ownerId: $o, first: 1000) { edges { cursor } } }',
      { o: ownerId },
      ownerToken,
    );
    expect(errorCodes(tooManyAccounts)).toEqual(['BAD_USER_INPUT']);
    const tooManyEntries = await gql(stack.gatewayUrl, entriesPageDoc, { id, first: 1000, after: null }, ownerToken);
    expect(errorCodes(tooManyEntries)).toEqual(['BAD_USER_INPUT']);
  });
});

describe("an owner's bound", () => {
  it('opens at most accountsPerOwnerMax accounts per owner, closed ones counted, when openings race at the bound', async () => {
    const ownerId = unique('bounded');
    const ids = await inChunks(Array.from({ length: accountsPerOwnerMax - 1 }), 20, () => openedId(ownerId));
    // Rows are kept: a closed account still holds its place.
    const closed = await gql(stack.gatewayUrl, closeDoc, { id: ids[0] }, operator);
    expect(closed.data?.closeAccount).toMatchObject({ __typename: 'Account', status: 'CLOSED' });
    // Four at once for the last place: one passes, whichever; the others are refused, nothing written for them.
    const racing = await Promise.all(Array.from({ length: 4 }, () => openAccount(operator, ownerId)));
    const answers = racing.map((r) => r.data?.openAccount as { __typename: string; code?: string; message?: string });
    expect(answers.filter((a) => a.__typename === 'Account')).toHaveLength(1);
    const refusals = answers.filter((a) => a.__typename !== 'Account');
    expect(refusals).toHaveLength(3);
    for (const refusal of refusals)
      expect(refusal).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        message: `an owner may open at most ${accountsPerOwnerMax} accounts (closed ones count)`,
      });
    expect(await ownerAccountCount(stack.shards, ownerId)).toBe(accountsPerOwnerMax);
    // An owner's row from before the count (the backfill's) is counted from its accounts at its next opening.
    const home = stack.shards.byLogical(ownerHomeShard(ownerId));
    await home.db.update(ownerShards).set({ accountsOpened: null }).where(eq(ownerShards.ownerId, ownerId));
    expect((await openAccount(operator, ownerId)).data?.openAccount).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await ownerAccountCount(stack.shards, ownerId)).toBe(accountsPerOwnerMax);
    // Other owners are not touched by it.
    await openedId(unique('unbounded'));
  });
});
