import { beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { physicalOf, stripeRowOf, type MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import {
  createEndpoint,
  fastDispatch,
  madeEndpoint,
  storedOf,
  waitFor,
  useWebhookStack,
  type Received,
  type WebhookStack,
} from '../support/webhooks';

/**
 * advance.paid end to end (docs/WEBHOOKS.md, "What the entries say"): a merchant's settlement
 * advance, made through the gateway with the contract's documents, across two of its stripes;
 * the dispatcher of the webhooks subgraph sends it to a real HTTP receiver of the merchant's
 * owner, verified with the standardwebhooks library. The event is said once per advance (on the
 * stream of the stripe its plan names first), and an endpoint of another merchant's partner —
 * which receives its own merchant's advance.paid — receives nothing of this one.
 */
let stack: Stack;
let kit: MoneyKit;
let receiver: WebhookStack['receiver'];
useWebhookStack(
  { webhooks: { dispatcher: true, settings: fastDispatch } },
  (started) => ({ stack, kit, receiver } = started),
);

const termsDoc = contractOperation('SetAdvanceTerms');
const advanceDoc = contractOperation('AdvanceSettlement');
const wanted = ['advance.paid', 'balance.changed'];

interface PlanPiece {
  stripeAccountId: string;
  amount: string;
  feeAmount: string;
}
interface Endpoint {
  id: string;
  secret: string;
  received: Received[];
}
interface AdvanceAnswer {
  id: string;
  amount: string;
  feeAmount: string;
}

/** One funded payer per database, by physical index: a payment of each lands on the merchant's stripe there. */
async function payersOnEveryShard(): Promise<string[]> {
  // Two databases at least: otherwise a merchant has a single stripe and no advance spans two.
  expect(stack.shards.all.length).toBeGreaterThanOrEqual(2);
  const payers: string[] = [];
  for (let physical = 0; physical < stack.shards.all.length; physical++) {
    const payer = await kit.open(unique('payer'), { physical });
    await kit.fund(payer, '100000');
    payers.push(payer);
  }
  return payers;
}

/** An endpoint on a fresh receiver, every receipt verified with its secret (a bad signature throws in the receiver). */
async function endpointFor(bearer: string, accountIds?: string[]): Promise<Endpoint> {
  const hooks = await receiver();
  const made = await madeEndpoint(stack.gatewayUrl, bearer, {
    url: hooks.url,
    eventTypes: wanted,
    ...(accountIds ? { accountIds } : {}),
  });
  hooks.verifyWith(made.secret);
  return { ...made, received: hooks.received };
}

/** Terms that let every unit of pending be advanced at 1%: the plan is then fixed by the pendings alone. */
async function setTerms(merchant: string): Promise<void> {
  const r = await gql(
    stack.gatewayUrl,
    termsDoc,
    { input: { merchantAccountId: merchant, maxAdvanceBps: 10_000, feeBps: 100, outstandingMax: '1000000' } },
    kit.operator,
  );
  expect(r.data?.setAdvanceTerms.__typename, JSON.stringify(r)).toBe('AdvanceTerms');
}

async function advanced(merchant: string, amount: string, bearer: string): Promise<AdvanceAnswer> {
  const r = await gql(
    stack.gatewayUrl,
    advanceDoc,
    { input: { idempotencyKey: unique('adv'), merchantAccountId: merchant, amount } },
    bearer,
  );
  expect(r.data?.advanceSettlement.__typename, JSON.stringify(r)).toBe('Advance');
  return r.data!.advanceSettlement as AdvanceAnswer;
}

/** The advance as stored on its merchant's home shard: its status and the plan whose first stripe says advance.paid. */
async function storedAdvance(merchant: string, id: string): Promise<{ status: string; plan: PlanPiece[] }> {
  const [rows] = (await stack.shards
    .of('account', merchant)
    .db.execute(sql`SELECT status, plan FROM advances WHERE id = ${id}`)) as unknown as [
    Array<{ status: string; plan: string }>,
  ];
  expect(rows).toHaveLength(1);
  return { status: rows[0]!.status, plan: JSON.parse(rows[0]!.plan) as PlanPiece[] };
}

/** The stripe and sequence of each delivery the endpoint received (webhook-id is the delivery's id). */
interface DeliveryPlace {
  stripeId: string;
  sequence: bigint;
  eventType: string;
}

async function deliveryRows(endpointId: string): Promise<Map<string, DeliveryPlace>> {
  const { deliveries } = await storedOf(stack.shards, endpointId);
  return new Map(deliveries.map((d) => [d.id, d]));
}

const ofType = (received: readonly Received[], type: string) => received.filter((r) => r.event.type === type);
const paidFor = (received: readonly Received[], advanceId: string) =>
  ofType(received, 'advance.paid').filter((r) => r.event.data.id === advanceId);

describe('advance.paid webhook', () => {
  let merchant: string;
  let rivalMerchant: string;
  let ownerHooks: Endpoint;
  let rivalHooks: Endpoint;
  let rivalBearer: string;
  let advance: AdvanceAnswer;
  let rivalAdvance: AdvanceAnswer;
  let plan: PlanPiece[];
  let payers: string[];

  beforeAll(async () => {
    const owner = unique('shop');
    const ownerBearer = await token(owner, 'customer');
    const rival = unique('rival');
    rivalBearer = await token(rival, 'partner');
    merchant = await kit.open(owner, { type: 'MERCHANT' });
    rivalMerchant = await kit.open(rival, { type: 'MERCHANT' });
    payers = await payersOnEveryShard();
    // Both endpoints exist before any of the merchants' entries: each stripe's stream starts at its first entry.
    ownerHooks = await endpointFor(ownerBearer, [merchant]);
    // The rival partner follows every account it may read (no accountIds): the widest net it can cast.
    rivalHooks = await endpointFor(rivalBearer);
    await advanceAcrossStripes(payers, ownerBearer);
    await laterEntryOnEveryPieceStripe(payers);
    await rivalAdvanced(payers[0]!);
    // Two refreshes (the endpoints and discovery read since), then every shard passed and its attempts ended.
    await stack.dispatcher!.refreshed();
    await stack.dispatcher!.refreshed();
    await stack.dispatcher!.drained();
  });

  /** Distinct pendings (8000, 7000, …): the plan takes the largest first, so 12345 takes two stripes. */
  async function advanceAcrossStripes(payers: readonly string[], ownerBearer: string): Promise<void> {
    for (const [physical, payer] of payers.entries())
      await kit.paid(kit.operator, { payer, payee: merchant, amount: String(8000 - 1000 * physical) });
    await setTerms(merchant);
    advance = await advanced(merchant, '12345', ownerBearer);
    plan = (await storedAdvance(merchant, advance.id)).plan;
    await waitFor(
      "the owner's advance.paid",
      () => paidFor(ownerHooks.received, advance.id).length,
      (n) => n >= 1,
    );
  }

  /**
   * The wait before counting, instead of a while: a later entry on each piece's stripe, whose
   * balance.changed is sent after everything before it on that stream (ordered per stream).
   */
  async function laterEntryOnEveryPieceStripe(payers: readonly string[]): Promise<void> {
    const stripes = plan.map((p) => p.stripeAccountId);
    for (const stripe of stripes)
      await kit.paid(kit.operator, { payer: payers[physicalOf(stack.shards, stripe)]!, payee: merchant, amount: '1' });
    await waitFor(
      "the later entry on every piece's stripe",
      () => ofType(ownerHooks.received, 'balance.changed').filter((r) => r.event.data.entry.amount === '1').length,
      (n) => n >= stripes.length,
    );
  }

  /** The rival merchant's own advance (one piece), told to the rival after ours was told to the owner. */
  async function rivalAdvanced(payer: string): Promise<void> {
    await kit.paid(kit.operator, { payer, payee: rivalMerchant, amount: '3000' });
    await setTerms(rivalMerchant);
    rivalAdvance = await advanced(rivalMerchant, '1000', kit.operator);
    await waitFor(
      "the rival's own advance.paid",
      () => paidFor(rivalHooks.received, rivalAdvance.id).length,
      (n) => n >= 1,
    );
  }

  it("tells the merchant's owner the documented payload, signed with the endpoint's secret", async () => {
    expect((await storedAdvance(merchant, advance.id)).status).toBe('PAID');
    // 1% of 12345 is 123.45, rounded up to the minor unit (the platform's favour: issue 45).
    expect(advance).toMatchObject({ amount: '12345', feeAmount: '124' });
    const [paid] = paidFor(ownerHooks.received, advance.id);
    // docs/WEBHOOKS.md: { id, merchantAccountId, amount, feeAmount }, nothing more; the body is { type, timestamp, data
    // }.
    expect(paid!.event).toEqual({
      type: 'advance.paid',
      timestamp: expect.any(String),
      data: { id: advance.id, merchantAccountId: merchant, amount: '12345', feeAmount: '124' },
    });
    expect(Object.keys(JSON.parse(paid!.body) as object)).toEqual(['type', 'timestamp', 'data']);
    expect(new Date(paid!.event.timestamp).toISOString()).toBe(paid!.event.timestamp);
    // The headers as received verify with the endpoint's secret, and with no other endpoint's.
    const headers = {
      'webhook-id': paid!.id,
      'webhook-timestamp': paid!.timestamp,
      'webhook-signature': paid!.signature,
    };
    expect(new Webhook(ownerHooks.secret).verify(paid!.body, headers)).toEqual(paid!.event);
    expect(() => new Webhook(rivalHooks.secret).verify(paid!.body, headers)).toThrow();
  });

  it("says it once though the advance's pieces span two stripes: on the stripe the plan names first, at its first piece's first entry", async () => {
    expect(plan.map((p) => p.stripeAccountId)).toEqual([
      (await stripeRowOf(stack.shards, merchant, payers[0]!))!.id,
      (await stripeRowOf(stack.shards, merchant, payers[1]!))!.id,
    ]);
    expect(plan.map((p) => [p.amount, p.feeAmount])).toEqual([
      ['8000', expect.any(String)],
      ['4345', expect.any(String)],
    ]);
    expect(plan.reduce((fee, p) => fee + BigInt(p.feeAmount), 0n)).toBe(124n);
    // Once received, once stored for this endpoint, on every shard; no advance.paid for anything else.
    expect(paidFor(ownerHooks.received, advance.id)).toHaveLength(1);
    expect(ofType(ownerHooks.received, 'advance.paid')).toHaveLength(1);
    const rows = await deliveryRows(ownerHooks.id);
    const stored = [...rows.values()].filter((d) => d.eventType === 'advance.paid');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.stripeId).toBe(plan[0]!.stripeAccountId);
    expect(new Set(ownerHooks.received.map((r) => r.id)).size).toBe(ownerHooks.received.length);
    expectPieceEntries(rows);
  });

  /** Each piece's two entries are balance.changed on its stripe; advance.paid rides on the first piece's first. */
  function expectPieceEntries(rows: Map<string, DeliveryPlace>): void {
    const changes = changesOf(rows);
    for (const piece of plan) {
      const net = String(BigInt(piece.amount) - BigInt(piece.feeAmount));
      const entries = changes.filter(
        (c) => c.stripeId === piece.stripeAccountId && (c.amount === `-${piece.amount}` || c.amount === net),
      );
      expect(entries.map((e) => e.amount).sort(), piece.stripeAccountId).toEqual([`-${piece.amount}`, net].sort());
    }
    expect(paidPlace(rows).sequence).toBe(firstPieceEntry(changes).sequence);
  }

  /** The owner's balance.changed receipts with their stripe, sequence and place in the arrival order. */
  function changesOf(rows: Map<string, DeliveryPlace>) {
    return ofType(ownerHooks.received, 'balance.changed').map((r) => ({
      ...rows.get(r.id)!,
      at: ownerHooks.received.indexOf(r),
      amount: r.event.data.entry.amount as string,
    }));
  }

  /** The pending debit of the first piece: the first entry of its posting on the plan's first stripe. */
  function firstPieceEntry(changes: ReturnType<typeof changesOf>) {
    return changes.filter((c) => c.stripeId === plan[0]!.stripeAccountId && c.amount === `-${plan[0]!.amount}`)[0]!;
  }

  function paidPlace(rows: Map<string, DeliveryPlace>): DeliveryPlace & { at: number } {
    const [id, place] = [...rows.entries()].find(([, d]) => d.eventType === 'advance.paid')!;
    return { ...place, at: ownerHooks.received.findIndex((r) => r.id === id) };
  }

  // docs/WEBHOOKS.md, Delivery: a stream's deliveries go "by sequence (`balance.changed` before
  // what the same entry finished)". Ordering by (sequence, event_type) sent 'advance.paid' first,
  // since it sorts before 'balance.changed' by name (event-types.ts entryEventType).
  it('sends advance.paid after the balance.changed of the entry it rides on', async () => {
    const rows = await deliveryRows(ownerHooks.id);
    expect(paidPlace(rows).at).toBeGreaterThan(firstPieceEntry(changesOf(rows)).at);
  });

  it("tells another merchant's partner only its own merchant's advance, and refuses it this merchant's events", async () => {
    expect(paidFor(rivalHooks.received, advance.id)).toEqual([]);
    expect(
      rivalHooks.received.filter(
        (r) => r.event.data.merchantAccountId === merchant || r.event.data.accountId === merchant,
      ),
    ).toEqual([]);
    const own = ofType(rivalHooks.received, 'advance.paid');
    expect(own.map((r) => r.event.data)).toEqual([
      { id: rivalAdvance.id, merchantAccountId: rivalMerchant, amount: '1000', feeAmount: '10' },
    ]);
    expect((await deliveryRows(rivalHooks.id)).size).toBe(rivalHooks.received.length);
    // Naming the merchant outright is refused, writing nothing.
    const named = await createEndpoint(stack.gatewayUrl, rivalBearer, {
      url: 'https://rival.example.com/hooks',
      eventTypes: ['advance.paid'],
      accountIds: [merchant],
    });
    expect(named.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
