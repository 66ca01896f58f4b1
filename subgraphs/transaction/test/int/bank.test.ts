import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { and, eq, inArray, lt, or } from 'drizzle-orm';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { balanceMismatches, entryTotals } from '@paygraph/shared/ledger/store/health';
import { accounts } from '@paygraph/shared/ledger/store/schema';
import { campaigns, holds, paymentLegs, payments, refunds, transferOutbox } from '../../src/db/schema/transactions';
import { paymentFx, refundFx } from '../../src/db/schema/fx';
import { startHoldExpiry, type HoldExpiry } from '../../src/services/hold-expiry';
import { frozenAgainstHeld } from '../../../../test/support/holds';
import { startRelay, type Relay } from '../../src/services/relay';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { testShards, token, unique } from '../../../../test/support/env';
import { clearingAgainstInFlight, physicalOf, shardOf, sleep } from '../../../../test/support/bank';
import { useSeededRandom, type SeededRandom } from '../../../../test/support/seeded-random';
import { legDirection, legsReturned, type LegMade } from '../../../../test/support/legs';
import { pushTo } from '@paygraph/shared/collections';

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
/** Yen accounts, paid to and from the USD accounts with FX quotes; each starts with jpyDeposit yen. */
const jpyAccountCount = 24;
const jpyDeposit = 5_000_000n;
const clientCount = 16;
/** How long the clients run; BANK_TEST_SECONDS shortens it for local runs. */
const runSecondsDefault = 30;
const runSeconds = readRunSeconds();
const sampleIntervalMs = 2_000;
const initialDeposit = 50_000n;
/** How long the end waits for the relay to finish what the requests left PROCESSING. */
const drainTimeoutMs = 20_000;
const drainPollMs = 200;
/**
 * A request that failed in transport or with a retryable error is sent again (same key), at most this many times in
 * all, after a pause doubling from sendRetryPauseMs, as a client backs off: a refund of a payment whose other refund
 * is still in flight answers LOCK_TIMEOUT until that one ends (PAYMENTS.md, refunds), which immediate retries could
 * outrun when two clients refund one payment at once.
 */
const sendAttemptsMax = 6;
const sendRetryPauseMs = 25;
/** Out of 20 payments per client: 3 to merchants, 12 across physical shards, 5 within one. */
const paymentCycle = 20;
const merchantSlots = 3;
const crossShardSlots = 12;
/**
 * Refusals the random workload may meet; any other answer is a failure (CAMPAIGN_EXHAUSTED only from the scarce
 * campaign).
 */
const expectedRefusals = new Set([
  'INSUFFICIENT_FUNDS',
  'REFUND_EXCEEDS_PAYMENT',
  'PAYMENT_NOT_REFUNDABLE',
  'HOLD_NOT_ACTIVE',
  'CAMPAIGN_EXHAUSTED',
]);
/** Payments of many legs: 1..splitsMax splits, each at most a quarter of the amount, so the payee keeps some. */
const splitsMax = 3;
/**
 * The campaigns' funding accounts, ours and paying nothing else: a rich one, and one that funds scarceDiscounts
 * discounts.
 */
const campaignFunding = 5_000_000n;
const scarceAmountOff = 400n;
const scarceDiscounts = 2n;
/** One discounted payment in this many names the scarce campaign, which soon answers CAMPAIGN_EXHAUSTED. */
const scarceEvery = 4;
/** One hold in this many lives only 1-3 s, so that the expiry worker releases some in the mix. */
const shortHoldEvery = 4;
const holdExpiryIntervalMs = 300;

function readRunSeconds(): number {
  const raw = process.env.BANK_TEST_SECONDS;
  if (raw === undefined || raw === '') return runSecondsDefault;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`BANK_TEST_SECONDS must be a positive number, got "${raw}"`);
  return value;
}

const openAccountDoc = contractOperation('OpenAccount');
const depositDoc = contractOperation('Deposit');
const withdrawDoc = contractOperation('Withdraw');
const createPaymentDoc = contractOperation('CreatePayment');
const createMarketplacePaymentDoc = contractOperation('CreateMarketplacePayment');
const createCampaignDoc = contractOperation('CreateCampaign');
const createFxQuoteDoc = contractOperation('CreateFxQuote');
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
const yen: string[] = [];
/** The campaigns' funding accounts (USD, ours): deposited into once, never paid from otherwise. */
const funders: string[] = [];
/** Personal accounts by physical shard, to pick pairs on the same or on different databases. */
const byPhysical = new Map<number, string[]>();

const tally = { deposited: 0n, withdrawn: 0n, depositedJpy: 0n };
/** Each account's deposits minus its withdrawals, as the clients were answered: the start of the per-account model. */
const externalOf = new Map<string, bigint>();
const counts = {
  deposits: 0,
  withdrawals: 0,
  payments: 0,
  refunds: 0,
  refusals: 0,
  replays: 0,
  holds: 0,
  captures: 0,
  voids: 0,
  fxPayments: 0,
  legPayments: 0,
  discounted: 0,
  splitPayments: 0,
  exhausted: 0,
};
/** Holds answered HELD that no client has tried to end yet; and every hold made. */
const openHolds: Array<{ id: string; amount: bigint }> = [];
const holdIds: string[] = [];
const paymentIds: string[] = [];
/** Payments answered SUCCEEDED, which clients may refund part of. */
const refundable: Array<{ id: string; amount: bigint }> = [];
const refundIds: string[] = [];

/** A campaign's terms as the contract words them; scarce: the one whose funding account soon runs dry. */
interface Campaign {
  id: string;
  fundingAccountId: string;
  bps: bigint | null;
  off: bigint | null;
  cap: bigint | null;
  scarce: boolean;
}
const campaignList: Campaign[] = [];
const legPayments = new Map<string, { amount: bigint; campaign: Campaign | null; legs: LegMade[] }>();
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
    if (attempt > 0) await sleep(sendRetryPauseMs * 2 ** (attempt - 1));
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

function moveExternal(accountId: string, by: bigint): void {
  externalOf.set(accountId, (externalOf.get(accountId) ?? 0n) + by);
}

async function deposit(rng: SeededRandom, key: string): Promise<void> {
  const input = {
    idempotencyKey: key,
    accountId: rng.pick([...personal, ...merchants]),
    amount: amountBetween(rng, 1_000, 20_000),
    currency: 'USD',
  };
  const payload = await send(depositDoc, 'deposit', input);
  if (!payload || refused(payload, 'Deposit')) return;
  if (payload.status !== 'SUCCEEDED') problems.push(`deposit ${payload.id} is ${payload.status}`);
  tally.deposited += BigInt(payload.amount as string);
  moveExternal(input.accountId, BigInt(payload.amount as string));
  counts.deposits++;
  // Every fifth deposit is sent twice: the replay must be the same deposit and add nothing.
  if (rng.below(5) === 0) {
    const replay = await send(depositDoc, 'deposit', input);
    counts.replays++;
    if (replay?.id !== payload.id)
      problems.push(`deposit replay answered ${JSON.stringify(replay)}, not ${payload.id}`);
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
  moveExternal(input.accountId, -BigInt(payload.amount as string));
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
  const input = {
    idempotencyKey: key,
    payerAccountId: payer,
    payeeAccountId: payeeFor(rng, payer, slot),
    amount: amountBetween(rng, 100, 5_000),
    currency: 'USD',
  };
  const payload = await send(createPaymentDoc, 'createPayment', input);
  if (!payload || refused(payload, 'Payment')) return;
  paymentIds.push(payload.id as string);
  counts.payments++;
  if (payload.status === 'SUCCEEDED')
    refundable.push({ id: payload.id as string, amount: BigInt(payload.amount as string) });
}

/** The contract: floor(amount * bps / 10000) or min(amountOff, amount), then at most the cap. */
function discountOf(c: Campaign, amount: bigint): bigint {
  const raw = c.bps !== null ? (amount * c.bps) / 10_000n : c.off! < amount ? c.off! : amount;
  return c.cap !== null && c.cap < raw ? c.cap : raw;
}

/**
 * A payment of many legs: 1..splitsMax splits (the first on another database than the payer's),
 * a campaign's discount, or both. The answer's legs must be this file's own: the payer pays
 * amount - discount, the campaign's funding account the discount, the payee the rest.
 */
async function legPay(rng: SeededRandom, key: string, slot: number): Promise<void> {
  const payer = rng.pick(personal);
  const payee = payeeFor(rng, payer, slot);
  const amount = BigInt(rng.between(1_000, 5_000));
  const kind = rng.below(3); // 0: splits, 1: a discount, 2: both
  const splits: Array<{ accountId: string; amount: bigint }> = [];
  if (kind !== 1) {
    const home = physicalOf(stack.shards, payer);
    const taken = new Set([payer, payee]);
    const elsewhere = [...personal, ...merchants].filter(
      (id) => !taken.has(id) && physicalOf(stack.shards, id) !== home,
    );
    const count = 1 + rng.below(splitsMax);
    for (let i = 0; i < count; i++) {
      const accountId = rng.pick(i === 0 ? elsewhere : [...personal, ...merchants].filter((id) => !taken.has(id)));
      taken.add(accountId);
      splits.push({ accountId, amount: BigInt(rng.between(1, Number(amount / 4n))) });
    }
  }
  const discounted = kind !== 0;
  const campaign = !discounted
    ? null
    : rng.below(scarceEvery) === 0
      ? campaignList.find((c) => c.scarce)!
      : rng.pick(campaignList.filter((c) => !c.scarce));
  const input = {
    idempotencyKey: key,
    payerAccountId: payer,
    payeeAccountId: payee,
    amount: String(amount),
    currency: 'USD',
    splits: splits.map((s) => ({ accountId: s.accountId, amount: String(s.amount) })),
    ...(campaign ? { campaignId: campaign.id } : {}),
  };
  const payload = await send(createMarketplacePaymentDoc, 'createPayment', input);
  if (!payload) return;
  if (payload.code === 'CAMPAIGN_EXHAUSTED') {
    counts.exhausted++;
    if (!campaign?.scarce)
      problems.push(`${key}: CAMPAIGN_EXHAUSTED from campaign ${campaign?.id ?? 'none'}, funded for the whole run`);
  }
  if (refused(payload, 'Payment')) return;
  const discount = campaign ? discountOf(campaign, amount) : 0n;
  const legs: LegMade[] = [
    { accountId: payer, role: 'PAYER', amount: amount - discount },
    ...(discount > 0n ? [{ accountId: campaign!.fundingAccountId, role: 'CAMPAIGN' as const, amount: discount }] : []),
    { accountId: payee, role: 'PAYEE', amount: amount - splits.reduce((sum, s) => sum + s.amount, 0n) },
    ...splits.map((s) => ({ accountId: s.accountId, role: 'SPLIT' as const, amount: s.amount })),
  ];
  const answered = (payload.legs as Array<{ account: { id: string }; role: string; amount: string }>).map(
    (l) => `${l.account.id} ${l.role} ${l.amount}`,
  );
  if (JSON.stringify(answered) !== JSON.stringify(legs.map((l) => `${l.accountId} ${l.role} ${l.amount}`))) {
    problems.push(
      `${payload.id} answered legs ${JSON.stringify(answered)}, not ${JSON.stringify(legs.map((l) => `${l.accountId} ${l.role} ${l.amount}`))}`,
    );
  }
  if (BigInt(payload.discountAmount as string) !== discount)
    problems.push(`${payload.id} answered discount ${payload.discountAmount}, not ${discount}`);
  legPayments.set(payload.id as string, { amount, campaign, legs });
  paymentIds.push(payload.id as string);
  counts.legPayments++;
  if (discount > 0n) counts.discounted++;
  if (splits.length > 0) counts.splitPayments++;
  if (payload.status === 'SUCCEEDED') refundable.push({ id: payload.id as string, amount });
}

/**
 * A payment across currencies: USD → JPY or JPY → USD, with a quote of the sell side; across shards or not, at random.
 */
async function fxPay(rng: SeededRandom, key: string): Promise<void> {
  const toYen = rng.below(2) === 0;
  const [payer, payee] = toYen ? [rng.pick(personal), rng.pick(yen)] : [rng.pick(yen), rng.pick(personal)];
  const [sellCurrency, buyCurrency] = toYen ? ['USD', 'JPY'] : ['JPY', 'USD'];
  const sellAmount = toYen ? amountBetween(rng, 100, 5_000) : amountBetween(rng, 1_000, 500_000);
  const made = await send(createFxQuoteDoc, 'createFxQuote', { sellCurrency, buyCurrency, sellAmount });
  if (!made || refused(made, 'FxQuote')) return;
  const input = {
    idempotencyKey: key,
    payerAccountId: payer,
    payeeAccountId: payee,
    amount: sellAmount,
    currency: sellCurrency,
    fxQuoteId: made.id,
  };
  const payload = await send(createPaymentDoc, 'createPayment', input);
  if (!payload || refused(payload, 'Payment')) return;
  paymentIds.push(payload.id as string);
  counts.fxPayments++;
  if (payload.status === 'SUCCEEDED')
    refundable.push({ id: payload.id as string, amount: BigInt(payload.amount as string) });
}

async function refund(rng: SeededRandom, key: string): Promise<void> {
  if (refundable.length === 0) return;
  const payment = rng.pick(refundable);
  const most = Number(payment.amount / 3n) || 1;
  const payload = await send(refundPaymentDoc, 'refundPayment', {
    idempotencyKey: key,
    paymentId: payment.id,
    amount: amountBetween(rng, 1, most),
    reason: 'bank test',
  });
  if (!payload || refused(payload, 'Refund')) return;
  refundIds.push(payload.id as string);
  counts.refunds++;
}

async function hold(rng: SeededRandom, key: string, slot: number): Promise<void> {
  const payer = rng.pick(personal);
  const short = rng.below(shortHoldEvery) === 0;
  const input = {
    idempotencyKey: key,
    payerAccountId: payer,
    payeeAccountId: payeeFor(rng, payer, slot),
    amount: amountBetween(rng, 100, 5_000),
    currency: 'USD',
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
  if (payload.status === 'SUCCEEDED')
    refundable.push({ id: payload.id as string, amount: BigInt(payload.amount as string) });
}

async function client(index: number, until: number): Promise<void> {
  const rng = random.fork(index);
  // Each client starts its cycle elsewhere, so that a short run still mixes every kind of payment.
  let payments = index * 7;
  for (let n = 0; Date.now() < until; n++) {
    const key = `${runId}-${index}-${n}`;
    const roll = rng.below(100);
    if (roll < 29) await pay(rng, key, payments++ % paymentCycle);
    else if (roll < 36) await legPay(rng, key, payments++ % paymentCycle);
    else if (roll < 42) await fxPay(rng, key);
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
  const ours = [...personal, ...merchants, ...yen, ...funders];
  await Promise.all([
    ...checks.all.map(async (shard) => {
      for (const total of await entryTotals(shard.db)) {
        if (total.debits !== total.credits)
          problems.push(`${when}: ${shard.name} ${total.currency} debits ${total.debits} ≠ credits ${total.credits}`);
      }
      const mismatched = await balanceMismatches(shard.db);
      if (mismatched.length > 0) {
        const rows = await shard.db
          .select()
          .from(accounts)
          .where(
            inArray(
              accounts.id,
              mismatched.map((m) => m.accountId),
            ),
          );
        for (const row of rows) {
          if (
            row.type === 'SYSTEM' ||
            ours.includes(row.id) ||
            (row.parentId !== null && merchants.includes(row.parentId))
          ) {
            problems.push(`${when}: ${shard.name} balance of ${row.id} (${row.type}) differs from its entries`);
          }
        }
      }
      const negative = await shard.db
        .select()
        .from(accounts)
        .where(
          and(
            or(inArray(accounts.id, ours), inArray(accounts.parentId, merchants)),
            or(lt(accounts.available, 0n), lt(accounts.frozen, 0n), lt(accounts.pending, 0n)),
          ),
        );
      for (const row of negative)
        problems.push(`${when}: ${row.id} is below zero (${row.available}/${row.frozen}/${row.pending})`);
    }),
    (async () => {
      // Every account's frozen money is exactly what its HELD holds hold (one statement per shard).
      for (const m of await frozenAgainstHeld(checks, personal))
        problems.push(`${when}: ${m.accountId} has ${m.frozen} frozen but holds ${m.held}`);
    })(),
  ]);
}

/** Rows of one table for ids that name their shard, fetched per shard. */
function paymentRowsOf(rows: ReadonlyArray<typeof holds.$inferSelect>): Array<[string, typeof holds.$inferSelect]> {
  return rows.filter((h) => h.status === 'CAPTURED').map((h) => [h.endedBy!, h]);
}

async function rowsById<T>(
  kind: 'payment' | 'refund' | 'hold',
  ids: readonly string[],
  read: (shard: ShardSet['all'][number], local: string[]) => Promise<T[]>,
): Promise<T[]> {
  const byShard = new Map<ShardSet['all'][number], string[]>();
  for (const id of ids) {
    const shard = shardOf(checks, kind, id);
    pushTo(byShard, shard, id);
  }
  return (await Promise.all([...byShard].map(([shard, local]) => read(shard, local)))).flat();
}

async function pendingOutboxOfOurs(): Promise<number> {
  const pending = [
    ...(await rowsById('payment', paymentIds, (s, local) =>
      s.db
        .select({ id: transferOutbox.id })
        .from(transferOutbox)
        .where(and(inArray(transferOutbox.id, local), eq(transferOutbox.status, 'PENDING'))),
    )),
    ...(await rowsById('refund', refundIds, (s, local) =>
      s.db
        .select({ id: transferOutbox.id })
        .from(transferOutbox)
        .where(and(inArray(transferOutbox.id, local), eq(transferOutbox.status, 'PENDING'))),
    )),
  ];
  return pending.length;
}

/**
 * Σ over our accounts in one currency on every shard: personal and merchant home rows plus the merchants' stripes, all
 * buckets.
 */
async function clientMoney(currency: 'USD' | 'JPY'): Promise<bigint> {
  const ours = currency === 'USD' ? [...personal, ...merchants, ...funders] : yen;
  const stripesOf = currency === 'USD' ? merchants : ['none'];
  const rows = await Promise.all(
    checks.all.map((s) =>
      s.db
        .select()
        .from(accounts)
        .where(or(inArray(accounts.id, ours), inArray(accounts.parentId, stripesOf))),
    ),
  );
  const all = rows.flat();
  const homes = all.filter((r) => r.parentId === null);
  expect(homes.length).toBe(ours.length);
  expect(all.every((r) => r.currency === currency)).toBe(true);
  return all.reduce((sum, r) => sum + r.available + r.frozen + r.pending, 0n);
}

/**
 * What FX moved into (+) and out of (−) our clients' money per currency, from the records: a
 * payment that SUCCEEDED took sellAmount in one currency and gave buyAmount in the other; each
 * refund that SUCCEEDED gave its amount back in the sell currency and took its share of
 * buyAmount (refund_fx) in the buy currency.
 */
async function fxFlows(
  paymentRows: ReadonlyArray<typeof payments.$inferSelect>,
  refundRows: ReadonlyArray<typeof refunds.$inferSelect>,
): Promise<Map<string, bigint>> {
  const flows = new Map<string, bigint>();
  const add = (currency: string, amount: bigint) => flows.set(currency, (flows.get(currency) ?? 0n) + amount);
  const fxRows = await rowsById('payment', paymentIds, (s, local) =>
    s.db.select().from(paymentFx).where(inArray(paymentFx.paymentId, local)),
  );
  const fxOf = new Map(fxRows.map((f) => [f.paymentId, f]));
  for (const p of paymentRows) {
    const fx = fxOf.get(p.id);
    if (!fx || p.status !== 'SUCCEEDED') continue;
    add(fx.sellCurrency, -fx.sellAmount);
    add(fx.buyCurrency, fx.buyAmount);
  }
  const shares = new Map(
    (
      await rowsById('refund', refundIds, (s, local) =>
        s.db.select().from(refundFx).where(inArray(refundFx.refundId, local)),
      )
    ).map((f) => [f.refundId, f]),
  );
  for (const r of refundRows) {
    const share = shares.get(r.id);
    if (!share || r.status !== 'SUCCEEDED') continue;
    add(r.currency, r.amount);
    add(share.buyCurrency, -share.buyAmount);
  }
  expect(fxRows.length).toBe(counts.fxPayments);
  return flows;
}

/**
 * Every account's money as the clients' answers and the final records make it: deposits minus
 * withdrawals; what each payment that SUCCEEDED moved less what its refunds that SUCCEEDED gave
 * back (a payment of many legs leg by leg, each leg's refunded amount by the cumulative rule
 * from the payment's total refunded, checked against its payment_legs row; an FX payment in
 * each side's currency). A merchant's stripes count as the merchant's.
 */
async function modelOfAccounts(
  paymentRows: ReadonlyArray<typeof payments.$inferSelect>,
  refundRows: ReadonlyArray<typeof refunds.$inferSelect>,
): Promise<Map<string, bigint>> {
  const model = new Map(externalOf);
  const move = (id: string, by: bigint) => model.set(id, (model.get(id) ?? 0n) + by);
  const fxOf = new Map(
    (
      await rowsById('payment', paymentIds, (s, local) =>
        s.db.select().from(paymentFx).where(inArray(paymentFx.paymentId, local)),
      )
    ).map((f) => [f.paymentId, f]),
  );
  const refundFxOf = new Map(
    (
      await rowsById('refund', refundIds, (s, local) =>
        s.db.select().from(refundFx).where(inArray(refundFx.refundId, local)),
      )
    ).map((f) => [f.refundId, f]),
  );
  const legRows = await rowsById('payment', [...legPayments.keys()], (s, local) =>
    s.db.select().from(paymentLegs).where(inArray(paymentLegs.paymentId, local)),
  );
  for (const p of paymentRows) {
    if (p.status !== 'SUCCEEDED') continue;
    const made = legPayments.get(p.id);
    if (made) {
      const rows = legRows.filter((l) => l.paymentId === p.id).sort((a, b) => a.legIndex - b.legIndex);
      expect(
        rows.map((l) => [l.accountId, l.role, l.amount]),
        `legs of ${p.id}`,
      ).toEqual(made.legs.map((l) => [l.accountId, l.role, l.amount]));
      const returned = legsReturned(made.legs, made.amount, p.refundedAmount);
      expect(
        rows.map((l) => l.refundedAmount),
        `refunded legs of ${p.id} after ${p.refundedAmount} refunded`,
      ).toEqual(returned);
      made.legs.forEach((l, i) => move(l.accountId, legDirection(l) * (l.amount - returned[i]!)));
      continue;
    }
    const fx = fxOf.get(p.id);
    move(p.payerAccountId, -(fx?.sellAmount ?? p.amount));
    move(p.payeeAccountId, fx?.buyAmount ?? p.amount);
  }
  const paymentOf = new Map(paymentRows.map((p) => [p.id, p]));
  for (const r of refundRows) {
    const p = paymentOf.get(r.paymentId)!;
    if (r.status !== 'SUCCEEDED' || legPayments.has(p.id)) continue;
    move(p.payerAccountId, r.amount);
    move(p.payeeAccountId, -(refundFxOf.get(r.id)?.buyAmount ?? r.amount));
  }
  return model;
}

/** Every account of ours (all buckets, a merchant's stripes with it) against the model, to the unit. */
async function checkAccountsAgainst(model: Map<string, bigint>): Promise<void> {
  const ours = [...personal, ...merchants, ...yen, ...funders];
  const rows = (
    await Promise.all(
      checks.all.map((s) =>
        s.db
          .select()
          .from(accounts)
          .where(or(inArray(accounts.id, ours), inArray(accounts.parentId, merchants))),
      ),
    )
  ).flat();
  const actual = new Map<string, bigint>();
  for (const r of rows) {
    const owner = r.parentId ?? r.id;
    actual.set(owner, (actual.get(owner) ?? 0n) + r.available + r.frozen + r.pending);
  }
  const differing = ours
    .filter((id) => (actual.get(id) ?? 0n) !== (model.get(id) ?? 0n))
    .map((id) => `${id}: ${actual.get(id) ?? 0n}, model ${model.get(id) ?? 0n}`);
  expect(differing, 'accounts whose money differs from the model').toEqual([]);
}

/**
 * Each campaign spent exactly the discounts of its payments that SUCCEEDED (a refund gives the
 * funder back its share and leaves the campaign's spent alone); that no funder overdrew is the
 * per-account model and the sampled no-bucket-below-zero check.
 */
async function checkCampaigns(paymentRows: ReadonlyArray<typeof payments.$inferSelect>): Promise<void> {
  for (const c of campaignList) {
    const [row] = await shardOf(checks, 'campaign', c.id).db.select().from(campaigns).where(eq(campaigns.id, c.id));
    const paid = paymentRows.filter((p) => p.status === 'SUCCEEDED' && p.campaignId === c.id && p.discountAmount > 0n);
    expect(row!.spentAmount, `spent of campaign ${c.id}`).toBe(paid.reduce((sum, p) => sum + p.discountAmount, 0n));
    expect(row!.paymentsCount, `payments of campaign ${c.id}`).toBe(paid.length);
  }
}

/** Runs fn over items a few at a time, so that setting up many accounts does not drain the pools. */
async function inChunks<T, R>(
  items: readonly T[],
  size: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size)
    results.push(...(await Promise.all(items.slice(i, i + size).map((item, j) => fn(item, i + j)))));
  return results;
}

async function openAccount(type: 'PERSONAL' | 'MERCHANT', currency = 'USD'): Promise<string> {
  const response = await gql(
    stack.gatewayUrl,
    openAccountDoc,
    { input: { ownerId: unique(`${runId}-${type.toLowerCase()}`), type, currency } },
    operator,
  );
  expect(response.errors).toBeUndefined();
  expect(response.data!.openAccount).toMatchObject({ __typename: 'Account', type, status: 'ACTIVE' });
  return response.data!.openAccount.id as string;
}

/**
 * Two campaigns of a rich funder (percent off with a cap, amount off) and one of a funder that pays scarceDiscounts
 * discounts.
 */
async function openCampaigns(): Promise<void> {
  const rich = await openAccount('PERSONAL');
  const poor = await openAccount('PERSONAL');
  funders.push(rich, poor);
  for (const [accountId, amount] of [
    [rich, campaignFunding],
    [poor, scarceAmountOff * scarceDiscounts],
  ] as const) {
    const payload = await send(depositDoc, 'deposit', {
      idempotencyKey: `${runId}-fund-${accountId}`,
      accountId,
      amount: String(amount),
      currency: 'USD',
    });
    expect(payload).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED' });
    tally.deposited += amount;
    moveExternal(accountId, amount);
  }
  const terms = [
    { fundingAccountId: rich, bps: 1_500n, off: null, cap: 400n, scarce: false },
    { fundingAccountId: rich, bps: null, off: 250n, cap: null, scarce: false },
    { fundingAccountId: poor, bps: null, off: scarceAmountOff, cap: null, scarce: true },
  ];
  for (const [i, t] of terms.entries()) {
    const made = await send(createCampaignDoc, 'createCampaign', {
      idempotencyKey: `${runId}-campaign-${i}`,
      fundingAccountId: t.fundingAccountId,
      ...(t.bps !== null ? { percentOffBps: Number(t.bps) } : { amountOff: String(t.off) }),
      ...(t.cap !== null ? { maxDiscountPerPayment: String(t.cap) } : {}),
    });
    expect(made).toMatchObject({ __typename: 'Campaign', status: 'ACTIVE' });
    campaignList.push({ id: made!.id as string, ...t });
  }
}

beforeAll(async () => {
  stack = await startStack();
  checks = testShards(2);
  operator = await token(unique('bank-operator'), 'operator');
  personal.push(...(await inChunks(Array.from({ length: accountCount }), clientCount, () => openAccount('PERSONAL'))));
  merchants.push(
    ...(await inChunks(Array.from({ length: merchantCount }), clientCount, () => openAccount('MERCHANT'))),
  );
  yen.push(
    ...(await inChunks(Array.from({ length: jpyAccountCount }), clientCount, () => openAccount('PERSONAL', 'JPY'))),
  );
  await inChunks(yen, clientCount, async (accountId, i) => {
    const payload = await send(depositDoc, 'deposit', {
      idempotencyKey: `${runId}-fund-jpy-${i}`,
      accountId,
      amount: String(jpyDeposit),
      currency: 'JPY',
    });
    expect(payload).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED' });
    tally.depositedJpy += jpyDeposit;
    moveExternal(accountId, jpyDeposit);
  });
  await openCampaigns();
  // Whatever other test files set the pair to meanwhile, every quote answers its own amounts.
  const rate = await gql(
    stack.gatewayUrl,
    contractOperation('SetFxRate'),
    { input: { baseCurrency: 'USD', quoteCurrency: 'JPY', rate: '150.25', spreadBps: 30 } },
    operator,
  );
  expect(rate.data!.setFxRate.__typename).toBe('FxRate');
  for (const id of personal) {
    const physical = physicalOf(stack.shards, id);
    pushTo(byPhysical, physical, id);
  }
  // 200 random placements over the databases leave none empty but with vanishing probability.
  expect(byPhysical.size).toBe(stack.shards.all.length);
  await inChunks(personal, clientCount, async (accountId, i) => {
    const payload = await send(depositDoc, 'deposit', {
      idempotencyKey: `${runId}-fund-${i}`,
      accountId,
      amount: String(initialDeposit),
      currency: 'USD',
    });
    expect(payload).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED', amount: String(initialDeposit) });
    tally.deposited += initialDeposit;
    moveExternal(accountId, initialDeposit);
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
  it(
    `keeps every invariant while ${clientCount} clients move money for ${runSeconds} s, and loses nothing`,
    async () => {
      relay = startRelay(stack.shards, 200);
      expiry = startHoldExpiry(stack.shards, holdExpiryIntervalMs);
      const until = Date.now() + runSeconds * 1_000;
      const clients = Array.from({ length: clientCount }, (_, i) => client(i, until));
      let running = true;
      let samples = 0;
      let samplingMs = 0;
      const sampler = (async () => {
        while (running) {
          const started = Date.now();
          await checkInvariants(`sample ${samples + 1}`);
          samplingMs += Date.now() - started;
          samples++;
          // Not a wait for an event: the pace of the sampling while the clients run for runSeconds.
          await sleep(sampleIntervalMs);
        }
      })().catch((error: unknown) => {
        problems.push(`sampling failed: ${error instanceof Error ? error.message : String(error)}`);
      });
      await Promise.all(clients);
      running = false;
      await sampler;
      // The sampler went on for the whole run: a sample takes what this run measured (longer on a
      // loaded machine) plus the pause, and the first and last may fall outside the run.
      const sampleCycleMs = sampleIntervalMs + samplingMs / Math.max(1, samples);
      expect(samples).toBeGreaterThanOrEqual(Math.max(1, Math.floor((runSeconds * 1_000) / sampleCycleMs) - 2));

      // The clients have stopped: let the relay finish what they left PROCESSING.
      const deadline = Date.now() + drainTimeoutMs;
      for (;;) {
        const claimed = await relay.drain();
        const pending = await pendingOutboxOfOurs();
        if (claimed === 0 && pending === 0) break;
        if (Date.now() > deadline) throw new Error(`relay did not drain: ${pending} of our outbox rows still PENDING`);
        // Rows left PENDING but not claimed wait for their retry's back-off (nextAttemptAt, on the
        // relay's wall clock): polled until due.
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
      const holdRows = await rowsById('hold', holdIds, (s, local) =>
        s.db.select().from(holds).where(inArray(holds.id, local)),
      );
      expect(holdRows.length).toBe(holdIds.length);
      const capturedBy = new Map(paymentRowsOf(holdRows));
      expect(capturedBy.size).toBe(counts.captures);
      const paymentRows = await rowsById('payment', paymentIds, (s, local) =>
        s.db.select().from(payments).where(inArray(payments.id, local)),
      );
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
      // Of the two-leg payments most cross shards; every payment with splits has a leg on another database.
      expect((routes.get('CROSS_SHARD') ?? 0) * 2).toBeGreaterThanOrEqual(
        paymentRows.length - (routes.get('LEGS') ?? 0),
      );
      expect(routes.get('LEGS') ?? 0).toBe(counts.legPayments);
      expect(counts.splitPayments).toBeGreaterThan(0);
      expect(counts.discounted).toBeGreaterThan(0);

      // Every movement finished, and what was refunded is what the refunds that succeeded add up to.
      const statuses = (rows: Array<{ status: string }>) => [...new Set(rows.map((r) => r.status))].sort();
      expect(['FAILED', 'SUCCEEDED']).toEqual(expect.arrayContaining(statuses(paymentRows)));
      const refundRows = await rowsById('payment', paymentIds, (s, local) =>
        s.db.select().from(refunds).where(inArray(refunds.paymentId, local)),
      );
      expect(refundRows.map((r) => r.id).sort()).toEqual([...refundIds].sort());
      expect(['FAILED', 'SUCCEEDED']).toEqual(expect.arrayContaining(statuses(refundRows)));
      const refunded = new Map<string, bigint>();
      for (const r of refundRows)
        if (r.status === 'SUCCEEDED') refunded.set(r.paymentId, (refunded.get(r.paymentId) ?? 0n) + r.amount);
      for (const p of paymentRows) {
        expect(p.refundedAmount, `refunded amount of ${p.id}`).toBe(refunded.get(p.id) ?? 0n);
        expect(p.refundedAmount <= p.amount, `${p.id} refunded more than paid`).toBe(true);
      }

      // No money made or lost, per currency: the clients hold what came in minus what went out,
      // plus what FX exchanged for them (the platform's FX positions took the other side).
      expect(counts.fxPayments).toBeGreaterThan(0);
      const flows = await fxFlows(paymentRows, refundRows);
      expect(await clientMoney('USD')).toBe(tally.deposited - tally.withdrawn + (flows.get('USD') ?? 0n));
      expect(await clientMoney('JPY')).toBe(tally.depositedJpy + (flows.get('JPY') ?? 0n));

      // And per account, to the unit: every leg of every payment, every refund's share of each leg.
      await checkAccountsAgainst(await modelOfAccounts(paymentRows, refundRows));
      await checkCampaigns(paymentRows);
      const legRefunds = refundRows.filter((r) => r.status === 'SUCCEEDED' && legPayments.has(r.paymentId));
      expect(legRefunds.length, 'refunds of payments of many legs').toBeGreaterThan(0);

      // And what sits in clearing is exactly what other tests still have in flight, in each currency.
      const ours = new Set([...paymentIds, ...refundIds]);
      for (const currency of ['USD', 'JPY']) {
        const clearing = await clearingAgainstInFlight(checks, currency);
        expect(
          clearing.agreed,
          `Σ clearing ${clearing.clearing} ${currency} ≠ in flight ${clearing.inFlight.amount}`,
        ).toBe(true);
        expect([...clearing.inFlight.payments, ...clearing.inFlight.refunds].filter((id) => ours.has(id))).toEqual([]);
      }
      console.log(
        `bank: ${JSON.stringify(counts)}, routes ${JSON.stringify(Object.fromEntries(routes))}, ${samples} samples`,
      );
    },
    runSeconds * 1_000 + 90_000,
  );
});
