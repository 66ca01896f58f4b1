import { afterEach, describe, it, expect } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { rawRows } from '@paygraph/shared/db/raw';
import { outboxRow, paymentRow } from '../../../../test/support/bank';
import { physicalOf, type MoneyKit, useMoneyStack } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import { EndingsInFlight } from '@paygraph/transaction/services/endings-in-flight';
import { endingsInFlightMax } from '@paygraph/transaction/limits';
import { log } from '@paygraph/shared/log';

/**
 * A cross-shard payment is answered once its credit has posted; its ending (SUCCEEDED on the
 * payer's shard, its outbox row taken) follows the answer (services/endings-in-flight.ts). What
 * a client does next must see what it was answered: the payment read back, the payer's list of
 * payments, a refund at once. The crash between answer and ending is crash.test.ts's.
 */

/** Endings that start at once, or, while held, only once released: a read can then meet one that has not run. */
class HeldEndings extends EndingsInFlight {
  private gate: Promise<void> | null = null;
  private open: () => void = () => undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = null;
    this.open();
  }

  protected override started(end: () => Promise<unknown>): Promise<unknown> {
    return this.gate ? this.gate.then(end) : end();
  }
}

const endings = new HeldEndings(endingsInFlightMax, log());
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started), { endings });

// A test that fails while holding must not hold the next one's endings.
afterEach(() => endings.release());

/** What a pending read has not done within this, it is waiting for something (here, the held ending). */
const stillWaitingMs = 400;

const createDoc = `mutation Pay($input: CreatePaymentInput!) {
  createPayment(input: $input) { __typename ... on Payment { id status completedAt } ... on UserError { code message } }
}`;
const readDoc = `query Payment($id: ID!) { payment(id: $id) { id status completedAt refundedAmount } }`;
const listDoc = `query Payments($id: ID!) {
  account(id: $id) { payments(first: 100) { edges { node { id status completedAt } } } }
}`;

async function crossShardPair(owner: string): Promise<{ payer: string; payee: string }> {
  const payer = await kit.open(`${owner}-payer`);
  const payee = await kit.openAwayFrom(`${owner}-payee`, [physicalOf(stack.shards, payer)]);
  await kit.fund(payer, '100000');
  return { payer, payee };
}

type Answered = { id: string; status: string; completedAt: string };

async function pay(payer: string, payee: string, amount: string): Promise<Answered> {
  const answer = await kit.pay(kit.operator, { payer, payee, amount }, createDoc);
  expect(answer.errors).toBeUndefined();
  const payment = answer.data!.createPayment as Answered & { __typename: string };
  expect(payment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', completedAt: expect.any(String) });
  return payment;
}

describe('a cross-shard payment answered once its credit posted', () => {
  it('is answered while its ending is held; a read and a refund of it wait for the ending, then see it as answered', async () => {
    const { payer, payee } = await crossShardPair('answer-held');
    endings.hold();
    const answered = await pay(payer, payee, '700');
    // Answered SUCCEEDED while the record still reads as the debit wrote it: the ending had not run.
    expect((await paymentRow(stack.shards, answered.id))?.status).toBe('PROCESSING');
    const done = new Set<string>();
    const read = gql(stack.gatewayUrl, readDoc, { id: answered.id }, kit.operator).finally(() => done.add('read'));
    const list = gql(stack.gatewayUrl, listDoc, { id: payer }, kit.operator).finally(() => done.add('list'));
    const refund = kit.refund(kit.operator, answered.id, '200').finally(() => done.add('refund'));
    await new Promise((resolve) => setTimeout(resolve, stillWaitingMs));
    expect([...done]).toEqual([]);
    endings.release();
    expect((await read).data!.payment).toMatchObject({ status: 'SUCCEEDED', completedAt: answered.completedAt });
    const listed = (await list).data!.account.payments.edges as Array<{ node: Answered }>;
    expect(listed.find((e) => e.node.id === answered.id)?.node).toMatchObject({
      status: 'SUCCEEDED',
      completedAt: answered.completedAt,
    });
    expect((await refund).data!.refundPayment).toMatchObject({ __typename: 'Refund', amount: '200' });
    expect((await outboxRow(stack.shards, 'payment', answered.id))?.status).toBe('DONE');
  });

  it("reads back as answered at once, by id and in its payer's list, to the millisecond it was answered", async () => {
    const { payer, payee } = await crossShardPair('answer-read');
    const answered = await Promise.all(Array.from({ length: 20 }, (_, i) => pay(payer, payee, String(100 + i))));
    const byId = await Promise.all(
      answered.map(async (a) => (await gql(stack.gatewayUrl, readDoc, { id: a.id }, kit.operator)).data!.payment),
    );
    expect(byId.map((p) => [p.id, p.status, p.completedAt])).toEqual(
      answered.map((a) => [a.id, 'SUCCEEDED', a.completedAt]),
    );
    const listed = (await gql(stack.gatewayUrl, listDoc, { id: payer }, kit.operator)).data!.account.payments
      .edges as Array<{ node: Answered }>;
    expect(new Map(listed.map((e) => [e.node.id, [e.node.status, e.node.completedAt]]))).toEqual(
      new Map(answered.map((a) => [a.id, ['SUCCEEDED', a.completedAt]])),
    );
    // The record as answered once the reads above waited for every ending: its outbox row taken too.
    const shard = stack.shards.of('payment', answered[0]!.id);
    const rows = await rawRows<{ id: string; status: string }>(
      shard,
      'SELECT id, status FROM payments WHERE id IN (?)',
      [answered.map((a) => a.id)],
    );
    expect(new Map(rows.map((r) => [r.id, r.status]))).toEqual(new Map(answered.map((a) => [a.id, 'SUCCEEDED'])));
    const pending = await rawRows<{ n: number }>(
      shard,
      "SELECT COUNT(*) AS n FROM transfer_outbox WHERE id IN (?) AND status = 'PENDING'",
      [answered.map((a) => a.id)],
    );
    expect(Number(pending[0]!.n)).toBe(0);
  });

  it('is refunded one unit at a time right after each answer, never refused as still PROCESSING', async () => {
    const { payer, payee } = await crossShardPair('answer-refund');
    for (let i = 0; i < 10; i += 1) {
      const payment = await pay(payer, payee, '3');
      for (let unit = 0; unit < 3; unit += 1) {
        const refund = await kit.refund(kit.operator, payment.id, '1');
        expect(refund.errors).toBeUndefined();
        expect(refund.data!.refundPayment).toMatchObject({ __typename: 'Refund', amount: '1' });
        expect(['SUCCEEDED', 'PROCESSING']).toContain(refund.data!.refundPayment.status);
      }
      const fourth = await kit.refund(kit.operator, payment.id, '1');
      expect(fourth.data!.refundPayment).toMatchObject({ __typename: 'RefundExceedsPayment' });
    }
  });
});
