import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { transferOutbox } from '@paygraph/transaction/db/schema/transactions';
import { asGateway, token, unique } from '../../../../test/support/env';
import { gql } from '../../../../test/support/graphql';
import { eventually, outboxDueNow, resourceOfKey } from '../../../../test/support/bank';
import { linkedMoneyDocs, registeredChannel } from '../../../../test/support/links';
import { eventsUntil, LinkMoves, linkEventDocs, polledEvents } from '../../../../test/support/link-events';
import { type MoneyKit, useMoneyStack } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import { subscribe } from '../../../../test/support/ws';
import { transactionChildren } from '../../../../test/support/processes';

/**
 * A payout to a linked account whose process dies after the withdrawal committed and before its event was
 * written (TRANSACTION_FAILPOINT=payout-before-event): the outbox row written with the withdrawal makes the event
 * certain, once. The transaction subgraph runs as a real child process on the same databases as the in-process
 * stack, which links, verifies and follows the owner's events through its gateway.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));
const children = transactionChildren();
/** The restarted relay takes the row in its first passes (outboxDueNow); the rest is slack for a loaded machine. */
const relayWaitMs = 15_000;

let moves: LinkMoves;
beforeAll(async () => {
  moves = new LinkMoves(stack.gatewayUrl, await registeredChannel(kit.operator, stack.gatewayUrl));
});

afterAll(async () => {
  await children.killAll();
});

async function outboxOf(withdrawalId: string) {
  return stack.shards
    .of('withdrawal', withdrawalId)
    .db.select()
    .from(transferOutbox)
    .where(eq(transferOutbox.id, withdrawalId));
}

describe("a payout's event after a crash", () => {
  it('is written once by the restarted relay, however often the step runs; a replay writes no other', async () => {
    const ownerId = unique('links-crash');
    const jwt = await token(ownerId, 'customer');
    const account = await kit.open(ownerId, { currency: 'EUR' });
    await kit.fund(account, '10000', 'EUR');
    const linkId = await moves.link(jwt, ownerId);
    await moves.decide(linkId, true);
    const before = await polledEvents(stack.gatewayUrl, jwt, ownerId);
    expect(before.map((e) => e.type)).toEqual(['LINKED', 'VERIFIED']);
    const stream = subscribe(stack.gatewayWsUrl, {
      authorization: `Bearer ${jwt}`,
      query: linkEventDocs.subscription,
      variables: { ownerId, after: before.at(-1)!.cursor },
      responseKey: 'externalAccountChanged',
    });

    const input = { idempotencyKey: unique('w'), accountId: account, amount: '300', currency: 'EUR' };
    const payout = { ...input, externalAccountId: linkId };
    const doomed = await children.spawn({ RELAY_ENABLED: 'false', TRANSACTION_FAILPOINT: 'payout-before-event' });
    const asOwner = await asGateway('transaction', ownerId, 'customer');
    await expect(
      gql(doomed.graphqlUrl, linkedMoneyDocs.withdraw, { input: payout }, undefined, asOwner),
    ).rejects.toThrow();
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // The withdrawal committed with its outbox row; its event was never written.
    const id = (await resourceOfKey(stack.shards, ownerId, input.idempotencyKey))!;
    expect(id).toMatch(/^wdr_/);
    expect(await outboxOf(id)).toMatchObject([{ step: 'PAYOUT_EVENT', status: 'PENDING' }]);
    expect(await polledEvents(stack.gatewayUrl, jwt, ownerId)).toEqual(before);

    await outboxDueNow(stack.shards, id);
    const revived = await children.spawn({ RELAY_ENABLED: 'true', RELAY_INTERVAL_MS: '200' });
    await eventually('the relay writes the event', relayWaitMs, async () =>
      (await outboxOf(id))[0]?.status === 'DONE' ? true : undefined,
    );
    const [told] = await eventsUntil(stream, 1, 'the payout event on the stream');
    expect(told).toMatchObject({ sequence: 3, type: 'PAYOUT', payout: { id, amount: '300' } });

    // The step again, as after a crash between the event and the row's taking: nothing more is written.
    await stack.shards
      .of('withdrawal', id)
      .db.update(transferOutbox)
      .set({ status: 'PENDING' })
      .where(eq(transferOutbox.id, id));
    await outboxDueNow(stack.shards, id);
    await eventually('the relay takes the row again', relayWaitMs, async () =>
      (await outboxOf(id))[0]?.status === 'DONE' ? true : undefined,
    );
    // The client never saw an answer and retries: the same withdrawal, and no second event.
    const retried = await gql(revived.graphqlUrl, linkedMoneyDocs.withdraw, { input: payout }, undefined, asOwner);
    expect(retried.data!.withdraw).toMatchObject({ __typename: 'Withdrawal', id });
    const after = await polledEvents(stack.gatewayUrl, jwt, ownerId);
    expect(after.map((e) => e.type)).toEqual(['LINKED', 'VERIFIED', 'PAYOUT']);
    expect(stream.events).toHaveLength(1);
    await stream.close();
  });
});
