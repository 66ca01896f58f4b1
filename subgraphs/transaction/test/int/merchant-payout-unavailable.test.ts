import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { accounts } from '@paygraph/shared/ledger/store/schema';
import { insertStripeIfMissing, stripeIdOf, announceStripe, systemAccountId } from '@paygraph/shared/ledger/index';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { sweeps } from '@paygraph/transaction/db/schema/transactions';
import { startStack, type Stack } from '../../../../test/support/stack';
import { testConfig, testPoolSizeDefault, unique } from '../../../../test/support/env';
import { depositFromReserve } from '../../../../test/support/ledger';
import { moneyKit, type MoneyKit } from '../../../../test/support/money';
import {
  clearingAgainstInFlight,
  entriesOfPostings,
  insertAccountOn,
  postingsByDedupeKey,
  resourceOfKey,
} from '../../../../test/support/bank';
import {
  startTcpProxy,
  targetOf,
  throughProxy,
  type ProxyMode,
  type TcpProxy,
} from '../../../../test/support/tcp-proxy';

/**
 * Issue 13: a merchant's payout needs every stripe it sweeps from. With one stripe's database
 * unreachable (behind a TCP proxy the test resets or blackholes), a withdrawal larger than the
 * home row answers SHARD_UNAVAILABLE fast and pays out nothing: no half payout, no money lost
 * in clearing. Once the database is back, the client's retry with the same key pays out once.
 */
const answerWithinMs = 3_000;
const stripeAmount = 1_000n;
const homeAmount = 100n;

const urls = testConfig().shards.urls.split(',');
/** The stripe's database that goes down: the last one, so that the merchant's home (shard 0) stays up. */
const faultedIndex = urls.length - 1;
let proxy: TcpProxy;
let stack: Stack;
let kit: MoneyKit;
let faulted: Shard;

beforeAll(async () => {
  proxy = await startTcpProxy(targetOf(urls[faultedIndex]!));
  const shards = openShards({
    urls: urls.map((u, i) => (i === faultedIndex ? throughProxy(u, proxy) : u)).join(','),
    poolSize: testPoolSizeDefault,
    posting: testConfig().posting,
  });
  stack = await startStack({ shards });
  kit = await moneyKit(stack);
  faulted = stack.shards.all[faultedIndex]!;
});

afterEach(async () => {
  proxy.setMode('pass');
  await untilServing(faulted);
});

afterAll(async () => {
  await stack.stop();
  await proxy.close();
});

/** Waits until the faulted shard's breaker closed again and a statement goes through. */
async function untilServing(shard: Shard, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (shard.pool.state === 'closed') {
      try {
        await shard.db.execute(sql`SELECT 1`);
        return;
      } catch {
        // still failing: the breaker opens again and probes
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`shard ${shard.name} did not come back within ${limitMs} ms`);
}

/** A merchant at home on shard 0 with `homeAmount` there and `stripeAmount` on a stripe on each other shard. */
async function spreadMerchant(shards: ShardSet): Promise<string> {
  const ownerId = unique('down-shop');
  const shop = await insertAccountOn(shards, 0, ownerId, 'MERCHANT');
  await depositFromReserve(shards, shop, homeAmount);
  for (const shard of shards.all.slice(1)) {
    // As a first payment from that shard would: the directory names the stripe before it opens.
    const logical = shards.logicalOn(shard)[0]!;
    await announceStripe(shards, { id: shop, stripeShards: 0n }, logical);
    await insertStripeIfMissing(shard.db, {
      id: stripeIdOf(shop, logical),
      ownerId,
      type: 'MERCHANT',
      parentId: shop,
      currency: 'USD',
    });
    const stripe = { id: stripeIdOf(shop, logical) };
    // What settlement leaves on a stripe: available money of the merchant there.
    await depositFromReserve(shards, stripe!.id, stripeAmount);
  }
  return shop;
}

/** The merchant's rows (home and stripes) by id, on every shard. */
async function rowsOf(shards: ShardSet, merchantId: string): Promise<Map<string, bigint>> {
  const rows = (
    await Promise.all(
      shards.all.map((s) =>
        s.db
          .select()
          .from(accounts)
          .where(sql`${accounts.id} = ${merchantId} OR ${accounts.parentId} = ${merchantId}`),
      ),
    )
  ).flat();
  return new Map(rows.map((r) => [r.id, r.available + r.frozen + r.pending]));
}

async function homeReserve(shards: ShardSet): Promise<bigint> {
  const home = shards.all[0]!;
  const id = await systemAccountId(shards, home, 'RESERVE', 'USD');
  const [row] = await home.db.select().from(accounts).where(eq(accounts.id, id));
  return row!.available;
}

async function sweepsOf(shards: ShardSet, withdrawalId: string) {
  return (
    await Promise.all(shards.all.map((s) => s.db.select().from(sweeps).where(eq(sweeps.withdrawalId, withdrawalId))))
  ).flat();
}

async function expectClearingAccountedFor(): Promise<void> {
  const seen = await clearingAgainstInFlight(stack.shards, 'USD');
  expect(seen.agreed, `Σ clearing ${seen.clearing} ≠ in flight ${seen.inFlight.amount}`).toBe(true);
}

describe.each<ProxyMode>(['reset', 'blackhole'])(
  'a payout needing a stripe on a database that is down (%s)',
  (mode) => {
    it('answers SHARD_UNAVAILABLE within 3 s and pays out nothing; the retry with the same key pays out once', async () => {
      const shop = await spreadMerchant(stack.shards);
      const stripeCount = stack.shards.all.length - 1;
      const total = homeAmount + stripeAmount * BigInt(stripeCount);
      const rowsBefore = await rowsOf(stack.shards, shop);
      expect(rowsBefore.size).toBe(stack.shards.all.length);
      const reserveBefore = await homeReserve(stack.shards);
      // The pool holds a connection to the faulted database before the fault, as a live service would.
      await faulted.db.execute(sql`SELECT 1`);

      const key = unique('down-payout');
      proxy.setMode(mode);
      const started = performance.now();
      const refused = await kit.withdraw(kit.operator, shop, String(total), { key });
      const ms = performance.now() - started;
      console.log(`payout with a stripe's database ${mode}: answered after ${Math.round(ms)} ms`);
      expect(ms).toBeLessThan(answerWithinMs);
      expect(refused.data?.withdraw ?? null, JSON.stringify(refused)).toBeNull();
      expect(refused.errors, JSON.stringify(refused)).toHaveLength(1);
      expect(refused.errors![0]!.extensions).toMatchObject({
        code: 'SHARD_UNAVAILABLE',
        retryable: true,
        shard: faulted.name,
      });
      expect(JSON.stringify(refused.errors)).not.toMatch(
        new RegExp(`127\\.0\\.0\\.1|localhost|:3306|:${proxy.port}|ECONN|select |insert |update |\\.sock`, 'i'),
      );

      // Checked with the database back, so that a late half of anything would show too.
      proxy.setMode('pass');
      await untilServing(faulted);
      const id = await resourceOfKey(stack.shards, 'operator', key);
      expect(id).toMatch(/^wdr_/);
      expect(await postingsByDedupeKey(stack.shards, [id!])).toEqual([]);
      // The stripes are read before any sweep, so none started: every row and the reserve as they were.
      expect(await sweepsOf(stack.shards, id!)).toEqual([]);
      expect(await rowsOf(stack.shards, shop)).toEqual(rowsBefore);
      expect(await homeReserve(stack.shards)).toBe(reserveBefore);
      await expectClearingAccountedFor();

      const paid = await kit.withdraw(kit.operator, shop, String(total), { key });
      expect(paid.errors, JSON.stringify(paid)).toBeUndefined();
      expect(paid.data!.withdraw).toMatchObject({
        __typename: 'Withdrawal',
        id,
        status: 'SUCCEEDED',
        amount: String(total),
      });
      const postings = await postingsByDedupeKey(stack.shards, [id!]);
      expect(postings).toHaveLength(1);
      const entries = await entriesOfPostings(stack.shards.all[postings[0]!.shard]!, [postings[0]!.id]);
      expect(entries.find((e) => e.accountId !== shop)?.amount).toBe(total);
      const made = await sweepsOf(stack.shards, id!);
      expect(made).toHaveLength(stripeCount);
      for (const sweep of made) {
        expect(sweep).toMatchObject({ status: 'SUCCEEDED', amount: stripeAmount });
        expect(await postingsByDedupeKey(stack.shards, [`${sweep.id}:credit`])).toHaveLength(1);
      }
      const rowsAfter = await rowsOf(stack.shards, shop);
      expect([...rowsAfter.values()]).toEqual([...rowsBefore.keys()].map(() => 0n));
      expect(await homeReserve(stack.shards)).toBe(reserveBefore + total);
      await expectClearingAccountedFor();

      // Another replay moves nothing more.
      const again = await kit.withdraw(kit.operator, shop, String(total), { key });
      expect(again.data!.withdraw).toMatchObject({ __typename: 'Withdrawal', id, status: 'SUCCEEDED' });
      expect(await postingsByDedupeKey(stack.shards, [id!])).toHaveLength(1);
      expect(await sweepsOf(stack.shards, id!)).toHaveLength(stripeCount);
      expect(await homeReserve(stack.shards)).toBe(reserveBefore + total);
    });
  },
);
