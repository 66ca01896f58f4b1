import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { and, eq, inArray, lt, or } from 'drizzle-orm';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { balanceMismatches, entryTotals } from '@paygraph/shared/db/ledger-store';
import { accounts } from '@paygraph/shared/db/schema/ledger';
import { holds, payments, refunds, transferOutbox } from '../../src/db/schema/transactions';
import { startHoldExpiry, type HoldExpiry } from '../../src/services/hold-expiry';
import { frozenAgainstHeld } from '../../../../test/support/holds';
import { startRelay, type Relay } from '../../src/services/relay';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { testShards, token, unique } from '../../../../test/support/env';
import { clearingAgainstInFlight, physicalOf, shardOf, sleep } from '../../../../test/support/bank';
import { useSeededRandom, type SeededRandom } from '../../../../test/support/seeded-random';

/**
 * The bank test: clients move money at random between many accounts on every shard, through
 * the gateway over HTTP, while the ledger's invariants are sampled; at the end no money has
 * been made or lost. Σ of the clients' balances only changes by deposits and withdrawals, so
 * it must equal Σ deposits − Σ withdrawals that succeeded, whatever payments, refunds and holds
 * (created, captured, voided, expired) did; frozen money counts, and always equals what is held.
 * Other test files use the same shards at the same time: shard-wide sums must still balance,
 * but per-account checks are limited to this file's accounts and the shared system accounts.
 */
const accountCount = 200;
const merchantCount = 5;
const clientCount = 16;
/** How long the clients run; BANK_TEST_SECONDS shortens it for local runs. */
const runSecondsDefault = 30;
const runSeconds = readRunSeconds();
const sampleIntervalMs = 2_000;
const initialDeposit = 50_000n;
/** How long the end waits for the relay to finish what the requests left PROCESSING. */
const drainTimeoutMs = 20_000;
const drainPollMs = 200;
/** A request that failed in transport or with a retryable error is sent again (same key) this often. */
const sendAttemptsMax = 4;
/** Out of 20 payments per client: 3 to merchants, 12 across physical shards, 5 within one. */
const paymentCycle = 20;
const merchantSlots = 3;
const crossShardSlots = 12;
/** Refusals the random workload may meet; any other answer is a failure. */
const expectedRefusals = new Set(['INSUFFICIENT_FUNDS', 'REFUND_EXCEEDS_PAYMENT', 'PAYMENT_NOT_REFUNDABLE', 'HOLD_NOT_ACTIVE']);
/** One hold in this many lives only 1-3 s, so that the expiry worker releases some in the mix. */
const shortHoldEvery = 4;
const holdExpiryIntervalMs = 300;

function readRunSeconds(): number {
  const raw = process.env.BANK_TEST_SECONDS;
  if (raw === undefined || raw === '') return runSecondsDefault;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`BANK_TEST_SECONDS must be a positive number, got "${raw}"`);
  return value;
}

const openAccountDoc = contractOperation('OpenAccount');
const depositDoc = contractOperation('Deposit');
const withdrawDoc = contractOperation('Withdraw');
const createPaymentDoc = contractOperation('CreatePayment');
const refundPaymentDoc = contractOperation('RefundPayment');
const createHoldDoc = contractOperation('CreateHold');
const captureHoldDoc = contractOperation('CaptureHold');
const voidHoldDoc = contractOperation('VoidHold');

let stack: Stack;
/** A pool of its own for the checks, so that sampling never waits behind the workload. */
let checks: ShardSet;
let relay: Relay | undefined;
let expiry: HoldExpiry | undefined;
let operator: string;
const runId = unique('bank');

const personal: string[] = [];
const merchants: string[] = [];
/** Personal accounts by physical shard, to pick pairs on the same or on different databases. */
const byPhysical = new Map<number, string[]>();

const tally = { deposited: 0n, withdrawn: 0n };
const counts = { deposits: 0, withdrawals: 0, payments: 0, refunds: 0, refusals: 0, replays: 0, holds: 0, captures: 0, voids: 0 };
/** Holds answered HELD that no client has tried to end yet; and every hold made. */
const openHolds: Array<{ id: string; amount: bigint }> = [];
const holdIds: string[] = [];
const paymentIds: string[] = [];
/** Payments answered SUCCEEDED, which clients may refund part of. */
const refundable: Array<{ id: string; amount: bigint }> = [];
const refundIds: string[] = [];
/** Anything that should not have happened: unexpected answers, broken invariants. */
const problems: string[] = [];

/** The workload's choices; each client takes a fork of its own (see seeded-random.ts). */
const random = useSeededRandom();

function amountBetween(rng: SeededRandom, low: number, high: number): string {
  return String(rng.between(low, high));
}

type Payload = Record<string, any>;

/**
 * Sends a mutation as a client would: on a dropped connection or a retryable error it sends
 * the same request again (same idempotency key), so an ambiguous outcome is never counted.
 */
async function send(doc: string, field: string, input: Record<string, unknown>): Promise<Payload | null> {
  let last = '';
  for (let attempt = 0; attempt < sendAttemptsMax; attempt++) {
    try {
      const response = await gql(stack.gatewayUrl, doc, { input }, operator);
      const error = response.errors?.[0];
      if (!error) return response.data![field] as Payload;
      last = JSON.stringify(error.extensions?.code ?? error.message);
      if (error.extensions?.retryable !== true) break;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
  }
  problems.push(`${field} ${JSON.stringify(input)} failed: ${last}`);
  return null;
}

/** A user error the workload may meet is counted; any other answer type is a problem. */
function refused(payload: Payload, expected: string): boolean {
  if (payload.__typename === expected) return false;
  if (typeof payload.code === 'string' && expectedRefusals.has(payload.code)) counts.refusals++;
  else problems.push(`expected ${expected}, got ${JSON.stringify(payload)}`);
  return true;
}

async function deposit(rng: SeededRandom, key: string): Promise<void> {
  const input = { idempotencyKey: key, accountId: rng.pick([...personal, ...merchants]), amount: amountBetween(rng, 1_000, 20_000), currency: 'USD' };
  const payload = await send(depositDoc, 'deposit', input);
  if (!payload || refused(payload, 'Deposit')) return;
  if (payload.status !== 'SUCCEEDED') problems.push(`deposit ${payload.id} is ${payload.status}`);
  tally.deposited += BigInt(payload.amount as string);
  counts.deposits++;
  // Every fifth deposit is sent twice: the replay must be the same deposit and add nothing.
  if (rng.below(5) === 0) {
    const replay = await send(depositDoc, 'deposit', input);
    counts.replays++;
    if (replay?.id !== payload.id) problems.push(`deposit replay answered ${JSON.stringify(replay)}, not ${payload.id}`);
  }
}

async function withdraw(rng: SeededRandom, key: string): Promise<void> {
  // Now and then a withdrawal of about everything: some are refused, some leave an account
  // too poor for what comes next (refused payments, refunds that fail on the payee's shard).
  const amount = rng.below(10) === 0 ? amountBetween(rng, 30_000, 80_000) : amountBetween(rng, 100, 10_000);
  const input = { idempotencyKey: key, accountId: rng.pick(personal), amount, currency: 'USD' };
  const payload = await send(withdrawDoc, 'withdraw', input);
  if (!payload || refused(payload, 'Withdrawal')) return;
  if (payload.status !== 'SUCCEEDED') problems.push(`withdrawal ${payload.id} is ${payload.status}`);
  tally.withdrawn += BigInt(payload.amount as string);
  counts.withdrawals++;
}

function payeeFor(rng: SeededRandom, payer: string, slot: number): string {
  if (slot < merchantSlots) return rng.pick(merchants);
  const home = physicalOf(stack.shards, payer);
  if (slot < merchantSlots + crossShardSlots) {
    return rng.pick([...byPhysical].filter(([physical]) => physical !== home).flatMap(([, ids]) => ids));
  }
  const neighbours = byPhysical.get(home)!.filter((id) => id !== payer);
  return neighbours.length > 0 ? rng.pick(neighbours) : rng.pick(personal.filter((id) => id !== payer));
}

async function pay(rng: SeededRandom, key: string, slot: number): Promise<void> {
  const payer = rng.pick(personal);
  const input = { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payeeFor(rng, payer, slot), amount: amountBetween(rng, 100, 5_000), currency: 'USD' };
  const payload = await send(createPaymentDoc, 'createPayment', input);
  if (!payload || refused(payload, 'Payment')) return;
  paymentIds.push(payload.id as string);
  counts.payments++;
  if (payload.status === 'SUCCEEDED') refundable.push({ id: payload.id as string, amount: BigInt(payload.amount as string) });
}

async function refund(rng: SeededRandom, key: string): Promise<void> {
  if (refundable.length === 0) return;
  const payment = rng.pick(refundable);
  const most = Number(payment.amount / 3n) || 1;
  const payload = await send(refundPaymentDoc, 'refundPayment', {
    idempotencyKey: key, paymentId: payment.id, amount: amountBetween(rng, 1, most), reason: 'bank test',
  });
  if (!payload || refused(payload, 'Refund')) return;
  refundIds.push(payload.id as string);
  counts.refunds++;
}

async function hold(rng: SeededRandom, key: string, slot: number): Promise<void> {
  const payer = rng.pick(personal);
  const short = rng.below(shortHoldEvery) === 0;
  const input = {
    idempotencyKey: key, payerAccountId: payer, payeeAccountId: payeeFor(rng, payer, slot), amount: amountBetween(rng, 100, 5_000), currency: 'USD',
    ...(short ? { expiresInSeconds: 1 + rng.below(3) } : {}),
  };
  const payload = await send(createHoldDoc, 'createHold', input);
  if (!payload || refused(payload, 'Hold')) return;
  holdIds.push(payload.id as string);
  openHolds.push({ id: payload.id as string, amount: BigInt(payload.amount as string) });
  counts.holds++;
}

/** Captures (two in three, some partially) or voids a hold; an expired one answers HOLD_NOT_ACTIVE. */
async function endHold(rng: SeededRandom, key: string): Promise<void> {
  if (openHolds.length === 0) return;
  const [target] = openHolds.splice(rng.below(openHolds.length), 1);
  if (rng.below(3) === 0) {
    const payload = await send(voidHoldDoc, 'voidHold', { idempotencyKey: key, holdId: target!.id });
    if (!payload || refused(payload, 'Hold')) return;
    counts.voids++;
    return;
  }
  const amount = rng.below(2) === 0 ? {} : { amount: amountBetween(rng, 1, Number(target!.amount)) };
  const payload = await send(captureHoldDoc, 'captureHold', { idempotencyKey: key, holdId: target!.id, ...amount });
  if (!payload || refused(payload, 'Payment')) return;
  paymentIds.push(payload.id as string);
  counts.captures++;
  if (payload.status === 'SUCCEEDED') refundable.push({ id: payload.id as string, amount: BigInt(payload.amount as string) });
}

async function client(index: number, until: number): Promise<void> {
  const rng = random.fork(index);
  // Each client starts its cycle elsewhere, so that a short run still mixes every kind of payment.
  let payments = index * 7;
  for (let n = 0; Date.now() < until; n++) {
    const key = `${runId}-${index}-${n}`;
    const roll = rng.below(100);
    if (roll < 42) await pay(rng, key, payments++ % paymentCycle);
    else if (roll < 50) await hold(rng, key, payments++ % paymentCycle);
    else if (roll < 57) await endHold(rng, key);
    else if (roll < 70) await refund(rng, key);
    else if (roll < 85) await deposit(rng, key);
    else await withdraw(rng, key);
  }
}

/**
 * The invariants, one statement per figure per shard (each a consistent snapshot of its shard):
 * entries net to zero per currency; balances equal Σ entries for our accounts, our merchants'
 * stripes and the system accounts; no client bucket below zero.
 */
async function checkInvariants(when: string): Promise<void> {
  const ours = [...personal, ...merchants];
  await Promise.all([...checks.all.map(async (shard) => {
    for (const total of await entryTotals(shard.db)) {
      if (total.debits !== total.credits) problems.push(`${when}: ${shard.name} ${total.currency} debits ${total.debits} ≠ credits ${total.credits}`);
    }
    const mismatched = await balanceMismatches(shard.db);
    if (mismatched.length > 0) {
      const rows = await shard.db.select().from(accounts).where(inArray(accounts.id, mismatched.map((m) => m.accountId)));
      for (const row of rows) {
        if (row.type === 'SYSTEM' || ours.includes(row.id) || (row.parentId !== null && merchants.includes(row.parentId))) {
          problems.push(`${when}: ${shard.name} balance of ${row.id} (${row.type}) differs from its entries`);
        }
      }
    }
    const negative = await shard.db.select().from(accounts).where(and(
      or(inArray(accounts.id, ours), inArray(accounts.parentId, merchants)),
      or(lt(accounts.available, 0n), lt(accounts.frozen, 0n), lt(accounts.pending, 0n)),
    ));
    for (const row of negative) problems.push(`${when}: ${row.id} is below zero (${row.available}/${row.frozen}/${row.pending})`);
  }), (async () => {
    // Every account's frozen money is exactly what its HELD holds hold (one statement per shard).
    for (const m of await frozenAgainstHeld(checks, personal)) problems.push(`${when}: ${m.accountId} has ${m.frozen} frozen but holds ${m.held}`);
  })()]);
}

/** Rows of one table for ids that name their shard, fetched per shard. */
function paymentRowsOf(rows: ReadonlyArray<typeof holds.$inferSelect>): Array<[string, typeof holds.$inferSelect]> {
  return rows.filter((h) => h.status === 'CAPTURED').map((h) => [h.endedBy!, h]);
}

async function rowsById<T>(kind: 'payment' | 'refund' | 'hold', ids: readonly string[], read: (shard: ShardSet['all'][number], local: string[]) => Promise<T[]>): Promise<T[]> {
  const byShard = new Map<ShardSet['all'][number], string[]>();
  for (const id of ids) {
    const shard = shardOf(checks, kind, id);
    byShard.set(shard, [...(byShard.get(shard) ?? []), id]);
  }
  return (await Promise.all([...byShard].map(([shard, local]) => read(shard, local)))).flat();
}

async function pendingOutboxOfOurs(): Promise<number> {
  const pending = [
    ...await rowsById('payment', paymentIds, (s, local) => s.db.select({ id: transferOutbox.id }).from(transferOutbox)
      .where(and(inArray(transferOutbox.id, local), eq(transferOutbox.status, 'PENDING')))),
    ...await rowsById('refund', refundIds, (s, local) => s.db.select({ id: transferOutbox.id }).from(transferOutbox)
      .where(and(inArray(transferOutbox.id, local), eq(transferOutbox.status, 'PENDING')))),
  ];
  return pending.length;
}

/** Σ over our accounts on every shard: personal and merchant home rows plus the merchants' stripes, all buckets. */
async function clientMoney(): Promise<bigint> {
  const ours = [...personal, ...merchants];
  const rows = await Promise.all(checks.all.map((s) => s.db.select().from(accounts)
    .where(or(inArray(accounts.id, ours), inArray(accounts.parentId, merchants)))));
  const all = rows.flat();
  const homes = all.filter((r) => r.parentId === null);
  expect(homes.length).toBe(ours.length);
  return all.reduce((sum, r) => sum + r.available + r.frozen + r.pending, 0n);
}

/** Runs fn over items a few at a time, so that setting up many accounts does not drain the pools. */
async function inChunks<T, R>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map((item, j) => fn(item, i + j)))));
  return results;
}

async function openAccount(type: 'PERSONAL' | 'MERCHANT'): Promise<string> {
  const response = await gql(stack.gatewayUrl, openAccountDoc, { input: { ownerId: unique(`${runId}-${type.toLowerCase()}`), type, currency: 'USD' } }, operator);
  expect(response.errors).toBeUndefined();
  expect(response.data!.openAccount).toMatchObject({ __typename: 'Account', type, status: 'ACTIVE' });
  return response.data!.openAccount.id as string;
}

beforeAll(async () => {
  stack = await startStack();
  checks = testShards(2);
  operator = await token(unique('bank-operator'), 'operator');
  personal.push(...await inChunks(Array.from({ length: accountCount }), clientCount, () => openAccount('PERSONAL')));
  merchants.push(...await inChunks(Array.from({ length: merchantCount }), clientCount, () => openAccount('MERCHANT')));
  for (const id of personal) {
    const physical = physicalOf(stack.shards, id);
    byPhysical.set(physical, [...(byPhysical.get(physical) ?? []), id]);
  }
  // 200 random placements over the databases leave none empty but with vanishing probability.
  expect(byPhysical.size).toBe(stack.shards.all.length);
  await inChunks(personal, clientCount, async (accountId, i) => {
    const payload = await send(depositDoc, 'deposit', {
      idempotencyKey: `${runId}-fund-${i}`, accountId, amount: String(initialDeposit), currency: 'USD',
    });
    expect(payload).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED', amount: String(initialDeposit) });
    tally.deposited += initialDeposit;
  });
  expect(problems).toEqual([]);
}, 120_000);

afterAll(async () => {
  await relay?.stop();
  await expiry?.stop();
  await checks?.close();
  await stack?.stop();
});

describe('bank', () => {
  it(`keeps every invariant while ${clientCount} clients move money for ${runSeconds} s, and loses nothing`, async () => {
    relay = startRelay(stack.shards, 200);
    expiry = startHoldExpiry(stack.shards, holdExpiryIntervalMs);
    const until = Date.now() + runSeconds * 1_000;
    const clients = Array.from({ length: clientCount }, (_, i) => client(i, until));
    let running = true;
    let samples = 0;
    const sampler = (async () => {
      while (running) {
        await checkInvariants(`sample ${samples + 1}`);
        samples++;
        await sleep(sampleIntervalMs);
      }
    })().catch((error: unknown) => {
      problems.push(`sampling failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    await Promise.all(clients);
    running = false;
    await sampler;
    expect(samples).toBeGreaterThanOrEqual(Math.max(1, Math.floor((runSeconds * 1_000) / sampleIntervalMs) - 2));

    // The clients have stopped: let the relay finish what they left PROCESSING.
    const deadline = Date.now() + drainTimeoutMs;
    for (;;) {
      const claimed = await relay.drain();
      const pending = await pendingOutboxOfOurs();
      if (claimed === 0 && pending === 0) break;
      if (Date.now() > deadline) throw new Error(`relay did not drain: ${pending} of our outbox rows still PENDING`);
      await sleep(drainPollMs);
    }
    await checkInvariants('end');
    expect(problems).toEqual([]);

    // The workload did what it claims: every kind of movement, most payments across shards.
    expect(counts.deposits).toBeGreaterThan(0);
    expect(counts.withdrawals).toBeGreaterThan(0);
    expect(counts.refunds).toBeGreaterThan(0);
    expect(counts.holds).toBeGreaterThan(0);
    expect(counts.captures).toBeGreaterThan(0);
    expect(counts.voids).toBeGreaterThan(0);
    // Each hold ended at most once, and one that ended CAPTURED names a payment of its amount or less.
    const holdRows = await rowsById('hold', holdIds, (s, local) => s.db.select().from(holds).where(inArray(holds.id, local)));
    expect(holdRows.length).toBe(holdIds.length);
    const capturedBy = new Map(paymentRowsOf(holdRows));
    expect(capturedBy.size).toBe(counts.captures);
    const paymentRows = await rowsById('payment', paymentIds, (s, local) => s.db.select().from(payments).where(inArray(payments.id, local)));
    for (const p of paymentRows.filter((row) => capturedBy.has(row.id))) {
      const h = capturedBy.get(p.id)!;
      expect(p.amount, `capture ${p.id} of hold ${h.id}`).toBe(h.capturedAmount);
      expect(p.amount <= h.amount).toBe(true);
    }
    expect(paymentRows.length).toBe(paymentIds.length);
    const routes = new Map<string, number>();
    for (const row of paymentRows) routes.set(row.route, (routes.get(row.route) ?? 0) + 1);
    expect(routes.get('MERCHANT_STRIPE') ?? 0).toBeGreaterThan(0);
    expect(routes.get('SAME_SHARD') ?? 0).toBeGreaterThan(0);
    expect((routes.get('CROSS_SHARD') ?? 0) * 2).toBeGreaterThanOrEqual(paymentRows.length);

    // Every movement finished, and what was refunded is what the refunds that succeeded add up to.
    const statuses = (rows: Array<{ status: string }>) => [...new Set(rows.map((r) => r.status))].sort();
    expect(['FAILED', 'SUCCEEDED']).toEqual(expect.arrayContaining(statuses(paymentRows)));
    const refundRows = await rowsById('payment', paymentIds, (s, local) => s.db.select().from(refunds).where(inArray(refunds.paymentId, local)));
    expect(refundRows.map((r) => r.id).sort()).toEqual([...refundIds].sort());
    expect(['FAILED', 'SUCCEEDED']).toEqual(expect.arrayContaining(statuses(refundRows)));
    const refunded = new Map<string, bigint>();
    for (const r of refundRows) if (r.status === 'SUCCEEDED') refunded.set(r.paymentId, (refunded.get(r.paymentId) ?? 0n) + r.amount);
    for (const p of paymentRows) {
      expect(p.refundedAmount, `refunded amount of ${p.id}`).toBe(refunded.get(p.id) ?? 0n);
      expect(p.refundedAmount <= p.amount, `${p.id} refunded more than paid`).toBe(true);
    }

    // No money made or lost: the clients hold what came in minus what went out.
    expect(await clientMoney()).toBe(tally.deposited - tally.withdrawn);

    // And what sits in clearing is exactly what other tests still have in flight.
    const clearing = await clearingAgainstInFlight(checks, 'USD');
    expect(clearing.agreed, `Σ clearing ${clearing.clearing} ≠ in flight ${clearing.inFlight.amount}`).toBe(true);
    const ours = new Set([...paymentIds, ...refundIds]);
    expect([...clearing.inFlight.payments, ...clearing.inFlight.refunds].filter((id) => ours.has(id))).toEqual([]);
    console.log(`bank: ${JSON.stringify(counts)}, routes ${JSON.stringify(Object.fromEntries(routes))}, ${samples} samples`);
  }, runSeconds * 1_000 + 90_000);
});
