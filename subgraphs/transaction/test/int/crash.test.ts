import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { outboxInlineGraceMs } from '../../src/limits';
import { asGateway, testShards, unique } from '../../../../test/support/env';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { depositFromReserve, entriesOf } from '../../../../test/support/ledger';
import {
  accountRows,
  clearingAgainstInFlight,
  entriesOfPostings,
  eventually,
  insertAccountOn,
  outboxRow,
  paymentRow,
  outboxDueNow,
  physicalOf,
  postingsByDedupeKey,
  refundRow,
  resourceOfKey,
  shardOf,
} from '../../../../test/support/bank';
import { transactionChildren, type ChildService } from '../../../../test/support/processes';
import { holdRow } from '../../../../test/support/holds';

/**
 * A cross-shard movement whose process dies between its two halves. The transaction subgraph
 * runs as a real child process with a failpoint that SIGKILLs it right after the first half
 * commits; a restarted process (with its relay on) must finish the movement exactly once, and
 * a client retrying with the same idempotency key must get the finished movement back.
 * Other test files use the same shards (and may run relays of their own), so every check is
 * about rows this file made, and ledger-wide sums are compared with what is in flight.
 */
let shards: ShardSet;
let operatorId: string;
const children = transactionChildren();

const createPaymentDoc = contractOperation('CreatePayment');
const refundPaymentDoc = contractOperation('RefundPayment');
/** The hold operations with only what this subgraph answers alone (the contract's also select balances). */
const createHoldDoc = `mutation CreateHold($input: CreateHoldInput!) { createHold(input: $input) { __typename ... on Hold { id status } ... on UserError { code message } } }`;
const captureHoldDoc = `mutation CaptureHold($input: CaptureHoldInput!) {
  captureHold(input: $input) { __typename ... on Payment { id status amount hold { id status } } ... on UserError { code message } }
}`;
/**
 * The restarted relay takes the row in its first passes: the test makes the row due at once
 * (outboxDueNow) instead of waiting out outboxInlineGraceMs. The rest is slack for a loaded machine.
 */
const completionTimeoutMs = 15_000;

beforeAll(async () => {
  shards = testShards(2);
  operatorId = unique('crash-operator');
  expect(shards.all.length, 'a cross-shard movement needs two physical shards').toBeGreaterThanOrEqual(2);
});

afterAll(async () => {
  await children.killAll();
  await shards.close();
});

/**
 * The child is a subgraph, so requests to it carry what the gateway would send: the secret and
 * an identity token, signed afresh each time because the test outlives one.
 */
function asOperator(): Promise<Record<string, string>> {
  return asGateway('transaction', operatorId, 'operator');
}

/** Sends a request that the child answers by dying: the client sees the connection drop. */
async function sendToDoomed(child: ChildService, doc: string, input: Record<string, unknown>): Promise<void> {
  await expect(gql(child.graphqlUrl, doc, { input }, undefined, await asOperator())).rejects.toThrow();
  expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
}

async function balances(ids: readonly string[]): Promise<bigint[]> {
  const rows = await accountRows(shards, ids);
  return ids.map((id) => {
    const row = rows.get(id);
    if (!row) throw new Error(`account ${id} is missing`);
    return row.available + row.frozen + row.pending;
  });
}

async function entryCounts(ids: readonly string[]): Promise<number[]> {
  return Promise.all(ids.map(async (id) => (await entriesOf(shards, id)).length));
}

/** Σ clearing over all shards agrees with the in-flight movements of every test, now. */
async function expectClearingAccountedFor() {
  const seen = await clearingAgainstInFlight(shards, 'USD');
  expect(seen.agreed, `Σ clearing ${seen.clearing} ≠ in flight ${seen.inFlight.amount}`).toBe(true);
  return seen.inFlight;
}

describe('crash between the two halves of a cross-shard movement', () => {
  it('a payment killed after its debit is credited once by the restarted process; a retry moves nothing', async () => {
    const payer = await insertAccountOn(shards, 0, unique('crash-payer'));
    const payee = await insertAccountOn(shards, 1, unique('crash-payee'));
    expect(physicalOf(shards, payer)).not.toBe(physicalOf(shards, payee));
    expect((await depositFromReserve(shards, payer, 10_000n)).status).toBe('APPLIED');
    const input = {
      idempotencyKey: unique('crash-pay'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '2500',
      currency: 'USD',
    };

    const doomed = await children.spawn({ RELAY_ENABLED: 'false', TRANSACTION_FAILPOINT: 'payment-after-debit' });
    await sendToDoomed(doomed, createPaymentDoc, input);

    // The debit committed, the credit never ran: PROCESSING, its outbox row PENDING, the money in clearing.
    const id = await resourceOfKey(shards, operatorId, input.idempotencyKey);
    expect(id).toMatch(/^pay_/);
    const cut = await paymentRow(shards, id!);
    expect(cut).toMatchObject({
      status: 'PROCESSING',
      route: 'CROSS_SHARD',
      amount: 2_500n,
      payerAccountId: payer,
      payeeAccountId: payee,
      completedAt: null,
    });
    const pending = await outboxRow(shards, 'payment', id!);
    expect(pending).toMatchObject({ step: 'PAYMENT_CREDIT', status: 'PENDING' });
    expect(pending!.nextAttemptAt.getTime() - cut!.createdAt.getTime()).toBe(outboxInlineGraceMs);
    expect(await balances([payer, payee])).toEqual([7_500n, 0n]);
    expect(await entryCounts([payer, payee])).toEqual([2, 0]);
    const debit = await postingsByDedupeKey(shards, [id!, `${id}:credit`, `${id}:reverse`]);
    expect(debit.map((p) => [p.dedupeKey, p.shard])).toEqual([[id, physicalOf(shards, payer)]]);
    const debitEntries = await entriesOfPostings(shardOf(shards, 'account', payer), [debit[0]!.id]);
    const toClearing = debitEntries.find((e) => e.accountId !== payer);
    expect(toClearing?.amount).toBe(2_500n);
    const inFlight = await expectClearingAccountedFor();
    expect(inFlight.payments).toContain(id);
    expect(inFlight.amount).toBeGreaterThanOrEqual(2_500n);

    await outboxDueNow(shards, id!);
    const revived = await children.spawn({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
    const done = await eventually('the relay completes the payment', completionTimeoutMs, async () => {
      const row = await paymentRow(shards, id!);
      return row?.status === 'PROCESSING' ? undefined : row;
    });
    expect(done).toMatchObject({ status: 'SUCCEEDED', failureCode: null, completedAt: expect.any(Date) });
    expect(await outboxRow(shards, 'payment', id!)).toMatchObject({ status: 'DONE' });
    const credit = await postingsByDedupeKey(shards, [`${id}:credit`, `${id}:reverse`]);
    expect(credit.map((p) => [p.dedupeKey, p.shard])).toEqual([[`${id}:credit`, physicalOf(shards, payee)]]);
    const creditEntries = await entriesOfPostings(shardOf(shards, 'account', payee), [credit[0]!.id]);
    expect(creditEntries.find((e) => e.accountId !== payee)?.amount).toBe(-2_500n);
    expect((await entriesOf(shards, payee)).map((e) => [e.amount, e.postingId])).toEqual([[2_500n, credit[0]!.id]]);
    expect(await balances([payer, payee])).toEqual([7_500n, 2_500n]);
    expect((await expectClearingAccountedFor()).payments).not.toContain(id);

    // The client never saw an answer, so it retries: the same payment, finished, and no more money.
    const retried = await gql(revived.graphqlUrl, createPaymentDoc, { input }, undefined, await asOperator());
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.createPayment).toMatchObject({
      __typename: 'Payment',
      id,
      status: 'SUCCEEDED',
      amount: '2500',
    });
    expect(await balances([payer, payee])).toEqual([7_500n, 2_500n]);
    expect(await entryCounts([payer, payee])).toEqual([2, 1]);
    expect(await postingsByDedupeKey(shards, [`${id}:credit`])).toHaveLength(1);
    await revived.kill();
  });

  it('a payment answered once its credit posted, its process killed before its ending, is ended SUCCEEDED by the restarted relay; a retry moves nothing', async () => {
    const payer = await insertAccountOn(shards, 0, unique('crash-answer-payer'));
    const payee = await insertAccountOn(shards, 1, unique('crash-answer-payee'));
    expect(physicalOf(shards, payer)).not.toBe(physicalOf(shards, payee));
    expect((await depositFromReserve(shards, payer, 10_000n)).status).toBe('APPLIED');
    const input = {
      idempotencyKey: unique('crash-answer'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '1200',
      currency: 'USD',
    };

    const doomed = await children.spawn({ RELAY_ENABLED: 'false', TRANSACTION_FAILPOINT: 'payment-after-answer' });
    const answered = await gql(doomed.graphqlUrl, createPaymentDoc, { input }, undefined, await asOperator());
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The client holds SUCCEEDED: both halves had posted when it was answered.
    expect(answered.errors).toBeUndefined();
    const payment = answered.data!.createPayment as { id: string; status: string };
    expect(payment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', amount: '1200' });
    expect(await balances([payer, payee])).toEqual([8_800n, 1_200n]);
    expect(await postingsByDedupeKey(shards, [`${payment.id}:credit`, `${payment.id}:reverse`])).toHaveLength(1);
    // Its ending never ran: the record still reads PROCESSING, its outbox row PENDING.
    expect(await paymentRow(shards, payment.id)).toMatchObject({ status: 'PROCESSING', completedAt: null });
    expect(await outboxRow(shards, 'payment', payment.id)).toMatchObject({ step: 'PAYMENT_CREDIT', status: 'PENDING' });

    await outboxDueNow(shards, payment.id);
    const revived = await children.spawn({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
    const done = await eventually('the relay ends the payment', completionTimeoutMs, async () => {
      const row = await paymentRow(shards, payment.id);
      return row?.status === 'PROCESSING' ? undefined : row;
    });
    // As answered; the credit found posted under its key, so nothing moved again.
    expect(done).toMatchObject({ status: 'SUCCEEDED', failureCode: null, completedAt: expect.any(Date) });
    expect(await outboxRow(shards, 'payment', payment.id)).toMatchObject({ status: 'DONE' });
    expect(await postingsByDedupeKey(shards, [`${payment.id}:credit`, `${payment.id}:reverse`])).toHaveLength(1);
    expect(await balances([payer, payee])).toEqual([8_800n, 1_200n]);
    expect(await entryCounts([payer, payee])).toEqual([2, 1]);
    expect((await expectClearingAccountedFor()).payments).not.toContain(payment.id);

    const retried = await gql(revived.graphqlUrl, createPaymentDoc, { input }, undefined, await asOperator());
    expect(retried.data!.createPayment).toMatchObject({ __typename: 'Payment', id: payment.id, status: 'SUCCEEDED' });
    expect(await balances([payer, payee])).toEqual([8_800n, 1_200n]);
    await revived.kill();
  });

  it('a hold captured across shards and killed after its debit is credited once by the restarted process; a retry moves nothing', async () => {
    const payer = await insertAccountOn(shards, 0, unique('crash-hold-payer'));
    const payee = await insertAccountOn(shards, 1, unique('crash-hold-payee'));
    expect((await depositFromReserve(shards, payer, 10_000n)).status).toBe('APPLIED');

    const doomed = await children.spawn({
      RELAY_ENABLED: 'false',
      HOLD_EXPIRY_ENABLED: 'false',
      TRANSACTION_FAILPOINT: 'capture-after-debit',
    });
    const created = await gql(
      doomed.graphqlUrl,
      createHoldDoc,
      {
        input: {
          idempotencyKey: unique('crash-hold'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '3000',
          currency: 'USD',
        },
      },
      undefined,
      await asOperator(),
    );
    expect(created.errors).toBeUndefined();
    const holdId = created.data!.createHold.id as string;
    const input = { idempotencyKey: unique('crash-capture'), holdId, amount: '2000' };
    await sendToDoomed(doomed, captureHoldDoc, input);

    // The capture committed on the payer's shard: hold CAPTURED, payment PROCESSING, the money in clearing.
    const id = await resourceOfKey(shards, operatorId, input.idempotencyKey);
    expect(id).toMatch(/^pay_/);
    expect(await holdRow(shards, holdId)).toMatchObject({ status: 'CAPTURED', capturedAmount: 2_000n, endedBy: id });
    expect(await paymentRow(shards, id!)).toMatchObject({ status: 'PROCESSING', route: 'CROSS_SHARD', amount: 2_000n });
    expect(await outboxRow(shards, 'payment', id!)).toMatchObject({ step: 'PAYMENT_CREDIT', status: 'PENDING' });
    expect(await balances([payer, payee])).toEqual([8_000n, 0n]);
    expect((await accountRows(shards, [payer])).get(payer)).toMatchObject({ available: 8_000n, frozen: 0n });
    expect((await expectClearingAccountedFor()).payments).toContain(id);

    await outboxDueNow(shards, id!);
    const revived = await children.spawn({
      RELAY_ENABLED: 'true',
      RELAY_INTERVAL_MS: '200',
      HOLD_EXPIRY_ENABLED: 'false',
    });
    const done = await eventually('the relay completes the capture', completionTimeoutMs, async () => {
      const row = await paymentRow(shards, id!);
      return row?.status === 'PROCESSING' ? undefined : row;
    });
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    expect(await balances([payer, payee])).toEqual([8_000n, 2_000n]);

    // The client retries: the same payment, finished, and no more money.
    const retried = await gql(revived.graphqlUrl, captureHoldDoc, { input }, undefined, await asOperator());
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.captureHold).toMatchObject({
      __typename: 'Payment',
      id,
      status: 'SUCCEEDED',
      amount: '2000',
      hold: { id: holdId, status: 'CAPTURED' },
    });
    expect(await balances([payer, payee])).toEqual([8_000n, 2_000n]);
    expect(await postingsByDedupeKey(shards, [`${id}:credit`])).toHaveLength(1);
    expect((await expectClearingAccountedFor()).payments).not.toContain(id);
    await revived.kill();
  });

  it('a refund killed after its reservation is debited and credited once by the restarted process; a retry moves nothing', async () => {
    const last = shards.all.length - 1;
    const payer = await insertAccountOn(shards, last, unique('crash-refund-payer'));
    const payee = await insertAccountOn(shards, last - 1, unique('crash-refund-payee'));
    expect((await depositFromReserve(shards, payer, 10_000n)).status).toBe('APPLIED');

    const doomed = await children.spawn({ RELAY_ENABLED: 'false', TRANSACTION_FAILPOINT: 'refund-after-reserve' });
    const paid = await gql(
      doomed.graphqlUrl,
      createPaymentDoc,
      {
        input: {
          idempotencyKey: unique('crash-refund-pay'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '4000',
          currency: 'USD',
        },
      },
      undefined,
      await asOperator(),
    );
    expect(paid.errors).toBeUndefined();
    expect(paid.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
    const paymentId = paid.data!.createPayment.id as string;
    expect(await paymentRow(shards, paymentId)).toMatchObject({ route: 'CROSS_SHARD' });
    expect(await balances([payer, payee])).toEqual([6_000n, 4_000n]);

    const input = { idempotencyKey: unique('crash-refund'), paymentId, amount: '1500', reason: 'crash test' };
    await sendToDoomed(doomed, refundPaymentDoc, input);

    // Reserved on the payment's shard (refunded_amount counts it), no money moved yet.
    const id = await resourceOfKey(shards, operatorId, input.idempotencyKey);
    expect(id).toMatch(/^ref_/);
    expect(await refundRow(shards, id!)).toMatchObject({
      status: 'PROCESSING',
      amount: 1_500n,
      paymentId,
      completedAt: null,
    });
    expect(await paymentRow(shards, paymentId)).toMatchObject({ status: 'SUCCEEDED', refundedAmount: 1_500n });
    expect(await outboxRow(shards, 'refund', id!)).toMatchObject({ step: 'REFUND_DEBIT', status: 'PENDING' });
    expect(await postingsByDedupeKey(shards, [`${id}:debit`, `${id}:credit`])).toEqual([]);
    expect(await balances([payer, payee])).toEqual([6_000n, 4_000n]);
    expect((await expectClearingAccountedFor()).refunds).not.toContain(id);

    await outboxDueNow(shards, id!);
    const revived = await children.spawn({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
    const done = await eventually('the relay completes the refund', completionTimeoutMs, async () => {
      const row = await refundRow(shards, id!);
      return row?.status === 'PROCESSING' ? undefined : row;
    });
    expect(done).toMatchObject({ status: 'SUCCEEDED', failureCode: null, completedAt: expect.any(Date) });
    expect(await outboxRow(shards, 'refund', id!)).toMatchObject({ status: 'DONE' });
    const halves = await postingsByDedupeKey(shards, [`${id}:debit`, `${id}:credit`]);
    expect(halves.map((p) => [p.dedupeKey, p.shard]).sort()).toEqual(
      [
        [`${id}:credit`, physicalOf(shards, payer)],
        [`${id}:debit`, physicalOf(shards, payee)],
      ].sort(),
    );
    expect(await balances([payer, payee])).toEqual([7_500n, 2_500n]);
    expect(await paymentRow(shards, paymentId)).toMatchObject({ refundedAmount: 1_500n });
    await expectClearingAccountedFor();

    const retried = await gql(revived.graphqlUrl, refundPaymentDoc, { input }, undefined, await asOperator());
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.refundPayment).toMatchObject({
      __typename: 'Refund',
      id,
      status: 'SUCCEEDED',
      amount: '1500',
      payment: { id: paymentId, refundedAmount: '1500' },
    });
    expect(await balances([payer, payee])).toEqual([7_500n, 2_500n]);
    expect(await entryCounts([payer, payee])).toEqual([3, 2]);
    expect(await postingsByDedupeKey(shards, [`${id}:debit`, `${id}:credit`])).toHaveLength(2);
    await revived.kill();
  });
  it("an FX payment killed after its debit is credited in the payee's currency once by the restarted process; a retry moves nothing", async () => {
    const payer = await insertAccountOn(shards, 0, unique('crash-fx-payer'));
    const payee = await insertAccountOn(shards, 1, unique('crash-fx-payee'), 'PERSONAL', 'JPY');
    expect((await depositFromReserve(shards, payer, 10_000n)).status).toBe('APPLIED');
    const doomed = await children.spawn({ RELAY_ENABLED: 'false', TRANSACTION_FAILPOINT: 'payment-after-debit' });
    const send = async (doc: string, variables: Record<string, unknown>) => {
      const r = await gql(doomed.graphqlUrl, doc, variables, undefined, await asOperator());
      expect(r.errors).toBeUndefined();
      return r.data!;
    };
    await send('mutation($input: SetFxRateInput!) { setFxRate(input: $input) { __typename } }', {
      input: { baseCurrency: 'USD', quoteCurrency: 'JPY', rate: '150.25' },
    });
    const made = (
      await send(
        'mutation($input: CreateFxQuoteInput!) { createFxQuote(input: $input) { ... on FxQuote { id sellAmount buyAmount rate } } }',
        { input: { sellCurrency: 'USD', buyCurrency: 'JPY', sellAmount: '2500' } },
      )
    ).createFxQuote;
    // The quote was priced from the newest USD/JPY row: another test file may have set the pair since.
    const bought = BigInt(made.buyAmount as string);
    const input = {
      idempotencyKey: unique('crash-fx'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '2500',
      currency: 'USD',
      fxQuoteId: made.id,
    };
    await sendToDoomed(doomed, createPaymentDoc, input);

    const id = await resourceOfKey(shards, operatorId, input.idempotencyKey);
    expect(await paymentRow(shards, id!)).toMatchObject({
      status: 'PROCESSING',
      route: 'CROSS_SHARD',
      amount: 2_500n,
      currency: 'USD',
    });
    expect(await balances([payer, payee])).toEqual([7_500n, 0n]);
    // In flight in the payee's currency: clearing(JPY) on the payer's shard holds what the payee will get.
    expect((await clearingAgainstInFlight(shards, 'JPY')).inFlight.payments).toContain(id);
    await expectClearingAccountedFor();

    await outboxDueNow(shards, id!);
    const revived = await children.spawn({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
    const done = await eventually('the relay completes the FX payment', completionTimeoutMs, async () => {
      const row = await paymentRow(shards, id!);
      return row?.status === 'PROCESSING' ? undefined : row;
    });
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    expect(await balances([payer, payee])).toEqual([7_500n, bought]);
    const credit = await postingsByDedupeKey(shards, [`${id}:credit`]);
    expect(credit.map((p) => [p.currency, p.shard])).toEqual([['JPY', physicalOf(shards, payee)]]);
    expect((await clearingAgainstInFlight(shards, 'JPY')).agreed).toBe(true);

    const retried = await gql(revived.graphqlUrl, createPaymentDoc, { input }, undefined, await asOperator());
    expect(retried.data!.createPayment).toMatchObject({
      __typename: 'Payment',
      id,
      status: 'SUCCEEDED',
      amount: '2500',
    });
    expect(await balances([payer, payee])).toEqual([7_500n, bought]);
    await revived.kill();
  });
});
