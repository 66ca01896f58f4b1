import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { eq } from 'drizzle-orm';
import type { AddressInfo } from 'node:net';
import { newId, shardOf, toLogicalShard } from '@paygraph/shared/ids';
import { addStripeShards } from '@paygraph/shared/ledger/store/accounts';
import {
  insertAccount,
  insertStripeIfMissing,
  announceStripe,
  logicalShardsIn,
  stripeDirectoryGaps,
  stripeShardBit,
} from '@paygraph/shared/ledger/index';
import { accounts } from '@paygraph/shared/ledger/store/schema';
import { backfillStripeDirectories } from '@paygraph/shared/ledger/stripes';
import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import { listen } from '@paygraph/shared/server/http';
import type { SubgraphServer } from '@paygraph/shared/server/subgraph';
import { createAccountSubgraph } from '@paygraph/account/server';
import { createGateway, type Gateway } from '../../../../gateway/src/server';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { gql, type GraphQLResponse } from '../../../../test/support/graphql';
import { asGateway, testSecurityOptions, testTokens, testTrusts, token, unique } from '../../../../test/support/env';
import { depositFromReserve } from '../../../../test/support/ledger';
import { moneyKit, moneyDocs, physicalOf, stripeRowOf, type MoneyKit } from '../../../../test/support/money';

/**
 * Account reads ask only the shards that hold the data: a PERSONAL account its own shard, a
 * MERCHANT its home shard and the shards its stripe directory names; and an owner's list, which
 * asks every shard, answers what the reachable ones hold when one is down.
 */
let stack: Stack;
let kit: MoneyKit;

type Answer = GraphQLResponse<Record<string, any>>;

beforeAll(async () => {
  stack = await defaultStack();
  kit = await moneyKit(stack);
});

afterAll(async () => {
  await stack.stop();
});

const accountDoc = 'query($id: ID!) { account(id: $id) { id type balance { available frozen pending total } } }';
const ownerDoc = `query($ownerId: ID!) { accounts(ownerId: $ownerId, first: 50) {
  edges { node { id type balance { pending total } } } pageInfo { hasNextPage } } }`;

/** Statements each database received while `work` ran. */
async function statementsDuring(work: () => Promise<void>): Promise<number[]> {
  for (const shard of stack.shards.all) shard.queryCount = 0;
  await work();
  return stack.shards.all.map((s) => s.queryCount);
}

/** The account subgraph itself, as the gateway calls it. */
async function readAccount(id: string, sub = 'operator'): Promise<Answer> {
  return gql(stack.subgraphUrls.account, accountDoc, { id }, undefined, await asGateway('account', sub, 'operator'));
}

async function directoryOf(merchantId: string): Promise<bigint> {
  const [row] = await stack.shards
    .of('account', merchantId)
    .db.select({ d: accounts.stripeShards })
    .from(accounts)
    .where(eq(accounts.id, merchantId));
  return row!.d;
}

/** The database a logical-shard bit routes to. */
function physicalOfLogical(logical: number): number {
  return stack.shards.topology.physicalOf[logical]!;
}

describe('which shards an account read asks', () => {
  it('reads a PERSONAL account with one statement on its own shard and none elsewhere', async () => {
    const id = await kit.open(unique('personal'));
    await kit.fund(id, '2500');
    const home = physicalOf(stack.shards, id);
    const expected = stack.shards.all.map((s) => (s.index === home ? 1 : 0));

    let answer: Answer | undefined;
    expect(
      await statementsDuring(async () => {
        answer = await readAccount(id);
      }),
    ).toEqual(expected);
    expect(answer!.errors).toBeUndefined();
    expect(answer!.data!.account).toEqual({
      id,
      type: 'PERSONAL',
      balance: { available: '2500', frozen: '0', pending: '0', total: '2500' },
    });

    // The contract's GetAccount through the gateway: the account and its entries, both on its shard.
    const viaGateway = await statementsDuring(async () => {
      answer = await gql(stack.gatewayUrl, moneyDocs.getAccount, { id }, kit.operator);
    });
    expect(answer!.errors).toBeUndefined();
    expect(viaGateway).toEqual(stack.shards.all.map((s) => (s.index === home ? 2 : 0)));
  });

  it('reads a MERCHANT from its home shard and the shards of its stripes only, summing the stripes', async () => {
    const shardCount = stack.shards.all.length;
    expect(shardCount).toBeGreaterThanOrEqual(4);
    const merchant = await kit.open(unique('merchant'), { type: 'MERCHANT' });
    const home = physicalOf(stack.shards, merchant);
    // A payer on the merchant's own logical shard (credited on the home row: stripeIdOf), payers on two other
    // databases; the fourth database pays later.
    let local = await kit.open(unique('payer'), { physical: home });
    for (let tries = 0; shardOf('account', local) !== shardOf('account', merchant); tries++) {
      expect(tries).toBeLessThan(1_000);
      local = await kit.open(unique('payer'), { physical: home });
    }
    const away1 = await kit.openAwayFrom(unique('payer'), [home]);
    const away2 = await kit.openAwayFrom(unique('payer'), [home, physicalOf(stack.shards, away1)]);
    const late = await kit.openAwayFrom(unique('payer'), [
      home,
      physicalOf(stack.shards, away1),
      physicalOf(stack.shards, away2),
    ]);
    const [d1, d2, d4] = [away1, away2, late].map((id) => physicalOf(stack.shards, id));
    for (const payer of [local, away1, away2, late]) await kit.fund(payer, '10000');
    expect(await directoryOf(merchant)).toBe(0n);

    await kit.paid(kit.operator, { payer: local, payee: merchant, amount: '100' });
    await kit.paid(kit.operator, { payer: away1, payee: merchant, amount: '200' });
    await kit.paid(kit.operator, { payer: away2, payee: merchant, amount: '400' });
    // The directory names the logical shards of the two stripes, which route to those databases.
    const directory = await directoryOf(merchant);
    const stripes = [
      await stripeRowOf(stack.shards, merchant, away1),
      await stripeRowOf(stack.shards, merchant, away2),
    ];
    expect(logicalShardsIn(directory)).toEqual(stripes.map((s) => shardOf('account', s!.id)).sort((a, b) => a - b));
    expect(new Set(logicalShardsIn(directory).map(physicalOfLogical))).toEqual(new Set([d1, d2]));

    let answer: Answer | undefined;
    const counts = await statementsDuring(async () => {
      answer = await readAccount(merchant);
    });
    expect(answer!.errors).toBeUndefined();
    expect(answer!.data!.account.balance).toEqual({ available: '0', frozen: '0', pending: '700', total: '700' });
    // Home: the account; each stripe's database: its stripe. The fourth database is not asked.
    expect(counts).toEqual(stack.shards.all.map((s) => ([home, d1, d2].includes(s.index) ? 1 : 0)));
    expect(counts[d4!]).toBe(0);

    // A first payment from the fourth database names it in the directory before the stripe is
    // opened, so the very next read includes that stripe.
    await kit.paid(kit.operator, { payer: late, payee: merchant, amount: '800' });
    expect(new Set(logicalShardsIn(await directoryOf(merchant)).map(physicalOfLogical))).toEqual(new Set([d1, d2, d4]));
    const after = await statementsDuring(async () => {
      answer = await readAccount(merchant);
    });
    expect(answer!.data!.account.balance).toMatchObject({ pending: '1500', total: '1500' });
    expect(after).toEqual(stack.shards.all.map((s) => ([home, d1, d2, d4].includes(s.index) ? 1 : 0)));

    // The hot path writes the home row only for a bit its read of the row does not show, then reads the home's fence
    // row (a shard move's, issue 50: refuseFencedAfterWrite).
    const known = await directoryOf(merchant);
    const logical = logicalShardsIn(known)[0]!;
    expect(
      await statementsDuring(() => announceStripe(stack.shards, { id: merchant, stripeShards: known }, logical)),
    ).toEqual(stack.shards.all.map(() => 0));
    expect(
      await statementsDuring(() => announceStripe(stack.shards, { id: merchant, stripeShards: 0n }, logical)),
    ).toEqual(stack.shards.all.map((s) => (s.index === home ? 2 : 0)));
    expect(await directoryOf(merchant)).toBe(known);
    expect((await stripeDirectoryGaps(stack.shards)).filter((g) => g.merchantId === merchant)).toEqual([]);
  });

  it('names every stripe opened by concurrent first payments from every shard', async () => {
    const merchant = await kit.open(unique('rush'), { type: 'MERCHANT' });
    const payers = await Promise.all(
      stack.shards.all.map((s) => kit.open(unique('rush-payer'), { physical: s.index })),
    );
    for (const payer of payers) await kit.fund(payer, '1000');
    await Promise.all(
      payers.flatMap((payer) => [1, 2, 3].map(() => kit.paid(kit.operator, { payer, payee: merchant, amount: '10' }))),
    );
    expect((await stripeDirectoryGaps(stack.shards)).filter((g) => g.merchantId === merchant)).toEqual([]);
    const answer = await readAccount(merchant);
    expect(answer.data!.account.balance).toMatchObject({ pending: String(10 * 3 * payers.length) });
  });

  it('backfills the directory of a merchant whose stripes predate it', async () => {
    const ownerId = unique('old-merchant');
    const home = stack.shards.all[0]!;
    const merchant = newId('account', stack.shards.logicalOn(home)[0]!);
    await insertAccount(home.db, { id: merchant, ownerId, type: 'MERCHANT', currency: 'USD' });
    // Stripes as the code before the directory opened them: rows with a parent, no bit.
    const stripeIds: string[] = [];
    for (const shard of stack.shards.all.slice(1, 3)) {
      const id = newId('account', stack.shards.logicalOn(shard)[0]!);
      await insertStripeIfMissing(shard.db, { id, ownerId, type: 'MERCHANT', parentId: merchant, currency: 'USD' });
      expect((await depositFromReserve(stack.shards, id, 300n)).status).toBe('APPLIED');
      stripeIds.push(id);
    }
    expect(await directoryOf(merchant)).toBe(0n);
    expect((await readAccount(merchant, ownerId)).data!.account.balance.total).toBe('0');
    const gaps = (await stripeDirectoryGaps(stack.shards)).filter((g) => g.merchantId === merchant);
    expect(gaps.map((g) => logicalShardsIn(g.missing))).toEqual([stripeIds.map((id) => shardOf('account', id))]);

    expect(await backfillStripeDirectories(stack.shards)).toBeGreaterThanOrEqual(1);
    expect(logicalShardsIn(await directoryOf(merchant))).toEqual(stripeIds.map((id) => shardOf('account', id)));
    expect((await readAccount(merchant, ownerId)).data!.account.balance.total).toBe('600');
    // Idempotent: a second run finds nothing of this merchant's to fill.
    expect((await stripeDirectoryGaps(stack.shards)).filter((g) => g.merchantId === merchant)).toEqual([]);
    await backfillStripeDirectories(stack.shards);
    expect(logicalShardsIn(await directoryOf(merchant))).toEqual(stripeIds.map((id) => shardOf('account', id)));
  });

  it('stores every bit exactly, the 64th included, and never lowers one', async () => {
    const home = stack.shards.all[1]!;
    const merchant = newId('account', stack.shards.logicalOn(home)[0]!);
    await insertAccount(home.db, { id: merchant, ownerId: unique('bits'), type: 'MERCHANT', currency: 'USD' });
    await addStripeShards(home.db, merchant, stripeShardBit(toLogicalShard(63)));
    await addStripeShards(home.db, merchant, stripeShardBit(toLogicalShard(0)));
    await addStripeShards(home.db, merchant, stripeShardBit(toLogicalShard(63)));
    expect(await directoryOf(merchant)).toBe(2n ** 63n + 1n);
  });
});

describe('with a shard down', () => {
  /** The test shards, with one database's URL pointing at a port nothing listens on. */
  let broken: ShardSet;
  let down: number;
  let subgraph: SubgraphServer;
  let subgraphUrl: string;
  let gateway: Gateway;
  let gatewayUrl: string;

  beforeAll(async () => {
    down = stack.shards.all.length - 1;
    const urls = stack.shards.topology.urls.map((url, i) => {
      if (i !== down) return url;
      const parsed = new URL(url);
      parsed.host = '127.0.0.1:1';
      parsed.searchParams.delete('socketPath');
      return parsed.toString();
    });
    broken = openShards({ urls: urls.join(','), poolSize: 2 });
    // No books check: its passes would knock on the shard that is down, on their own schedule.
    subgraph = await createAccountSubgraph(broken, testTrusts().account, undefined, { booksCheckIntervalMs: null });
    await listen(subgraph.http, 0, '127.0.0.1');
    subgraphUrl = `http://127.0.0.1:${(subgraph.http.address() as AddressInfo).port}/graphql`;
    gateway = await createGateway(testTokens(), { ...stack.subgraphUrls, account: subgraphUrl }, testTrusts(), {
      security: testSecurityOptions(),
    });
    gatewayUrl = `http://127.0.0.1:${await listen(gateway.http, 0, '127.0.0.1')}/graphql`;
  });

  afterAll(async () => {
    gateway.http.closeAllConnections();
    gateway.http.close();
    await gateway.stop();
    await Promise.all(subgraph.disposers.map((d) => d()));
    subgraph.http.closeAllConnections();
    subgraph.http.close();
    await subgraph.apollo.stop();
    await broken.close();
  });

  it('lists the accounts of the other shards with SHARD_UNAVAILABLE naming the one down, and no address', async () => {
    const ownerId = unique('partial');
    const ownerToken = await token(ownerId, 'merchant');
    // Placed by hand, so that the owner has exactly these: one personal account per database, a
    // merchant with a stripe on the database that goes down, and one without.
    const placed = async (physical: number, type: 'PERSONAL' | 'MERCHANT'): Promise<string> => {
      const shard = stack.shards.all[physical]!;
      const id = newId('account', stack.shards.logicalOn(shard)[0]!);
      await insertAccount(shard.db, { id, ownerId, type, currency: 'USD' });
      return id;
    };
    const personal = await Promise.all(stack.shards.all.map((s) => placed(s.index, 'PERSONAL')));
    const striped = await placed(0, 'MERCHANT');
    const plain = await placed(1, 'MERCHANT');
    const payer = await kit.open(unique('partial-payer'), { physical: down });
    await kit.fund(payer, '1000');
    await kit.paid(kit.operator, { payer, payee: striped, amount: '250' });
    const downName = stack.shards.all[down]!.name;

    for (const url of [subgraphUrl, gatewayUrl]) {
      const answer =
        url === gatewayUrl
          ? await gql(url, ownerDoc, { ownerId }, ownerToken)
          : await gql(url, ownerDoc, { ownerId }, undefined, await asGateway('account', ownerId, 'merchant'));
      const nodes = answer.data!.accounts.edges.map((e: { node: unknown }) => e.node) as Array<{
        id: string;
        balance: unknown;
      }>;
      const reachable = [...personal.filter((id) => physicalOf(stack.shards, id) !== down), striped, plain].sort();
      expect(nodes.map((n) => n.id)).toEqual(reachable);
      expect(nodes.find((n) => n.id === plain)!.balance).toEqual({ pending: '0', total: '0' });
      // The merchant whose stripe is on the missing shard shows no balance rather than a short one.
      expect(nodes.find((n) => n.id === striped)!.balance).toBeNull();

      const errors = answer.errors ?? [];
      expect(errors.length).toBe(2);
      for (const error of errors) {
        expect(error.extensions).toMatchObject({ code: 'SHARD_UNAVAILABLE', shard: downName, retryable: true });
        expect(JSON.stringify(error)).not.toMatch(/127\.0\.0\.1|localhost|:3306|ECONNREFUSED|select |\.sock/i);
      }
      const paths = errors.map((e) => e.path?.join('.'));
      expect(paths).toContain('accounts');
      expect(paths).toContain(`accounts.edges.${nodes.findIndex((n) => n.id === striped)}.node.balance`);
    }
  });

  it('still reads accounts on the shards that are up, and answers SHARD_UNAVAILABLE for one that is not', async () => {
    const up = await kit.openAwayFrom(unique('up'), [down]);
    const onDown = await kit.open(unique('down'), { physical: down });
    const headers = await asGateway('account', 'operator', 'operator');
    const fine = await gql(subgraphUrl, accountDoc, { id: up }, undefined, headers);
    expect(fine.errors).toBeUndefined();
    expect(fine.data!.account).toMatchObject({ id: up, type: 'PERSONAL' });

    const refused = await gql(subgraphUrl, accountDoc, { id: onDown }, undefined, headers);
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['SHARD_UNAVAILABLE']);
    expect(refused.errors![0]!.extensions!.shard).toBe(stack.shards.all[down]!.name);
    expect(JSON.stringify(refused.errors)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);

    // In one batch (the gateway's _entities), the account on the shard that is down fails alone.
    const batch = await gql(
      subgraphUrl,
      'query($r:[_Any!]!){ _entities(representations:$r){ ... on Account { id type } } }',
      { r: [up, onDown].map((id) => ({ __typename: 'Account', id })) },
      undefined,
      headers,
    );
    expect(batch.data!._entities).toEqual([{ id: up, type: 'PERSONAL' }, null]);
    expect(batch.errors?.map((e) => [e.extensions?.code, e.path?.join('.')])).toEqual([
      ['SHARD_UNAVAILABLE', '_entities.1'],
    ]);

    // A merchant at home on a shard that is up, with a stripe on the one that is down: the
    // account answers, its balance does not (it would be short of that stripe).
    const merchant = await kit.openAwayFrom(unique('half'), [down], { type: 'MERCHANT' });
    const payer = await kit.open(unique('half-payer'), { physical: down });
    await kit.fund(payer, '500');
    await kit.paid(kit.operator, { payer, payee: merchant, amount: '120' });
    const half = await gql(subgraphUrl, accountDoc, { id: merchant }, undefined, headers);
    expect(half.data!.account).toEqual({ id: merchant, type: 'MERCHANT', balance: null });
    expect(half.errors?.map((e) => [e.extensions?.code, e.extensions?.shard, e.path?.join('.')])).toEqual([
      ['SHARD_UNAVAILABLE', stack.shards.all[down]!.name, 'account.balance'],
    ]);
  });
});
