import { describe, it, expect } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { token, unique } from '../../../../test/support/env';
import { gql } from '../../../../test/support/graphql';
import { shardCostOf } from '../../../../test/support/shard-cost';
import { toLogicalShard } from '@paygraph/shared/ids';
import { mergeStats } from '@paygraph/shared/ledger/engine/batcher';
import { assert } from '@paygraph/shared/result';
import { captureHold } from '../../src/services/hold';
import { type Answer, type MoneyKit, useMoneyStack } from '../../../../test/support/money';
import { serviceContext } from '../support/service-context';

/**
 * Hold endings decided as a group in the posting transaction (services/hold.ts holdEndings):
 * what a hold costs the databases, created and then captured whole into a merchant's stripe (the
 * benchmark's b-hot-merchant-holds), statements and round trips per shard while a lone request
 * runs; and copies of one capture sent at once, which share merged batches.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

/** The contract's documents without the payer's balance, which is the account subgraph's read. */
const movementOnly = {
  createHold:
    'mutation($input: CreateHoldInput!) { createHold(input: $input) { __typename ... on Hold { id status } ... on UserError { code } } }',
  captureHold: `mutation($input: CaptureHoldInput!) { captureHold(input: $input) { __typename
    ... on Payment { id status amount hold { id status capturedAmount } } ... on UserError { code } } }`,
};

interface Cost {
  statements: number[];
  roundTrips: number[];
}

async function costOf(fn: () => Promise<Answer>): Promise<{ answer: Answer; cost: Cost }> {
  const { answer, statements, roundTrips } = await shardCostOf(stack.shards.all, fn);
  return { answer, cost: { statements, roundTrips } };
}

describe('a hold created and captured into a merchant stripe', () => {
  it("costs the payer's shard 4 round trips to create and 5 to capture, the merchant's home one read each, no other shard anything", async () => {
    const owner = unique('rt-payer');
    const bearer = await token(owner, 'customer');
    // Away from the gateway's audit trail (logical shard 0), whose writes would be counted too.
    const control = stack.shards.byLogical(toLogicalShard(0)).index;
    const others = stack.shards.all.map((s) => s.index).filter((i) => i !== control);
    const [payerShard, merchantHome] = [others[0]!, others[1]!];
    const payer = await kit.open(owner, { physical: payerShard });
    await kit.fund(payer, '10000');
    const merchant = await kit.open(unique('rt-merchant'), { type: 'MERCHANT', physical: merchantHome });
    const holdAndCapture = async () => {
      const created = await costOf(() =>
        gql(
          stack.gatewayUrl,
          movementOnly.createHold,
          {
            input: {
              idempotencyKey: unique('h'),
              payerAccountId: payer,
              payeeAccountId: merchant,
              amount: '100',
              currency: 'USD',
            },
          },
          bearer,
        ),
      );
      expect(created.answer.errors).toBeUndefined();
      expect(created.answer.data!.createHold).toMatchObject({ __typename: 'Hold', status: 'HELD' });
      const holdId = created.answer.data!.createHold.id as string;
      const captured = await costOf(() =>
        gql(stack.gatewayUrl, movementOnly.captureHold, { input: { idempotencyKey: unique('c'), holdId } }, bearer),
      );
      expect(captured.answer.errors).toBeUndefined();
      expect(captured.answer.data!.captureHold).toMatchObject({
        __typename: 'Payment',
        status: 'SUCCEEDED',
        amount: '100',
        hold: { id: holdId, status: 'CAPTURED', capturedAmount: '100' },
      });
      return { create: created.cost, capture: captured.cost };
    };
    // The first capture into this merchant opens its stripe on the payer's shard: not measured.
    await holdAndCapture();
    const { create, capture } = await holdAndCapture();
    const elsewhere = (counts: number[]) =>
      counts.filter((_, i) => i !== payerShard && i !== merchantHome && i !== control);
    // Create: the accounts read (payer's shard; the merchant's home row on its own), the key's
    // claim (its INSERT with its anchor's fence read, then its COMMIT), and the posting transaction
    // (lock and read, then every write with COMMIT).
    expect(create.roundTrips[payerShard]).toBe(5);
    expect(create.roundTrips[merchantHome]).toBe(1);
    expect(elsewhere(create.roundTrips)).toEqual(elsewhere(create.roundTrips).map(() => 0));
    // Capture: the hold's read, the accounts read, then the posting transaction: BEGIN with the
    // locking read of the hold and the key's claim, the accounts' lock and prior outcomes (the
    // hold's update held for it), the writes with COMMIT. No read of the hold for the answer.
    // Each figure would grow by one if a step came back as a round trip of its own.
    expect(capture.roundTrips[payerShard]).toBe(5);
    expect(capture.roundTrips[merchantHome]).toBe(1);
    expect(elsewhere(capture.roundTrips)).toEqual(elsewhere(capture.roundTrips).map(() => 0));
    // Statements (several may share a round trip): the capture's are the create's plus the hold's
    // read, its locking read and its update; its claim's fence read, as the create's claim has one, goes with the
    // hold's lock (a capture refused there posts nothing, and no posting's lock would read it for its key). Counted on
    // the two shards the hold touches. Each posting's writes include the books' daily sums per ledger class (issue 49,
    // ledger_class_days), sent with the other writes: no round trip; and its lock's round trip reads its accounts'
    // fence rows (issue 50, shard_fences): one statement, no round trip.
    const touched = (counts: number[]) => counts[payerShard]! + counts[merchantHome]!;
    expect({ create: touched(create.statements), capture: touched(capture.statements) }).toEqual({
      create: 13,
      capture: 16,
    });
  });
});

/** A customer with 1000 on a PERSONAL account, a merchant, and a way to hold money from one to the other. */
async function payerAndMerchant(prefix: string) {
  const owner = unique(`${prefix}-payer`);
  const bearer = await token(owner, 'customer');
  const payer = await kit.open(owner);
  await kit.fund(payer, '1000');
  const merchant = await kit.open(unique(`${prefix}-merchant`), { type: 'MERCHANT' });
  const hold = async (amount: string) =>
    (
      await gql(
        stack.gatewayUrl,
        movementOnly.createHold,
        {
          input: {
            idempotencyKey: unique('h'),
            payerAccountId: payer,
            payeeAccountId: merchant,
            amount,
            currency: 'USD',
          },
        },
        bearer,
      )
    ).data!.createHold.id as string;
  return { owner, bearer, payer, hold };
}

describe('copies of one capture sent at once', () => {
  it('all answer the one payment with the captured hold, whether they shared a merged batch or not', async () => {
    const { bearer, payer, hold } = await payerAndMerchant('copy');
    const holdId = await hold('300');
    const key = unique('c');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        gql(stack.gatewayUrl, movementOnly.captureHold, { input: { idempotencyKey: key, holdId } }, bearer),
      ),
    );
    for (const answer of answers) expect(answer.errors).toBeUndefined();
    const payments = answers.map((a) => a.data!.captureHold);
    expect(new Set(payments.map((p) => p.id)).size).toBe(1);
    for (const p of payments) {
      expect(p).toMatchObject({
        __typename: 'Payment',
        status: 'SUCCEEDED',
        amount: '300',
        hold: { id: holdId, status: 'CAPTURED', capturedAmount: '300' },
      });
    }
    expect(await kit.balance(payer)).toEqual({ available: '700', frozen: '0', pending: '0', total: '700' });
    // Another key for the captured hold is refused; the same key with other content is reused.
    const other = await gql(
      stack.gatewayUrl,
      movementOnly.captureHold,
      { input: { idempotencyKey: unique('c'), holdId } },
      bearer,
    );
    expect(other.data!.captureHold).toMatchObject({ __typename: 'HoldNotActive', code: 'HOLD_NOT_ACTIVE' });
    const reused = await gql(
      stack.gatewayUrl,
      movementOnly.captureHold,
      { input: { idempotencyKey: key, holdId, amount: '100' } },
      bearer,
    );
    expect(reused.data!.captureHold).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('copies in one merged batch: the first ends the hold, the others post the same payment and answer it once it is written', async () => {
    const { owner, bearer, payer, hold } = await payerAndMerchant('batch');
    // The merchant's stripe on the payer's shard is opened by a first capture, so that the
    // copies below find their route at the same moment.
    const first = await gql(
      stack.gatewayUrl,
      movementOnly.captureHold,
      { input: { idempotencyKey: unique('c'), holdId: await hold('50') } },
      bearer,
    );
    expect(first.data!.captureHold.__typename).toBe('Payment');
    const holdId = await hold('250');
    const ctx = serviceContext(stack.shards, { sub: owner, role: 'customer' });
    const shard = stack.shards.of('hold', holdId);
    const before = mergeStats(shard);
    // Called in one turn: their reads coalesce and their postings are submitted together.
    const key = unique('c');
    const results = await Promise.all(
      Array.from({ length: 5 }, () => captureHold(ctx, { idempotencyKey: key, holdId })),
    );
    const after = mergeStats(shard);
    expect(after.items - before.items).toBe(5);
    expect(after.batches - before.batches).toBe(1);
    const ids = new Set<string>();
    for (const result of results) {
      assert(result.ok, result.ok ? '' : `capture refused: ${result.error.kind}`);
      expect(result.value.payment).toMatchObject({ status: 'SUCCEEDED', amount: 250n, payerAccountId: payer });
      expect(result.value.hold).toMatchObject({
        id: holdId,
        status: 'CAPTURED',
        capturedAmount: 250n,
        endedBy: result.value.payment.id,
      });
      ids.add(result.value.payment.id);
    }
    expect(ids.size).toBe(1);
    expect(await kit.paymentIds(payer)).toContain([...ids][0]);
    expect(await kit.paymentIds(payer)).toHaveLength(2);
    expect(await kit.balance(payer)).toEqual({ available: '700', frozen: '0', pending: '0', total: '700' });
  });
});
