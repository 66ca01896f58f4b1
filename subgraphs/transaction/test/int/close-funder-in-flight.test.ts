import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { log } from '@paygraph/shared/log';
import { extendContext, type AccountContext, type BalanceServices } from '@paygraph/account/context';
import { changeStatus } from '@paygraph/account/services/accounts';
import { runOutboxStep } from '@paygraph/transaction/services/relay';
import { asGateway, testShards, unique } from '../../../../test/support/env';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { depositFromReserve } from '../../../../test/support/ledger';
import { accountRows, insertAccountOn, paymentRow, resourceOfKey } from '../../../../test/support/bank';
import { closeInSql } from '../../../../test/support/money';
import { transactionChildren } from '../../../../test/support/processes';

/**
 * A campaign's funding account pays a leg of each payment naming the campaign, and that payment lives on its payer's
 * database. While it is PROCESSING, the funder's leg may still come back to it (a reversal when a later leg is refused,
 * a completion posted whatever the funder's status): a close that read the funder's home database alone saw nothing in
 * flight and closed it, and the reversal then left the discount in a CLOSED account for good. The process dies after
 * the paying legs posted (failpoint legs-after-paying), so the payment stays PROCESSING until the test runs its step.
 */
let shards: ShardSet;
let operatorId: string;
const children = transactionChildren();
const payDoc = contractOperation('CreateMarketplacePayment');
const campaignDoc =
  'mutation C($input: CreateCampaignInput!) { createCampaign(input: $input) { __typename ... on Campaign { id } ... on UserError { code message } } }';

beforeAll(() => {
  shards = testShards(2);
  operatorId = unique('close-funder-operator');
});

afterAll(async () => {
  await children.killAll();
  await shards.close();
});

/** The account subgraph's status change as an operator asks it (no balance stream is read by it). */
function operator(): AccountContext {
  return extendContext({ identity: { sub: operatorId, role: 'operator' }, shards, log: log() }, {} as BalanceServices);
}

async function totalOf(id: string): Promise<bigint> {
  const row = (await accountRows(shards, [id])).get(id)!;
  return row.available + row.frozen + row.pending;
}

describe("a campaign funder's close while a payment of legs it paid into is PROCESSING", () => {
  it('is refused, counting its leg, and the reversal gives the leg back to an ACTIVE funder', async () => {
    const n = shards.all.length;
    const payer = await insertAccountOn(shards, 0, unique('close-funder-payer'));
    const funding = await insertAccountOn(shards, 1 % n, unique('close-funder-funding'));
    const payee = await insertAccountOn(shards, 0, unique('close-funder-payee'));
    expect((await depositFromReserve(shards, payer, 10_000n)).status).toBe('APPLIED');
    expect((await depositFromReserve(shards, funding, 500n)).status).toBe('APPLIED');
    const doomed = await children.spawn({ RELAY_ENABLED: 'false', TRANSACTION_FAILPOINT: 'legs-after-paying' });
    const bearer = await asGateway('transaction', operatorId, 'operator');
    const input = { idempotencyKey: unique('c'), fundingAccountId: funding, amountOff: '500' };
    const created = await gql(doomed.graphqlUrl, campaignDoc, { input }, undefined, bearer);
    expect(created.data!.createCampaign.__typename).toBe('Campaign');
    const payment = {
      idempotencyKey: unique('close-funder-pay'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '4000',
      currency: 'USD',
      campaignId: created.data!.createCampaign.id,
    };
    await expect(gql(doomed.graphqlUrl, payDoc, { input: payment }, undefined, bearer)).rejects.toThrow();
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const id = (await resourceOfKey(shards, operatorId, payment.idempotencyKey))!;
    expect(await paymentRow(shards, id)).toMatchObject({ status: 'PROCESSING', route: 'LEGS' });
    // The funder paid its whole balance into the discount: zero on every row, its leg on its way.
    expect(await totalOf(funding)).toBe(0n);

    // Before, it closed.
    expect(await changeStatus(operator(), funding, 'close')).toEqual({
      ok: false,
      error: { kind: 'AccountBalanceNotZero', total: 500n },
    });

    // The payer may pay no more: the home posting is refused and the funder's leg reversed into it, still ACTIVE.
    await closeInSql(shards, payer);
    await runOutboxStep(shards, shards.of('payment', id), id, () => new Date());
    expect(await paymentRow(shards, id)).toMatchObject({ status: 'FAILED' });
    expect(await totalOf(funding)).toBe(500n);
    expect((await accountRows(shards, [funding])).get(funding)!.status).toBe('ACTIVE');
  });
});
