import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { newId } from '@paygraph/shared/ids';
import { insertAccount, type EntryRow } from '@paygraph/shared/ledger/index';
import { encodeEntriesCursor } from '@paygraph/account/domain/balance-cursor';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { asGateway, token, unique } from '../../../../test/support/env';
import { accountRow, depositFromReserve, entriesOf, withdrawToReserve } from '../../../../test/support/ledger';

/**
 * The read path that GetAccount takes (docs/PERFORMANCE.md, "Reads"): its answer is exactly
 * what the ledger holds, computed here independently of the subgraph (drizzle's read of the
 * entries, each edge's cursor encoded on its own, Date's own toISOString); it costs a PERSONAL
 * account two statements in one round trip to its own shard; and the subgraph does no per-field work (tracing,
 * cache hints) for a request that does not ask for it.
 */
let stack: Stack;
let operator: string;
const getAccountDoc = contractOperation('GetAccount');
const pageSize = 100;
const entryCount = pageSize + 5;

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token(unique('operator'), 'operator');
});

afterAll(async () => {
  await stack.stop();
});

/** A PERSONAL account with `count` entries (deposits, every third a withdrawal), on a shard of its own choosing. */
async function accountWithEntries(count: number): Promise<string> {
  const shard = stack.shards.all[0]!;
  const id = newId('account', stack.shards.logicalOn(shard)[0]!);
  await insertAccount(shard.db, { id, ownerId: unique('reader'), type: 'PERSONAL', currency: 'USD' });
  for (let i = 0; i < count; i++) {
    const outcome =
      i % 3 === 2
        ? await withdrawToReserve(stack.shards, id, 7n)
        : await depositFromReserve(stack.shards, id, 1_000n + BigInt(i));
    expect(outcome.status).toBe('APPLIED');
  }
  return id;
}

/** What GetAccount must answer for a page of entries, from the rows themselves. */
function expectedPage(
  accountId: string,
  newestFirst: readonly EntryRow[],
  hasNextPage: boolean,
  after: Map<string, bigint>,
) {
  const sequences = new Map(after);
  const edges = newestFirst.map((e) => {
    sequences.set(e.accountId, e.sequence);
    return {
      cursor: encodeEntriesCursor({ accountId, sequences }),
      node: {
        id: e.id,
        sequence: Number(e.sequence),
        amount: e.amount.toString(),
        direction: e.direction,
        balanceAfter: e.balanceAfter.toString(),
        createdAt: e.createdAt.toISOString(),
      },
    };
  });
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}

describe('GetAccount of a PERSONAL account', () => {
  it("answers exactly the ledger's newest 100 entries and its balance, with two statements in one round trip to its own shard", async () => {
    const id = await accountWithEntries(entryCount);
    const row = (await accountRow(stack.shards, id))!;
    const rows = await entriesOf(stack.shards, id);
    expect(rows).toHaveLength(entryCount);
    const newestFirst = [...rows].reverse();

    for (const shard of stack.shards.all) shard.queryCount = 0;
    const roundTrips = stack.shards.all.map((s) => s.pool.roundTrips);
    const answer = await gql(stack.gatewayUrl, getAccountDoc, { id }, operator);
    expect(stack.shards.all.map((s) => s.queryCount)).toEqual(stack.shards.all.map((s) => (s.index === 0 ? 2 : 0)));
    // The account and its first page of entries in one round trip (db/account-views.ts).
    expect(stack.shards.all.map((s, i) => s.pool.roundTrips - roundTrips[i]!)).toEqual(
      stack.shards.all.map((s) => (s.index === 0 ? 1 : 0)),
    );
    expect(answer.errors).toBeUndefined();
    const total = (row.available + row.frozen + row.pending).toString();
    expect(answer.data!.account).toEqual({
      id,
      type: 'PERSONAL',
      ownerId: row.ownerId,
      currency: 'USD',
      status: 'ACTIVE',
      balance: {
        available: row.available.toString(),
        frozen: row.frozen.toString(),
        pending: row.pending.toString(),
        total,
      },
      entries: expectedPage(id, newestFirst.slice(0, pageSize), true, new Map()),
    });

    // The account subgraph itself, as the gateway calls it, answers the same.
    const direct = await gql(
      stack.subgraphUrls.account,
      getAccountDoc,
      { id },
      undefined,
      await asGateway('account', 'reader', 'operator'),
    );
    expect(direct.data).toEqual(answer.data);

    // The next page starts below the last edge's cursor and holds the rest.
    const endCursor = answer.data!.account.entries.pageInfo.endCursor as string;
    const nextDoc = `query($id: ID!, $after: String) { account(id: $id) { entries(first: ${pageSize}, after: $after) {
      edges { cursor node { id sequence amount direction balanceAfter createdAt } } pageInfo { hasNextPage endCursor } } } }`;
    const next = await gql(stack.gatewayUrl, nextDoc, { id, after: endCursor }, operator);
    expect(next.errors).toBeUndefined();
    const lastSequence = newestFirst[pageSize - 1]!.sequence;
    expect(next.data!.account.entries).toEqual(
      expectedPage(id, newestFirst.slice(pageSize), false, new Map([[id, lastSequence]])),
    );
  });
});

describe('per-field work in a subgraph', () => {
  it('is not done unless the request asks: no cache hints, and an inline trace only for apollo-federation-include-trace', async () => {
    const id = await accountWithEntries(2);
    const headers = await asGateway('account', 'reader', 'operator');
    const ask = (extra: Record<string, string>) =>
      fetch(stack.subgraphUrls.account, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers, ...extra },
        body: JSON.stringify({ query: getAccountDoc, variables: { id } }),
      });

    const plain = await ask({});
    const plainBody = (await plain.json()) as { data?: unknown; extensions?: Record<string, unknown> };
    expect(plain.status).toBe(200);
    // Apollo's cache-control plugin, which hooks every field, would answer "no-store" here.
    expect(plain.headers.get('cache-control')).toBeNull();
    expect(plainBody.extensions?.ftv1).toBeUndefined();

    const traced = await ask({ 'apollo-federation-include-trace': 'ftv1' });
    const tracedBody = (await traced.json()) as { data?: unknown; extensions?: Record<string, unknown> };
    expect(typeof tracedBody.extensions?.ftv1).toBe('string');
    expect(tracedBody.data).toEqual(plainBody.data);
  });
});
