import { describe, it, expect, beforeAll, afterAll, type ExpectStatic } from 'vitest';
import mysql from 'mysql2/promise';
import { lockRetryWaitSeconds, lockWaitSeconds } from '@paygraph/shared/limits';
import { subgraphRequestTimeoutMs } from '../../../../gateway/src/limits';
import { postingRejections } from '@paygraph/shared/ledger/store/schema';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation, gql, type GraphQLResponse } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { depositFromReserve, entriesOf } from '../../../../test/support/ledger';
import {
  accountRows,
  insertAccountOn,
  insertEarlyAccountOn,
  outboxRow,
  paymentRow,
  physicalOf,
  postingsByDedupeKey,
  resourceOfKey,
} from '../../../../test/support/bank';

/**
 * A payment that meets an account row another session holds locked: after lockWaitSeconds it
 * fails as a GraphQL error LOCK_TIMEOUT (retryable) through the gateway, with nothing written,
 * not even the idempotency key's claim; once the lock is gone, the same request with the same key
 * succeeds, once. The cases run concurrently (each on rows of its own), so the file costs
 * one lock wait, not three. The locked rows are made with ids that sort first, so that a
 * payment waiting on one holds no shared CLEARING row meanwhile (see insertEarlyAccountOn).
 */
let stack: Stack;
let operatorId: string;
let operator: string;

const createPaymentDoc = contractOperation('CreatePayment');

beforeAll(async () => {
  stack = await defaultStack();
  operatorId = unique('lock-operator');
  operator = await token(operatorId, 'operator');
  expect(stack.shards.all.length, 'the "out of" case pays across two physical shards').toBeGreaterThanOrEqual(2);
});

afterAll(async () => {
  await stack.stop();
});

interface Snapshot {
  available: bigint[];
  versions: bigint[];
  entries: number[];
}

async function snapshot(ids: readonly string[]): Promise<Snapshot> {
  const rows = await accountRows(stack.shards, ids);
  const row = (id: string) => {
    const found = rows.get(id);
    if (!found) throw new Error(`account ${id} is missing`);
    return found;
  };
  return {
    available: ids.map((id) => row(id).available),
    versions: ids.map((id) => row(id).version),
    entries: await Promise.all(ids.map(async (id) => (await entriesOf(stack.shards, id)).length)),
  };
}

/** The refusals kept on every shard (none of this file's cases is refused). */
async function rejectionCount(): Promise<number> {
  const found = await Promise.all(stack.shards.all.map((s) => s.db.select().from(postingRejections)));
  return found.flat().length;
}

/**
 * Holds `lockedId`'s row with SELECT … FOR UPDATE in an open transaction on a connection of
 * its own while the payment runs through the gateway, then lets go and retries the payment.
 */
async function payAgainstLock(expect: ExpectStatic, payer: string, payee: string, lockedId: string) {
  const input = {
    idempotencyKey: unique('lock-pay'),
    payerAccountId: payer,
    payeeAccountId: payee,
    amount: '1234',
    currency: 'USD',
  };
  const before = await snapshot([payer, payee]);
  const rejections = await rejectionCount();
  const holder = await mysql.createConnection({ uri: stack.shards.topology.urls[physicalOf(stack.shards, lockedId)]! });
  let response: GraphQLResponse<Record<string, any>>;
  let elapsedMs: number;
  try {
    await holder.query('BEGIN');
    const [held] = await holder.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [lockedId]);
    expect(held).toEqual([{ id: lockedId }]);
    const started = performance.now();
    response = await gql(stack.gatewayUrl, createPaymentDoc, { input }, operator);
    elapsedMs = performance.now() - started;
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }

  expect(response.data?.createPayment ?? null).toBeNull();
  expect(response.errors).toHaveLength(1);
  expect(response.errors![0]!.extensions).toMatchObject({ code: 'LOCK_TIMEOUT', retryable: true });
  expect(elapsedMs).toBeGreaterThanOrEqual((lockWaitSeconds - 0.5) * 1_000);
  // Answered by the subgraph before the gateway would give up on it (SUBGRAPH_UNAVAILABLE).
  expect(elapsedMs).toBeLessThan(subgraphRequestTimeoutMs);

  // Nothing was written, not even the key's claim (it commits with the debit it keys,
  // services/payment-claims.ts): no key, no posting or refusal, no balance change.
  expect(await resourceOfKey(stack.shards, operatorId, input.idempotencyKey)).toBeUndefined();
  expect(await snapshot([payer, payee])).toEqual(before);
  expect(await rejectionCount()).toBe(rejections);

  // Lock released: the same request with the same key pays once, however often it is sent.
  const retried = await gql(stack.gatewayUrl, createPaymentDoc, { input }, operator);
  expect(retried.errors).toBeUndefined();
  expect(retried.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', amount: '1234' });
  const claimed = retried.data!.createPayment.id as string;
  expect(await resourceOfKey(stack.shards, operatorId, input.idempotencyKey)).toBe(claimed);
  const again = await gql(stack.gatewayUrl, createPaymentDoc, { input }, operator);
  expect(again.data!.createPayment).toMatchObject({ __typename: 'Payment', id: claimed, status: 'SUCCEEDED' });
  const after = await snapshot([payer, payee]);
  expect(after.available).toEqual([before.available[0]! - 1_234n, before.available[1]! + 1_234n]);
  expect(after.entries).toEqual([before.entries[0]! + 1, before.entries[1]! + 1]);
  return { paymentId: claimed! };
}

it("gives up on a lock (with a merged batch's lone retry) a clear second before the gateway gives up on the subgraph", () => {
  expect((lockWaitSeconds + lockRetryWaitSeconds + 1) * 1_000).toBeLessThanOrEqual(subgraphRequestTimeoutMs);
});

describe.concurrent('a payment meeting a locked account row', () => {
  it('into a locked payee fails with LOCK_TIMEOUT after lockWaitSeconds, writes nothing, and succeeds once on retry', async ({
    expect,
  }) => {
    // Same physical shard: the payment is one local transaction that locks payer and payee together.
    const payer = await insertAccountOn(stack.shards, 0, unique('lock-payer'));
    const payee = await insertEarlyAccountOn(stack.shards, 0, unique('lock-payee'));
    expect((await depositFromReserve(stack.shards, payer, 10_000n)).status).toBe('APPLIED');
    const { paymentId } = await payAgainstLock(expect, payer, payee, payee);
    expect(await paymentRow(stack.shards, paymentId)).toMatchObject({ route: 'SAME_SHARD', status: 'SUCCEEDED' });
  });

  it('out of a locked payer fails with LOCK_TIMEOUT after lockWaitSeconds, writes nothing, and succeeds once on retry', async ({
    expect,
  }) => {
    // Across shards: the debit on the payer's shard (payer + CLEARING) is what waits.
    const payer = await insertEarlyAccountOn(stack.shards, 1, unique('lock-payer'));
    const payee = await insertAccountOn(stack.shards, 0, unique('lock-payee'));
    expect((await depositFromReserve(stack.shards, payer, 10_000n)).status).toBe('APPLIED');
    const { paymentId } = await payAgainstLock(expect, payer, payee, payer);
    expect(await paymentRow(stack.shards, paymentId)).toMatchObject({ route: 'CROSS_SHARD', status: 'SUCCEEDED' });
  });

  it('across shards into a locked payee answers PROCESSING once the debit has committed (not LOCK_TIMEOUT), and credits once after', async ({
    expect,
  }) => {
    const payer = await insertAccountOn(stack.shards, 2 % stack.shards.all.length, unique('lock-payer'));
    const payee = await insertEarlyAccountOn(stack.shards, 1, unique('lock-payee'));
    expect((await depositFromReserve(stack.shards, payer, 10_000n)).status).toBe('APPLIED');
    const input = {
      idempotencyKey: unique('lock-pay'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '777',
      currency: 'USD',
    };
    const holder = await mysql.createConnection({ uri: stack.shards.topology.urls[physicalOf(stack.shards, payee)]! });
    let response: GraphQLResponse<Record<string, any>>;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [payee]);
      response = await gql(stack.gatewayUrl, createPaymentDoc, { input }, operator);
      // The payer's half committed before the credit met the lock: the client must learn that
      // the payment exists (PROCESSING), not that nothing was written.
      expect(response.errors).toBeUndefined();
      expect(response.data!.createPayment).toMatchObject({
        __typename: 'Payment',
        status: 'PROCESSING',
        amount: '777',
      });
      expect((await snapshot([payer, payee])).available).toEqual([10_000n - 777n, 0n]);
      expect(await outboxRow(stack.shards, 'payment', response.data!.createPayment.id as string)).toMatchObject({
        status: 'PENDING',
      });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const id = response.data!.createPayment.id as string;
    expect(id).toBe(await resourceOfKey(stack.shards, operatorId, input.idempotencyKey));

    const retried = await gql(stack.gatewayUrl, createPaymentDoc, { input }, operator);
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.createPayment).toMatchObject({ __typename: 'Payment', id, status: 'SUCCEEDED' });
    expect((await snapshot([payer, payee])).available).toEqual([10_000n - 777n, 777n]);
    expect(await postingsByDedupeKey(stack.shards, [`${id}:credit`, `${id}:reverse`])).toHaveLength(1);
  });
});
