import { describe, expect, it } from 'vitest';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { runOutboxStep } from '@paygraph/transaction/services/relay';
import {
  accountRowOf,
  closeInSql,
  crossShardPaymentFirstHalf,
  physicalOf,
  type MoneyKit,
} from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import {
  fastDispatch,
  gapFree,
  madeEndpoint,
  sequencesOf,
  storedOf,
  waitFor,
  webhookDocs,
  useWebhookStack,
  partnerWithAccounts,
  type WebhookStack,
} from '../support/webhooks';

/**
 * Delivery end to end: payments through the gateway, the dispatcher in the webhooks subgraph,
 * a real HTTP receiver in this process verifying every signature with the standardwebhooks
 * library, as a partner's code would.
 */
let stack: Stack;
let kit: MoneyKit;
let receiver: WebhookStack['receiver'];
useWebhookStack(
  { webhooks: { dispatcher: true, settings: fastDispatch } },
  (started) => ({ stack, kit, receiver } = started),
);

/**
 * What a test waits for before it says an endpoint was sent nothing more, instead of waiting a
 * while: another endpoint, registered now on the same account, and one more payment. The
 * dispatcher signs with the endpoints it last read, so once the new endpoint has the payment's
 * event, a refresh has read every endpoint since the moment before (a disable included), and
 * whatever it would send the first for that payment it would have sent.
 */
async function paidAndSeenElsewhere(bearer: string, payer: string, payee: string): Promise<void> {
  const witness = await receiver();
  await madeEndpoint(stack.gatewayUrl, bearer, {
    url: witness.url,
    eventTypes: ['balance.changed'],
    accountIds: [payer],
  });
  await kit.paid(kit.operator, { payer, payee, amount: '1' });
  await waitFor(
    'the witness endpoint to receive the payment',
    () => witness.received.length,
    (n) => n >= 1,
  );
}

describe('webhook delivery', () => {
  it('delivers every entry of an account in order, gap-free, signed, under 20 concurrent payments', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks');
    const hooks = await receiver();
    const { id, secret } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hooks.url,
      eventTypes: ['balance.changed', 'payment.succeeded'],
      accountIds: [payer, payee],
    });
    hooks.verifyWith(secret);
    const payments = await Promise.all(
      Array.from({ length: 20 }, (_, i) => kit.paid(kit.operator, { payer, payee, amount: String(100 + i) })),
    );
    // Each payment: a balance.changed and a payment.succeeded on each side.
    await waitFor(
      '80 events',
      () => hooks.received.length,
      (n) => n >= 80,
    );
    expect(hooks.received).toHaveLength(80);
    for (const account of [payer, payee]) {
      const sequences = sequencesOf(hooks.received, account);
      expect(sequences, account).toHaveLength(20);
      expect(gapFree(sequences), `${account}: ${sequences.join(',')}`).toBe(true);
    }
    // The payer's first entry after the registration is the first payment: the deposit came before.
    expect(sequencesOf(hooks.received, payer)[0]).toBe(2);
    expect(sequencesOf(hooks.received, payee)[0]).toBe(1);
    const succeeded = hooks.received.filter((r) => r.event.type === 'payment.succeeded');
    expect(new Set(succeeded.map((r) => r.event.data.id))).toEqual(new Set(payments));
    // Said once to each side: the payer's stream and the payee's.
    for (const payment of payments)
      expect(
        succeeded.filter((r) => r.event.data.id === payment),
        payment,
      ).toHaveLength(2);
    // webhook-id is unique per event; the body is the contract's.
    expect(new Set(hooks.received.map((r) => r.id)).size).toBe(80);
    const sample = hooks.received.find((r) => r.event.type === 'balance.changed' && r.event.data.accountId === payee)!;
    expect(sample.event).toMatchObject({
      type: 'balance.changed',
      data: { accountId: payee, sequence: '1', entry: { direction: 'CREDIT' }, balance: { frozen: '0', pending: '0' } },
    });
    expect(sample.event.data.balance.total).toBe(sample.event.data.entry.balanceAfter);
    expect(typeof sample.event.data.cursor).toBe('string');
    // The endpoint's deliveries read back SUCCEEDED, one attempt each (recorded as each stream is handed back).
    const nodes = await waitFor(
      'the attempts recorded',
      async () => {
        const read = await gql(stack.gatewayUrl, webhookDocs.read, { id }, bearer);
        expect(read.errors).toBeUndefined();
        return read.data!.webhookEndpoint.deliveries.edges.map(
          (e: { node: Record<string, unknown> }) => e.node,
        ) as Array<Record<string, unknown>>;
      },
      (rows) => rows.every((n) => n.status === 'SUCCEEDED'),
    );
    expect(nodes).toHaveLength(80);
    expect(
      nodes.every(
        (n: Record<string, unknown>) =>
          n.status === 'SUCCEEDED' && n.attempts === 1 && n.lastStatusCode === 200 && n.nextAttemptAt === null,
      ),
    ).toBe(true);
  });

  it("tells a payment's amount to its payer and payee, not to a split's recipient on the payer's database", async () => {
    // The payee on another database than the payer: its leg is a PAYMENT_LEG posting there.
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks-legs');
    expect(physicalOf(stack.shards, payee)).not.toBe(physicalOf(stack.shards, payer));
    const payees = await receiver();
    payees.verifyWith(
      (
        await madeEndpoint(stack.gatewayUrl, bearer, {
          url: payees.url,
          eventTypes: ['balance.changed', 'payment.succeeded'],
          accountIds: [payee],
        })
      ).secret,
    );
    const splitOwner = unique('p-hooks-split');
    const split = await kit.open(splitOwner, { physical: physicalOf(stack.shards, payer) });
    const theirs = await receiver();
    theirs.verifyWith(
      (
        await madeEndpoint(stack.gatewayUrl, bearer, {
          url: theirs.url,
          eventTypes: ['balance.changed', 'payment.succeeded'],
          accountIds: [payer],
        })
      ).secret,
    );
    const splits = await receiver();
    splits.verifyWith(
      (
        await madeEndpoint(stack.gatewayUrl, await token(splitOwner, 'partner'), {
          url: splits.url,
          eventTypes: ['balance.changed', 'payment.succeeded', 'refund.succeeded'],
          accountIds: [split],
        })
      ).secret,
    );
    const paid = await gql(
      stack.gatewayUrl,
      contractOperation('CreateMarketplacePayment'),
      {
        input: {
          idempotencyKey: unique('mp'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '100000',
          currency: 'USD',
          splits: [{ accountId: split, amount: '1' }],
        },
      },
      kit.operator,
    );
    expect(paid.data?.createPayment, JSON.stringify(paid)).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
    });
    // A deposit after it: its balance.changed comes after anything the payment's entry raised on that stream.
    await kit.fund(split, '5');
    await waitFor(
      "the split's two balance changes",
      () => splits.received.length,
      (n) => n >= 2,
    );
    await waitFor(
      "the payer's balance change and payment.succeeded",
      () => theirs.received.length,
      (n) => n >= 2,
    );
    expect(splits.received.map((r) => [r.event.type, r.event.data.entry?.amount])).toEqual([
      ['balance.changed', '1'],
      ['balance.changed', '5'],
    ]);
    expect(splits.received.map((r) => r.body).join('\n')).not.toContain('100000');
    expect(theirs.received.map((r) => r.event.type)).toEqual(['balance.changed', 'payment.succeeded']);
    expect(theirs.received[1]!.event.data).toMatchObject({ amount: '100000', payerAccountId: payer });
    await waitFor(
      "the payee's balance change and payment.succeeded",
      () => payees.received.length,
      (n) => n >= 2,
    );
    expect(payees.received.map((r) => [r.event.type, r.event.data.entry?.amount])).toEqual([
      ['balance.changed', '99999'],
      ['payment.succeeded', undefined],
    ]);
    expect(payees.received[1]!.event.data).toMatchObject({ amount: '100000', payeeAccountId: payee });
  });

  it('retries a receiver that fails the first attempt of every message: each arrives once more, same webhook-id, order kept', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks');
    const failed: string[] = [];
    const hooks = await receiver(({ id, attempt }) => {
      if (attempt === 1) {
        failed.push(id);
        return 503;
      }
      return 204;
    });
    const { id, secret } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hooks.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    hooks.verifyWith(secret);
    for (let i = 0; i < 5; i++) await kit.paid(kit.operator, { payer, payee, amount: '10' });
    await waitFor(
      '5 events',
      () => hooks.received.length,
      (n) => n >= 5,
    );
    expect(sequencesOf(hooks.received, payer)).toEqual([2, 3, 4, 5, 6]);
    expect(hooks.received.map((r) => r.id)).toEqual(failed);
    // Attempts are recorded when the stream is handed back, just after the last answer.
    const outcomes = await waitFor(
      'the attempts recorded',
      async () => {
        const read = await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer);
        return read.data!.webhookEndpoint.deliveries.edges.map((e: { node: Record<string, unknown> }) => [
          e.node.status,
          e.node.attempts,
          e.node.lastStatusCode,
        ]);
      },
      (rows: unknown[][]) => rows.every((r) => r[0] === 'SUCCEEDED'),
    );
    expect(outcomes).toEqual(Array(5).fill(['SUCCEEDED', 2, 204]));
  });

  it('redelivers every event since an instant, in order, under the same webhook-ids', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks');
    const hooks = await receiver();
    const { id, secret } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hooks.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    hooks.verifyWith(secret);
    await kit.paid(kit.operator, { payer, payee, amount: '1' });
    await waitFor(
      'the first event',
      () => hooks.received.length,
      (n) => n >= 1,
    );
    const since = new Date();
    // The later payments' events in a later millisecond than `since`: wait for the clock to tick over.
    while (Date.now() <= since.getTime()) await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 3; i++) await kit.paid(kit.operator, { payer, payee, amount: '2' });
    await waitFor(
      '4 events',
      () => hooks.received.length,
      (n) => n >= 4,
    );
    const later = hooks.received.slice(1).map((r) => r.id);
    const answer = await gql(
      stack.gatewayUrl,
      webhookDocs.redeliver,
      { input: { endpointId: id, since: since.toISOString() } },
      bearer,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.redeliverWebhookEvents).toEqual({ __typename: 'RedeliveryQueued', endpointId: id, count: 3 });
    await waitFor(
      '3 redelivered',
      () => hooks.received.length,
      (n) => n >= 7,
    );
    expect(hooks.received.slice(4).map((r) => r.id)).toEqual(later);
    expect(sequencesOf(hooks.received, payer)).toEqual([2, 3, 4, 5, 3, 4, 5]);
  });

  it('disables an endpoint whose receiver answers 410 Gone, with the reason on it, and sends nothing more', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks');
    const gone = await receiver(() => 410);
    const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: gone.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    await kit.paid(kit.operator, { payer, payee, amount: '1' });
    const read = await waitFor(
      'DISABLED',
      async () => (await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer)).data?.webhookEndpoint,
      (e) => e?.status === 'DISABLED',
    );
    expect(read.disabledReason).toMatch(/^the receiver answered 410 Gone at /);
    const requests = gone.requests;
    expect(requests).toBe(1);
    // The delivery that got the 410 is FAILED, not left pending (nothing more is ever sent to it).
    const [delivery] = await waitFor(
      'the attempt recorded',
      async () => (await storedOf(stack.shards, id)).deliveries,
      (rows) => rows[0]?.attempts === 1,
    );
    expect(delivery).toMatchObject({ status: 'FAILED', lastStatusCode: 410, nextAttemptAt: null });
    await paidAndSeenElsewhere(bearer, payer, payee);
    expect(gone.requests).toBe(requests);
  });

  it('stops sending once its owner disables it', async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks');
    const hooks = await receiver();
    const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hooks.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    await kit.paid(kit.operator, { payer, payee, amount: '1' });
    await waitFor(
      'the first event',
      () => hooks.received.length,
      (n) => n >= 1,
    );
    expect(
      (await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: id } }, bearer)).data
        ?.disableWebhookEndpoint.status,
    ).toBe('DISABLED');
    // The dispatcher learns of it at its next refresh, which the witness waits for.
    await paidAndSeenElsewhere(bearer, payer, payee);
    expect(hooks.requests).toBe(1);
  });

  it("fails a disabled endpoint's pending deliveries, the one in flight at the disable too, refuses to redeliver, and leaves nothing queued", async () => {
    const { bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks');
    // Never answers: the first event is in flight when the owner disables, the next two wait behind it.
    const hung = await receiver(() => 'hang');
    const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hung.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer],
    });
    for (let i = 0; i < 3; i++) await kit.paid(kit.operator, { payer, payee, amount: '1' });
    await waitFor(
      'an attempt in flight',
      () => hung.requests,
      (n) => n >= 1,
    );
    await waitFor(
      '3 deliveries queued',
      async () => (await storedOf(stack.shards, id)).deliveries,
      (rows) => rows.length === 3,
    );
    const disabled = await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: id } }, bearer);
    expect(disabled.data?.disableWebhookEndpoint.status).toBe('DISABLED');
    // The attempt in flight times out after the disable and writes its retry; the dispatcher's closing turns it FAILED
    // too.
    const stored = await waitFor(
      'nothing pending',
      () => storedOf(stack.shards, id),
      (s) => s.deliveries.every((d) => d.status === 'FAILED') && s.deliveries.some((d) => d.attempts === 1),
      20_000,
    );
    for (const d of stored.deliveries)
      expect(d, d.id).toMatchObject({
        status: 'FAILED',
        nextAttemptAt: null,
        lastError: expect.stringMatching(/^endpoint disabled: disabled by partner p-hooks/),
      });
    // Its stream is gone: nothing is due, and the queue depth and oldest-pending age (both over PENDING rows) no longer
    // count them.
    expect(stored.streams).toEqual([]);
    const redelivered = await gql(
      stack.gatewayUrl,
      webhookDocs.redeliver,
      { input: { endpointId: id, since: new Date(0).toISOString() } },
      bearer,
    );
    expect(redelivered.data?.redeliverWebhookEvents).toMatchObject({
      __typename: 'InvalidInput',
      code: 'INVALID_INPUT',
    });
    expect((await storedOf(stack.shards, id)).deliveries.map((d) => d.status)).toEqual(['FAILED', 'FAILED', 'FAILED']);
    await paidAndSeenElsewhere(bearer, payer, payee);
    expect(hung.requests).toBe(1);
  });

  it('tells payment.failed when a cross-shard credit is refused and reversed, and refund.failed when the payee cannot pay a refund back', async () => {
    const { partner, bearer, payer, payee } = await partnerWithAccounts(stack, kit, 'p-hooks');
    const hooks = await receiver();
    const { secret } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: hooks.url,
      eventTypes: ['payment.failed', 'refund.failed'],
      accountIds: [payer, payee],
    });
    hooks.verifyWith(secret);

    // A refund the payee cannot pay back: it spent what it was paid, so its shard refuses the debit and nothing moves.
    const paid = await kit.paid(kit.operator, { payer, payee, amount: '700' });
    const elsewhere = await kit.open(partner);
    await kit.paid(kit.operator, { payer: payee, payee: elsewhere, amount: '700' });
    const refused = await kit.refund(kit.operator, paid, '300');
    expect(refused.data?.refundPayment).toMatchObject({ __typename: 'Refund', status: 'FAILED' });
    const refundId = refused.data!.refundPayment.id as string;

    // A cross-shard payment whose payee closed before the credit: refused there, the debit reversed, the payment
    // FAILED.
    const doomedPayee = await kit.openAwayFrom(partner, [physicalOf(stack.shards, payer)]);
    const pending = await crossShardPaymentFirstHalf(
      stack.shards,
      (await accountRowOf(stack.shards, payer))!,
      (await accountRowOf(stack.shards, doomedPayee))!,
      2500n,
      partner,
    );
    await closeInSql(stack.shards, doomedPayee);
    await runOutboxStep(stack.shards, stack.shards.of('payment', pending.id), pending.id, () => new Date());
    expect((await gql(stack.gatewayUrl, detailPayment, { id: pending.id }, kit.operator)).data?.payment.status).toBe(
      'FAILED',
    );

    // Every receipt verified by the standardwebhooks verifier (verifyWith): the refund told to both sides, the payment
    // to its payer.
    await waitFor(
      '3 events',
      () => hooks.received.length,
      (n) => n >= 3,
    );
    const refunds = hooks.received.filter((r) => r.event.type === 'refund.failed');
    expect(refunds.map((r) => r.event.data)).toEqual([
      { id: refundId, paymentId: paid, amount: '300' },
      { id: refundId, paymentId: paid, amount: '300' },
    ]);
    const [failed] = hooks.received.filter((r) => r.event.type === 'payment.failed');
    expect(failed!.event.data).toEqual({
      id: pending.id,
      amount: '2500',
      currency: 'USD',
      payerAccountId: payer,
      payeeAccountId: doomedPayee,
    });
    // The failed refund is scanned again at each refresh (its window reaches back): queued once all
    // the same. Two more refreshes, then every shard's pass and the attempts it started.
    await stack.dispatcher!.refreshed();
    await stack.dispatcher!.refreshed();
    await stack.dispatcher!.drained();
    expect(hooks.received).toHaveLength(3);
    expect(new Set(hooks.received.map((r) => r.id)).size).toBe(3);
  });
});

const detailPayment = 'query Payment($id: ID!) { payment(id: $id) { id status } }';
