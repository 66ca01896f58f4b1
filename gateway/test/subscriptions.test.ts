import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, type Stack } from '../../test/support/stack';
import { token, unique } from '../../test/support/env';
import { gql } from '../../test/support/graphql';
import { connect, errorsOf, subscribe, type BalanceEvent, type Subscription } from '../../test/support/ws';
import { eventually } from '../../test/support/bank';
import {
  balanceChanged,
  deposit,
  inParallel,
  openAccount,
  openAccountOn,
  pay,
  physicalShardOf,
  untilLive,
} from '../../test/support/balance-events';
import { pushTo } from '@paygraph/shared/collections';

/**
 * balanceChanged over graphql-ws on the gateway, against the in-process stack and real MySQL:
 * order, gaplessness and balances under concurrent payments, replay-then-live across a
 * reconnect, fields of another subgraph per event, merchant stripes, and the refusals.
 */
let stack: Stack;
let operator: string;

beforeAll(async () => {
  // A quick stripe discovery keeps the merchant test short; everything else is the default.
  stack = await startStack({ feed: { discoveryIntervalMs: 200 } });
  operator = await token(unique('operator'), 'operator');
});

afterAll(async () => {
  await stack.stop();
});

const bearer = (jwt: string) => `Bearer ${jwt}`;

/** How long the gateway may take to notice a closed socket: generous for a loaded two-core machine. */
const releaseWaitMs = 15_000;
/**
 * The 500-payment test: 12 funded payers, 500 payments through the gateway, and their events.
 * It takes a few seconds on an idle machine but far longer on a loaded two-core one, where
 * vitest's 60 s default cut it off; what it asserts (order, no gaps, balances) does not depend
 * on how long it takes.
 */
const manyPaymentsTestTimeoutMs = 240_000;
/** Every event should be in once the last payment is answered; this only bounds a delivery stuck under load. */
const manyPaymentsDeliveryWaitMs = 60_000;

/** Funded payers, spread over the physical shards so that most payments cross shards. */
async function fundedPayers(count: number, each: bigint): Promise<string[]> {
  const physicalCount = stack.shards.all.length;
  const payers = await Promise.all(
    Array.from({ length: count }, (_, i) => openAccountOn(stack.shards, i % physicalCount, unique('payer'))),
  );
  await Promise.all(payers.map((id) => deposit(stack.gatewayUrl, operator, id, each)));
  return payers;
}

function sequencesOf(events: readonly BalanceEvent[]): number[] {
  return events.map((e) => e.sequence);
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

describe('balanceChanged', () => {
  it(
    'delivers 500 concurrent payments into one account in order, without gaps, each with its balance',
    async () => {
      const ownerId = unique('payee');
      const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
      const payers = await fundedPayers(12, 1_000_000n);
      expect(
        payers.filter((p) => physicalShardOf(stack.shards, p) !== physicalShardOf(stack.shards, payee)).length,
      ).toBeGreaterThan(0);

      const subscription = subscribe(stack.gatewayWsUrl, {
        authorization: bearer(await token(ownerId, 'customer')),
        query: balanceChanged,
        variables: { accountId: payee },
      });
      const live = await untilLive(subscription, () => deposit(stack.gatewayUrl, operator, payee, 1n));
      const before = subscription.events.length;
      const amounts = Array.from({ length: 500 }, (_, i) => BigInt(1 + (i % 97)));
      await inParallel(amounts.length, 24, (i) =>
        pay(stack.gatewayUrl, operator, payers[i % payers.length]!, payee, amounts[i]!),
      );
      await subscription.waitFor(
        () => subscription.events.length >= before + 500,
        '500 payment events',
        manyPaymentsDeliveryWaitMs,
      );

      const events = subscription.events.slice(before);
      expect(sequencesOf(events)).toEqual(range(live.sequence + 1, 500));
      for (const event of events) {
        expect(event.entry.direction).toBe('CREDIT');
        expect(event.account.id).toBe(payee);
        expect(event.account.balance.total).toBe(event.entry.balanceAfter);
        expect(
          BigInt(event.account.balance.available) +
            BigInt(event.account.balance.frozen) +
            BigInt(event.account.balance.pending),
        ).toBe(BigInt(event.account.balance.total));
      }
      const received = events.reduce((sum, e) => sum + BigInt(e.entry.amount), 0n);
      expect(received).toBe(amounts.reduce((a, b) => a + b, 0n));
      expect(BigInt(events.at(-1)!.entry.balanceAfter)).toBe(BigInt(live.account.balance.total) + received);
      expect(new Set(events.map((e) => e.cursor)).size).toBe(500);
      // Nothing beyond the 500 arrives, and the stream is still open: a later deposit is the next
      // event (anything extra would come before it).
      await deposit(stack.gatewayUrl, operator, payee, 1n);
      await subscription.waitFor(() => subscription.events.length >= before + 501, 'the later deposit');
      expect(subscription.events.length).toBe(before + 501);
      expect(subscription.events.at(-1)!.sequence).toBe(live.sequence + 501);
      expect(subscription.events.at(-1)!.entry.amount).toBe('1');
      expect(subscription.error).toBeNull();
      await subscription.close();
    },
    manyPaymentsTestTimeoutMs,
  );

  it('replays what it missed after a disconnect, then goes on live: every event exactly once', async () => {
    const ownerId = unique('resume');
    const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
    const payers = await fundedPayers(4, 1_000_000n);
    const customer = bearer(await token(ownerId, 'customer'));

    const first = subscribe(stack.gatewayWsUrl, {
      authorization: customer,
      query: balanceChanged,
      variables: { accountId: payee },
    });
    const live = await untilLive(first, () => deposit(stack.gatewayUrl, operator, payee, 1n));
    const total = 150;
    let paid = 0;
    const payments = inParallel(total, 8, async (i) => {
      await pay(stack.gatewayUrl, operator, payers[i % payers.length]!, payee, 10n);
      paid += 1;
    });
    await first.waitFor(() => first.events.length >= 40, '40 events before the disconnect');
    await first.close();
    const seenBefore = first.events.filter((e) => e.sequence > live.sequence);
    expect(paid).toBeLessThan(total);

    // Payments go on while nobody listens (ten of them at least, unless all are done); the rest
    // arrive after the reconnect.
    const paidAtClose = paid;
    await eventually(
      'ten payments while disconnected',
      10_000,
      async () => (paid >= Math.min(total, paidAtClose + 10) ? true : undefined),
      5,
    );
    const last = first.events.at(-1)!;
    const second = subscribe(stack.gatewayWsUrl, {
      authorization: customer,
      query: balanceChanged,
      variables: { accountId: payee, after: last.cursor },
    });
    await payments;
    await second.waitFor(
      () => seenBefore.length + second.events.length >= total,
      'every payment event across both connections',
    );

    expect([...sequencesOf(seenBefore), ...sequencesOf(second.events)]).toEqual(range(live.sequence + 1, total));
    expect(second.events[0]!.sequence).toBe(last.sequence + 1);
    for (const event of second.events) expect(event.account.balance.total).toBe(event.entry.balanceAfter);
    await second.close();
  });

  it("resolves fields of the transaction subgraph for every event: the entry's payment", async () => {
    const ownerId = unique('crossgraph');
    const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
    const [payer] = await fundedPayers(1, 100_000n);
    const query = `subscription WithPayment($accountId: ID!) {
      balanceChanged(accountId: $accountId) {
        sequence
        entry { id amount payment { id amount status payer { id } payee { id } } refund { id } }
      }
    }`;
    const subscription = subscribe(stack.gatewayWsUrl, {
      authorization: bearer(await token(ownerId, 'customer')),
      query,
      variables: { accountId: payee },
    });
    await untilLive(subscription, () => deposit(stack.gatewayUrl, operator, payee, 1n));
    expect(subscription.events.at(-1)!.entry.payment).toBeNull();

    const made = await Promise.all([
      pay(stack.gatewayUrl, operator, payer!, payee, 250n),
      pay(stack.gatewayUrl, operator, payer!, payee, 750n),
    ]);
    await subscription.waitFor(
      () => subscription.events.filter((e) => e.entry.payment !== null).length === 2,
      'both payment events',
    );
    const paymentEvents = subscription.events.filter((e) => e.entry.payment !== null);
    const byId = new Map(made.map((p, i) => [p.id, [250n, 750n][i]!]));
    for (const event of paymentEvents) {
      const payment = event.entry.payment;
      expect(byId.get(payment.id)).toBe(BigInt(payment.amount));
      expect(payment.amount).toBe(event.entry.amount);
      expect(['PROCESSING', 'SUCCEEDED']).toContain(payment.status);
      expect(payment.payer).toEqual({ id: payer });
      expect(payment.payee).toEqual({ id: payee });
      expect(event.entry.refund).toBeNull();
    }
    expect(new Set(paymentEvents.map((e) => e.entry.payment.id))).toEqual(new Set(byId.keys()));
    expect(subscription.results.every((r) => r.errors === undefined)).toBe(true);
    await subscription.close();
  });

  it('streams every stripe of a merchant account, each gapless, and resumes across all of them', async () => {
    const merchantOwner = unique('merchant');
    const merchant = await openAccountOn(stack.shards, 0, merchantOwner, 'MERCHANT');
    const payers = await Promise.all(
      [1, 2, 3, 0].map(async (physical) => {
        const id = await openAccountOn(stack.shards, physical, unique('shopper'));
        await deposit(stack.gatewayUrl, operator, id, 100_000n);
        return id;
      }),
    );
    const merchantToken = bearer(await token(merchantOwner, 'merchant'));
    const subscription = subscribe(stack.gatewayWsUrl, {
      authorization: merchantToken,
      query: `subscription Merchant($accountId: ID!, $after: String) {
      balanceChanged(accountId: $accountId, after: $after) { cursor sequence stripeId entry { id amount balanceAfter } account { balance { pending total } } }
    }`,
      variables: { accountId: merchant },
    });
    // A payer on the merchant's home shard proves the stream live; the other three open stripes.
    await untilLive(subscription, () => pay(stack.gatewayUrl, operator, payers[3]!, merchant, 1n));
    const start = subscription.events.length;
    const startTotal = BigInt(subscription.events.at(-1)!.account.balance.total);
    const perPayer = 5;
    await inParallel(payers.length * perPayer, 4, (i) =>
      pay(stack.gatewayUrl, operator, payers[i % payers.length]!, merchant, 100n),
    );
    const expected = payers.length * perPayer;
    await subscription.waitFor(() => subscription.events.length >= start + expected, 'every payment on every stripe');

    const events = subscription.events.slice(start);
    expect(events.length).toBe(expected);
    const stripes = new Map<string, number[]>();
    for (const e of events) pushTo(stripes, e.stripeId, e.sequence);
    expect(stripes.size).toBe(4);
    expect(stripes.has(merchant)).toBe(true);
    for (const [stripe, sequences] of stripes) {
      expect(sequences, `stripe ${stripe}`).toEqual(range(sequences[0]!, sequences.length));
      if (stripe !== merchant) expect(sequences[0], `new stripe ${stripe} starts at 1`).toBe(1);
    }
    // The balance is every stripe's as of the cursor: it grows by each payment, in order.
    events.forEach((e, i) => expect(BigInt(e.account.balance.total)).toBe(startTotal + 100n * BigInt(i + 1)));
    expect(events.at(-1)!.account.balance.pending).toBe(events.at(-1)!.account.balance.total);

    // From the third event's cursor: exactly what came after it, on every stripe.
    const resumed = subscribe(stack.gatewayWsUrl, {
      authorization: merchantToken,
      query: `subscription Resume($accountId: ID!, $after: String) {
      balanceChanged(accountId: $accountId, after: $after) { stripeId sequence cursor }
    }`,
      variables: { accountId: merchant, after: events[2]!.cursor },
    });
    await resumed.waitFor(() => resumed.events.length >= expected - 3, 'the replay');
    // A later payment marks the end: anything beyond what came after the cursor would arrive before it.
    await pay(stack.gatewayUrl, operator, payers[3]!, merchant, 1n);
    await subscription.waitFor(() => subscription.events.length >= start + expected + 1, 'the later payment');
    const later = subscription.events.at(-1)!;
    const key = (e: BalanceEvent) => `${e.stripeId}#${e.sequence}`;
    await resumed.waitFor(
      () => resumed.events.some((e) => key(e) === key(later)),
      'the later payment on the resumed stream',
    );
    expect(resumed.events.map(key).sort()).toEqual([...events.slice(3), later].map(key).sort());
    expect(resumed.events.at(-1)!.cursor).not.toBe('');
    await Promise.all([subscription.close(), resumed.close()]);
  });

  it("closes with 4401 without a valid token and 4403 for an account that is not the caller's", async () => {
    const ownerId = unique('owner');
    const account = await openAccount(stack.gatewayUrl, operator, ownerId);
    const variables = { accountId: account };

    const cases: Array<{ name: string; authorization: string | null; code: number }> = [
      { name: 'no token', authorization: null, code: 4401 },
      { name: 'a malformed token', authorization: 'Bearer not-a-jwt', code: 4401 },
      { name: 'an expired token', authorization: bearer(await token(ownerId, 'customer', -120)), code: 4401 },
      { name: 'another customer', authorization: bearer(await token(unique('stranger'), 'customer')), code: 4403 },
      {
        name: 'a partner who does not own it',
        authorization: bearer(await token(unique('partner'), 'partner')),
        code: 4403,
      },
    ];
    const subscriptions = cases.map((c) => ({
      ...c,
      subscription: subscribe(stack.gatewayWsUrl, { authorization: c.authorization, query: balanceChanged, variables }),
    }));
    for (const c of subscriptions) {
      await c.subscription.waitFor(() => c.subscription.closeCode !== null, `the socket to close for ${c.name}`);
      expect(c.subscription.closeCode, c.name).toBe(c.code);
      expect(c.subscription.events, c.name).toEqual([]);
    }

    // An account that does not exist is refused exactly like someone else's: nothing leaks.
    const missing = `acc_01ZZZZZZZZZZZZZZZZZZZZZZZZ_00`;
    const probe = subscribe(stack.gatewayWsUrl, {
      authorization: bearer(await token(ownerId, 'customer')),
      query: balanceChanged,
      variables: { accountId: missing },
    });
    await probe.waitFor(() => probe.closeCode !== null, 'the socket to close for a missing account');
    expect(probe.closeCode).toBe(4403);
  });

  it('lets a partner and an operator follow the accounts they may read', async () => {
    const partnerId = unique('partner');
    const account = await openAccount(stack.gatewayUrl, operator, partnerId);
    const partner = subscribe(stack.gatewayWsUrl, {
      authorization: bearer(await token(partnerId, 'partner')),
      query: balanceChanged,
      variables: { accountId: account },
    });
    const watcher = subscribe(stack.gatewayWsUrl, {
      authorization: bearer(operator),
      query: balanceChanged,
      variables: { accountId: account },
    });
    await untilLive(partner, () => deposit(stack.gatewayUrl, operator, account, 3n));
    await untilLive(watcher, () => deposit(stack.gatewayUrl, operator, account, 3n));
    const last = partner.events.at(-1)!;
    await watcher.waitFor(
      () => watcher.events.some((e) => e.sequence === last.sequence),
      'the operator to see the same event',
    );
    expect(watcher.events.find((e) => e.sequence === last.sequence)).toEqual(last);
    expect(partner.closeCode).toBeNull();
    await Promise.all([partner.close(), watcher.close()]);
  });

  it('refuses a malformed cursor and a cursor of another account with BAD_USER_INPUT', async () => {
    const ownerId = unique('cursors');
    const customer = bearer(await token(ownerId, 'customer'));
    const [mine, other] = await Promise.all([
      openAccount(stack.gatewayUrl, operator, ownerId),
      openAccount(stack.gatewayUrl, operator, ownerId),
    ]);
    const source = subscribe(stack.gatewayWsUrl, {
      authorization: customer,
      query: balanceChanged,
      variables: { accountId: other },
    });
    const otherCursor = (await untilLive(source, () => deposit(stack.gatewayUrl, operator, other!, 1n))).cursor;
    await source.close();

    const connection = connect(stack.gatewayWsUrl, customer);
    const healthy = connection.subscribe(balanceChanged, { accountId: mine });
    const malformed = connection.subscribe(balanceChanged, { accountId: mine, after: 'not-a-cursor' });
    const foreign = connection.subscribe(balanceChanged, { accountId: mine, after: otherCursor });
    for (const [name, subscription] of [
      ['malformed', malformed],
      ['foreign', foreign],
    ] as Array<[string, Subscription]>) {
      await subscription.waitFor(() => subscription.error !== null, `the ${name} cursor to be refused`);
      expect(
        errorsOf(subscription).map((e) => e.extensions?.code),
        name,
      ).toEqual(['BAD_USER_INPUT']);
      expect(errorsOf(subscription)[0]!.message, name).toMatch(/cursor/);
    }
    // A refusal ends that subscription only; the connection and its other subscription go on.
    expect(connection.closeCode).toBeNull();
    await untilLive(healthy, () => deposit(stack.gatewayUrl, operator, mine!, 1n));
    expect(healthy.error).toBeNull();
    await connection.close();
  });

  it('caps subscriptions per connection and per caller', async () => {
    const replica = await stack.addReplica({ subscriptions: { perConnectionMax: 2, perPrincipalMax: 3 } });
    const ownerId = unique('capped');
    const account = await openAccount(stack.gatewayUrl, operator, ownerId);
    const customer = bearer(await token(ownerId, 'customer'));
    const one = connect(replica.gatewayWsUrl, customer);
    const held = [
      one.subscribe(balanceChanged, { accountId: account }),
      one.subscribe(balanceChanged, { accountId: account }),
    ];
    const third = one.subscribe(balanceChanged, { accountId: account });
    await third.waitFor(() => third.error !== null, 'the third subscription on one connection to be refused');
    expect(errorsOf(third).map((e) => e.extensions?.code)).toEqual(['SUBSCRIPTION_LIMIT_REACHED']);

    const two = connect(replica.gatewayWsUrl, customer);
    const fourth = two.subscribe(balanceChanged, { accountId: account });
    const fifth = two.subscribe(balanceChanged, { accountId: account });
    await fifth.waitFor(() => fifth.error !== null, "the caller's fourth subscription to be refused");
    expect(errorsOf(fifth).map((e) => e.extensions?.code)).toEqual(['SUBSCRIPTION_LIMIT_REACHED']);
    expect(fourth.error).toBeNull();
    expect(held.map((s) => s.error)).toEqual([null, null]);
    expect(replica.activeSubscriptions()).toBe(3);

    // Ending a subscription frees its place: once the gateway has seen the socket close (awaited
    // rather than guessed with a fixed pause, which a loaded machine outlasts), only fourth is left.
    await one.close();
    await eventually(
      "the closed connection's subscriptions to be released",
      releaseWaitMs,
      async () => (replica.activeSubscriptions() === 1 ? true : undefined),
      10,
    );
    const again = two.subscribe(balanceChanged, { accountId: account });
    await untilLive(again, () => deposit(stack.gatewayUrl, operator, account, 1n));
    expect(again.error).toBeNull();
    await two.close();
  });

  it("ends a slow consumer's stream with SLOW_CONSUMER and its last cursor, from which it resumes", async () => {
    // The heavy document below is far past the operation limits (600 aliases, 50 × 600 fields a
    // page), which this replica's gateway raises so that only the socket is slow here.
    const replica = await stack.addReplica({
      subscriptions: { consumerStallMsMax: 500 },
      security: { limits: { aliasesMax: 1_000, costMax: 100_000 } },
    });
    const ownerId = unique('slow');
    const payee = await openAccount(stack.gatewayUrl, operator, ownerId);
    const payers = await fundedPayers(4, 1_000_000n);
    const customer = bearer(await token(ownerId, 'customer'));
    // Each event carries ~70 KB (600 aliases of its cursor), so the kernel's socket buffers
    // (a few MB) fill after some tens of events and the gateway's writes stop completing.
    const heavy = Array.from({ length: 600 }, (_, i) => `c${i}: cursor`).join(' ');
    const query = `subscription Heavy($accountId: ID!) { balanceChanged(accountId: $accountId) { cursor sequence ${heavy} } }`;
    const slow = subscribe(replica.gatewayWsUrl, { authorization: customer, query, variables: { accountId: payee } });
    const live = await untilLive(slow, () => deposit(stack.gatewayUrl, operator, payee, 1n));
    slow.socket()!.pause();

    const total = 200;
    await inParallel(total, 16, (i) => pay(stack.gatewayUrl, operator, payers[i % payers.length]!, payee, 1n));
    // The gateway gives up on the stream while the client still reads nothing.
    await slow.waitFor(() => replica.slowConsumers() === 1, 'the gateway to end the stream', 30_000);
    expect(slow.error).toBeNull();
    slow.socket()!.resume();
    await slow.waitFor(() => slow.error !== null, 'the stream to end with SLOW_CONSUMER', 30_000);
    const [error] = errorsOf(slow);
    expect(error?.extensions?.code).toBe('SLOW_CONSUMER');
    const delivered = slow.events.filter((e) => e.sequence > live.sequence);
    expect(delivered.length).toBeLessThan(total);
    expect(error?.extensions?.lastCursor).toBe(slow.events.at(-1)!.cursor);
    expect(sequencesOf(delivered)).toEqual(range(live.sequence + 1, delivered.length));

    const resumed = subscribe(replica.gatewayWsUrl, {
      authorization: customer,
      query: balanceChanged,
      variables: { accountId: payee, after: error!.extensions!.lastCursor },
    });
    await resumed.waitFor(() => delivered.length + resumed.events.length >= total, 'the rest after resuming');
    expect([...sequencesOf(delivered), ...sequencesOf(resumed.events)]).toEqual(range(live.sequence + 1, total));
    await resumed.close();
  });

  it('answers a subscription sent over HTTP with an error instead of executing it', async () => {
    const answer = await gql(
      stack.gatewayUrl,
      balanceChanged,
      { accountId: 'acc_01ZZZZZZZZZZZZZZZZZZZZZZZZ_00' },
      operator,
    );
    expect(answer.data ?? null).toBeNull();
    expect(answer.errors?.length).toBeGreaterThan(0);
  });
});
