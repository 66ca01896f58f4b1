import { describe, expect, it } from 'vitest';
import { toLogicalShard } from '@paygraph/shared/ids';
import { payerFactsCached } from '@paygraph/transaction/services/payer-facts';
import type { Stack } from '../../../../test/support/stack';
import { token, unique } from '../../../../test/support/env';
import { paymentEnded } from '../../../../test/support/bank';
import { errorCodes } from '../../../../test/support/graphql';
import { shardCostOf } from '../../../../test/support/shard-cost';
import { type Answer, type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * A payer's facts kept by the caller who paid from it (services/payer-facts.ts): its next payment reads nothing of the
 * payer before the posting, which decides on the payer's status and balances under its lock as it always did. Kept
 * per caller: another caller reads the row and is refused as before.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

/** CreatePayment asking for the movement only: the contract's document also reads balances (the account subgraph's). */
const paymentOnly =
  'mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename ... on Payment { id status } ... on UserError { code } } }';

/** Two databases away from the gateway's audit trail (logical shard 0), whose writes would be counted too. */
function twoShards(): [number, number] {
  const control = stack.shards.byLogical(toLogicalShard(0)).index;
  return stack.shards.all.map((s) => s.index).filter((i) => i !== control) as [number, number];
}

function paid(answer: Answer): void {
  expect(answer.errors).toBeUndefined();
  expect(answer.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
}

describe("a payer's facts kept by the caller who paid from it", () => {
  it("reads the payer's shard for its first cross-shard payment and not for the next", async () => {
    const [payerShard, payeeShard] = twoShards();
    const owner = unique('kept-payer');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner, { physical: payerShard });
    const payee = await kit.open(unique('kept-payee'), { physical: payeeShard });
    await kit.fund(payer, '1000');
    // The route's clearing account is read once per process: another payer's payment warms it.
    const warm = await kit.open(unique('kept-warm'), { physical: payerShard });
    await kit.fund(warm, '10');
    // Its ending follows its answer (endings-in-flight.ts): waited for, so that it lands in no count below.
    await paymentEnded(await kit.paid(kit.operator, { payer: warm, payee, amount: '1' }));
    const cost = () =>
      shardCostOf(stack.shards.all, async () => {
        const answer = await kit.pay(bearer, { payer, payee, amount: '10', key: unique('k') }, paymentOnly);
        paid(answer);
        await paymentEnded(answer.data!.createPayment.id as string);
        return answer;
      });
    expect(payerFactsCached(owner).entries).toBe(0);
    const first = await cost();
    expect(payerFactsCached(owner).entries).toBe(1);
    const next = await cost();
    // [round trips on the payer's shard, on the payee's]: the payer's read is the one round trip less.
    expect([first.roundTrips[payerShard], first.roundTrips[payeeShard]]).toEqual([5, 3]);
    expect([next.roundTrips[payerShard], next.roundTrips[payeeShard]]).toEqual([4, 3]);
    expect((await kit.balance(payer)).available).toBe('980');
  });

  it("never answers one caller with another's kept payer: a stranger is refused and writes nothing", async () => {
    const owner = unique('kept-owner');
    const bearer = await token(owner, 'customer');
    const strangerOwner = unique('kept-stranger');
    const stranger = await token(strangerOwner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('kept-to'));
    const theirs = await kit.open(strangerOwner);
    await kit.fund(payer, '1000');
    await kit.paid(bearer, { payer, payee, amount: '100' });
    const before = await kit.snapshot([payer, payee, theirs]);

    const byStranger = await kit.pay(stranger, { payer, payee: theirs, amount: '100' });
    expect(errorCodes(byStranger)).toEqual(['FORBIDDEN']);
    // The partner of the same owner shares its caller id: the kept facts are found, and the rule still refuses it.
    const byPartner = await kit.pay(await token(owner, 'partner'), { payer, payee, amount: '100' });
    expect(errorCodes(byPartner)).toEqual(['FORBIDDEN']);
    expect(payerFactsCached(strangerOwner).entries).toBe(0);
    expect(await kit.snapshot([payer, payee, theirs])).toEqual(before);
    // An operator may pay from any account: its first payment from this one reads it.
    paid(await kit.pay(kit.operator, { payer, payee, amount: '50' }));
    expect((await kit.balance(payer)).available).toBe('850');
  });

  it('leaves status and balances to the posting: a payer frozen after its owner paid from it is refused, writing nothing', async () => {
    const owner = unique('kept-frozen');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('kept-frozen-to'));
    await kit.fund(payer, '1000');
    await kit.paid(bearer, { payer, payee, amount: '100' });
    await kit.freeze(payer);
    const before = await kit.snapshot([payer, payee]);

    const frozen = await kit.pay(bearer, { payer, payee, amount: '100' });
    expect(frozen.errors).toBeUndefined();
    expect(frozen.data!.createPayment).toMatchObject({ __typename: 'AccountNotActive', code: 'ACCOUNT_NOT_ACTIVE' });
    const short = await kit.pay(bearer, { payer, payee, amount: '901' });
    expect(short.data!.createPayment).toMatchObject({ __typename: 'AccountNotActive' });
    expect(await kit.snapshot([payer, payee])).toEqual(before);
  });
});
