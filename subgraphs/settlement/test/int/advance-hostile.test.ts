import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultStack } from '../../../../test/support/default-stack';
import type { Stack } from '../../../../test/support/stack';
import { errorCodes } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { AdvanceKit, sum } from '../../../../test/support/advances';
import { advanceFeeOf } from '../../src/domain/fees';

/**
 * Issue 45's hostile merchant, with ordinary tokens through the gateway: a refund of advanced
 * money takes the merchant's pending on any stripe first, then its available, then its credit
 * line (never an internal stripe named in a refusal); a retried advance answers the advance it
 * paid whatever changed since; the advance fee rounds up, so splitting an advance saves nothing.
 * Every test checks each stripe's pending, available and outstanding advance to the unit, fee
 * income, reconciliation and `npm run verify`'s check of outstanding advances (booksAgree).
 */
let stack: Stack;
let operator: string;
const kit = new AdvanceKit(
  () => stack,
  () => operator,
);
const { q, open, pay, refund, stripes, balanceOf, outstanding, termsOk, feeRate } = kit;
const { advance, offer, feeIncome, settle, booksAgree, advanceRows } = kit;
const statusDoc = (m: 'freezeAccount' | 'unfreezeAccount') =>
  `mutation($id: ID!) { ${m}(id: $id) { __typename ... on Account { id status } ... on UserError { code message } } }`;

let payers: Map<number, string>;

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
  payers = await kit.payersOnEveryShard('10000000');
});

afterAll(async () => {
  await stack?.stop();
});

/** A merchant of a fresh owner, with the payer on its home shard and one on another shard. */
async function merchantWithPayers(prefix: string) {
  const owner = unique(prefix);
  const ownerToken = await token(owner, 'customer');
  const merchant = await open(owner, 'MERCHANT');
  const { home, remote } = kit.homeAndRemote(payers, merchant);
  expect(remote).not.toBe(home);
  return { owner, ownerToken, merchant, home, remote };
}

describe('a retried advance answers the advance it paid, whatever changed since', () => {
  it('terms to 0 bps, a refund of its money, a freeze: the replay is the same advance; another body is reused; nothing moves', async () => {
    const { owner, ownerToken, merchant, home, remote } = await merchantWithPayers('replay');
    const rivalOwner = unique('rival');
    const rivalToken = await token(rivalOwner, 'customer');
    const rival = await open(rivalOwner, 'MERCHANT');
    const d = await pay(remote, merchant, '10000');
    await pay(home, merchant, '10000');
    await termsOk(merchant, 5_000, 100, '1000000');
    const key = unique('adv');
    const a = (await advance(merchant, '5000', ownerToken, key)).data!.advanceSettlement;
    expect(a).toMatchObject({ __typename: 'Advance', amount: '5000', feeAmount: '50', netAmount: '4950' });
    const same = async (as = ownerToken) => {
      const again = (await advance(merchant, '5000', as, key)).data!.advanceSettlement;
      expect(again, JSON.stringify(again)).toMatchObject({ __typename: 'Advance', id: a.id, amount: '5000' });
    };
    // A refund of advanced money in between, then the same key: the same advance, nothing moved.
    expect(await refund(d, '10000', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    const after = await stripes(merchant);
    const feesAfter = await feeIncome();
    await same();
    await termsOk(merchant, 0, 100, '1000000');
    await same();
    expect((await advance(merchant, '5000', ownerToken)).data!.advanceSettlement).toMatchObject({
      code: 'ADVANCES_DISABLED',
    });
    expect((await q(statusDoc('freezeAccount'), { id: merchant })).data!.freezeAccount.status).toBe('FROZEN');
    await same();
    expect((await advance(merchant, '4000', ownerToken, key)).data!.advanceSettlement).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect((await advance(merchant, '5000', ownerToken)).data!.advanceSettlement).toMatchObject({
      code: 'INVALID_INPUT',
    });
    // Another owner: the first merchant's key on it is FORBIDDEN before any key is looked up; on its own merchant the
    // key is its own (no terms there: disabled), never the first merchant's advance.
    expect(errorCodes(await advance(merchant, '5000', rivalToken, key))).toEqual(['FORBIDDEN']);
    expect((await advance(rival, '5000', rivalToken, key)).data!.advanceSettlement).toMatchObject({
      code: 'ADVANCES_DISABLED',
    });
    // A partner of the same owner is no one to answer an advance to.
    expect(errorCodes(await advance(merchant, '5000', await token(owner, 'partner'), key))).toEqual(['FORBIDDEN']);
    expect(await stripes(merchant)).toEqual(after);
    expect(await feeIncome()).toBe(feesAfter);
    expect(await advanceRows(merchant)).toHaveLength(1);
    expect((await q(statusDoc('unfreezeAccount'), { id: merchant })).data!.unfreezeAccount.status).toBe('ACTIVE');
    await same();
    await settle(merchant);
    expect(sum((await outstanding(merchant)).values())).toBe(0n);
    await booksAgree();
  });
});

describe('the advance fee rounds up: splitting saves nothing', () => {
  it('ten advances of 49 at 1% pay 1 each, one of 490 pays 5: never less than the whole', async () => {
    const { ownerToken, merchant, remote } = await merchantWithPayers('splitter');
    await pay(remote, merchant, '980');
    await termsOk(merchant, 10_000, 100, '1000000');
    await feeRate(merchant, 0);
    const feesStart = await feeIncome();
    for (let i = 0; i < 10; i++)
      expect((await advance(merchant, '49', ownerToken)).data!.advanceSettlement).toMatchObject({
        __typename: 'Advance',
        feeAmount: String(advanceFeeOf(49n, 100)),
      });
    expect(advanceFeeOf(49n, 100)).toBe(1n);
    expect((await advance(merchant, '490', ownerToken)).data!.advanceSettlement).toMatchObject({
      __typename: 'Advance',
      feeAmount: '5',
    });
    expect((await feeIncome()) - feesStart).toBe(15n);
    expect(await offer(merchant, ownerToken)).toMatchObject({ allowedAmount: '0', feeBps: 100 });
    const s = await settle(merchant);
    expect(s.advancedAmount).toBe(980n);
    expect(await balanceOf(merchant)).toEqual({ available: 980n - 15n, pending: 0n });
    await booksAgree();
  });
});
