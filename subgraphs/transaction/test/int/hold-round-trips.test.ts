import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, type Stack } from '../../../../test/support/stack';
import { token, unique } from '../../../../test/support/env';
import { gql } from '../../../../test/support/graphql';
import { toLogicalShard } from '@paygraph/shared/ids';
import { moneyKit, type Answer, type MoneyKit } from '../../../../test/support/money';

/**
 * What a hold costs the databases, created and then captured whole into a merchant's stripe (the
 * benchmark's b-hot-merchant-holds): statements and round trips per shard, counted while a lone
 * request runs. The capture's endings are decided as a group in the posting transaction (one
 * locking read of the batch's holds, their updates held for the next round trip), its hold and
 * account reads and its key claim coalesce with other requests', and the answer's `hold` is the
 * hold as the capture left it, not read back. Each figure here would grow by one if a step
 * came back as a round trip of its own.
 */
let stack: Stack;
let kit: MoneyKit;

beforeAll(async () => {
  stack = await startStack();
  kit = await moneyKit(stack);
});

afterAll(async () => {
  await stack.stop();
});

/** The contract's documents without the payer's balance, which is the account subgraph's read. */
const movementOnly = {
  createHold: 'mutation($input: CreateHoldInput!) { createHold(input: $input) { __typename ... on Hold { id status } ... on UserError { code } } }',
  captureHold: `mutation($input: CaptureHoldInput!) { captureHold(input: $input) { __typename
    ... on Payment { id status amount hold { id status capturedAmount } } ... on UserError { code } } }`,
};

interface Cost {
  statements: number[];
  roundTrips: number[];
}

async function costOf(fn: () => Promise<Answer>): Promise<{ answer: Answer; cost: Cost }> {
  const shards = stack.shards.all;
  const statements = shards.map((s) => s.queryCount);
  const roundTrips = shards.map((s) => s.pool.roundTrips);
  const answer = await fn();
  return {
    answer,
    cost: { statements: shards.map((s, i) => s.queryCount - statements[i]!), roundTrips: shards.map((s, i) => s.pool.roundTrips - roundTrips[i]!) },
  };
}

describe('a hold created and captured into a merchant stripe', () => {
  it('costs the payer\'s shard 4 round trips to create and 6 to capture, the merchant\'s home one read each, no other shard anything', async () => {
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
      const created = await costOf(() => gql(stack.gatewayUrl, movementOnly.createHold, {
        input: { idempotencyKey: unique('h'), payerAccountId: payer, payeeAccountId: merchant, amount: '100', currency: 'USD' },
      }, bearer));
      expect(created.answer.errors).toBeUndefined();
      expect(created.answer.data!.createHold).toMatchObject({ __typename: 'Hold', status: 'HELD' });
      const holdId = created.answer.data!.createHold.id as string;
      const captured = await costOf(() => gql(stack.gatewayUrl, movementOnly.captureHold, { input: { idempotencyKey: unique('c'), holdId } }, bearer));
      expect(captured.answer.errors).toBeUndefined();
      expect(captured.answer.data!.captureHold).toMatchObject({
        __typename: 'Payment', status: 'SUCCEEDED', amount: '100', hold: { id: holdId, status: 'CAPTURED', capturedAmount: '100' },
      });
      return { create: created.cost, capture: captured.cost };
    };
    // The first capture into this merchant opens its stripe on the payer's shard: not measured.
    await holdAndCapture();
    const { create, capture } = await holdAndCapture();
    const elsewhere = (counts: number[]) => counts.filter((_, i) => i !== payerShard && i !== merchantHome && i !== control);
    // Create: the accounts read (payer's shard; the merchant's home row on its own), the key's
    // claim, and the posting transaction (lock and read, then every write with COMMIT).
    expect(create.roundTrips[payerShard]).toBe(4);
    expect(create.roundTrips[merchantHome]).toBe(1);
    expect(elsewhere(create.roundTrips)).toEqual(elsewhere(create.roundTrips).map(() => 0));
    // Capture: the hold's read, the accounts read, the key's claim, then the posting transaction:
    // the group's locking read of the hold, the accounts' lock and prior outcomes, the writes
    // with COMMIT. Not the hold's update (held) nor a read of the hold for the answer.
    expect(capture.roundTrips[payerShard]).toBe(6);
    expect(capture.roundTrips[merchantHome]).toBe(1);
    expect(elsewhere(capture.roundTrips)).toEqual(elsewhere(capture.roundTrips).map(() => 0));
    // Statements (several may share a round trip): the capture's are the create's plus the hold's
    // read, its locking read and its update. Counted on the two shards the hold touches.
    const touched = (counts: number[]) => counts[payerShard]! + counts[merchantHome]!;
    expect({ create: touched(create.statements), capture: touched(capture.statements) }).toEqual({ create: 10, capture: 13 });
  });
});
