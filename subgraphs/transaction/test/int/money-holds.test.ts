import { describe, it, expect } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Stack } from '../../../../test/support/stack';
import { errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { physicalOf, type Answer, type MoneyKit, useMoneyStack } from '../../../../test/support/money';
import {
  captureHold,
  createHold,
  frozenAgainstHeld,
  holdDocs,
  holdRow,
  voidHold,
} from '../../../../test/support/holds';
import { sleep } from '../../../../test/support/bank';
import { movableClock } from '../../../../test/support/clock';
import { expireDueHolds } from '../../src/services/hold-expiry';
import { holds } from '../../src/db/schema/transactions';
import { frozenAgainstHolds } from '@paygraph/settlement/services/reconcile';
import { eq } from 'drizzle-orm';
import mysql from 'mysql2/promise';
import { holdExpiryBatchSizeMax } from '../../src/limits';

/**
 * Holds as clients use them: the contract's CreateHold, CaptureHold, VoidHold and GetHold sent
 * verbatim through the gateway, every shard a real database. A hold moves money available →
 * frozen on the payer's row; exactly one of capture, void and expiry ends it.
 */
let stack: Stack;
let kit: MoneyKit;
/** Every subgraph's clock: the expiry tests move it to a hold's deadline instead of waiting for it. */
const clock = movableClock();
useMoneyStack((started) => ({ stack, kit } = started), { now: clock.now });

const bal = (available: string, frozen: string, pending = '0') => ({
  available,
  frozen,
  pending,
  total: String(BigInt(available) + BigInt(frozen) + BigInt(pending)),
});

function refusal(response: Answer, field: string, code: string): Record<string, any> {
  expect(response.errors).toBeUndefined();
  const value = response.data?.[field];
  expect(value, JSON.stringify(value)).toMatchObject({ code, message: expect.any(String) });
  return value;
}

async function funded(
  owner: string,
  amount: string,
  options: { physical?: number; type?: 'PERSONAL' | 'MERCHANT' } = {},
) {
  const id = await kit.open(owner, options);
  if (amount !== '0') await kit.fund(id, amount);
  return id;
}

async function held(
  bearer: string,
  payer: string,
  payee: string,
  amount: string,
  extra: { expiresInSeconds?: number } = {},
): Promise<string> {
  const answer = await createHold(stack.gatewayUrl, bearer, { payer, payee, amount, key: unique('hold'), ...extra });
  expect(answer.errors).toBeUndefined();
  expect(answer.data!.createHold.__typename).toBe('Hold');
  return answer.data!.createHold.id as string;
}

/** An account's entries in the frozen bucket, as [amount, hold id], sorted. */
async function frozenEntriesOf(accountId: string, bearer: string): Promise<string[][]> {
  const account = await gql(
    stack.gatewayUrl,
    `query($id: ID!) { account(id: $id) { entries(first: 10) { edges { node { amount bucket hold { id } } } } } }`,
    { id: accountId },
    bearer,
  );
  expect(account.errors).toBeUndefined();
  const frozen = account.data!.account.entries.edges.map((e: any) => e.node).filter((e: any) => e.bucket === 'FROZEN');
  return frozen.map((e: any) => [e.amount, e.hold.id]).sort();
}

describe('holds through the gateway', () => {
  it('create freezes, a partial capture pays the payee as a Payment and frees the rest, which refunds like any payment', async () => {
    const owner = unique('hold-payer');
    const payeeOwner = unique('hold-payee');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '10000');
    const payee = await funded(payeeOwner, '0', { physical: physicalOf(stack.shards, payer) });

    const created = await createHold(stack.gatewayUrl, bearer, {
      payer,
      payee,
      amount: '4000',
      key: unique('k'),
      expiresInSeconds: 3600,
      description: 'order 1',
    });
    expect(created.errors).toBeUndefined();
    const hold = created.data!.createHold;
    expect(hold).toMatchObject({
      __typename: 'Hold',
      status: 'HELD',
      amount: '4000',
      capturedAmount: '0',
      currency: 'USD',
      payer: { id: payer, balance: { available: '6000', frozen: '4000' } },
      payee: { id: payee },
    });
    expect(Date.parse(hold.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    expect(await kit.balance(payer)).toEqual(bal('6000', '4000'));

    const payeeBearer = await token(payeeOwner, 'customer');
    const read = await gql(stack.gatewayUrl, holdDocs.getHold, { id: hold.id }, payeeBearer);
    expect(read.errors).toBeUndefined();
    expect(read.data!.hold).toMatchObject({
      id: hold.id,
      status: 'HELD',
      amount: '4000',
      capturedAmount: '0',
      payer: { id: payer },
      payee: { id: payee },
      payment: null,
    });

    const captured = await captureHold(stack.gatewayUrl, bearer, hold.id, unique('cap'), '2500');
    expect(captured.errors).toBeUndefined();
    const payment = captured.data!.captureHold;
    expect(payment).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
      amount: '2500',
      payer: { id: payer, balance: { available: '7500', frozen: '0' } },
      payee: { id: payee },
      hold: { id: hold.id, status: 'CAPTURED', capturedAmount: '2500' },
    });
    expect(await kit.balance(payer)).toEqual(bal('7500', '0'));
    expect(await kit.balance(payee)).toEqual(bal('2500', '0'));
    const after = await gql(stack.gatewayUrl, holdDocs.getHold, { id: hold.id }, bearer);
    expect(after.data!.hold).toMatchObject({
      status: 'CAPTURED',
      capturedAmount: '2500',
      payment: { id: payment.id, status: 'SUCCEEDED', amount: '2500' },
    });

    const refunded = await kit.refund(payeeBearer, payment.id, '1000');
    expect(refunded.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await kit.balance(payer)).toEqual(bal('8500', '0'));
    expect(await kit.balance(payee)).toEqual(bal('1500', '0'));
    expect(await frozenAgainstHeld(stack.shards, [payer])).toEqual([]);
  });

  it('a void returns the whole hold to available, and a replay of it answers the same hold', async () => {
    const owner = unique('void-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('void-payee'), '0');
    const id = await held(bearer, payer, payee, '700');
    const key = unique('void');
    const voided = await voidHold(stack.gatewayUrl, bearer, id, key);
    expect(voided.errors).toBeUndefined();
    expect(voided.data!.voidHold).toMatchObject({
      __typename: 'Hold',
      id,
      status: 'VOIDED',
      amount: '700',
      capturedAmount: '0',
      payer: { balance: { available: '1000', frozen: '0' } },
    });
    const again = await voidHold(stack.gatewayUrl, bearer, id, key);
    expect(again.data!.voidHold).toMatchObject({ __typename: 'Hold', id, status: 'VOIDED' });
    refusal(await voidHold(stack.gatewayUrl, bearer, id, unique('void')), 'voidHold', 'HOLD_NOT_ACTIVE');
    refusal(await captureHold(stack.gatewayUrl, bearer, id, unique('cap')), 'captureHold', 'HOLD_NOT_ACTIVE');
    expect(await kit.balance(payer)).toEqual(bal('1000', '0'));
    expect(await kit.balance(payee)).toEqual(bal('0', '0'));
  });

  it('captures across shards and into a merchant stripe, through the payment routes', async () => {
    const owner = unique('route-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '10000');
    const away = await kit.openAwayFrom(unique('route-payee'), [physicalOf(stack.shards, payer)]);
    const merchant = await kit.openAwayFrom(unique('route-merchant'), [physicalOf(stack.shards, payer)], {
      type: 'MERCHANT',
    });

    const cross = await held(bearer, payer, away, '3000');
    const crossPaid = await captureHold(stack.gatewayUrl, bearer, cross, unique('cap'));
    expect(crossPaid.data!.captureHold).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
      amount: '3000',
      hold: { id: cross, status: 'CAPTURED', capturedAmount: '3000' },
    });
    expect(await kit.balance(away)).toEqual(bal('3000', '0'));

    const toMerchant = await held(bearer, payer, merchant, '2000');
    const merchantPaid = await captureHold(stack.gatewayUrl, bearer, toMerchant, unique('cap'), '1500');
    expect(merchantPaid.data!.captureHold).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
      amount: '1500',
    });
    expect(await kit.balance(merchant)).toEqual(bal('0', '0', '1500'));
    expect(await kit.balance(payer)).toEqual(bal('5500', '0'));
  });

  it("lists an account's holds newest first, by the status they read now", async () => {
    const owner = unique('list-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('list-payee'), '0');
    const first = await held(bearer, payer, payee, '100');
    const second = await held(bearer, payer, payee, '200');
    const third = await held(bearer, payer, payee, '300');
    await voidHold(stack.gatewayUrl, bearer, second, unique('v'));
    const list = async (status: string | null, id = payer) => {
      const answer = await gql(
        stack.gatewayUrl,
        `query($id: ID!, $status: HoldStatus) { account(id: $id) { holds(status: $status, first: 10) { edges { node { id status } } } } }`,
        { id, status },
        bearer,
      );
      expect(answer.errors).toBeUndefined();
      return answer.data!.account.holds.edges.map((e: any) => [e.node.id, e.node.status]);
    };
    expect(await list(null)).toEqual([
      [third, 'HELD'],
      [second, 'VOIDED'],
      [first, 'HELD'],
    ]);
    expect(await list('HELD')).toEqual([
      [third, 'HELD'],
      [first, 'HELD'],
    ]);
    expect(await list('VOIDED')).toEqual([[second, 'VOIDED']]);
    const operator = await token('operator', 'operator');
    const payeeList = await gql(
      stack.gatewayUrl,
      `query($id: ID!) { account(id: $id) { holds { edges { node { id } } } } }`,
      { id: payee },
      operator,
    );
    expect(payeeList.data!.account.holds.edges.map((e: any) => e.node.id)).toEqual([third, second, first]);
  });
});

describe('refusals write nothing', () => {
  it('every error code of CreateHold, CaptureHold and VoidHold, with balances and holds unchanged', async () => {
    const owner = unique('refuse-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('refuse-payee'), '0');
    const euro = await kit.open(unique('refuse-eur'), { currency: 'EUR' });
    const frozenPayee = await funded(unique('refuse-frozen'), '0');
    await kit.freeze(frozenPayee);
    const hold = await held(bearer, payer, payee, '400');
    const ended = await held(bearer, payer, payee, '100');
    await voidHold(stack.gatewayUrl, bearer, ended, unique('v'));
    const watched = [payer, payee, euro, frozenPayee];
    const before = await kit.snapshot(watched);
    const holdsBefore = [await holdRow(stack.shards, hold), await holdRow(stack.shards, ended)];
    const missingAccount = newId('account', toLogicalShard(3));
    const missingHold = newId('hold', toLogicalShard(5));
    const create = (
      over: Partial<{
        payer: string;
        payee: string;
        amount: string;
        currency: string;
        expiresInSeconds: number;
        key: string;
      }>,
    ) => createHold(stack.gatewayUrl, bearer, { payer, payee, amount: '10', key: unique('c'), ...over });

    refusal(await create({ amount: '0' }), 'createHold', 'INVALID_INPUT');
    // Not an Amount at all: the scalar refuses it before any resolver runs.
    expect(errorCodes(await create({ amount: '1.5' }))).toEqual(['BAD_USER_INPUT']);
    expect(
      refusal(await create({ expiresInSeconds: 30 * 24 * 3600 + 1 }), 'createHold', 'INVALID_INPUT').message,
    ).toContain('30 days');
    refusal(await create({ expiresInSeconds: 0 }), 'createHold', 'INVALID_INPUT');
    refusal(await create({ key: '' }), 'createHold', 'INVALID_INPUT');
    refusal(await create({ payee: missingAccount }), 'createHold', 'ACCOUNT_NOT_FOUND');
    refusal(await create({ payee: payer }), 'createHold', 'SAME_ACCOUNT');
    refusal(await create({ payee: euro }), 'createHold', 'CURRENCY_MISMATCH');
    refusal(await create({ payee: frozenPayee }), 'createHold', 'ACCOUNT_NOT_ACTIVE');
    refusal(await create({ amount: '601' }), 'createHold', 'INSUFFICIENT_FUNDS');
    const reusedKey = unique('reuse');
    expect((await create({ key: reusedKey, amount: '1' })).data!.createHold.__typename).toBe('Hold');
    refusal(await create({ key: reusedKey, amount: '2' }), 'createHold', 'IDEMPOTENCY_KEY_REUSED');
    await voidHold(
      stack.gatewayUrl,
      bearer,
      (await create({ key: reusedKey, amount: '1' })).data!.createHold.id,
      unique('v'),
    );

    refusal(await captureHold(stack.gatewayUrl, bearer, 'hld_nope', unique('k')), 'captureHold', 'INVALID_INPUT');
    refusal(await captureHold(stack.gatewayUrl, bearer, hold, unique('k'), '0'), 'captureHold', 'INVALID_INPUT');
    refusal(await captureHold(stack.gatewayUrl, bearer, missingHold, unique('k')), 'captureHold', 'HOLD_NOT_FOUND');
    const exceeds = refusal(
      await captureHold(stack.gatewayUrl, bearer, hold, unique('k'), '401'),
      'captureHold',
      'CAPTURE_EXCEEDS_HOLD',
    );
    expect(exceeds.message).toContain('400');
    refusal(await captureHold(stack.gatewayUrl, bearer, ended, unique('k')), 'captureHold', 'HOLD_NOT_ACTIVE');
    const capKey = unique('capkey');
    refusal(await voidHold(stack.gatewayUrl, bearer, ended, capKey), 'voidHold', 'HOLD_NOT_ACTIVE');
    refusal(await captureHold(stack.gatewayUrl, bearer, ended, capKey), 'captureHold', 'IDEMPOTENCY_KEY_REUSED');
    refusal(await voidHold(stack.gatewayUrl, bearer, 'x', unique('k')), 'voidHold', 'INVALID_INPUT');
    refusal(await voidHold(stack.gatewayUrl, bearer, missingHold, unique('k')), 'voidHold', 'HOLD_NOT_FOUND');

    // Someone else's hold: FORBIDDEN, a GraphQL error, and nothing written.
    const stranger = await token(unique('stranger'), 'customer');
    for (const answer of [
      await captureHold(stack.gatewayUrl, stranger, hold, unique('k')),
      await voidHold(stack.gatewayUrl, stranger, hold, unique('k')),
      await createHold(stack.gatewayUrl, stranger, { payer, payee, amount: '1', key: unique('k') }),
      await gql(stack.gatewayUrl, holdDocs.getHold, { id: hold }, stranger),
    ])
      expect(errorCodes(answer)).toEqual(['FORBIDDEN']);

    expect(await kit.snapshot(watched)).toEqual(before);
    expect([await holdRow(stack.shards, hold), await holdRow(stack.shards, ended)]).toEqual(holdsBefore);
    expect(await frozenAgainstHeld(stack.shards, watched)).toEqual([]);
  });
});

describe('exactly one ending', () => {
  it('20 concurrent captures and voids of one hold: exactly one wins, the rest answer HOLD_NOT_ACTIVE, replays the original', async () => {
    const owner = unique('race-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '5000');
    const payee = await funded(unique('race-payee'), '0', { physical: physicalOf(stack.shards, payer) });
    const id = await held(bearer, payer, payee, '3000');
    const keys = Array.from({ length: 20 }, (_, i) => ({ key: unique(`race${i}`), capture: i % 2 === 0 }));
    const send = () =>
      Promise.all(
        keys.map(({ key, capture }) =>
          capture
            ? captureHold(stack.gatewayUrl, bearer, id, key, '1000').then((a) => a.data!.captureHold)
            : voidHold(stack.gatewayUrl, bearer, id, key).then((a) => a.data!.voidHold),
        ),
      );
    const answers = await send();
    const winners = answers.filter((a) => a.__typename !== 'HoldNotActive');
    expect(winners, JSON.stringify(answers)).toHaveLength(1);
    expect(answers.filter((a) => a.code === 'HOLD_NOT_ACTIVE')).toHaveLength(19);
    const row = (await holdRow(stack.shards, id))!;
    if (winners[0].__typename === 'Payment') {
      expect(row).toMatchObject({ status: 'CAPTURED', capturedAmount: 1000n, endedBy: winners[0].id });
      expect(await kit.balance(payer)).toEqual(bal('4000', '0'));
      expect(await kit.balance(payee)).toEqual(bal('1000', '0'));
    } else {
      expect(row).toMatchObject({ status: 'VOIDED' });
      expect(await kit.balance(payer)).toEqual(bal('5000', '0'));
    }
    // Every key again: the winner gets its answer back, the others HOLD_NOT_ACTIVE again.
    const replayed = await send();
    expect(replayed.map((a) => (a.__typename === 'HoldNotActive' ? 'lost' : a.id))).toEqual(
      answers.map((a) => (a.__typename === 'HoldNotActive' ? 'lost' : a.id)),
    );
    expect(await frozenAgainstHeld(stack.shards, [payer])).toEqual([]);
  });

  it('50 concurrent createHold calls with one key make one hold', async () => {
    const owner = unique('dup-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('dup-payee'), '0');
    const key = unique('dup');
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => createHold(stack.gatewayUrl, bearer, { payer, payee, amount: '300', key })),
    );
    const ids = new Set(answers.map((a) => a.data!.createHold.id));
    expect(ids.size, JSON.stringify(answers.find((a) => !a.data?.createHold.id))).toBe(1);
    expect(await kit.balance(payer)).toEqual(bal('700', '300'));
    const list = await gql(
      stack.gatewayUrl,
      `query($id: ID!) { account(id: $id) { holds { edges { node { id } } } } }`,
      { id: payer },
      bearer,
    );
    expect(list.data!.account.holds.edges).toHaveLength(1);
  });

  it('past its deadline a hold reads EXPIRED and refuses a capture at once; the worker frees its money once', async () => {
    const owner = unique('exp-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('exp-payee'), '0');
    const id = await held(bearer, payer, payee, '600', { expiresInSeconds: 1 });
    clock.advanceTo(new Date((await holdRow(stack.shards, id))!.expiresAt.getTime() + 1));
    refusal(await captureHold(stack.gatewayUrl, bearer, id, unique('late')), 'captureHold', 'HOLD_NOT_ACTIVE');
    expect(await kit.balance(payer)).toEqual(bal('400', '600'));
    const read = await gql(stack.gatewayUrl, holdDocs.getHold, { id }, bearer);
    expect(read.data!.hold.status).toBe('EXPIRED');
    const shard = stack.shards.byLogical(Number.parseInt(id.slice(-2), 16) as never);
    // Two replicas' passes at once (other test files' workers may run too): released once.
    await Promise.all([expireDueHolds(stack.shards, shard, clock.now), expireDueHolds(stack.shards, shard, clock.now)]);
    expect(await holdRow(stack.shards, id)).toMatchObject({
      status: 'EXPIRED',
      capturedAmount: 0n,
      endedAt: expect.any(Date),
    });
    expect(await kit.balance(payer)).toEqual(bal('1000', '0'));
    // A void after the worker meets the hold ended: refused, and nothing moves again.
    refusal(await voidHold(stack.gatewayUrl, bearer, id, unique('late')), 'voidHold', 'HOLD_NOT_ACTIVE');
    expect(await kit.balance(payer)).toEqual(bal('1000', '0'));
    // The hold and its expiry are entries in the frozen bucket, and say which hold they belong to.
    expect(await frozenEntriesOf(payer, bearer)).toEqual([
      ['-600', id],
      ['600', id],
    ]);
  });

  it('captures racing expiry at the deadline: each hold ends once, and frozen equals what is held', async () => {
    const owner = unique('edge-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '10000');
    const payee = await funded(unique('edge-payee'), '0', { physical: physicalOf(stack.shards, payer) });
    const ids = await Promise.all(
      Array.from({ length: 8 }, () => held(bearer, payer, payee, '500', { expiresInSeconds: 1 })),
    );
    const created = await Promise.all(ids.map((id) => holdRow(stack.shards, id)));
    const deadline = Math.max(...created.map((h) => h!.expiresAt.getTime()));
    // 30 ms before the deadline; the clock goes on running, so the captures and passes below
    // meet the deadline while they run.
    clock.advanceTo(new Date(deadline - 30));
    const shard = stack.shards.byLogical(Number.parseInt(payer.slice(-2), 16) as never);
    const expiring = (async () => {
      let released = 0;
      for (let i = 0; i < 10; i++) {
        released += await expireDueHolds(stack.shards, shard, clock.now);
        // Not a wait for an event: spreads ten passes over ~100 ms of the clock, across the
        // deadline, so that some run before it and some after while the captures race them.
        await sleep(10);
      }
      return released;
    })();
    const captures = await Promise.all(
      ids.map((id) => captureHold(stack.gatewayUrl, bearer, id, unique('edge')).then((a) => a.data!.captureHold)),
    );
    await expiring;
    await expireDueHolds(stack.shards, shard, clock.now);
    const rows = await Promise.all(ids.map((id) => holdRow(stack.shards, id)));
    let paid = 0n;
    rows.forEach((row, i) => {
      const answer = captures[i];
      if (answer.__typename === 'Payment') {
        expect(row).toMatchObject({ status: 'CAPTURED', endedBy: answer.id });
        paid += 500n;
      } else {
        expect(answer.code).toBe('HOLD_NOT_ACTIVE');
        expect(row!.status).toBe('EXPIRED');
      }
    });
    expect(await kit.balance(payer)).toEqual(bal(String(10000n - paid), '0'));
    expect(await kit.balance(payee)).toEqual(bal(String(paid), '0'));
    expect(await frozenAgainstHeld(stack.shards, [payer])).toEqual([]);
  });
});

describe('holds past their deadline under a flood of short holds', () => {
  it("a flood of holds expiring first does not keep another customer's later hold frozen after one worker pass", async () => {
    const victimOwner = unique('flood-victim');
    const victimBearer = await token(victimOwner, 'customer');
    const victim = await funded(victimOwner, '1000');
    const shop = await funded(unique('flood-shop'), '0');
    const physical = physicalOf(stack.shards, victim);
    // The attacker's account on the victim's database: its holds are due there before the victim's.
    const attackerOwner = unique('flood-attacker');
    const attackerBearer = await token(attackerOwner, 'customer');
    const flood = holdExpiryBatchSizeMax * 2 + 50;
    const attacker = await funded(attackerOwner, String(flood), { physical });
    const sink = await funded(unique('flood-sink'), '0');
    // Deadlines minutes away on the wall clock, so that only this test's passes (on the moved clock) release them.
    for (let done = 0; done < flood; done += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, flood - done) }, () =>
          held(attackerBearer, attacker, sink, '1', { expiresInSeconds: 300 }),
        ),
      );
    }
    const id = await held(victimBearer, victim, shop, '600', { expiresInSeconds: 600 });
    expect(await kit.balance(victim)).toEqual(bal('400', '600'));
    clock.advanceTo(new Date((await holdRow(stack.shards, id))!.expiresAt.getTime() + 1));
    // The worker's pass over the victim's database, as the worker runs it: its batches go on while they come back full.
    await expireDueHolds(stack.shards, stack.shards.of('account', victim), clock.now);
    expect(await holdRow(stack.shards, id)).toMatchObject({ status: 'EXPIRED', capturedAmount: 0n });
    expect(await kit.balance(victim)).toEqual(bal('1000', '0'));
    expect(await kit.balance(attacker)).toEqual(bal(String(flood), '0'));
    expect(await frozenAgainstHeld(stack.shards, [victim, attacker])).toEqual([]);
  });

  it('a void of a hold still HELD past its deadline releases it at once as EXPIRED, once, and answers HOLD_NOT_ACTIVE', async () => {
    const owner = unique('late-void');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('late-void-payee'), '0');
    const id = await held(bearer, payer, payee, '600', { expiresInSeconds: 1 });
    clock.advanceTo(new Date((await holdRow(stack.shards, id))!.expiresAt.getTime() + 1));
    expect(await kit.balance(payer)).toEqual(bal('400', '600'));
    const key = unique('late');
    const first = refusal(await voidHold(stack.gatewayUrl, bearer, id, key), 'voidHold', 'HOLD_NOT_ACTIVE');
    expect(first.message).toContain('EXPIRED');
    // Released by the void, before any worker pass: the hold ended as its expiry would have ended it.
    expect(await kit.balance(payer)).toEqual(bal('1000', '0'));
    const ended = await holdRow(stack.shards, id);
    expect(ended).toMatchObject({ status: 'EXPIRED', capturedAmount: 0n, endedAt: expect.any(Date) });
    // The void's replay, another void and the worker's pass, at once: each finds it ended, and nothing moves again.
    const shard = stack.shards.of('hold', id);
    const [replay, other] = await Promise.all([
      voidHold(stack.gatewayUrl, bearer, id, key),
      voidHold(stack.gatewayUrl, bearer, id, unique('late')),
      expireDueHolds(stack.shards, shard, clock.now),
    ]);
    expect(refusal(replay as Answer, 'voidHold', 'HOLD_NOT_ACTIVE').message).toBe(first.message);
    refusal(other as Answer, 'voidHold', 'HOLD_NOT_ACTIVE');
    expect(await holdRow(stack.shards, id)).toEqual(ended);
    expect(await kit.balance(payer)).toEqual(bal('1000', '0'));
    // The hold and one release in the frozen bucket.
    expect(await frozenEntriesOf(payer, bearer)).toEqual([
      ['-600', id],
      ['600', id],
    ]);
    expect(await frozenAgainstHeld(stack.shards, [payer])).toEqual([]);
  });
});

/**
 * Runs `request` (a capture or a void of `holdId`) while a session of the test holds the hold's row locked; once the
 * request waits on that lock, moves the clock past `deadline` and reads the hold as a client would, then lets go.
 * Answers the request's answer and the status the reader saw.
 */
async function endingAcrossDeadline(
  holdId: string,
  deadline: Date,
  bearer: string,
  request: () => Promise<Answer>,
): Promise<{ answer: Answer; seen: string }> {
  const url = stack.shards.topology.urls[physicalOf(stack.shards, holdId, 'hold')]!;
  const holder = await mysql.createConnection({ uri: url });
  try {
    await holder.query('BEGIN');
    const [locked] = await holder.query('SELECT id FROM holds WHERE id = ? FOR UPDATE', [holdId]);
    expect(locked).toEqual([{ id: holdId }]);
    const pending = request();
    let answered: Answer | undefined;
    void pending.then((a) => (answered = a));
    // Polls for the request's statement locking the hold, which runs (waits) while this session holds the lock; it
    // gives up after lockWaitSeconds. The process list, not INNODB_LOCK_WAITS: MariaDB takes a lock on a primary
    // key's row while it plans the statement, before the waiting transaction is listed there.
    const waiting = `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
      WHERE ID <> CONNECTION_ID() AND INFO LIKE ? AND INFO LIKE '%FOR UPDATE%'`;
    const started = Date.now();
    for (;;) {
      const [rows] = (await holder.query(waiting, [`%${holdId}%`])) as unknown as [Array<{ n: number | string }>];
      if (Number(rows[0]!.n) > 0) break;
      expect(answered, 'the request answered without waiting on the hold').toBeUndefined();
      expect(Date.now() - started, 'the request never waited on the hold').toBeLessThan(1_500);
      await sleep(10);
    }
    clock.advanceTo(new Date(deadline.getTime() + 1));
    const read = await gql(stack.gatewayUrl, holdDocs.getHold, { id: holdId }, bearer);
    await holder.query('ROLLBACK');
    return { answer: await pending, seen: read.data!.hold.status as string };
  } finally {
    await holder.end();
  }
}

describe('an ending begun before the deadline that gets the lock after it', () => {
  it('is decided at the lock: a capture is refused and a void releases as EXPIRED, as readers saw it meanwhile', async () => {
    const owner = unique('lock-late');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('lock-late-payee'), '0', { physical: physicalOf(stack.shards, payer) });
    const captured = await held(bearer, payer, payee, '600', { expiresInSeconds: 60 });
    const voided = await held(bearer, payer, payee, '300', { expiresInSeconds: 60 });
    expect(await kit.balance(payer)).toEqual(bal('100', '900'));

    const deadlineOf = async (id: string) => (await holdRow(stack.shards, id))!.expiresAt;
    const capture = await endingAcrossDeadline(captured, await deadlineOf(captured), bearer, () =>
      captureHold(stack.gatewayUrl, bearer, captured, unique('late-cap')),
    );
    expect(capture.seen).toBe('EXPIRED');
    refusal(capture.answer, 'captureHold', 'HOLD_NOT_ACTIVE');
    const void_ = await endingAcrossDeadline(voided, await deadlineOf(voided), bearer, () =>
      voidHold(stack.gatewayUrl, bearer, voided, unique('late-void')),
    );
    expect(void_.seen).toBe('EXPIRED');
    refusal(void_.answer, 'voidHold', 'HOLD_NOT_ACTIVE');
    expect(await holdRow(stack.shards, captured)).toMatchObject({ status: 'HELD', endedBy: null });
    expect(await holdRow(stack.shards, voided)).toMatchObject({ status: 'EXPIRED' });
    // The void's hold released as its expiry; the capture's waits for the worker, and nothing reached the payee.
    expect(await kit.balance(payer)).toEqual(bal('400', '600'));
    await expireDueHolds(stack.shards, stack.shards.of('hold', captured), clock.now);
    expect(await kit.balance(payer)).toEqual(bal('1000', '0'));
    expect(await kit.balance(payee)).toEqual(bal('0', '0'));
  });
});

describe('frozen equals held', () => {
  it('ledgerHealth and reconciliation name an account whose frozen money no HELD hold explains', async () => {
    const owner = unique('fz-payer');
    const bearer = await token(owner, 'customer');
    const payer = await funded(owner, '1000');
    const payee = await funded(unique('fz-payee'), '0');
    const id = await held(bearer, payer, payee, '250');
    const shard = stack.shards.byLogical(Number.parseInt(id.slice(-2), 16) as never);
    expect((await frozenAgainstHolds(stack.shards)).filter((m) => m.accountId === payer)).toEqual([]);
    // A hold marked ended behind the ledger's back: 250 stays frozen with nothing HELD.
    await shard.db.update(holds).set({ status: 'VOIDED' }).where(eq(holds.id, id));
    try {
      expect((await frozenAgainstHolds(stack.shards)).filter((m) => m.accountId === payer)).toEqual([
        { accountId: payer, currency: 'USD', frozen: 250n, held: 0n },
      ]);
    } finally {
      await shard.db.update(holds).set({ status: 'HELD' }).where(eq(holds.id, id));
    }
    expect(await frozenAgainstHeld(stack.shards, [payer])).toEqual([]);
  });
});
