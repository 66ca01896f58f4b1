import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { toLogicalShard } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import { migrateAll } from '../../../../scripts/lib/migration-sets';
import type { Shard } from '@paygraph/shared/shards/pool';
import { idempotencyKeys } from '@paygraph/shared/idempotency/store/schema';
import { placeLegacyKeys } from '@paygraph/transaction/services/legacy-keys';
import { ownerLinkShard } from '@paygraph/transaction/domain/external-accounts';
import type { Stack } from '../../../../test/support/stack';
import { token, unique } from '../../../../test/support/env';
import { paymentEnded } from '../../../../test/support/bank';
import { gql } from '../../../../test/support/graphql';
import { shardCostOf } from '../../../../test/support/shard-cost';
import { physicalOf, type Answer, type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * An idempotency key lives on the shard of the record it guards, in the scope (anchor, caller,
 * key): a payment's payer, a deposit's or withdrawal's account, a refund's payment. So a money
 * operation touches only the shards of what it names, and keys claimed on the shard their
 * (caller, key) used to hash to are moved there by the migration's data step.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const at = (v: string) => ({ available: v, frozen: '0', pending: '0', total: v });

interface PlacedKey {
  physical: number;
  anchorId: string;
  operation: string;
  resourceId: string;
}

/** Every row of (caller, key) on every database, whatever its anchor. */
async function keyRows(callerId: string, key: string): Promise<PlacedKey[]> {
  return (await keyRowsFull(callerId, key)).map(({ shard, row }) => ({
    physical: shard.index,
    anchorId: row.anchorId,
    operation: row.operation,
    resourceId: row.resourceId,
  }));
}

/** Runs fn and answers how many statements it sent to each database. */
async function statementsPerShard(fn: () => Promise<unknown>): Promise<number[]> {
  const before = stack.shards.all.map((s) => s.queryCount);
  await fn();
  return stack.shards.all.map((s, i) => s.queryCount - before[i]!);
}

function untouched(counts: number[], touched: readonly number[]): number[] {
  return counts.filter((_, i) => !touched.includes(i));
}

function ok(answer: Answer, field: string, typename: string) {
  expect(answer.errors).toBeUndefined();
  expect(answer.data![field].__typename).toBe(typename);
  return answer.data![field] as { id: string };
}

/**
 * Deposit and Withdraw asking for the movement only: the contract's documents also read the
 * account's balance, which for a merchant sums stripes on every database — a read of the
 * answer, not part of moving the money, so left out of the count.
 */
const movementOnly = {
  deposit: 'mutation($input: DepositInput!) { deposit(input: $input) { __typename ... on Deposit { id } } }',
  withdraw: 'mutation($input: WithdrawInput!) { withdraw(input: $input) { __typename ... on Withdrawal { id } } }',
};

/** A payer and a payee on two different databases, the payer funded. */
async function crossShardPair(prefix: string, funds: string) {
  const payerOwner = unique(`${prefix}-payer`);
  const payeeOwner = unique(`${prefix}-payee`);
  const payer = await kit.open(payerOwner);
  const payee = await kit.openAwayFrom(payeeOwner, [physicalOf(stack.shards, payer)]);
  await kit.fund(payer, funds);
  return {
    payer,
    payee,
    payerOwner,
    payeeOwner,
    payerToken: await token(payerOwner, 'customer'),
    payeeToken: await token(payeeOwner, 'customer'),
  };
}

describe('where an idempotency key lives', () => {
  it("keeps a payment's key on the payer's database only, and a payment between two databases touches no third", async () => {
    const { payer, payee, payerOwner, payerToken } = await crossShardPair('place-pay', '10000');
    const home = [physicalOf(stack.shards, payer), physicalOf(stack.shards, payee)];
    const key = keyAwayFrom(payerOwner, home);

    let first: Answer | undefined;
    const counts = await statementsPerShard(async () => {
      first = await kit.pay(payerToken, { payer, payee, amount: '700', key });
    });
    const payment = ok(first!, 'createPayment', 'Payment');
    expect(untouched(counts, home)).toEqual(Array(stack.shards.all.length - 2).fill(0));
    expect(await keyRows(payerOwner, key)).toEqual([
      { physical: home[0], anchorId: payer, operation: 'PAYMENT', resourceId: payment.id },
    ]);

    let replay: Answer | undefined;
    const replayCounts = await statementsPerShard(async () => {
      replay = await kit.pay(payerToken, { payer, payee, amount: '700', key });
    });
    expect(replay).toEqual(first);
    expect(untouched(replayCounts, home)).toEqual(Array(stack.shards.all.length - 2).fill(0));
    expect(await kit.balance(payer)).toEqual(at('9300'));
  });

  it("keeps a refund's key on the payment's database and a deposit's or withdrawal's on the account's", async () => {
    const { payer, payee, payerOwner, payerToken, payeeOwner, payeeToken } = await crossShardPair('place-ref', '10000');
    const home = [physicalOf(stack.shards, payer), physicalOf(stack.shards, payee)];
    const paymentId = await kit.paid(payerToken, { payer, payee, amount: '4000' });

    const refundKey = keyAwayFrom(payeeOwner, home);
    let refund: Answer | undefined;
    const refundCounts = await statementsPerShard(async () => {
      refund = await kit.refund(payeeToken, paymentId, '1000', { key: refundKey });
    });
    const refunded = ok(refund!, 'refundPayment', 'Refund');
    expect(untouched(refundCounts, home)).toEqual(Array(stack.shards.all.length - 2).fill(0));
    expect(await keyRows(payeeOwner, refundKey)).toEqual([
      { physical: home[0], anchorId: paymentId, operation: 'REFUND', resourceId: refunded.id },
    ]);

    const depositKey = keyAwayFrom('operator', [home[1]!]);
    let deposit: Answer | undefined;
    const depositCounts = await statementsPerShard(async () => {
      deposit = await gql(
        stack.gatewayUrl,
        movementOnly.deposit,
        { input: { idempotencyKey: depositKey, accountId: payee, amount: '500', currency: 'USD' } },
        kit.operator,
      );
    });
    const deposited = ok(deposit!, 'deposit', 'Deposit');
    expect(untouched(depositCounts, [home[1]!])).toEqual(Array(stack.shards.all.length - 1).fill(0));
    expect(await keyRows('operator', depositKey)).toEqual([
      { physical: home[1], anchorId: payee, operation: 'DEPOSIT', resourceId: deposited.id },
    ]);

    const withdrawKey = keyAwayFrom(payerOwner, [home[0]!]);
    let withdrawal: Answer | undefined;
    const withdrawCounts = await statementsPerShard(async () => {
      withdrawal = await gql(
        stack.gatewayUrl,
        movementOnly.withdraw,
        { input: { idempotencyKey: withdrawKey, accountId: payer, amount: '200', currency: 'USD' } },
        payerToken,
      );
    });
    const withdrawn = ok(withdrawal!, 'withdraw', 'Withdrawal');
    // An owner's own withdrawal naming no link also asks the owner's link shard whether a link of its was ever verified
    // (LINKED-ACCOUNTS.md), a read on whichever database that hash places: the key stays on the account's.
    const linkHome = stack.shards.byLogical(ownerLinkShard(payerOwner)).index;
    const withdrawTouched = [...new Set([home[0]!, linkHome])];
    expect(untouched(withdrawCounts, withdrawTouched)).toEqual(
      Array(stack.shards.all.length - withdrawTouched.length).fill(0),
    );
    expect(await keyRows(payerOwner, withdrawKey)).toEqual([
      { physical: home[0], anchorId: payer, operation: 'WITHDRAWAL', resourceId: withdrawn.id },
    ]);
  });

  it('makes one payment and one key row of 50 concurrent copies', async () => {
    const { payer, payee, payerOwner, payerToken } = await crossShardPair('place-herd', '10000');
    const key = unique('herd');
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => kit.pay(payerToken, { payer, payee, amount: '321', key })),
    );
    const ids = new Set(answers.map((a) => ok(a, 'createPayment', 'Payment').id));
    expect(ids.size).toBe(1);
    expect(await keyRows(payerOwner, key)).toEqual([
      { physical: physicalOf(stack.shards, payer), anchorId: payer, operation: 'PAYMENT', resourceId: [...ids][0] },
    ]);
    expect(await kit.paymentIds(payer)).toEqual([...ids]);
    expect(await kit.balance(payer)).toEqual(at(String(10000 - 321)));
  });

  it('scopes a key by its anchor: the same key from another payer of the same caller is another payment, wherever it lives', async () => {
    const owner = unique('anchor');
    const bearer = await token(owner, 'customer');
    const first = await kit.open(owner);
    const sameShard = await kit.open(owner, { physical: physicalOf(stack.shards, first) });
    const otherShard = await kit.openAwayFrom(owner, [physicalOf(stack.shards, first)]);
    const payee = await kit.open(unique('anchor-payee'));
    for (const payer of [first, sameShard, otherShard]) await kit.fund(payer, '1000');
    const key = unique('k');

    const ids = [];
    for (const payer of [first, sameShard, otherShard])
      ids.push(await kit.paid(bearer, { payer, payee, amount: '100', key }));
    expect(new Set(ids).size).toBe(3);
    // Within one anchor the key is still one request: other content is a reuse and writes nothing.
    const reused = await kit.pay(bearer, { payer: sameShard, payee, amount: '101', key });
    expect(reused.data!.createPayment).toMatchObject({
      __typename: 'IdempotencyKeyReused',
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    for (const payer of [first, sameShard, otherShard]) expect(await kit.balance(payer)).toEqual(at('900'));
    expect((await keyRows(owner, key)).map((r) => r.anchorId).sort()).toEqual([first, sameShard, otherShard].sort());
  });
});

/** CreatePayment asking for the movement only: the contract's document also reads balances (the account subgraph's). */
const paymentOnly =
  'mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename ... on Payment { id status } ... on UserError { code } } }';

/** Runs fn and answers the round trips and statements it cost each database. */
function costOf(fn: () => Promise<Answer>): Promise<{ answer: Answer; roundTrips: number[]; statements: number[] }> {
  return shardCostOf(stack.shards.all, fn);
}

describe("a payment's key claimed in its debit's transaction", () => {
  it("costs a lone payment's payer shard no round trip of its own for the key, and answers a replay and a reuse as before", async () => {
    // Away from the gateway's audit trail (logical shard 0), whose writes would be counted too.
    const control = stack.shards.byLogical(toLogicalShard(0)).index;
    const [payerShard, payeeShard] = stack.shards.all.map((s) => s.index).filter((i) => i !== control) as [
      number,
      number,
    ];
    const owner = unique('claim-in-debit');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner, { physical: payerShard });
    await kit.fund(payer, '10000');
    const away = await kit.open(unique('claim-away'), { physical: payeeShard });
    const near = await kit.open(unique('claim-near'), { physical: payerShard });
    const pay = (payee: string, amount: string, key: string) =>
      costOf(() => kit.pay(bearer, { payer, payee, amount, key }, paymentOnly));
    // The first payment of each route warms what is read once (the clearing account's id). The cross-shard one's
    // ending follows its answer: waited for, so that it lands in no count below.
    await paymentEnded(await kit.paid(bearer, { payer, payee: away, amount: '1' }));
    await kit.paid(bearer, { payer, payee: near, amount: '1' });
    const crossKey = unique('cross');
    // Its ending follows its answer (services/endings-in-flight.ts): counted once it has committed.
    const cross = await costOf(async () => {
      const answer = await kit.pay(bearer, { payer, payee: away, amount: '100', key: crossKey }, paymentOnly);
      await paymentEnded(answer.data!.createPayment.id as string);
      return answer;
    });
    const same = await pay(near, '100', unique('same'));
    const replay = await pay(away, '100', crossKey);
    const reused = await pay(away, '101', crossKey);
    expect(cross.answer.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
    expect(same.answer.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
    expect(replay.answer).toEqual(cross.answer);
    expect(reused.answer.data!.createPayment).toEqual({
      __typename: 'IdempotencyKeyReused',
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    // [round trips, statements] on a database. The key's INSERT goes in the round trip that locks
    // the debit's accounts and commits with the debit: with the key claimed before (autocommit),
    // the payer's shard took 6 round trips across shards and 4 on one, at the same statements. A
    // key held already costs one round trip more than it did (the transaction that found it ends;
    // a replay is then posted again keyed by its payment): 6 → 7 for a replay, 3 → 4 for a reuse. Each posting
    // transaction's lock reads its accounts' fence rows in the same round trip (issue 50): a statement, not a round trip.
    // The payer was paid from before by this caller, so it is not read again (payer-facts.ts, payer-facts.test.ts): one
    // round trip and statement less across shards, in a replay and in a reuse; on one shard its id rode the payee's read.
    // A cross-shard payment's ending reads its payment's fence row in its lock's round trip (payment-completion.ts
    // paymentEndings): a statement more on the payer's shard, 14 → 15, not a round trip. A key claimed fresh in the debit
    // names the payment id it minted, so the batch reads no earlier outcome under it (ledger/engine/batch.ts Reach
    // keyIsNew): a statement less on the payer's shard in each, 15 → 14 across shards, 11 → 10 on one, 9 → 8 and 5 → 4.
    const on = (c: { roundTrips: number[]; statements: number[] }, i: number) => [c.roundTrips[i], c.statements[i]];
    expect({
      cross: { payer: on(cross, payerShard!), payee: on(cross, payeeShard!) },
      same: on(same, payerShard!),
      replay: on(replay, payerShard!),
      reused: on(reused, payerShard!),
    }).toEqual({
      cross: { payer: [4, 14], payee: [3, 9] },
      same: [3, 10],
      replay: [6, 8],
      reused: [3, 4],
    });
    expect(await kit.balance(payer)).toEqual(at(String(10000 - 2 - 200)));
  });
});

/** The shard the key's (caller, key) hashed to before keys were anchored: where legacy rows live. */
function hashedShard(callerId: string, key: string): Shard {
  const digest = createHash('sha256').update(`${callerId}\u0000${key}`).digest();
  return stack.shards.byLogical(toLogicalShard(digest.readUInt32BE(0) % logicalShardCount));
}

/**
 * A key whose hashed shard is none of the given databases: under hashed placement its claim
 * would touch another database, and a legacy row of it must be moved by the migration.
 */
function keyAwayFrom(callerId: string, physicals: readonly number[]): string {
  for (;;) {
    const key = unique('k');
    if (!physicals.includes(hashedShard(callerId, key).index)) return key;
  }
}

/** Turns a claimed key back into the row the hashed placement wrote: anchor '', on the hashed shard. */
async function makeLegacy(callerId: string, key: string): Promise<void> {
  const found = await keyRowsFull(callerId, key);
  expect(found).toHaveLength(1);
  const { shard, row } = found[0]!;
  await shard.db
    .delete(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.anchorId, row.anchorId),
        eq(idempotencyKeys.callerId, callerId),
        eq(idempotencyKeys.idempotencyKey, key),
      ),
    );
  await hashedShard(callerId, key)
    .db.insert(idempotencyKeys)
    .values({ ...row, anchorId: '' });
}

async function keyRowsFull(callerId: string, key: string) {
  const found = await Promise.all(
    stack.shards.all.map(async (shard) =>
      (
        await shard.db
          .select()
          .from(idempotencyKeys)
          .where(and(eq(idempotencyKeys.callerId, callerId), eq(idempotencyKeys.idempotencyKey, key)))
      ).map((row) => ({ shard, row })),
    ),
  );
  return found.flat();
}

describe('keys claimed before keys were anchored', () => {
  it('answers a replay of a payment, a refund and a deposit with the original after the migration, moving no money again', async () => {
    const { payer, payee, payerOwner, payerToken, payeeOwner, payeeToken } = await crossShardPair('legacy', '10000');
    const payerHome = physicalOf(stack.shards, payer);
    const payKey = keyAwayFrom(payerOwner, [payerHome]);
    const payInput = { payer, payee, amount: '3000', key: payKey };
    const payment = ok(await kit.pay(payerToken, payInput), 'createPayment', 'Payment');
    const refundKey = keyAwayFrom(payeeOwner, [payerHome]);
    const refund = ok(await kit.refund(payeeToken, payment.id, '1000', { key: refundKey }), 'refundPayment', 'Refund');
    const depositKey = keyAwayFrom('operator', [physicalOf(stack.shards, payee)]);
    const deposit = ok(await kit.deposit(payee, '50', { key: depositKey }), 'deposit', 'Deposit');
    for (const [caller, key] of [
      [payerOwner, payKey],
      [payeeOwner, refundKey],
      ['operator', depositKey],
    ] as const)
      await makeLegacy(caller, key);
    expect(await keyRows(payerOwner, payKey)).toEqual([
      { physical: hashedShard(payerOwner, payKey).index, anchorId: '', operation: 'PAYMENT', resourceId: payment.id },
    ]);
    const balances = [await kit.balance(payer), await kit.balance(payee)];

    await migrateAll(stack.shards);
    expect(await keyRows(payerOwner, payKey)).toEqual([
      { physical: payerHome, anchorId: payer, operation: 'PAYMENT', resourceId: payment.id },
    ]);
    expect(await keyRows(payeeOwner, refundKey)).toEqual([
      { physical: payerHome, anchorId: payment.id, operation: 'REFUND', resourceId: refund.id },
    ]);
    expect(await keyRows('operator', depositKey)).toEqual([
      { physical: physicalOf(stack.shards, payee), anchorId: payee, operation: 'DEPOSIT', resourceId: deposit.id },
    ]);
    // Run again, the step finds nothing of these left to do.
    await migrateAll(stack.shards);
    expect(await keyRows(payerOwner, payKey)).toEqual([
      { physical: payerHome, anchorId: payer, operation: 'PAYMENT', resourceId: payment.id },
    ]);

    expect(ok(await kit.pay(payerToken, payInput), 'createPayment', 'Payment').id).toBe(payment.id);
    expect(ok(await kit.refund(payeeToken, payment.id, '1000', { key: refundKey }), 'refundPayment', 'Refund').id).toBe(
      refund.id,
    );
    expect(ok(await kit.deposit(payee, '50', { key: depositKey }), 'deposit', 'Deposit').id).toBe(deposit.id);
    const reused = await kit.pay(payerToken, { ...payInput, amount: '3001' });
    expect(reused.data!.createPayment).toMatchObject({
      __typename: 'IdempotencyKeyReused',
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect([await kit.balance(payer), await kit.balance(payee)]).toEqual(balances);
    expect(await kit.paymentIds(payer)).toEqual([payment.id]);
  });

  it('leaves a legacy key that names no record where it is, and moves the rest', async () => {
    const callerId = unique('orphan');
    const key = unique('orphan-key');
    const shard = hashedShard(callerId, key);
    await shard.db.insert(idempotencyKeys).values({
      anchorId: '',
      callerId,
      idempotencyKey: key,
      operation: 'PAYMENT',
      requestHash: '0'.repeat(64),
      resourceId: 'pay_01JDP5Z9K3M4N6Q7R8S9T0V1WX_00',
      createdAt: new Date(),
    });
    const { unplaced } = await placeLegacyKeys(stack.shards);
    expect(unplaced).toBeGreaterThanOrEqual(1);
    expect(await keyRows(callerId, key)).toEqual([
      { physical: shard.index, anchorId: '', operation: 'PAYMENT', resourceId: 'pay_01JDP5Z9K3M4N6Q7R8S9T0V1WX_00' },
    ]);
  });
});
