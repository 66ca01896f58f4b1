import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { asGateway, testShards, unique } from '../../../../test/support/env';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { depositFromReserve } from '../../../../test/support/ledger';
import {
  accountRows,
  clearingAgainstInFlight,
  eventually,
  insertAccountOn,
  outboxDueNow,
  outboxRow,
  paymentRow,
  postingsByDedupeKey,
  resourceOfKey,
} from '../../../../test/support/bank';
import { closeInSql } from '../../../../test/support/money';
import { transactionChildren } from '../../../../test/support/processes';

/**
 * A payment of many legs whose process dies between two legs (SIGKILL at each failpoint of
 * services/leg-payment.ts), with its legs on four databases: payer, the campaign's funding
 * account, payee and a split. A restarted process's relay must finish it exactly once — or,
 * when a leg can no longer post, fail it with every posted leg reversed — and a client retrying
 * with the same key must get the final payment back, moving nothing more.
 */
let shards: ShardSet;
let operatorId: string;
const children = transactionChildren();
const payDoc = contractOperation('CreateMarketplacePayment');
/**
 * CreateCampaign with only what this subgraph answers alone (the contract's also selects the funding account's
 * balance).
 */
const campaignDoc =
  'mutation C($input: CreateCampaignInput!) { createCampaign(input: $input) { __typename ... on Campaign { id } ... on UserError { code message } } }';
/**
 * The restarted relay takes the row in its first passes (outboxDueNow: no waiting out the inline grace); the rest is
 * slack for a loaded machine.
 */
const completionTimeoutMs = 15_000;

beforeAll(() => {
  shards = testShards(2);
  operatorId = unique('legs-crash-operator');
});

afterAll(async () => {
  await children.killAll();
  await shards.close();
});

async function asOperator() {
  return asGateway('transaction', operatorId, 'operator');
}

async function totals(ids: readonly string[]): Promise<bigint[]> {
  const rows = await accountRows(shards, ids);
  return ids.map((id) => {
    const row = rows.get(id)!;
    return row.available + row.frozen + row.pending;
  });
}

async function expectClearingAccountedFor(): Promise<void> {
  const seen = await clearingAgainstInFlight(shards, 'USD');
  expect(seen.agreed, `Σ clearing ${seen.clearing} ≠ in flight ${seen.inFlight.amount}`).toBe(true);
}

const failpoints = ['legs-after-paying', 'legs-after-home', 'legs-after-receiving'] as const;

describe('a payment of many legs killed between two legs', () => {
  for (const failpoint of failpoints) {
    for (const ending of ['SUCCEEDED', 'FAILED'] as const) {
      // After the receiving legs nothing can be refused any more: that point only succeeds.
      if (failpoint === 'legs-after-receiving' && ending === 'FAILED') continue;
      it(`is ${ending} exactly once after a SIGKILL at ${failpoint}`, async () => {
        const n = shards.all.length;
        const [payer, funding, payee, split] = await Promise.all(
          [0, 1, 2, 3].map((i) => insertAccountOn(shards, i % n, unique(`legs-crash-${i}`))),
        );
        expect((await depositFromReserve(shards, payer!, 10_000n)).status).toBe('APPLIED');
        expect((await depositFromReserve(shards, funding!, 10_000n)).status).toBe('APPLIED');
        const doomed = await children.spawn({ RELAY_ENABLED: 'false', TRANSACTION_FAILPOINT: failpoint });
        const created = await gql(
          doomed.graphqlUrl,
          campaignDoc,
          { input: { idempotencyKey: unique('c'), fundingAccountId: funding, amountOff: '500' } },
          undefined,
          await asOperator(),
        );
        expect(created.errors).toBeUndefined();
        expect(created.data!.createCampaign.__typename).toBe('Campaign');
        const input = {
          idempotencyKey: unique('legs-crash-pay'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '4000',
          currency: 'USD',
          splits: [{ accountId: split, amount: '1000' }],
          campaignId: created.data!.createCampaign.id,
        };
        await expect(gql(doomed.graphqlUrl, payDoc, { input }, undefined, await asOperator())).rejects.toThrow();
        expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

        const id = (await resourceOfKey(shards, operatorId, input.idempotencyKey))!;
        expect(await paymentRow(shards, id)).toMatchObject({
          status: 'PROCESSING',
          route: 'LEGS',
          discountAmount: 500n,
        });
        expect(await outboxRow(shards, 'payment', id)).toMatchObject({ step: 'PAYMENT_LEGS', status: 'PENDING' });
        await expectClearingAccountedFor();
        // A leg that has not posted yet and can no longer: the split (a receiving leg) closes.
        if (ending === 'FAILED') await closeInSql(shards, split!);

        await outboxDueNow(shards, id);
        const revived = await children.spawn({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
        const done = await eventually('the relay finishes the payment', completionTimeoutMs, async () => {
          const row = await paymentRow(shards, id);
          return row?.status === 'PROCESSING' ? undefined : row;
        });
        expect(done).toMatchObject({ status: ending });
        expect(await outboxRow(shards, 'payment', id)).toMatchObject({ status: 'DONE' });
        const expected = ending === 'SUCCEEDED' ? [6_500n, 9_500n, 3_000n, 1_000n] : [10_000n, 10_000n, 0n, 0n];
        expect(await totals([payer!, funding!, payee!, split!])).toEqual(expected);
        const keys = [
          id,
          `${id}:leg:1`,
          `${id}:leg:2`,
          `${id}:leg:3`,
          `${id}:reverse`,
          `${id}:leg:1:reverse`,
          `${id}:leg:2:reverse`,
        ];
        const posted = (await postingsByDedupeKey(shards, keys)).map((p) => p.dedupeKey).sort();
        expect(posted).toEqual(
          (ending === 'SUCCEEDED'
            ? [id, `${id}:leg:1`, `${id}:leg:2`, `${id}:leg:3`]
            : [id, `${id}:leg:1`, `${id}:leg:1:reverse`, `${id}:leg:2`, `${id}:leg:2:reverse`, `${id}:reverse`]
          ).sort(),
        );
        await expectClearingAccountedFor();

        // The client never saw an answer, so it retries: the same payment, final, and no more money.
        const retried = await gql(revived.graphqlUrl, payDoc, { input }, undefined, await asOperator());
        expect(retried.data!.createPayment).toMatchObject({ __typename: 'Payment', id, status: ending });
        expect(await totals([payer!, funding!, payee!, split!])).toEqual(expected);
        await revived.kill();
      });
    }
  }
});
