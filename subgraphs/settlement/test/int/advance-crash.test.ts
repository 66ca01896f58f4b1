import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { shardOf } from '@paygraph/shared/ids';
import { AdvanceKit } from '../../../../test/support/advances';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { defaultStack } from '../../../../test/support/default-stack';
import type { Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { asGateway, testSubgraphSecrets, token, unique } from '../../../../test/support/env';
import { systemKindTotal } from '../../../../test/support/ledger';
import {
  childPoolSize,
  spawnService,
  spawnTransactionSubgraph,
  type ChildService,
} from '../../../../test/support/processes';
import { eventually, outboxDueNow } from '../../../../test/support/bank';
import { readConfig } from '@paygraph/shared/config/env';
import { settlementConfig } from '../../src/config';

/**
 * An advance across two stripes whose settlement process is SIGKILLed between its pieces
 * (SETTLEMENT_FAILPOINT=advance-after-piece), with real processes: the money is set up through
 * the test stack, the advance is asked of a settlement subgraph running as a child process, and
 * a restarted child answers the client's retry with the same key by finishing the advance:
 * every piece posted once, none twice, all or nothing.
 */
let stack: Stack;
let operator: string;
const children: ChildService[] = [];
const q = (doc: string, variables: Record<string, unknown> = {}, as = operator) =>
  gql(stack.gatewayUrl, doc, variables, as);
const kit = new AdvanceKit(
  () => stack,
  () => operator,
);
const { open, stripes, topUps: topUpsOf } = kit;
/**
 * What the settlement subgraph answers alone (the contract's document also selects the merchant's balance from the
 * account subgraph).
 */
const advanceDoc = `mutation A($input: AdvanceSettlementInput!) {
  advanceSettlement(input: $input) { __typename ... on Advance { id status amount feeAmount } ... on UserError { code message } }
}`;

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  await stack?.stop();
});

/** A settlement subgraph child on this run's databases; its workers off, so only the retry can finish the advance. */
async function settlementChild(env: Record<string, string>): Promise<ChildService> {
  const child = await spawnService('settlement', {
    [subgraphSecretVariable('settlement')]: testSubgraphSecrets.settlement,
    MYSQL_POOL_SIZE: String(childPoolSize),
    SETTLEMENT_WORKER_ENABLED: 'false',
    ...env,
  });
  children.push(child);
  return child;
}

/** Pays the merchant 4,000 from a funded payer on each of two physical shards: two stripes with pending. */
async function twoStripesPending(merchant: string): Promise<void> {
  const paid = new Set<number>();
  for (let i = 0; i < 200 && paid.size < 2; i++) {
    const payer = await open(unique('payer'), 'PERSONAL');
    const physical = stack.shards.topology.physicalOf[shardOf('account', payer)]!;
    if (paid.has(physical)) continue;
    const d = await q(contractOperation('Deposit'), {
      input: {
        idempotencyKey: unique('dep'),
        accountId: payer,
        amount: '100000',
        currency: 'USD',
        externalRef: unique('ext'),
      },
    });
    expect(d.data!.deposit.__typename).toBe('Deposit');
    const p = await q(contractOperation('CreatePayment'), {
      input: {
        idempotencyKey: unique('pay'),
        payerAccountId: payer,
        payeeAccountId: merchant,
        amount: '4000',
        currency: 'USD',
      },
    });
    expect(p.data!.createPayment.__typename, JSON.stringify(p)).toBe('Payment');
    paid.add(physical);
  }
  expect(paid.size).toBe(2);
}

/** The advance's pieces on every shard, and its status on the merchant's home shard. */
async function advanceState(merchant: string, advanceId: string) {
  const [rows] = (await stack.shards
    .of('account', merchant)
    .db.execute(sql`SELECT status FROM advances WHERE id = ${advanceId}`)) as unknown as [Array<{ status: string }>];
  const pieces = (
    await Promise.all(
      stack.shards.all.map(async (s) => {
        const [found] = (await s.db.execute(
          sql`SELECT stripe_account_id AS stripe, CAST(amount AS CHAR) AS amount, CAST(fee_amount AS CHAR) AS fee, reversed FROM advance_pieces WHERE advance_id = ${advanceId}`,
        )) as unknown as [Array<{ stripe: string; amount: string; fee: string; reversed: number }>];
        return found.map((r) => ({
          stripe: r.stripe,
          amount: BigInt(r.amount),
          fee: BigInt(r.fee),
          reversed: r.reversed === 1,
        }));
      }),
    )
  ).flat();
  return { status: rows[0]?.status, pieces };
}

async function advanceIdsOf(merchant: string): Promise<string[]> {
  const [rows] = (await stack.shards
    .of('account', merchant)
    .db.execute(sql`SELECT id FROM advances WHERE merchant_account_id = ${merchant}`)) as unknown as [
    Array<{ id: string }>,
  ];
  return rows.map((r) => r.id);
}

describe('the settlement subgraph killed between the pieces of an advance', () => {
  it('leaves one piece posted, and the retry with the same key posts the other once: all or nothing', async () => {
    const owner = unique('kill');
    const merchant = await open(owner, 'MERCHANT');
    await twoStripesPending(merchant);
    const terms = await q(contractOperation('SetAdvanceTerms'), {
      input: { merchantAccountId: merchant, maxAdvanceBps: 10_000, feeBps: 100, outstandingMax: '1000000' },
    });
    expect(terms.data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    const start = await stripes(merchant);
    const feesStart = await systemKindTotal(stack.shards, 'FEE_INCOME', 'USD');
    // 6,000 of 2 × 4,000: a piece of 4,000 on one stripe, 2,000 on the other; the fee of 60 shared 40 / 20.
    const input = { idempotencyKey: unique('adv'), merchantAccountId: merchant, amount: '6000' };

    const doomed = await settlementChild({ SETTLEMENT_FAILPOINT: 'advance-after-piece' });
    await expect(
      gql(doomed.graphqlUrl, advanceDoc, { input }, undefined, await asGateway('settlement', owner, 'customer')),
    ).rejects.toThrow();
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const [advanceId] = await advanceIdsOf(merchant);
    const cut = await advanceState(merchant, advanceId!);
    expect(cut.status).toBe('PENDING');
    expect(cut.pieces.map((p) => [p.amount, p.fee, p.reversed])).toEqual([[4_000n, 40n, false]]);

    const restarted = await settlementChild({});
    const retried = await gql(
      restarted.graphqlUrl,
      advanceDoc,
      { input },
      undefined,
      await asGateway('settlement', owner, 'customer'),
    );
    expect(retried.data!.advanceSettlement).toEqual({
      __typename: 'Advance',
      id: advanceId,
      status: 'PAID',
      amount: '6000',
      feeAmount: '60',
    });
    expect(await advanceIdsOf(merchant)).toEqual([advanceId]);
    const done = await advanceState(merchant, advanceId!);
    expect(done.status).toBe('PAID');
    expect(done.pieces.map((p) => [p.amount, p.fee, p.reversed]).sort()).toEqual([
      [2_000n, 20n, false],
      [4_000n, 40n, false],
    ]);
    const after = await stripes(merchant);
    for (const [id, s0] of start) {
      const piece = done.pieces.find((p) => p.stripe === id);
      expect(after.get(id), id).toEqual({
        pending: s0.pending - (piece?.amount ?? 0n),
        available: s0.available + (piece ? piece.amount - piece.fee : 0n),
      });
    }
    expect(await systemKindTotal(stack.shards, 'FEE_INCOME', 'USD')).toBe(feesStart + 60n);
    // Once more: the same advance, nothing moved again.
    const again = await gql(
      restarted.graphqlUrl,
      advanceDoc,
      { input },
      undefined,
      await asGateway('settlement', owner, 'customer'),
    );
    expect(again.data!.advanceSettlement.id).toBe(advanceId);
    expect(await stripes(merchant)).toEqual(after);
    expect((await q(`{ ledgerHealth { balanced } }`)).data!.ledgerHealth.balanced).toBe(true);
  });
});

describe('the transaction subgraph killed in a refund after an advance, between the top-up from the home row and the refund', () => {
  it("leaves the home row's money in clearing for the relay, and the retry with the same key refunds once, topping up once", async () => {
    const owner = unique('killrefund');
    const merchant = await open(owner, 'MERCHANT');
    // A payer on another shard than the merchant's home: the payment sits on a stripe there.
    let payer = '';
    for (let i = 0; i < 200 && !payer; i++) {
      const candidate = await open(unique('payer'), 'PERSONAL');
      if (stack.shards.of('account', candidate) !== stack.shards.of('account', merchant)) payer = candidate;
    }
    expect(payer).not.toBe('');
    await q(contractOperation('Deposit'), {
      input: {
        idempotencyKey: unique('dep'),
        accountId: payer,
        amount: '10000',
        currency: 'USD',
        externalRef: unique('ext'),
      },
    });
    const paid = await q(contractOperation('CreatePayment'), {
      input: {
        idempotencyKey: unique('pay'),
        payerAccountId: payer,
        payeeAccountId: merchant,
        amount: '4000',
        currency: 'USD',
      },
    });
    const paymentId = paid.data!.createPayment.id as string;
    await q(contractOperation('SetAdvanceTerms'), {
      input: { merchantAccountId: merchant, maxAdvanceBps: 10_000, feeBps: 100, outstandingMax: '1000000' },
    });
    expect(
      (
        await q(contractOperation('AdvanceSettlement'), {
          input: { idempotencyKey: unique('adv'), merchantAccountId: merchant, amount: '4000' },
        })
      ).data!.advanceSettlement.__typename,
    ).toBe('Advance');
    const out = await q(contractOperation('Withdraw'), {
      input: {
        idempotencyKey: unique('wdr'),
        accountId: merchant,
        amount: '3960',
        currency: 'USD',
        externalRef: unique('out'),
      },
    });
    expect(out.data!.withdraw.__typename, JSON.stringify(out)).toBe('Withdrawal');
    expect(
      (await q(contractOperation('SetCreditLimit'), { input: { accountId: merchant, limit: '5000' } })).data!
        .setCreditLimit.__typename,
    ).toBe('Account');
    const stripe = [...(await stripes(merchant)).keys()].find((id) => id !== merchant)!;
    const refundDoc = `mutation R($input: RefundPaymentInput!) {
      refundPayment(input: $input) { __typename ... on Refund { id status amount } ... on UserError { code message } } }`;
    const input = { idempotencyKey: unique('ref'), paymentId, amount: '4000' };
    const as = await asGateway('transaction', owner, 'customer');

    const doomed = await spawnTransactionSubgraph({
      RELAY_ENABLED: 'false',
      TRANSACTION_FAILPOINT: 'top-up-after-debit',
    });
    children.push(doomed);
    await expect(gql(doomed.graphqlUrl, refundDoc, { input }, undefined, as)).rejects.toThrow();
    expect(await doomed.exited, doomed.output()).toEqual({ code: null, signal: 'SIGKILL' });
    // The home row's debit committed (its line in use); the stripe has nothing yet; the money is in clearing.
    const [cut] = await topUpsOf(merchant);
    expect(cut).toMatchObject({ amount: 4_000n, status: 'PROCESSING' });
    expect(await stripes(merchant)).toEqual(
      new Map([
        [merchant, { available: -4_000n, pending: 0n }],
        [stripe, { available: 0n, pending: 0n }],
      ]),
    );

    // Due at once rather than after the inline grace (real time).
    await outboxDueNow(stack.shards, cut!.id);
    const revived = await spawnTransactionSubgraph({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
    children.push(revived);
    await eventually('the relay completes the top-up', 15_000, async () =>
      (await topUpsOf(merchant))[0]?.status === 'SUCCEEDED' ? true : undefined,
    );
    expect((await stripes(merchant)).get(stripe)).toEqual({ available: 4_000n, pending: 0n });

    const retried = await gql(revived.graphqlUrl, refundDoc, { input }, undefined, as);
    expect(retried.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED', amount: '4000' });
    expect(await topUpsOf(merchant)).toEqual([{ ...cut!, status: 'SUCCEEDED' }]);
    expect(await stripes(merchant)).toEqual(
      new Map([
        [merchant, { available: -4_000n, pending: 0n }],
        [stripe, { available: 0n, pending: 0n }],
      ]),
    );
    const again = await gql(revived.graphqlUrl, refundDoc, { input }, undefined, as);
    expect(again.data!.refundPayment.id).toBe(retried.data!.refundPayment.id);
    expect(await stripes(merchant)).toEqual(
      new Map([
        [merchant, { available: -4_000n, pending: 0n }],
        [stripe, { available: 0n, pending: 0n }],
      ]),
    );
    expect((await q(`{ ledgerHealth { balanced } }`)).data!.ledgerHealth.balanced).toBe(true);
  });
});

describe('the transaction subgraph killed in a refund of advanced money, between taking pending from another stripe and bringing it', () => {
  it('leaves the pending in clearing and the advance moved with it; the relay brings it once, and the retry refunds once', async () => {
    const owner = unique('killpending');
    const merchant = await open(owner, 'MERCHANT');
    const payers = await kit.payersOnEveryShard('100000');
    const { home, remote } = await kit.homeAndRemote(payers, merchant);
    expect(remote).not.toBe(home);
    const paymentId = await kit.pay(remote, merchant, '4000');
    await kit.pay(home, merchant, '3000');
    const x = await kit.stripeOf(merchant, remote);
    await kit.termsOk(merchant, 10_000, 100, '1000000');
    // Largest pending first: all 4,000 from X, the stripe of the payment refunded below.
    expect((await kit.advance(merchant, '4000')).data!.advanceSettlement).toMatchObject({
      __typename: 'Advance',
      feeAmount: '40',
    });
    const refundDoc = `mutation R($input: RefundPaymentInput!) {
      refundPayment(input: $input) { __typename ... on Refund { id status amount } ... on UserError { code message } } }`;
    const input = { idempotencyKey: unique('ref'), paymentId, amount: '4000' };
    const as = await asGateway('transaction', owner, 'customer');
    const doomed = await spawnTransactionSubgraph({
      RELAY_ENABLED: 'false',
      TRANSACTION_FAILPOINT: 'top-up-after-debit',
    });
    children.push(doomed);
    await expect(gql(doomed.graphqlUrl, refundDoc, { input }, undefined, as)).rejects.toThrow();
    expect(await doomed.exited, doomed.output()).toEqual({ code: null, signal: 'SIGKILL' });
    // The home row's 3,000 pending left it, and the advance with it: 3,000 now stands against the home row's money.
    const [cut] = await topUpsOf(merchant);
    expect(cut).toMatchObject({ from: merchant, to: x, amount: 3_000n, status: 'PROCESSING' });
    expect(await stripes(merchant)).toEqual(
      new Map([
        [merchant, { available: 0n, pending: 0n }],
        [x, { available: 3_960n, pending: 0n }],
      ]),
    );
    expect(await kit.outstanding(merchant)).toEqual(
      new Map([
        [merchant, 3_000n],
        [x, 4_000n],
      ]),
    );

    await outboxDueNow(stack.shards, cut!.id);
    const revived = await spawnTransactionSubgraph({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
    children.push(revived);
    await eventually('the relay brings the pending', 15_000, async () =>
      (await topUpsOf(merchant))[0]?.status === 'SUCCEEDED' ? true : undefined,
    );
    expect((await stripes(merchant)).get(x)).toEqual({ available: 3_960n, pending: 3_000n });
    expect((await kit.outstanding(merchant)).get(x)).toBe(1_000n);

    const retried = await gql(revived.graphqlUrl, refundDoc, { input }, undefined, as);
    expect(retried.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED', amount: '4000' });
    const again = await gql(revived.graphqlUrl, refundDoc, { input }, undefined, as);
    expect(again.data!.refundPayment.id).toBe(retried.data!.refundPayment.id);
    // Pending first: the 3,000 brought, then 1,000 of the advance's available; moved once.
    expect(await kit.moves(retried.data!.refundPayment.id as string)).toEqual([
      { from: merchant, to: x, bucket: 'PENDING', amount: 3_000n, status: 'SUCCEEDED' },
    ]);
    expect(await stripes(merchant)).toEqual(
      new Map([
        [merchant, { available: 0n, pending: 0n }],
        [x, { available: 2_960n, pending: 0n }],
      ]),
    );
    await kit.settle(merchant);
    expect(await kit.outstanding(merchant)).toEqual(
      new Map([
        [merchant, 0n],
        [x, 0n],
      ]),
    );
    expect(await stripes(merchant)).toEqual(
      new Map([
        [merchant, { available: 0n, pending: 0n }],
        [x, { available: 2_960n, pending: 0n }],
      ]),
    );
    await kit.booksAgree();
  });
});

describe('SETTLEMENT_FAILPOINT', () => {
  it('is refused in production and must name a known failpoint', () => {
    const base = {
      SUBGRAPH_SECRET_SETTLEMENT: testSubgraphSecrets.settlement,
      LEDGER_MAC_KEY: 'k1:a-key-for-the-failpoint-test',
    };
    const failpointOf = (env: Record<string, string>) => readConfig(settlementConfig, { ...base, ...env }).failpoint;
    expect(failpointOf({ NODE_ENV: 'test', SETTLEMENT_FAILPOINT: 'advance-after-piece' })).toBe('advance-after-piece');
    expect(failpointOf({ NODE_ENV: 'production' })).toBeNull();
    expect(() => failpointOf({ NODE_ENV: 'production', SETTLEMENT_FAILPOINT: 'advance-after-piece' })).toThrow(
      /SETTLEMENT_FAILPOINT is set \("advance-after-piece"\) with NODE_ENV=production/,
    );
    expect(() => failpointOf({ NODE_ENV: 'test', SETTLEMENT_FAILPOINT: 'advance-after-pice' })).toThrow(
      /SETTLEMENT_FAILPOINT must be one of advance-after-piece, got "advance-after-pice"/,
    );
  });
});
