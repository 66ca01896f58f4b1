import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { newId, shardOf } from '@paygraph/shared/ids';
import { addDays } from '@paygraph/shared/business-date';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { testSettlementSettings, testShards, token, unique } from '../../../../test/support/env';
import { feeOf } from '../../src/domain/fees';
import { systemKindTotal } from '../../../../test/support/ledger';
import { settleDue } from '../../src/services/worker';
import { settlementPaymentIds } from '../../src/services/settlements';
import { extendContext } from '../../src/context';
import { log } from '@paygraph/shared/log';
import { shardCostOf } from '../../../../test/support/shard-cost';
import { paymentsByIds } from '@paygraph/transaction/db/payments';
import { runSettlement } from '../../src/services/settle';
import { claimSettlement, finishSettlement, settlementsOfMerchant } from '../../src/db/settlement-store';

/**
 * Settlement and reconciliation on real MySQL with a clock the test moves. Each run uses its
 * own far-future business dates, so earlier runs' records never mix into its figures.
 */
const runDay = Math.floor(Date.now() / 1000) % 1_500_000;
const dayD = addDays('2100-01-01', runDay);
let clock = new Date(`${dayD}T12:00:00Z`);
const at = (date: string, time: string) => new Date(`${date}T${time}Z`);

let stack: Stack;
let operator: string;
const q = (doc: string, variables: Record<string, unknown> = {}, as = operator) =>
  gql(stack.gatewayUrl, doc, variables, as);

const openDoc = contractOperation('OpenAccount');
const depositDoc = contractOperation('Deposit');
const payDoc = contractOperation('CreatePayment');
const refundDoc = contractOperation('RefundPayment');
const settleDoc = contractOperation('RunSettlement');
const reconcileDoc = contractOperation('Reconciliation');

async function open(ownerId: string, type: 'PERSONAL' | 'MERCHANT'): Promise<string> {
  const r = await q(openDoc, { input: { ownerId, type, currency: 'USD' } });
  return r.data!.openAccount.id as string;
}

/** A funded payer on a given physical shard (accounts land on random shards; keep opening). */
async function payerOn(physical: number, amount: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const id = await open(unique('payer'), 'PERSONAL');
    if (stack.shards.topology.physicalOf[shardOf('account', id)] !== physical) continue;
    const d = await q(depositDoc, {
      input: { idempotencyKey: unique('dep'), accountId: id, amount, currency: 'USD', externalRef: unique('ext') },
    });
    expect(d.data!.deposit.__typename).toBe('Deposit');
    return id;
  }
  throw new Error(`no account landed on shard ${physical}`);
}

async function pay(payer: string, payee: string, amount: string): Promise<string> {
  const r = await q(payDoc, {
    input: { idempotencyKey: unique('pay'), payerAccountId: payer, payeeAccountId: payee, amount, currency: 'USD' },
  });
  expect(r.data!.createPayment.__typename, JSON.stringify(r)).toBe('Payment');
  return r.data!.createPayment.id as string;
}

async function merchantBalance(id: string): Promise<{ available: bigint; pending: bigint }> {
  const r = await q(contractOperation('GetAccount'), { id });
  const b = r.data!.account.balance;
  return { available: BigInt(b.available), pending: BigInt(b.pending) };
}

async function settle(merchantAccountId: string, businessDate: string) {
  return (await q(settleDoc, { input: { merchantAccountId, businessDate } })).data!.runSettlement;
}

async function businessDateOfPayment(id: string): Promise<string> {
  const shard = stack.shards.of('payment', id);
  const [rows] = (await shard.db.execute(
    sql`SELECT business_date AS d, settlement_id AS s FROM payments WHERE id = ${id}`,
  )) as unknown as [Array<{ d: Date | string; s: string | null }>];
  const d = rows[0]!.d;
  return typeof d === 'string' ? d : d.toISOString().slice(0, 10);
}

function feeIncomeTotal(): Promise<bigint> {
  return systemKindTotal(stack.shards, 'FEE_INCOME', 'USD');
}

beforeAll(async () => {
  stack = await startStack({ now: () => clock });
  operator = await token('operator', 'operator');
});

afterAll(async () => {
  await stack?.stop();
});

describe('day-cut and settlement', () => {
  let merchant: string;
  let merchantOwner: string;
  const payments: Record<string, string[]> = { D: [], next: [] };
  const amounts = ['1001', '333', '2500', '777'];
  const dayNext = addDays(dayD, 1);

  beforeAll(async () => {
    merchantOwner = unique('shop');
    merchant = await q(openDoc, { input: { ownerId: merchantOwner, type: 'MERCHANT', currency: 'USD' } }).then(
      (r) => r.data!.openAccount.id,
    );
    const rate = await q(
      `mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename ... on FeeRate { feeBps } } }`,
      { input: { merchantAccountId: merchant, feeBps: 250 } },
    );
    expect(rate.data!.setMerchantFeeRate.feeBps).toBe(250);
    clock = at(dayD, '23:00:00');
    const payers = [
      await payerOn(0, '100000'),
      await payerOn(1, '100000'),
      await payerOn(2, '100000'),
      await payerOn(3, '100000'),
    ];
    // ±2 s around midnight: two just before, two just after.
    const instants: Array<[Date, 'D' | 'next']> = [
      [at(dayD, '23:59:58.000'), 'D'],
      [at(dayD, '23:59:59.900'), 'D'],
      [at(dayNext, '00:00:00.000'), 'next'],
      [at(dayNext, '00:00:02.000'), 'next'],
    ];
    for (const [i, [instant, day]] of instants.entries()) {
      clock = instant;
      payments[day]!.push(await pay(payers[i]!, merchant, amounts[i]!));
    }
  });

  it('gives every payment exactly the business date of its instant', async () => {
    for (const id of payments.D!) expect(await businessDateOfPayment(id)).toBe(dayD);
    for (const id of payments.next!) expect(await businessDateOfPayment(id)).toBe(dayNext);
  });

  it('refuses to settle a date that has not closed', async () => {
    clock = at(dayNext, '00:00:03');
    const early = await settle(merchant, dayNext);
    expect(early).toMatchObject({ __typename: 'SettlementNotReady', code: 'SETTLEMENT_NOT_READY' });
    const customer = await token(unique('cust'), 'customer');
    const forbidden = await q(settleDoc, { input: { merchantAccountId: merchant, businessDate: dayD } }, customer);
    expect(errorCodes(forbidden)).toContain('FORBIDDEN');
  });

  it('settles day D: net = gross − refunded − fee, pending → available, fee to fee income, nothing created or lost', async () => {
    const before = await merchantBalance(merchant);
    const feesBefore = await feeIncomeTotal();
    const s = await settle(merchant, dayD);
    expect(s.__typename).toBe('Settlement');
    const gross = 1001n + 333n;
    // Each D payment came from a payer on another shard, so each sits in its own stripe.
    const fee = feeOf(1001n, 250) + feeOf(333n, 250);
    expect([s.grossAmount, s.refundedAmount, s.feeAmount, s.netAmount]).toEqual([
      `${gross}`,
      '0',
      `${fee}`,
      `${gross - fee}`,
    ]);
    expect(s.status).toBe('SETTLED');
    const after = await merchantBalance(merchant);
    expect(after.pending).toBe(before.pending - gross);
    expect(after.available).toBe(before.available + gross - fee);
    expect((await feeIncomeTotal()) - feesBefore).toBe(fee);
    expect(BigInt(s.merchantAccount.balance.available)).toBe(after.available);
  });

  it('is idempotent per merchant and date', async () => {
    const first = await settle(merchant, dayD);
    const before = await merchantBalance(merchant);
    const again = await settle(merchant, dayD);
    expect(again.id).toBe(first.id);
    expect(again.netAmount).toBe(first.netAmount);
    expect(await merchantBalance(merchant)).toEqual(before);
  });

  it('takes a refund after settlement from available and counts it in the next settlement', async () => {
    const before = await merchantBalance(merchant);
    const refund = await q(refundDoc, {
      input: { idempotencyKey: unique('ref'), paymentId: payments.D![0], amount: '101' },
    });
    expect(refund.data!.refundPayment.__typename).toBe('Refund');
    const after = await merchantBalance(merchant);
    expect(after.available).toBe(before.available - 101n);
    expect(after.pending).toBe(before.pending);

    clock = at(addDays(dayNext, 1), '09:00:00');
    const s = await settle(merchant, dayNext);
    const gross = 2500n + 777n;
    const fee = feeOf(2500n, 250) + feeOf(777n, 250);
    expect([s.grossAmount, s.refundedAmount, s.feeAmount, s.netAmount]).toEqual([
      `${gross}`,
      '101',
      `${fee}`,
      `${gross - 101n - fee}`,
    ]);
    const settled = await merchantBalance(merchant);
    expect(settled.pending).toBe(after.pending - gross);
  });

  it('settles every payment exactly once across the two days', async () => {
    const ids = [...payments.D!, ...payments.next!];
    const owners = new Map<string, string>();
    for (const id of ids) {
      const shard = stack.shards.of('payment', id);
      const [rows] = (await shard.db.execute(
        sql`SELECT settlement_id AS s FROM payments WHERE id = ${id}`,
      )) as unknown as [Array<{ s: string | null }>];
      owners.set(id, rows[0]!.s!);
    }
    const d = await settle(merchant, dayD);
    const n = await settle(merchant, dayNext);
    expect(payments.D!.map((id) => owners.get(id))).toEqual([d.id, d.id]);
    expect(payments.next!.map((id) => owners.get(id))).toEqual([n.id, n.id]);
    expect(BigInt(d.grossAmount) + BigInt(n.grossAmount)).toBe(1001n + 333n + 2500n + 777n);
  });

  it('lets the merchant read its own settlements and nobody else', async () => {
    const doc = `query($id: ID!) { account(id: $id) { id settlements { businessDate grossAmount payments { id } } } }`;
    const own = await q(doc, { id: merchant }, await token(merchantOwner, 'merchant'));
    expect(own.data!.account.settlements.map((s: { businessDate: string }) => s.businessDate)).toEqual([dayNext, dayD]);
    expect(own.data!.account.settlements[1].payments).toHaveLength(2);
    const other = await q(
      `query($id: ID!) { payment(id: $id) { id settlement { id } } }`,
      { id: payments.D![0] },
      await token(unique('shop'), 'merchant'),
    );
    expect(errorCodes(other)).toContain('FORBIDDEN');
    const viaPayment = await q(`query($id: ID!) { payment(id: $id) { id settlement { businessDate } } }`, {
      id: payments.D![0],
    });
    expect(viaPayment.data!.payment.settlement.businessDate).toBe(dayD);
  });

  it('lets the worker settle at T+1 whatever is due, and only that', async () => {
    const dayW = addDays(dayD, 10);
    clock = at(dayW, '10:00:00');
    const payer = await payerOn(shardOf('account', merchant) < 32 ? 3 : 0, '5000');
    const paid = await pay(payer, merchant, '1000');
    clock = at(dayW, '23:00:00');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    const shard = stack.shards.of('payment', paid);
    const read = async () =>
      (
        (await shard.db.execute(sql`SELECT settlement_id AS s FROM payments WHERE id = ${paid}`)) as unknown as [
          Array<{ s: string | null }>,
        ]
      )[0][0]!.s;
    expect(await read()).toBeNull();
    clock = at(addDays(dayW, 1), '00:00:01');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    expect(await read()).not.toBeNull();
  });
  it("reads a settlement's payments from its merchant's databases only", async () => {
    // A merchant paid only by payers on its own database: its stripes, and so the settlement's payments, are all there.
    const dayS = addDays(dayD, 30);
    const owner = unique('shop');
    const lone = (await q(openDoc, { input: { ownerId: owner, type: 'MERCHANT', currency: 'USD' } })).data!.openAccount
      .id as string;
    const physical = stack.shards.topology.physicalOf[shardOf('account', lone)]!;
    clock = at(dayS, '10:00:00');
    const paid = [
      await pay(await payerOn(physical, '5000'), lone, '1200'),
      await pay(await payerOn(physical, '5000'), lone, '34'),
    ];
    clock = at(addDays(dayS, 1), '10:00:00');
    const settlement = await settle(lone, dayS);
    expect(settlement.__typename).toBe('Settlement');
    // A ShardSet of the test's own: its statement counts are this read's alone.
    const shards = testShards(1);
    try {
      const ctx = extendContext(
        { identity: { sub: 'ops', role: 'operator' }, shards, log: log() },
        testSettlementSettings(),
      );
      const { answer, statements } = await shardCostOf(shards.all, () =>
        settlementPaymentIds(ctx, { id: settlement.id as string, merchantAccountId: lone }),
      );
      expect([...answer].sort()).toEqual([...paid].sort());
      const home = shards.of('account', lone);
      expect(statements.filter((_, i) => shards.all[i] !== home)).toEqual(shards.all.slice(1).map(() => 0));
    } finally {
      await shards.close();
    }
  });
});

/**
 * The day-cut race: a payment takes its business date from its request's instant, before its posting, and its row is
 * written last in that posting's transaction. One that starts at 23:59:59.98 and commits after D's settlement read the
 * stripe is dated D but was not seen by D's settlement (READ COMMITTED: no gap lock stops the read). The stripe's row
 * lock does not order them: a part reads its payments in its prepare, before it locks the stripe, and the payment may
 * not have begun its transaction yet. Matched on D alone, it was never settled: D's settlement is final, the worker ran
 * (M, D) again on every pass, answered SETTLED, and the money stayed in the stripe's pending for good.
 */
describe('a payment dated D that commits after D settled', () => {
  const dayC = addDays(dayD, 40);
  const nextC = addDays(dayC, 1);
  const feeBps = testSettlementSettings().feeBpsDefault;

  async function settlementOf(paymentId: string): Promise<string | null> {
    const [row] = await paymentsByIds(stack.shards.of('payment', paymentId).db, [paymentId]);
    return row!.settlementId;
  }

  it("is settled once, by the merchant's next settlement, and leaves nothing in pending", async () => {
    clock = at(dayC, '10:00:00');
    const merchant = await open(unique('straggler-shop'), 'MERCHANT');
    const home = stack.shards.topology.physicalOf[shardOf('account', merchant)]!;
    const payer = await payerOn((home + 1) % stack.shards.all.length, '10000');
    const early = await pay(payer, merchant, '1000');
    const shard = stack.shards.of('account', payer);
    const stripe = (await paymentsByIds(shard.db, [early]))[0]!.creditAccountId;
    // The straggler's request takes its instant before the cut-off, and D's settlement runs to its end before the
    // request's posting commits (a slow request, a lock wait, a deadlock's retry): the stack's clock stays before the
    // cut-off for the payment, the settlement's is past it, as the settlement worker's pass at 00:00:00.01 would be.
    clock = at(dayC, '23:59:59.980');
    const settledD = await runSettlement(
      stack.shards,
      merchant,
      dayC,
      () => at(nextC, '00:00:00.010'),
      testSettlementSettings(),
    );
    const lateId = await pay(payer, merchant, '500');
    expect(settledD.ok && settledD.value.grossAmount).toBe(1000n);
    expect(await businessDateOfPayment(lateId)).toBe(dayC);
    // Dated D, and D's settlement did not see it.
    expect(await settlementOf(lateId)).toBeNull();

    // The worker's next pass the same day: D is SETTLED and nothing later is due yet, so nothing moves.
    clock = at(nextC, '00:01:00');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    expect(await settlementOf(lateId)).toBeNull();
    expect(await merchantBalance(merchant)).toEqual({ available: 1000n - feeOf(1000n, feeBps), pending: 500n });

    // The next date falls due: its settlement takes the straggler with its own date's money (none here).
    clock = at(addDays(nextC, 1), '00:00:01');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    const fee = feeOf(1000n, feeBps) + feeOf(500n, feeBps);
    expect(await settlementOf(early)).toBe(settledD.ok ? settledD.value.id : '');
    // Two settlements, each payment in one of them: D's as it was, the next date's with the straggler alone.
    const settlements = await settlementsOfMerchant(stack.shards.of('account', merchant).db, merchant, 10);
    expect(settlements.map((x) => [x.businessDate, x.status, x.grossAmount, x.feeAmount])).toEqual([
      [nextC, 'SETTLED', 500n, feeOf(500n, feeBps)],
      [dayC, 'SETTLED', 1000n, feeOf(1000n, feeBps)],
    ]);
    expect(await settlementOf(lateId)).toBe(settlements[0]!.id);
    expect(await merchantBalance(merchant)).toEqual({ available: 1500n - fee, pending: 0n });
    const [row] = (await shard.db.execute(sql`SELECT pending FROM accounts WHERE id = ${stripe}`)) as unknown as [
      Array<{ pending: string }>,
    ];
    expect(BigInt(row[0]!.pending)).toBe(0n);
    const health = (await q(contractOperation('LedgerHealth'))).data!.ledgerHealth;
    expect(health.balanced).toBe(true);
    for (const date of [dayC, nextC]) {
      const found = (await q(reconcileDoc, { businessDate: date })).data!.reconciliation.discrepancies;
      const kinds = found.map((d: { kind: string }) => d.kind);
      expect(
        kinds.filter((k: string) => !['MISSING_INTERNAL', 'MISSING_EXTERNAL'].includes(k)),
        date,
      ).toEqual([]);
    }
  });
  it("goes to the merchant's next open date in one pass; no settlement takes an earlier open date's money", async () => {
    const dayF = addDays(dayD, 45);
    clock = at(addDays(dayF, -1), '10:00:00');
    const merchant = await open(unique('straggler-mall'), 'MERCHANT');
    const home = stack.shards.topology.physicalOf[shardOf('account', merchant)]!;
    const payer = await payerOn((home + 1) % stack.shards.all.length, '10000');
    const before = await pay(payer, merchant, '100');
    clock = at(dayF, '10:00:00');
    const own = await pay(payer, merchant, '200');
    clock = at(addDays(dayF, 1), '10:00:00');
    const next = await pay(payer, merchant, '400');
    // F is settled first, out of order (an operator may run any closed date), and a payment dated F commits after.
    clock = at(dayF, '23:59:59.980');
    const settledF = await runSettlement(
      stack.shards,
      merchant,
      dayF,
      () => at(addDays(dayF, 2), '00:00:00.010'),
      testSettlementSettings(),
    );
    expect(settledF.ok && settledF.value.grossAmount).toBe(200n);
    const late = await pay(payer, merchant, '800');
    expect(await businessDateOfPayment(late)).toBe(dayF);

    // One pass: F−1 is settled with its own payment alone (F's straggler is not an earlier date's), F+1 with its own
    // payment and F's straggler, and F's settlement is unchanged.
    clock = at(addDays(dayF, 2), '00:00:01');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    const settlements = await settlementsOfMerchant(stack.shards.of('account', merchant).db, merchant, 10);
    expect(settlements.map((x) => [x.businessDate, x.status, x.grossAmount])).toEqual([
      [addDays(dayF, 1), 'SETTLED', 1200n],
      [dayF, 'SETTLED', 200n],
      [addDays(dayF, -1), 'SETTLED', 100n],
    ]);
    const [nextS, fS, beforeS] = settlements;
    expect([
      await settlementOf(before),
      await settlementOf(own),
      await settlementOf(next),
      await settlementOf(late),
    ]).toEqual([beforeS!.id, fS!.id, nextS!.id, nextS!.id]);
    expect((await merchantBalance(merchant)).pending).toBe(0n);
    // A second pass finds nothing left.
    expect(await settleDue(stack.shards, () => clock, 1, testSettlementSettings())).toBe(0);
    expect((await q(contractOperation('LedgerHealth'))).data!.ledgerHealth.balanced).toBe(true);
  });
  it("holds back no settlement's own money while a straggler's payment of legs is in flight", async () => {
    const dayG = addDays(dayD, 50);
    clock = at(dayG, '10:00:00');
    const merchant = await open(unique('straggler-legs'), 'MERCHANT');
    const home = stack.shards.topology.physicalOf[shardOf('account', merchant)]!;
    const n = stack.shards.all.length;
    const payer = await payerOn((home + 1) % n, '100000');
    const split = await open(unique('straggler-split'), 'PERSONAL');
    await pay(payer, merchant, '1000');
    const settledG = await runSettlement(
      stack.shards,
      merchant,
      dayG,
      () => at(addDays(dayG, 1), '00:00:00.010'),
      testSettlementSettings(),
    );
    expect(settledG.ok && settledG.value.grossAmount).toBe(1000n);
    // Two stragglers dated G: a payment, and a payment of legs whose split has not posted (PROCESSING).
    clock = at(dayG, '23:59:59.980');
    const late = await pay(payer, merchant, '500');
    const legs = await q(contractOperation('CreateMarketplacePayment'), {
      input: {
        idempotencyKey: unique('legs'),
        payerAccountId: payer,
        payeeAccountId: merchant,
        amount: '10000',
        currency: 'USD',
        splits: [{ accountId: split, amount: '1000' }],
      },
    });
    const legsId = legs.data!.createPayment.id as string;
    expect(legs.data!.createPayment.status, JSON.stringify(legs)).toBe('SUCCEEDED');
    const setStatus = (status: string) =>
      stack.shards.of('payment', legsId).db.execute(sql`UPDATE payments SET status = ${status} WHERE id = ${legsId}`);
    await setStatus('PROCESSING');
    clock = at(addDays(dayG, 1), '10:00:00');
    const own = await pay(payer, merchant, '300');

    // G+1's settlement takes its own 300 and leaves G's stragglers, one of whose date is in flight, for later.
    clock = at(addDays(dayG, 2), '00:00:01');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    let settlements = await settlementsOfMerchant(stack.shards.of('account', merchant).db, merchant, 10);
    expect(settlements.map((x) => [x.businessDate, x.status, x.grossAmount])).toEqual([
      [addDays(dayG, 1), 'SETTLED', 300n],
      [dayG, 'SETTLED', 1000n],
    ]);
    expect(await settlementOf(own)).toBe(settlements[0]!.id);
    expect(await settlementOf(late)).toBeNull();
    expect((await merchantBalance(merchant)).pending).toBe(9500n);

    // The next date falls due with nothing of its own, the legs still in flight: no settlement is claimed for the
    // stragglers alone (it would settle nothing: an empty settlement a day while the payment stays in flight).
    clock = at(addDays(dayG, 3), '00:00:01');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    settlements = await settlementsOfMerchant(stack.shards.of('account', merchant).db, merchant, 10);
    expect(settlements.map((x) => x.businessDate)).toEqual([addDays(dayG, 1), dayG]);

    // Its legs posted: the next date's settlement takes both stragglers.
    await setStatus('SUCCEEDED');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    settlements = await settlementsOfMerchant(stack.shards.of('account', merchant).db, merchant, 10);
    expect(settlements[0]!.businessDate).toBe(addDays(dayG, 2));
    expect([settlements[0]!.status, settlements[0]!.grossAmount]).toEqual(['SETTLED', 9500n]);
    expect(await settlementOf(late)).toBe(settlements[0]!.id);
    expect((await merchantBalance(merchant)).pending).toBe(0n);
    expect((await q(contractOperation('LedgerHealth'))).data!.ledgerHealth.balanced).toBe(true);
  });

  it('resumes a settlement left PROCESSING whose date holds nothing due', async () => {
    const dayH = addDays(dayD, 55);
    clock = at(dayH, '10:00:00');
    const merchant = await open(unique('left-processing'), 'MERCHANT');
    const home = stack.shards.of('account', merchant);
    // As a run that claimed and was cut off before its parts (or whose parts settled everything and stopped) leaves it.
    const claimed = await claimSettlement(home, {
      id: newId('settlement', shardOf('account', merchant)),
      merchantAccountId: merchant,
      businessDate: dayH,
      currency: 'USD',
      status: 'PROCESSING',
      feeBps: testSettlementSettings().feeBpsDefault,
      createdAt: clock,
    });
    expect(claimed.status).toBe('PROCESSING');
    clock = at(addDays(dayH, 2), '00:00:01');
    await settleDue(stack.shards, () => clock, 1, testSettlementSettings());
    const [row] = await settlementsOfMerchant(home.db, merchant, 1);
    expect([row!.id, row!.status, row!.grossAmount, row!.netAmount]).toEqual([claimed.id, 'SETTLED', 0n, 0n]);
    // A second finish (another run that reached it too) changes nothing: the first's totals stand.
    const totals = { gross: 1n, refunded: 0n, advanced: 0n, fee: 0n, net: 1n, creditRepaid: 1n };
    expect(await finishSettlement(home, claimed.id, totals, clock)).toBe(false);
    const [again] = await settlementsOfMerchant(home.db, merchant, 1);
    expect([again!.grossAmount, again!.creditRepaidAmount, again!.completedAt]).toEqual([
      0n,
      row!.creditRepaidAmount,
      row!.completedAt,
    ]);
  });
});

describe('reconciliation', () => {
  const dayR = addDays(dayD, 20);
  const refs = { a: unique('bank'), b: unique('bank'), c: unique('bank') };
  let account: string;

  beforeAll(async () => {
    clock = at(dayR, '10:00:00');
    account = await open(unique('recon'), 'PERSONAL');
    for (const [ref, amount] of [
      [refs.a, '1000'],
      [refs.b, '2000'],
      [refs.c, '3000'],
    ] as const) {
      const r = await q(depositDoc, {
        input: { idempotencyKey: unique('dep'), accountId: account, amount, currency: 'USD', externalRef: ref },
      });
      expect(r.data!.deposit.status).toBe('SUCCEEDED');
    }
    const w = await q(contractOperation('Withdraw'), {
      input: {
        idempotencyKey: unique('wdr'),
        accountId: account,
        amount: '500',
        currency: 'USD',
        externalRef: `${refs.a}-out`,
      },
    });
    expect(w.data!.withdraw.__typename).toBe('Withdrawal');
  });

  const importCsv = (csv: string, channel = 'bank-a') =>
    q(
      `mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename ... on Statement { lineCount } ... on UserError { code message } ... on InvalidStatement { line } } }`,
      { input: { channel, businessDate: dayR, csv } },
    );
  const header = 'external_ref,amount,currency,direction,date';
  const clean = [
    header,
    `${refs.a},1000,USD,CREDIT,${dayR}`,
    `${refs.b},2000,USD,CREDIT,${dayR}`,
    `${refs.c},3000,USD,CREDIT,${dayR}`,
    `${refs.a}-out,500,USD,DEBIT,${dayR}`,
  ].join('\n');

  it('finds a clean day balanced, with no discrepancies, and stores the report', async () => {
    expect((await importCsv(clean)).data!.importStatement).toEqual({ __typename: 'Statement', lineCount: 4 });
    const r = await q(reconcileDoc, { businessDate: dayR });
    expect(r.data!.reconciliation).toEqual({ businessDate: dayR, balanced: true, discrepancies: [] });
    const stored = await q(`query($d: Date!) { reconciliationReports(businessDate: $d) { balanced } }`, { d: dayR });
    expect(stored.data!.reconciliationReports[0]).toEqual({ balanced: true });
  });

  it('imports a statement of a channel as long as a channel may be (64 characters), and again over it', async () => {
    const channel = `bank-${'l'.repeat(59)}`;
    const day = addDays(dayR, 3);
    const csv = [header, `long-${refs.a},700,USD,CREDIT,${day}`].join('\n');
    const once = await q(
      `mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename ... on Statement { id lineCount } ... on UserError { code message } } }`,
      { input: { channel, businessDate: day, csv } },
    );
    expect(once.data!.importStatement).toMatchObject({ __typename: 'Statement', lineCount: 1 });
    const again = await q(
      `mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename ... on Statement { id lineCount } } }`,
      { input: { channel, businessDate: day, csv } },
    );
    // A re-import of the day replaces it: the same statement.
    expect(again.data!.importStatement).toEqual(once.data!.importStatement);
  });

  it('names each external difference: missing internal, missing external, amount mismatch', async () => {
    const csv = [
      header,
      `${refs.a},1000,USD,CREDIT,${dayR}`,
      `${refs.b},2001,USD,CREDIT,${dayR}`,
      `ghost-${refs.c},42,USD,CREDIT,${dayR}`,
      `${refs.a}-out,500,USD,DEBIT,${dayR}`,
    ].join('\n');
    expect((await importCsv(csv)).data!.importStatement.__typename).toBe('Statement');
    const r = await q(reconcileDoc, { businessDate: dayR });
    const found = r.data!.reconciliation.discrepancies.map((d: Record<string, unknown>) => [
      d.kind,
      d.expected,
      d.actual,
    ]);
    expect(r.data!.reconciliation.balanced).toBe(false);
    expect(found).toEqual(
      expect.arrayContaining([
        ['AMOUNT_MISMATCH', '2000', '2001'],
        ['MISSING_INTERNAL', null, '42'],
        ['MISSING_EXTERNAL', '3000', null],
      ]),
    );
    expect(found).toHaveLength(3);
    await importCsv(clean);
  });

  it('names a balance edited by direct SQL and an unbalanced posting, with their ids', async () => {
    const shard = stack.shards.of('account', account);
    await shard.db.execute(sql`UPDATE accounts SET available = available + 7 WHERE id = ${account}`);
    try {
      const r = await q(reconcileDoc, { businessDate: dayR });
      expect(r.data!.reconciliation.discrepancies).toEqual([
        { kind: 'TAMPER_DETECTED', accountId: account, paymentId: null, expected: null, actual: null },
        { kind: 'BALANCE_MISMATCH', accountId: account, paymentId: null, expected: '5500', actual: '5507' },
      ]);
    } finally {
      await shard.db.execute(sql`UPDATE accounts SET available = available - 7 WHERE id = ${account}`);
    }
    await shard.db.execute(
      sql`UPDATE ledger_entries SET amount = amount + 1 WHERE account_id = ${account} AND sequence = 1`,
    );
    try {
      const r = await q(reconcileDoc, { businessDate: dayR });
      const kinds = r.data!.reconciliation.discrepancies.map((d: { kind: string }) => d.kind).sort();
      expect(kinds).toEqual(['BALANCE_MISMATCH', 'TAMPER_DETECTED', 'UNBALANCED_POSTING']);
    } finally {
      await shard.db.execute(
        sql`UPDATE ledger_entries SET amount = amount - 1 WHERE account_id = ${account} AND sequence = 1`,
      );
    }
    expect((await q(reconcileDoc, { businessDate: dayR })).data!.reconciliation.balanced).toBe(true);
  });

  it('refuses malformed statements with the line, importing nothing', async () => {
    const cases: Array<[string, number]> = [
      ['ref,amount,currency\nx,1,USD', 1],
      [`${header}\nx,12.50,USD,CREDIT,${dayR}`, 2],
      [`${header}\nx,1,USD,CREDIT,${dayR}\ny,abc,USD,CREDIT,${dayR}`, 3],
      [`${header}\nx,1,USD,CREDIT,${dayR}\nx,2,USD,CREDIT,${dayR}`, 3],
      [`${header}\nx,1,USD,CREDIT,${dayR}\n"y,2,USD,CREDIT,${dayR}`, 3],
    ];
    for (const [csv, line] of cases) {
      const r = await importCsv(csv);
      expect(r.data!.importStatement, csv).toMatchObject({
        __typename: 'InvalidStatement',
        code: 'INVALID_STATEMENT',
        line,
      });
    }
    // The clean statement imported before is still the one in force.
    expect((await q(reconcileDoc, { businessDate: dayR })).data!.reconciliation.balanced).toBe(true);
  });

  it('reports ledger health: every shard balanced, the money in flight named', async () => {
    const r = await q(contractOperation('LedgerHealth'));
    const health = r.data!.ledgerHealth;
    expect(health.balanced).toBe(true);
    expect(health.shards.length).toBeGreaterThanOrEqual(stack.shards.all.length);
    for (const s of health.shards) expect(s.debits).toBe(s.credits);
    let clearing = 0n;
    for (const shard of stack.shards.all) {
      const [rows] = (await shard.db.execute(
        sql`SELECT COALESCE(SUM(available + frozen + pending), 0) AS t FROM accounts WHERE system_kind = 'CLEARING' AND currency = 'USD'`,
      )) as unknown as [Array<{ t: string }>];
      clearing += BigInt(rows[0]!.t);
    }
    expect(health.inTransit.find((t: { currency: string }) => t.currency === 'USD')?.amount ?? '0').toBe(`${clearing}`);
    // Nothing moves in this test now, so the clearing accounts must equal what the records say is in flight.
    const kinds = (await q(reconcileDoc, { businessDate: dayR })).data!.reconciliation.discrepancies.map(
      (d: { kind: string }) => d.kind,
    );
    expect(kinds).not.toContain('CLEARING_MISMATCH');
    const customer = await q(contractOperation('LedgerHealth'), {}, await token(unique('c'), 'customer'));
    expect(errorCodes(customer)).toContain('FORBIDDEN');
  });

  it('matches a line to one transfer: a reference the bank holds twice, or the ledger does, is found', async () => {
    // A date of its own; a bank's CSV may repeat a reference (importStatement's may not).
    const day = addDays(dayR, 5);
    clock = at(day, '10:00:00');
    const channel = unique('bank-twice');
    const once = unique('ref-once');
    const shared = unique('ref-shared');
    // One deposit of `once`; two of `shared`, through two channels (a reference is unique in none).
    for (const [externalRef, via] of [
      [once, channel],
      [shared, `${channel}-a`],
      [shared, `${channel}-b`],
    ] as const) {
      const input = { idempotencyKey: unique('dep'), accountId: account, amount: '100', currency: 'USD', externalRef };
      const r = await q(contractOperation('DepositViaChannel'), { input: { ...input, channel: via } });
      expect(r.data?.deposit.status, JSON.stringify(r)).toBe('SUCCEEDED');
    }
    const reconcileOn = async (...refs: string[]) => {
      const content = [header, ...refs.map((r) => `${r},100,USD,CREDIT,${day}`)].join('\n');
      const imported = await q(contractOperation('ImportBankStatement'), {
        input: { channel, format: 'CSV', content },
      });
      expect(imported.data?.importBankStatement.__typename, JSON.stringify(imported)).toBe('StatementImport');
      const r = await q(
        `query($d: Date!) { reconciliation(businessDate: $d) { balanced discrepancies { kind externalRef expected actual } } }`,
        { d: day },
      );
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      return r.data!.reconciliation as { balanced: boolean; discrepancies: unknown[] };
    };
    expect(await reconcileOn(once, shared, shared)).toEqual({ balanced: true, discrepancies: [] });
    // The bank holds `once` twice (200 against the ledger's 100) and `shared` once (100 against 200).
    expect(await reconcileOn(once, once, shared)).toEqual({
      balanced: false,
      discrepancies: [
        { kind: 'MISSING_INTERNAL', externalRef: once, expected: null, actual: '100' },
        { kind: 'MISSING_EXTERNAL', externalRef: shared, expected: '100', actual: null },
      ],
    });
  });
});
